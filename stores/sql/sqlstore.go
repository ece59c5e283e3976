// Package sqlstore reads and writes express-session records in the SQL
// tables of the npm session stores, exactly as they do, so that a Go
// service and a Node app share one table. It runs on database/sql, with
// one [Preset] per npm package and database:
//
//	import sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
//
//	db, err := sql.Open("mysql", "app@tcp(127.0.0.1:3306)/app")
//	store, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Knex(sqlstore.MySQL)})
//
// The presets, each documented with its table, expiry and SQL:
//
//   - [Knex]: connect-session-knex 5 (MySQL and MariaDB, PostgreSQL,
//     SQLite);
//   - [ExpressMySQLSession]: express-mysql-session 3;
//   - [Sequelize]: connect-session-sequelize 7 (MySQL and MariaDB,
//     PostgreSQL, SQLite);
//   - [ConnectSQLite3]: connect-sqlite3 0.9;
//   - [BetterSQLite3SessionStore]: better-sqlite3-session-store 0.1.
//
// Whatever the preset, the record column holds JSON.stringify(session) as
// text and Go keeps it byte for byte (except in MySQL's own JSON type,
// see [Knex]); the store reads a row only while the preset's expiry
// column says it is live, and that column decides, not the record's
// cookie.expires ([Store.EnforcesExpiry]); Set is the package's upsert,
// Touch moves the expiry column without rewriting the record, Prune is
// the package's cleanup, and [Store.CreateTable] runs the package's own
// CREATE statements.
//
// Conditional writes ([sessionbridge.ConditionalStore]): GetVersion reads
// the record with the expiry column; its Version.Tag is the record text,
// and Version.Touched is the expiry minus the session's lifetime
// (cookie.originalMaxAge, or the preset's TTL for a browser-session
// cookie). SetIf is one UPDATE of the row while it still holds exactly
// those bytes and is live:
//
//	UPDATE t SET <expiry> = ?, <data> = ? WHERE <id> = ? AND <same bytes> AND <live>
//
// where <same bytes> compares bytes, whatever the column's type and
// collation: CAST(CONVERT(<data> USING utf8mb4) AS BINARY) = CAST(? AS
// BINARY) on MySQL (whose collations may ignore case or trailing spaces),
// <data>::text COLLATE "C" = $n on PostgreSQL (json has no =),
// CAST(<data> AS BLOB) = CAST(? AS BLOB) on SQLite. The database's row
// lock makes it atomic; a row that another writer changed, deleted or let
// expire is left alone and SetIf reports sessionbridge.ErrConflict.
//
// Get never reads a record larger than the Decoder's MaxBytes: the query
// returns its length and, only when within the limit, the record, so a
// larger one is refused (sessionjson.ErrTooLarge) without being sent.
//
// Where Go departs from Node, on purpose: it reads a
// connect-session-sequelize row only while it is live (Node's get never
// checks); an expiry beyond what the column holds (a cookie that ends
// after 9999 for a DATETIME or for SQLite's date functions, after
// 2106-02-07 for express-mysql-session's unsigned seconds) is stored as
// the column's last instant, where Node's set fails or stores a date it
// never reads again (PostgreSQL's timestamptz holds the year 33658 that
// Node's ISO text cannot say: Go stores it); it quotes every table and
// column name, where connect-session-knex's upsert and connect-sqlite3
// splice them in as they are; and its upserts are single statements
// (INSERT ... ON CONFLICT, ON DUPLICATE KEY UPDATE, INSERT OR REPLACE):
// where connect-session-knex on PostgreSQL updates, then inserts, and
// connect-session-sequelize reads, then inserts or updates, Go leaves the
// same row in one atomic step (knex's second insert can fail when two
// first saves of one session race). As with Node, an id column in a
// case-insensitive collation (knex's and sequelize's on MySQL, in the
// table's default utf8mb4_general_ci) takes ids differing only in case for
// one.
//
// MySQL and MariaDB: use github.com/go-sql-driver/mysql with its default
// utf8mb4 connection charset; parseTime and interpolateParams may be set
// either way (interpolateParams saves a round trip per statement). Write
// sessions under the default strict sql_mode, as Node's packages expect:
// without it MySQL cuts a session id or record too long for its column
// instead of refusing it.
//
// PostgreSQL: use pgx's database/sql driver, github.com/jackc/pgx/v5/stdlib
// (sql.Open("pgx", url)); any session TimeZone. Timestamps are bound as
// time.Time, the record as text.
//
// SQLite: any database/sql driver (the tests use modernc.org/sqlite, pure
// Go); every value is bound as text or a number, and a driver's time.Time
// for a datetime column is read too. The Node app and Go share the file:
// open it with a busy timeout (modernc.org/sqlite:
// "file:sessions.db?_pragma=busy_timeout(5000)"), or a write meeting the
// other side's lock fails at once with SQLITE_BUSY.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

var (
	// ErrNoTable means the session table does not exist. Create it with
	// Store.CreateTable or Options.CreateTableIfMissing.
	ErrNoTable = errors.New("sqlstore: the session table does not exist")
	// ErrOptions means New was given options the preset's npm package
	// does not have (a column it cannot rename, a TTL it does not let one
	// set), or no preset.
	ErrOptions = errors.New("sqlstore: invalid options")
)

// Columns names the table's columns, for the npm packages that let them be
// renamed. An empty name is the package's default.
type Columns struct {
	// ID is the session id column (the primary key).
	ID string
	// Data is the column holding the record, JSON.stringify(session).
	Data string
	// Expires is the expiry column.
	Expires string
}

// Options configure a Store as the Node app configures its store. The zero
// value of each field but Preset is the npm package's default.
type Options struct {
	// Preset is the npm package and database, such as Knex(Postgres),
	// ExpressMySQLSession() or ConnectSQLite3(). Required.
	Preset Preset
	// TableName is the table (tableName, schema.tableName); the preset's
	// default when empty. Where the package reads "db.table" as a table
	// in another database or schema (connect-session-knex,
	// express-mysql-session, connect-sqlite3), so does Go.
	// better-sqlite3-session-store's name cannot be changed.
	TableName string
	// Columns renames columns, where the package allows it (see each
	// preset).
	Columns Columns
	// TTL is the lifetime the package gives a session whose cookie has no
	// expires (a browser-session cookie), where the package lets one set
	// it (expiration); default one day, whole milliseconds.
	TTL time.Duration
	// DisableTouch makes Touch a no-op, where the package has that option
	// (disableTouch).
	DisableTouch bool
	// CreateTableIfMissing creates the table on first use, as the Node
	// packages do by default (sequelize with its sync()).
	CreateTableIfMissing bool
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is a sessionbridge.ConditionalStore on an npm package's SQL
// session table.
type Store struct {
	db    *sql.DB
	p     *preset
	opts  Options
	n     *names
	ttlMs int64

	get, set, setIf, setIfMatch, touch, touchMatch, destroy, prune stmt

	mu      sync.Mutex
	created atomic.Bool
}

var (
	_ sessionbridge.Store            = (*Store)(nil)
	_ sessionbridge.ConditionalStore = (*Store)(nil)
	_ sessionbridge.ExpiryEnforcer   = (*Store)(nil)
)

// New returns a store on db with the preset and options given. It does no
// I/O. It fails with an error wrapping ErrOptions when opts has no preset
// or sets an option the preset's package does not have.
func New(db *sql.DB, opts Options) (*Store, error) {
	p := opts.Preset.p
	switch {
	case db == nil:
		return nil, fmt.Errorf("%w: a nil *sql.DB", ErrOptions)
	case p == nil && opts.Preset.what != "":
		return nil, fmt.Errorf("%w: %s is not supported", ErrOptions, opts.Preset.what)
	case p == nil:
		return nil, fmt.Errorf("%w: no Preset", ErrOptions)
	case opts.TTL < 0:
		return nil, fmt.Errorf("%w: a negative TTL", ErrOptions)
	case opts.TTL > 0 && p.ttlOpt == "":
		return nil, fmt.Errorf("%w: %s has no option for the lifetime of a browser-session cookie (TTL)", ErrOptions, p.pkg)
	case opts.DisableTouch && p.touchOpt == "":
		return nil, fmt.Errorf("%w: %s has no disableTouch option", ErrOptions, p.pkg)
	case p.fixedTable && opts.TableName != "" && opts.TableName != p.table:
		return nil, fmt.Errorf("%w: %s cannot rename its table (TableName)", ErrOptions, p.pkg)
	}
	cols := p.cols
	for _, c := range []struct {
		name, what    string
		set, def, opt *string
	}{
		{"ID", "session id", &opts.Columns.ID, &cols.ID, &p.renames.ID},
		{"Data", "record", &opts.Columns.Data, &cols.Data, &p.renames.Data},
		{"Expires", "expiry", &opts.Columns.Expires, &cols.Expires, &p.renames.Expires},
	} {
		if *c.set == "" || *c.set == *c.def {
			continue
		}
		if *c.opt == "" {
			return nil, fmt.Errorf("%w: %s cannot rename its %s column (Columns.%s)", ErrOptions, p.pkg, c.what, c.name)
		}
		*c.def = *c.set
	}
	if opts.TableName == "" {
		opts.TableName = p.table
	}
	if opts.TTL == 0 {
		opts.TTL = p.ttl
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: db, p: p, opts: opts, n: newNames(p, opts.TableName, cols), ttlMs: opts.TTL.Milliseconds()}
	s.build()
	return s, nil
}

// build makes the store's statements from the preset.
func (s *Store) build() {
	p, n, d := s.p, s.n, s.p.dialect
	from := " FROM " + n.qtable + " WHERE " + n.id + " = "
	// The record only when within the limit, its length always: a record
	// over the limit is refused without being sent. Expired rows are not
	// selected.
	s.get = build(d, func(b *builder) string {
		rec := n.data
		if limit := reclimit.Of(s.opts.Decoder); limit >= 0 {
			rec = "CASE WHEN " + d.length(n.data) + " <= " + strconv.Itoa(limit) + " THEN " + n.data + " END"
		}
		return "SELECT " + rec + ", " + d.length(n.data) + ", " + n.exp + from + b.p(argID) + " AND " + p.live(b, n)
	})
	s.set = build(d, func(b *builder) string { return p.upsert(b, n) })
	where := func(b *builder) string {
		return n.id + " = " + b.p(argID) + " AND " + d.same(n.data, b.p(argTag)) + " AND " + p.live(b, n)
	}
	s.setIf = build(d, func(b *builder) string {
		return "UPDATE " + n.qtable + " SET " + p.write(b, n) + " WHERE " + where(b)
	})
	s.setIfMatch = build(d, func(b *builder) string { return "SELECT COUNT(*) FROM " + n.qtable + " WHERE " + where(b) })
	touchWhere := func(b *builder) string {
		w := n.id + " = " + b.p(argID)
		if p.touchLive {
			w += " AND " + p.live(b, n)
		}
		return w
	}
	s.touch = build(d, func(b *builder) string {
		return "UPDATE " + n.qtable + " SET " + p.touch(b, n) + " WHERE " + touchWhere(b)
	})
	s.touchMatch = build(d, func(b *builder) string { return "SELECT COUNT(*) FROM " + n.qtable + " WHERE " + touchWhere(b) })
	s.destroy = build(d, func(b *builder) string { return "DELETE" + from + b.p(argID) })
	s.prune = build(d, func(b *builder) string { return "DELETE FROM " + n.qtable + " WHERE " + p.dead(b, n) })
}

// CreateTable creates the table, unless it exists, with the statements
// the preset's npm package runs (see each preset).
func (s *Store) CreateTable(ctx context.Context) error {
	q, args := s.p.dialect.tableExists(s.n.schema, s.n.table)
	var one int
	switch err := s.db.QueryRowContext(ctx, q, args...).Scan(&one); {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: create table: %w", err)
	}
	ddl, err := s.p.ddl(ctx, s.db, s.n)
	if err != nil {
		return fmt.Errorf("sqlstore: create table: %w", err)
	}
	for _, q := range ddl {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: create table: %w", err)
		}
	}
	return nil
}

// ensure creates the table on first use when the options say so, and
// fails when ctx is done.
func (s *Store) ensure(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.opts.CreateTableIfMissing || s.created.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created.Load() {
		return nil
	}
	if err := s.CreateTable(ctx); err != nil {
		return err
	}
	s.created.Store(true)
	return nil
}

// wrap turns a driver error into the package's: a missing table is
// ErrNoTable.
func (s *Store) wrap(op string, err error) error {
	if s.p.dialect.noTable(err) {
		return fmt.Errorf("sqlstore: %s: %w", op, ErrNoTable)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// nowMs is the clock in epoch milliseconds, as Date.now().
func (s *Store) nowMs() int64 { return jsdate.Millis(s.opts.Now()) }

// Get implements sessionbridge.Store: the session, while its row is live
// by the preset's rule; sessionbridge.ErrNotFound otherwise. A record
// over the Decoder's MaxBytes is refused with an error wrapping
// sessionjson.ErrTooLarge, without being read.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	sess, _, err := s.read(ctx, sid, false)
	return sess, err
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the
// record text as Version.Tag and Version.Touched from the expiry column.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	return s.read(ctx, sid, true)
}

func (s *Store) read(ctx context.Context, sid string, version bool) (*sessionjson.Session, sessionbridge.Version, error) {
	var v sessionbridge.Version
	if err := s.ensure(ctx); err != nil {
		return nil, v, err
	}
	now := s.nowMs()
	var raw []byte
	var n sql.NullInt64
	var exp any
	err := s.db.QueryRowContext(ctx, s.get.sql, s.get.bind(&values{id: sid, now: s.p.now(now)})...).Scan(&raw, &n, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, v, sessionbridge.ErrNotFound
	case err != nil:
		return nil, v, s.wrap("get", err)
	case !n.Valid:
		// A NULL record: the Node packages' get answers no session.
		return nil, v, sessionbridge.ErrNotFound
	case raw == nil:
		return nil, v, reclimit.Error("sqlstore", n.Int64, reclimit.Of(s.opts.Decoder))
	}
	if version {
		v.Tag = string(raw) // before the decoder owns raw
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, raw)
	if err != nil {
		// The Node packages fail on such a row (JSON.parse throws) and
		// leave it; so does Go.
		return nil, sessionbridge.Version{}, fmt.Errorf("sqlstore: %w", err)
	}
	if version {
		if ms, err := s.p.decode(exp); err == nil {
			v.Touched = s.touched(&sess.Cookie, ms)
		}
	}
	return sess, v, nil
}

// touched is when an expiry of ms was set for a session with cookie c
// (see jsdate.Touched).
func (s *Store) touched(c *sessionjson.Cookie, ms int64) time.Time {
	return jsdate.Touched(*c, ms, s.opts.TTL, s.opts.Now())
}

// write returns the values of a set or conditional write of sess at now.
func (s *Store) write(sid string, sess *sessionjson.Session, now int64) (*values, int64, error) {
	rec, err := sess.Encode()
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: %w", err)
	}
	ms, _ := s.p.expiry(&sess.Cookie, now, s.ttlMs, false)
	exp, stored := s.p.encode(ms)
	v := &values{id: sid, data: string(rec), expires: exp, now: s.p.now(now)}
	if s.p.stamp != nil {
		v.stamp = s.p.stamp(now)
	}
	return v, stored, nil
}

// Set implements sessionbridge.Store with the package's upsert.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	v, _, err := s.write(sid, sess, s.nowMs())
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.set.sql, s.set.bind(v)...); err != nil {
		return s.wrap("set", err)
	}
	return nil
}

// SetIf implements sessionbridge.ConditionalStore: Set's write, as one
// UPDATE of the row GetVersion read with v (the same record bytes) while
// it is live. Otherwise it changes nothing and returns an error wrapping
// sessionbridge.ErrConflict. The Version returned is that of the row
// written.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := s.ensure(ctx); err != nil {
		return sessionbridge.Version{}, err
	}
	if v.Tag == "" { // no record has an empty text
		return sessionbridge.Version{}, fmt.Errorf("sqlstore: set: %w", sessionbridge.ErrConflict)
	}
	now := s.nowMs()
	vals, stored, err := s.write(sid, sess, now)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	vals.tag = v.Tag
	ok, err := s.update(ctx, s.setIf, s.setIfMatch, vals)
	if err != nil {
		return sessionbridge.Version{}, s.wrap("set", err)
	}
	if !ok {
		return sessionbridge.Version{}, fmt.Errorf("sqlstore: set: %w", sessionbridge.ErrConflict)
	}
	return sessionbridge.Version{Tag: vals.data, Touched: s.touched(&sess.Cookie, stored)}, nil
}

// update runs an UPDATE and reports whether it matched a row. Where
// RowsAffected counts only the rows changed, an UPDATE that matched a
// row already holding its values reports 0; match, the same WHERE,
// then tells.
func (s *Store) update(ctx context.Context, update, match stmt, v *values) (bool, error) {
	res, err := s.db.ExecContext(ctx, update.sql, update.bind(v)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n > 0 || !s.p.dialect.affectedIsChanged {
		return n > 0, nil
	}
	if err := s.db.QueryRowContext(ctx, match.sql, match.bind(v)...).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// Touch implements sessionbridge.Store with the package's touch: it moves
// the expiry column (and any bookkeeping timestamp) and never the record,
// so it cannot overwrite what another writer stored. It reports
// sessionbridge.ErrNotFound when there is no row to touch (no live row
// for a preset whose touch has the get condition). It does nothing with
// DisableTouch, or where the package's touch does nothing (connect-session-
// knex for a browser-session cookie).
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.DisableTouch {
		return nil
	}
	now := s.nowMs()
	ms, ok := s.p.expiry(&sess.Cookie, now, s.ttlMs, true)
	if !ok {
		return nil
	}
	if err := s.ensure(ctx); err != nil {
		return err
	}
	exp, _ := s.p.encode(ms)
	v := &values{id: sid, expires: exp, now: s.p.now(now)}
	if s.p.stamp != nil {
		v.stamp = s.p.stamp(now)
	}
	found, err := s.update(ctx, s.touch, s.touchMatch, v)
	if err != nil {
		return s.wrap("touch", err)
	}
	if !found {
		return sessionbridge.ErrNotFound
	}
	return nil
}

// Destroy implements sessionbridge.Store.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.destroy.sql, s.destroy.bind(&values{id: sid})...); err != nil {
		return s.wrap("destroy", err)
	}
	return nil
}

// Prune deletes the expired rows with the package's cleanup statement and
// returns how many it deleted. Call it periodically if the Node app does
// not clean up (its cleanup interval is off, or no Node app runs).
func (s *Store) Prune(ctx context.Context) (int64, error) {
	if err := s.ensure(ctx); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, s.prune.sql, s.prune.bind(&values{now: s.p.now(s.nowMs())})...)
	if err != nil {
		return 0, s.wrap("prune", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("prune", err)
	}
	return n, nil
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: the expiry
// column decides, and touch moves it without rewriting cookie.expires.
func (s *Store) EnforcesExpiry() bool { return true }
