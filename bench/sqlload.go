package main

// The load section's SQL stores (stores/sql on database/sql): MariaDB
// through github.com/go-sql-driver/mysql and SQLite through
// modernc.org/sqlite, one row per preset. The raw read is the store's own
// query, captured at start-up through a recording wrapper of the driver
// (recConnector) and replayed with database/sql on the same pool.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"

	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// mariadbDSN is the MariaDB (or MySQL) of the mariadb* stores.
// By default the driver interpolates the arguments (interpolateParams),
// as stores/sql recommends: one round trip per query instead of a prepare,
// an execute and a close, so the raw read is the shortest it can be.
var mariadbDSN = flag.String("mariadb", envOr("MARIADB_DSN", "root@tcp(127.0.0.1:3306)/test?interpolateParams=true"),
	"MariaDB DSN (github.com/go-sql-driver/mysql) for the load section's mariadb stores")

// sqlPoolSize is the connections of each SQL store's pool, as PostgreSQL's.
const sqlPoolSize = 16

// sqlStore is one preset of stores/sql on one database.
type sqlStore struct {
	preset sqlstore.Preset
	pkg    string // the npm package, for the row's name
	sqlite bool   // SQLite (a fresh file); MariaDB otherwise
	// table names the table on MariaDB; SQLite uses the preset's, in a
	// file of its own.
	table bool
}

// sqlStores are the load section's SQL stores: `mariadb` and `sqlite` are
// the presets most used on each (express-mysql-session, the MySQL-only
// package; connect-session-knex, the most downloaded), the others there
// for -stores.
var sqlStores = map[string]sqlStore{
	"mariadb":                {preset: sqlstore.ExpressMySQLSession(), pkg: "express-mysql-session", table: true},
	"mariadb-knex":           {preset: sqlstore.Knex(sqlstore.MySQL), pkg: "connect-session-knex", table: true},
	"mariadb-sequelize":      {preset: sqlstore.Sequelize(sqlstore.MySQL), pkg: "connect-session-sequelize", table: true},
	"sqlite":                 {preset: sqlstore.Knex(sqlstore.SQLite), pkg: "connect-session-knex", sqlite: true},
	"sqlite-connect-sqlite3": {preset: sqlstore.ConnectSQLite3(), pkg: "connect-sqlite3", sqlite: true},
	"sqlite-better-sqlite3":  {preset: sqlstore.BetterSQLite3SessionStore(), pkg: "better-sqlite3-session-store", sqlite: true},
	"sqlite-sequelize":       {preset: sqlstore.Sequelize(sqlstore.SQLite), pkg: "connect-session-sequelize", sqlite: true},
}

func init() {
	for name, s := range sqlStores {
		storeSetups[name] = func(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
			return setupSQL(ctx, cfg, f, s)
		}
	}
}

// sqlDatabase is an open database of the SQL stores: its connector (the
// driver, unwrapped), what it is, and how to remove what the bench made.
type sqlDatabase struct {
	connector driver.Connector
	name      string // the row's database: "MariaDB 11.4.2", "SQLite 3.50.4"
	driver    string // the driver and its settings
	cleanup   func()
}

// openMariaDB opens the MariaDB at dsn.
func openMariaDB(ctx context.Context, dsn string) (*sqlDatabase, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MariaDB DSN: %w", err)
	}
	c, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("MariaDB at %s %s: %w (make services)", mc.Net, mc.Addr, err)
	}
	name := "MySQL " + version
	if v, _, ok := strings.Cut(version, "-MariaDB"); ok {
		name = "MariaDB " + v
	}
	protocol := "prepare + execute per query: the driver's default"
	if mc.InterpolateParams {
		protocol = "interpolateParams: one round trip per query"
	}
	return &sqlDatabase{connector: c, name: name, driver: "go-sql-driver/mysql (" + protocol + ")", cleanup: func() {}}, nil
}

// openSQLite creates a database file in a directory of its own under dir.
func openSQLite(ctx context.Context, dir string) (*sqlDatabase, error) {
	tmp, err := os.MkdirTemp(dir, "sqlite-")
	if err != nil {
		return nil, err
	}
	// WAL: readers on every connection at once. synchronous(NORMAL) only
	// spares the seeding an fsync per row.
	dsn := "file:" + filepath.Join(tmp, "sessions.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("SQLite: %w", err)
	}
	return &sqlDatabase{connector: c, name: "SQLite " + version, driver: "modernc.org/sqlite (in process, WAL)",
		cleanup: func() { os.RemoveAll(tmp) }}, nil
}

func setupSQL(ctx context.Context, cfg *config, f *fixture, s sqlStore) (*storeBench, error) {
	b, err := newSQLBench(ctx, cfg, f, s)
	if err != nil {
		return nil, err
	}
	return b.storeBench, nil
}

// sqlBench is an SQL store of the load section, with its pool and table.
type sqlBench struct {
	*storeBench
	db     *sql.DB
	table  string // the table name; "" for the preset's
	anchor *sqlAnchor
}

// newSQLBench opens s's database, creates its table (a fresh one), seeds
// f's sessions and records the store's query.
func newSQLBench(ctx context.Context, cfg *config, f *fixture, s sqlStore) (*sqlBench, error) {
	var d *sqlDatabase
	var err error
	if s.sqlite {
		dir := cfg.tmp
		if dir == "" {
			dir = os.TempDir()
		}
		d, err = openSQLite(ctx, dir)
	} else {
		d, err = openMariaDB(ctx, *mariadbDSN)
	}
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(d.connector)
	db.SetMaxOpenConns(sqlPoolSize)
	db.SetMaxIdleConns(sqlPoolSize)
	opts := sqlstore.Options{Preset: s.preset}
	if s.table {
		var b [6]byte
		_, _ = rand.Read(b[:])
		opts.TableName = "sessbench_" + hex.EncodeToString(b[:])
	}
	closeAll := func() {
		if opts.TableName != "" {
			_, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+opts.TableName+"`")
		}
		db.Close()
		d.cleanup()
	}
	st, err := sqlstore.New(db, opts)
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := st.CreateTable(ctx); err != nil {
		closeAll()
		return nil, err
	}
	if err := f.seed(ctx, st); err != nil {
		closeAll()
		return nil, err
	}
	if s.sqlite {
		_, _ = db.ExecContext(ctx, "ANALYZE")
	} else {
		_, _ = db.ExecContext(ctx, "ANALYZE TABLE `"+opts.TableName+"`")
	}
	a, err := sqlGetQuery(ctx, d.connector, opts, f.ids[0])
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := a.columns(ctx, db, f.ids[0]); err != nil {
		closeAll()
		return nil, err
	}
	// Both sides read session 0's record, byte for byte.
	got, err := a.read(ctx, db, f.ids[0])
	if err != nil || string(got) != string(f.records[0]) {
		closeAll()
		return nil, fmt.Errorf("raw read of session 0: %.120q, %v; want its record", got, err)
	}
	shown := a.sql
	if opts.TableName != "" {
		shown = strings.ReplaceAll(shown, opts.TableName, "sessbench_<random>")
	}
	sb := &storeBench{
		name: fmt.Sprintf("%s (%s)", d.name, s.pkg),
		rawDesc: fmt.Sprintf("%s, database/sql (%d connections) %s → `Scan(&[]byte%s)`",
			d.driver, sqlPoolSize, codeSpan(fmt.Sprintf("QueryRowContext(%q, %s)", shown, a.describeArgs())), strings.Repeat(", &any", a.ncols-1)),
		store: st,
		raw: func(ctx context.Context, i int) ([]byte, error) {
			return a.read(ctx, db, f.ids[i])
		},
		close: closeAll,
	}
	return &sqlBench{storeBench: sb, db: db, table: opts.TableName, anchor: a}, nil
}

// codeSpan is s as a markdown code span, whatever backticks it holds.
func codeSpan(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest == 0 {
		return "`" + s + "`"
	}
	fence := strings.Repeat("`", longest+1)
	return fence + " " + s + " " + fence
}

// sqlAnchor is the query an SQL store's Get sends, to replay: its text,
// its arguments as roles (sqlArgSid, sqlArgNow or a constant kept as is)
// and the columns it returns, the record first.
type sqlAnchor struct {
	sql   string
	roles []any
	ncols int
}

type (
	sqlArgSid struct{}
	sqlArgNow struct{ enc nowEncoding }
)

// read replays the store's query for sid, with the current time where the
// store passes it, and returns the record column.
func (a *sqlAnchor) read(ctx context.Context, db *sql.DB, sid string) ([]byte, error) {
	args := make([]any, len(a.roles))
	var nowMs int64
	for k, r := range a.roles {
		switch r := r.(type) {
		case sqlArgSid:
			args[k] = sid
		case sqlArgNow:
			if nowMs == 0 {
				nowMs = time.Now().UnixMilli()
			}
			args[k] = r.enc.f(nowMs)
		default:
			args[k] = r
		}
	}
	var rec []byte
	var rest [4]any
	dest := make([]any, a.ncols)
	dest[0] = &rec
	for k := 1; k < a.ncols; k++ {
		dest[k] = &rest[k-1]
	}
	err := db.QueryRowContext(ctx, a.sql, args...).Scan(dest...)
	return rec, err
}

// columns reads the number of columns the query returns for sid (a live
// row), which the replay scans.
func (a *sqlAnchor) columns(ctx context.Context, db *sql.DB, sid string) error {
	a.ncols = 1 // read's args only
	args := make([]any, len(a.roles))
	for k, r := range a.roles {
		switch r := r.(type) {
		case sqlArgSid:
			args[k] = sid
		case sqlArgNow:
			args[k] = r.enc.f(time.Now().UnixMilli())
		default:
			args[k] = r
		}
	}
	rows, err := db.QueryContext(ctx, a.sql, args...)
	if err != nil {
		return fmt.Errorf("replaying the store's query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) < 1 || len(cols) > 5 {
		return fmt.Errorf("the store's query returns %d columns (%v): update the raw anchor", len(cols), cols)
	}
	a.ncols = len(cols)
	return nil
}

func (a *sqlAnchor) describeArgs() string {
	parts := make([]string, len(a.roles))
	for k, r := range a.roles {
		switch r := r.(type) {
		case sqlArgSid:
			parts[k] = "sid"
		case sqlArgNow:
			parts[k] = r.enc.desc
		default:
			parts[k] = fmt.Sprintf("%#v", r)
		}
	}
	return strings.Join(parts, ", ")
}

// nowEncoding is a way a store passes the current time (epoch ms) to its
// query. The anchor finds the store's among these (nowEncodings) by
// recording its query at two instants.
type nowEncoding struct {
	desc string
	f    func(ms int64) any
}

func layoutNow(desc, layout string) nowEncoding {
	return nowEncoding{desc, func(ms int64) any { return time.UnixMilli(ms).UTC().Format(layout) }}
}

var nowEncodings = []nowEncoding{
	{"Math.round(Date.now() / 1000)", func(ms int64) any { return (ms + 500) / 1000 }},
	{"floor(Date.now() / 1000)", func(ms int64) any { return ms / 1000 }},
	{"ceil(Date.now() / 1000)", func(ms int64) any { return (ms + 999) / 1000 }},
	{"Date.now()", func(ms int64) any { return ms }},
	{"Date.now() as a REAL", func(ms int64) any { return float64(ms) }},
	layoutNow("now as UTC DATETIME text, whole seconds", "2006-01-02 15:04:05"),
	layoutNow("now as ISO text (toISOString)", "2006-01-02T15:04:05.000Z"),
	layoutNow("now as sequelize's text", "2006-01-02 15:04:05.000 -07:00"),
}

// sqlGetQuery returns the one query the store with opts sends for sid's
// Get, recorded through a recording wrapper of connector (the query runs
// on the database, and sid's row must be live). The arguments that change
// with the store's clock are found by recording at two instants, and
// their encoding among nowEncodings.
func sqlGetQuery(ctx context.Context, connector driver.Connector, opts sqlstore.Options, sid string) (*sqlAnchor, error) {
	rec := &sqlRecorder{}
	db := sql.OpenDB(&recConnector{Connector: connector, rec: rec})
	defer db.Close()
	// t1 and t2 tell apart every encoding above: t1's 700 ms round
	// up but not down, t2's 300 ms down but not up.
	base := time.Now().Truncate(time.Second)
	t1, t2 := base.Add(700*time.Millisecond), base.Add(time.Hour+300*time.Millisecond)
	var got [2]recordedQuery
	for k, t := range []time.Time{t1, t2} {
		o := opts
		o.Now = func() time.Time { return t }
		st, err := sqlstore.New(db, o)
		if err != nil {
			return nil, err
		}
		rec.reset()
		if _, err := st.Get(ctx, sid); err != nil {
			return nil, fmt.Errorf("recording the store's Get: %w", err)
		}
		q, err := rec.one()
		if err != nil {
			return nil, err
		}
		got[k] = q
	}
	return anchorFromRecordings(got[0], got[1], t1.UnixMilli(), t2.UnixMilli(), sid)
}

// anchorFromRecordings gives every argument of the query recorded at
// epoch ms t1 (a) and t2 (b) its role: the sid, now (in the one
// encoding that gives both recorded values), or a constant.
func anchorFromRecordings(a, b recordedQuery, t1, t2 int64, sid string) (*sqlAnchor, error) {
	if a.sql != b.sql || len(a.args) != len(b.args) {
		return nil, fmt.Errorf("the store's Get sent %q, then %q: update the raw anchor", a.sql, b.sql)
	}
	roles := make([]any, len(a.args))
	var sawSid, sawNow bool
	for k := range a.args {
		v1, v2 := a.args[k], b.args[k]
		if s, ok := v1.(string); ok && s == sid && reflect.DeepEqual(v1, v2) {
			roles[k], sawSid = sqlArgSid{}, true
			continue
		}
		if reflect.DeepEqual(v1, v2) {
			roles[k] = v1
			continue
		}
		i := slices.IndexFunc(nowEncodings, func(e nowEncoding) bool {
			return reflect.DeepEqual(e.f(t1), v1) && reflect.DeepEqual(e.f(t2), v2)
		})
		if i < 0 {
			return nil, fmt.Errorf("the store's Get passes %#v, then %#v, an hour later: not a known encoding of now; update the raw anchor", v1, v2)
		}
		roles[k], sawNow = sqlArgNow{nowEncodings[i]}, true
	}
	if !sawSid || !sawNow {
		return nil, fmt.Errorf("the store's Get sent %q with %v: no sid or no current time among them; update the raw anchor", a.sql, a.args)
	}
	return &sqlAnchor{sql: a.sql, roles: roles, ncols: 1}, nil
}

// recordedQuery is a query a connection was asked to run, with its
// arguments as the driver got them.
type recordedQuery struct {
	sql  string
	args []any
}

// sqlRecorder collects what the connections of a recConnector are asked.
type sqlRecorder struct {
	mu      sync.Mutex
	queries []recordedQuery
	other   []string // anything else: execs, prepares of their own, transactions
}

func (r *sqlRecorder) reset() {
	r.mu.Lock()
	r.queries, r.other = nil, nil
	r.mu.Unlock()
}

func (r *sqlRecorder) query(q string, args []driver.NamedValue) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	r.mu.Lock()
	r.queries = append(r.queries, recordedQuery{q, vals})
	r.mu.Unlock()
}

func (r *sqlRecorder) note(what string) {
	r.mu.Lock()
	r.other = append(r.other, what)
	r.mu.Unlock()
}

// one is the one query recorded, and nothing else.
func (r *sqlRecorder) one() (recordedQuery, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queries) != 1 || len(r.other) != 0 {
		return recordedQuery{}, fmt.Errorf("the store's Get sent %d queries and %v, the raw anchor replays exactly one query: update it", len(r.queries), r.other)
	}
	return r.queries[0], nil
}

// recConnector is a driver.Connector whose connections record every
// query, and pass everything through to the wrapped driver's.
type recConnector struct {
	driver.Connector
	rec *sqlRecorder
}

func (c *recConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: conn, rec: c.rec}, nil
}

// recConn records and forwards. A query the driver skips (driver.ErrSkip:
// go-sql-driver without interpolateParams) is prepared next by
// database/sql: that prepare is part of the recorded query.
type recConn struct {
	driver.Conn
	rec     *sqlRecorder
	skipped string
}

func (c *recConn) Unwrap() driver.Conn { return c.Conn }

func (c *recConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.rec.query(q, args)
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		c.skipped = q
		return nil, driver.ErrSkip
	}
	rows, err := qc.QueryContext(ctx, q, args)
	if errors.Is(err, driver.ErrSkip) {
		c.skipped = q
	}
	return rows, err
}

func (c *recConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.rec.note("exec " + q)
	ec, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		c.skipped = q
		return nil, driver.ErrSkip
	}
	res, err := ec.ExecContext(ctx, q, args)
	if errors.Is(err, driver.ErrSkip) {
		c.skipped = q
	}
	return res, err
}

func (c *recConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if q != c.skipped {
		c.rec.note("prepare " + q)
	}
	c.skipped = ""
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return pc.PrepareContext(ctx, q)
	}
	return c.Conn.Prepare(q)
}

func (c *recConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.rec.note("begin")
	if bc, ok := c.Conn.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //lint:ignore SA1019 the driver has no BeginTx
}

func (c *recConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *recConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *recConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *recConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
