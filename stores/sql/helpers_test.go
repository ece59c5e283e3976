package sqlstore_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// backend is a database the tests run presets on.
type backend uint8

const (
	mariadb  backend = iota // 127.0.0.1:3306 (MARIADB_DSN)
	postgres                // 127.0.0.1:5432 (PG_URL)
	sqlite                  // a file in the test's temporary directory
)

// kind is one preset under test.
type kind struct {
	name   string // subtest name
	pkg    string // the npm package, as the Node CLIs name it
	preset sqlstore.Preset
	db     backend
	// touchLive is true when the package's touch moves only a live row.
	touchLive bool
	// nodeChecks is false when the package's get never checks expiry
	// (connect-session-sequelize).
	nodeChecks bool
	// options is true when the package has expiration and disableTouch.
	options bool
}

var kinds = []kind{
	{"knex", "knex", sqlstore.Knex(sqlstore.MySQL), mariadb, true, true, false},
	{"express-mysql-session", "express-mysql-session", sqlstore.ExpressMySQLSession(), mariadb, false, true, true},
	{"sequelize", "sequelize", sqlstore.Sequelize(sqlstore.MySQL), mariadb, false, false, true},
	{"knex-pg", "knex", sqlstore.Knex(sqlstore.Postgres), postgres, true, true, false},
	{"sequelize-pg", "sequelize", sqlstore.Sequelize(sqlstore.Postgres), postgres, false, false, true},
	{"knex-sqlite", "knex", sqlstore.Knex(sqlstore.SQLite), sqlite, true, true, false},
	{"sequelize-sqlite", "sequelize", sqlstore.Sequelize(sqlstore.SQLite), sqlite, false, false, true},
	{"connect-sqlite3", "connect-sqlite3", sqlstore.ConnectSQLite3(), sqlite, true, true, false},
	{"better-sqlite3-session-store", "better-sqlite3-session-store", sqlstore.BetterSQLite3SessionStore(), sqlite, true, true, false},
}

// kindsOn returns the kinds on the backends given.
func kindsOn(bs ...backend) []kind {
	var out []kind
	for _, k := range kinds {
		for _, b := range bs {
			if k.db == b {
				out = append(out, k)
			}
		}
	}
	return out
}

// kindNamed returns the kind of that name.
func kindNamed(name string) kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	panic("no kind " + name)
}

// config is the MariaDB DSN of the tests, parsed; edit changes it.
func config(t testing.TB, edit func(*mysql.Config)) *mysql.Config {
	t.Helper()
	cfg, err := mysql.ParseDSN(services.MariaDBDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

// open returns a pool on the MariaDB test database, closed when the test
// ends.
func open(t testing.TB, edit func(*mysql.Config)) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", config(t, edit).FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("MariaDB: %v", err)
	}
	return db
}

// openPG returns a pool (pgx's database/sql driver) on the PostgreSQL test
// database, with runtime parameters params, closed when the test ends.
func openPG(t testing.TB, params map[string]string) *sql.DB {
	t.Helper()
	url := services.PostgresURL(t)
	for k, v := range params {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + k + "=" + v
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	return db
}

// openSQLite returns a pool (modernc.org/sqlite) on the database file path,
// waiting up to 5 s for a lock Node holds, closed when the test ends.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// env is what the subtests of one test share: the MariaDB and PostgreSQL
// pools and the Node CLIs, each started on first use and stopped when
// the test ends.
type env struct {
	parent testing.TB
	mu     sync.Mutex
	dbs    map[backend]*sql.DB
	nodes  map[string]*nodeStores
}

func newEnv(t testing.TB) *env {
	return &env{parent: t, dbs: map[backend]*sql.DB{}, nodes: map[string]*nodeStores{}}
}

// shared returns the pool of b (MariaDB or PostgreSQL); t fails or skips
// when the server is not there.
func (e *env) shared(t testing.TB, b backend) *sql.DB {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if db := e.dbs[b]; db != nil {
		return db
	}
	var db *sql.DB
	switch b {
	case mariadb:
		db = open(cleanupOn{t, e.parent}, nil)
	case postgres:
		db = openPG(cleanupOn{t, e.parent}, nil)
	default:
		t.Fatalf("no shared pool for backend %d", b)
	}
	e.dbs[b] = db
	return db
}

// node returns the Node CLI that runs k's package.
func (e *env) node(t testing.TB, k kind) *nodeStores {
	t.Helper()
	h := harnessOf(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := e.nodes[h]; n != nil {
		return n
	}
	n := startNode(cleanupOn{t, e.parent}, h)
	e.nodes[h] = n
	return n
}

// cleanupOn is a subtest's testing.TB whose cleanups run when owner ends:
// what a subtest starts for the whole test.
type cleanupOn struct {
	testing.TB
	owner testing.TB
}

func (c cleanupOn) Cleanup(f func()) { c.owner.Cleanup(f) }

// fixture is a fresh table of kind k: Go's pool on its database, its name
// and, on SQLite, the database file (one per table).
type fixture struct {
	k    kind
	e    *env
	db   *sql.DB
	name string
	file string
}

// table returns a fresh table for k, dropped when the test ends.
func (e *env) table(t testing.TB, k kind) *fixture {
	t.Helper()
	f := &fixture{k: k, e: e, name: fmt.Sprintf("sbtest_%d", rand.Uint64()%1e12)}
	switch k.db {
	case sqlite:
		f.file = filepath.Join(t.TempDir(), "sessions.db")
		f.db = openSQLite(t, f.file)
		if k.pkg == "better-sqlite3-session-store" {
			f.name = "sessions"
		}
	default:
		f.db = e.shared(t, k.db)
		db, q := f.db, f.quote(f.name)
		t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + q) })
	}
	return f
}

// sibling returns another fresh table in the same database (on SQLite,
// the same file).
func (f *fixture) sibling(t testing.TB) *fixture {
	t.Helper()
	g := *f
	g.name = fmt.Sprintf("sbtest_%d", rand.Uint64()%1e12)
	db, q := g.db, g.quote(g.name)
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + q) })
	return &g
}

// quote quotes an identifier for k's database.
func (f *fixture) quote(s string) string {
	if f.k.db == postgres {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// ph is the i-th placeholder (1-based) on k's database.
func (f *fixture) ph(i int) string {
	if f.k.db == postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// q rewrites a statement written with ? placeholders for k's database.
func (f *fixture) q(s string) string {
	if f.k.db != postgres {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString(f.ph(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// opts returns opts on this table with k's preset.
func (f *fixture) opts(opts sqlstore.Options) sqlstore.Options {
	opts.Preset = f.k.preset
	if opts.TableName == "" {
		opts.TableName = f.name
	}
	return opts
}

// open returns a store on the table, without creating it.
func (f *fixture) open(t testing.TB, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.New(f.db, f.opts(opts))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// store returns a store on the table, with the table created.
func (f *fixture) store(t testing.TB, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	st := f.open(t, opts)
	if err := st.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// at returns a store on the table whose clock is fixed at now.
func (f *fixture) at(t testing.TB, now time.Time) *sqlstore.Store {
	t.Helper()
	return f.open(t, sqlstore.Options{Now: clock(now)})
}

// spec is Node's store on this table, with the package's options.
func (f *fixture) spec(options map[string]any) map[string]any {
	s := map[string]any{"pkg": f.k.pkg, "table": f.name}
	switch f.k.db {
	case postgres:
		s["db"] = "postgres"
	case sqlite:
		s["file"] = f.file
	}
	if options != nil {
		s["options"] = options
	}
	return s
}

// node is the Node CLI of k's package.
func (f *fixture) node(t testing.TB) *nodeStores {
	t.Helper()
	return f.e.node(t, f.k)
}

// text is a SQL expression giving column col exactly as stored, as text:
// MariaDB's own text, PostgreSQL's timestamptz in UTC to the microsecond,
// SQLite's quote() (which shows the storage class too: 'text', 1.0e12
// for a REAL, 12 for an INTEGER).
func (f *fixture) text(col string) string {
	switch f.k.db {
	case postgres:
		return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	case sqlite:
		return "quote(" + col + ")"
	}
	return "CAST(" + col + " AS CHAR)"
}

// raw is the row of sid as stored: the record and the expiry column as
// text ("" and false when there is no row).
func (f *fixture) raw(t testing.TB, st *sqlstore.Store, sid string) (rec, exp string, ok bool) {
	t.Helper()
	tbl, id, data, expires := sqlstore.Names(st)
	var r, e sql.NullString
	err := f.db.QueryRow("SELECT "+data+", "+f.text(expires)+" FROM "+tbl+" WHERE "+id+" = "+f.ph(1), sid).Scan(&r, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r.String, e.String, true
}

// columns returns every column of sid's row but the id and the record,
// as text (see text), in table order: the expiry, and sequelize's
// createdAt and updatedAt.
func (f *fixture) columns(t testing.TB, st *sqlstore.Store, sid string) string {
	t.Helper()
	tbl, id, data, _ := sqlstore.Names(st)
	rows, err := f.db.Query("SELECT * FROM " + tbl + " WHERE 1 = 0")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := rows.Columns()
	rows.Close()
	var cols, exprs []string
	for _, n := range names {
		if q := f.quote(n); q == id || q == data {
			continue
		}
		cols = append(cols, n)
		exprs = append(exprs, f.text(f.quote(n)))
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = f.db.QueryRow("SELECT "+strings.Join(exprs, ", ")+" FROM "+tbl+" WHERE "+id+" = "+f.ph(1), sid).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return "<no row>"
	}
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(cols))
	for i, n := range cols {
		out[i] = n + "=" + vals[i].String
	}
	return strings.Join(out, " ")
}

// put stores rec under sid by plain SQL, as a row Node would have
// written, live for an hour (rec nil: a NULL record).
func (f *fixture) put(t testing.TB, st *sqlstore.Store, sid string, rec any) {
	t.Helper()
	tbl, id, data, exp := sqlstore.Names(st)
	exps := sqlstore.ExpiryParam(st, time.Now().Add(time.Hour).UnixMilli())
	q := "INSERT INTO " + tbl + " (" + id + ", " + data + ", " + exp
	args := []any{sid, rec, exps}
	if f.k.pkg == "sequelize" {
		q += ", " + f.quote("createdAt") + ", " + f.quote("updatedAt")
		stamp := sqlstore.StampParam(st, time.Now().UnixMilli())
		args = append(args, stamp, stamp)
	}
	q += ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ") + ")"
	if _, err := f.db.Exec(f.q(q), args...); err != nil {
		t.Fatal(err)
	}
}

// record is an express-session record expiring at exp (originalMaxAge
// maxAge ms) with extra members, as JSON.stringify writes it.
func record(exp time.Time, maxAge int64, extra string) string {
	c := sessionjson.NewCookie(exp, 0)
	c.OriginalMaxAge, c.Expires = &maxAge, &exp
	cookie, err := sessionjson.New(c).Encode() // Date.prototype.toJSON, +033658-... included
	if err != nil {
		panic(err)
	}
	if extra != "" {
		extra = "," + extra
	}
	return string(cookie[:len(cookie)-1]) + extra + `}`
}

// browserRecord is a record with a browser-session cookie.
func browserRecord(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}` + extra + `}`
}

// ---------------------------------------------------------------- Node

// The Node CLIs: testdata/nodestores/stores-cli.js (MariaDB and
// PostgreSQL) and testdata/nodesqlite/sqlite-cli.js (SQLite, on native
// modules built apart).
const (
	harnessStores = "nodestores"
	harnessSQLite = "nodesqlite"
)

func harnessOf(k kind) string {
	if k.db == sqlite {
		return harnessSQLite
	}
	return harnessStores
}

// nodeStores is one of the Node CLIs, running: the real npm stores, one
// operation per line.
type nodeStores struct {
	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *nodetest.LockedBuffer
}

// startNode starts the CLI of harness; it stops when the test ends. It
// skips (fails in CI) without node or the harness packages.
func startNode(t testing.TB, harness string) *nodeStores {
	t.Helper()
	nodetest.RequireNode(t)
	dir := filepath.Join(nodetest.Root(t), "testdata", harness)
	script, probe, hint := "stores-cli.js", "connect-session-knex", "make node-deps (npm ci in testdata/nodestores)"
	env := os.Environ()
	if harness == harnessSQLite {
		script, probe, hint = "sqlite-cli.js", "better-sqlite3-session-store", "make node-deps (scripts/node-cache.sh testdata/nodesqlite)"
	} else {
		cfg := config(t, nil)
		host, port, _ := strings.Cut(cfg.Addr, ":")
		env = append(env, "MYSQL_HOST="+host, "MYSQL_PORT="+port, "MYSQL_USER="+cfg.User,
			"MYSQL_PASSWORD="+cfg.Passwd, "MYSQL_DATABASE="+cfg.DBName, "PG_URL="+services.PostgresURL(t))
	}
	probes := []string{filepath.Join(probe, "package.json")}
	if harness == harnessSQLite { // the native modules, built
		probes = append(probes, "better-sqlite3/build/Release/better_sqlite3.node", "sqlite3/build/Release/node_sqlite3.node")
	}
	for _, p := range probes {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p)); err != nil {
			nodetest.Unavailable(t, "testdata/"+harness+"/node_modules/"+p, hint)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	n := &nodeStores{stderr: &nodetest.LockedBuffer{}}
	cmd.Stderr = n.stderr
	var err error
	if n.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.out = bufio.NewScanner(out)
	n.out.Buffer(make([]byte, 0, 1<<20), 64<<20)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.in.Close() // the CLI closes its connections and exits
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	return n
}

// try runs one operation and returns its value, or Node's error.
func (n *nodeStores) try(t testing.TB, op string, args map[string]any) (json.RawMessage, error) {
	t.Helper()
	line, err := json.Marshal(map[string]any{"op": op, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("Node CLI: %v\n%s", err, n.stderr.String())
	}
	if !n.out.Scan() {
		t.Fatalf("Node CLI ended (%v) answering %s\n%s", n.out.Err(), op, n.stderr.String())
	}
	var res struct {
		OK    bool            `json:"ok"`
		Value json.RawMessage `json:"value"`
		Error string          `json:"error"`
	}
	if err := json.Unmarshal(n.out.Bytes(), &res); err != nil {
		t.Fatalf("Node CLI answered %q: %v", n.out.Text(), err)
	}
	if !res.OK {
		return nil, errors.New(res.Error)
	}
	return res.Value, nil
}

// do runs one operation and returns its value, failing the test on an
// error.
func (n *nodeStores) do(t testing.TB, op string, args map[string]any) json.RawMessage {
	t.Helper()
	v, err := n.try(t, op, args)
	if err != nil {
		t.Fatalf("Node %s: %v\n%s", op, err, n.stderr.String())
	}
	return v
}

// str decodes a string value ("" for null).
func str(t testing.TB, v json.RawMessage) string {
	t.Helper()
	var s *string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// at returns args with now set to t's epoch milliseconds.
func at(t time.Time, args map[string]any) map[string]any {
	args["now"] = t.UnixMilli()
	return args
}

// clock returns a Now option fixed at t.
func clock(t time.Time) func() time.Time { return func() time.Time { return t } }
