// Package pgstore reads and writes express-session records in PostgreSQL
// exactly as connect-pg-simple 10 does, so a Go service and a Node app share
// one session table.
//
//	import pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
//
// The table is connect-pg-simple's: sid varchar primary key, sess json (the
// session JSON, kept as text byte for byte), expire timestamp(6) WITHOUT
// time zone, index on expire. The SQL is its SQL:
//
//	get:     SELECT sess FROM t WHERE sid = $1 AND expire >= to_timestamp($2)
//	set:     INSERT INTO t (sess, expire, sid) SELECT $1, to_timestamp($2), $3
//	         ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2)
//	touch:   UPDATE t SET expire = to_timestamp($1) WHERE sid = $2
//	destroy: DELETE FROM t WHERE sid = $1
//	prune:   DELETE FROM t WHERE expire < to_timestamp($1)
//
// with integer epoch seconds: ceil(cookie.expires), or ceil(now) + TTL for a
// browser-session cookie. Because expire has no time zone, to_timestamp
// stores it in the database session's TimeZone. Node and Go agree as long
// as their connections use the same TimeZone (by default both use the
// server's). If they cannot, set Options.TimeZone to the Node app's zone and
// Go converts explicitly, whatever its own connections use; the zone is sent
// as a query parameter, never spliced into the SQL.
//
// expire saturates: a cookie.expires beyond the JavaScript Date range (year
// 275760, which Node cannot write) is stored as that limit, and one before
// 1970 as 1970 (expired either way), so every expire fits PostgreSQL's
// timestamp range and no lifetime overflows.
//
// Get adds one condition to that SQL, AND octet_length(sess::text) <= the
// Decoder's MaxBytes, so PostgreSQL never sends a larger record; only when
// no row comes back does a second query tell such a record (refused with
// sessionjson.ErrTooLarge) from a missing or expired one.
//
// The Store is a [sessionbridge.ConditionalStore]. GetVersion is Get that
// also selects expire; its Version.Tag is the sess text read (a json column
// keeps its text byte for byte) and SetIf writes only on that row:
//
//	setIf:   UPDATE t SET sess=$1, expire=to_timestamp($2)
//	         WHERE sid=$3 AND sess::text = $4 AND expire >= to_timestamp($5)
//
// one statement, so PostgreSQL's row lock makes it atomic: a row another
// writer changed, deleted or let expire is not updated, and SetIf reports
// sessionbridge.ErrConflict. Version.Touched is expire minus the session's
// lifetime (cookie.originalMaxAge, or Options.TTL for a browser-session
// cookie), never after the clock's now.
//
// PostgreSQL silently truncates identifiers to 63 bytes (NAMEDATALEN-1), so
// two long table names could share one table: a table or schema name over
// 63 bytes is refused with [ErrNameTooLong] by every method.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

// Defaults, as connect-pg-simple sets them.
const (
	DefaultTableName = "session"
	DefaultTTL       = 86400 * time.Second
)

// maxNameBytes is the longest identifier PostgreSQL keeps whole
// (NAMEDATALEN-1); it truncates longer ones.
const maxNameBytes = 63

var (
	// ErrNoTable means the session table does not exist. Create it with
	// Store.CreateTable or Options.CreateTableIfMissing.
	ErrNoTable = errors.New("pgstore: the session table does not exist")
	// ErrNameTooLong means the table or schema name is longer than
	// 63 bytes (of UTF-8), which PostgreSQL would truncate.
	ErrNameTooLong = errors.New("pgstore: table or schema name longer than 63 bytes")
)

// DB is what the store needs from PostgreSQL; *pgxpool.Pool satisfies it
// (as do *pgx.Conn and pgx.Tx).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Options mirror connect-pg-simple's options. The zero value is its
// defaults.
type Options struct {
	// TableName defaults to "session". (tableName)
	TableName string
	// SchemaName qualifies the table; empty means the search_path. (schemaName)
	SchemaName string
	// TTL is connect-pg-simple's ttl: the expire column of a session whose
	// cookie has no expires (a browser-session cookie) is now + TTL; default
	// one day (DefaultTTL), whole seconds. A session with cookie.expires
	// expires then, whatever TTL says. (ttl)
	TTL time.Duration
	// DisableTouch makes Touch a no-op. (disableTouch)
	DisableTouch bool
	// CreateTableIfMissing creates the table on first use, as
	// connect-pg-simple does. (createTableIfMissing)
	CreateTableIfMissing bool
	// TimeZone, if set, is the TimeZone of the Node app's database sessions
	// (an IANA name such as "Europe/Paris"); Go then stores and compares
	// expire in that zone whatever its own connections use.
	TimeZone string
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is a connect-pg-simple compatible sessionbridge.Store.
type Store struct {
	db   DB
	opts Options

	table                                          string // quoted, schema-qualified
	getSQL, setSQL, touchSQL, destroySQL, pruneSQL string
	limit                                          int32  // the Decoder's MaxBytes, in getSQL
	missSQL                                        string // after getSQL found no row; "" without a limit
	err                                            error  // a name PostgreSQL would truncate

	// versionSQL and missVersionSQL are getSQL and missSQL selecting
	// expire too, as an instant; setIfSQL is SetIf's conditional update.
	versionSQL, missVersionSQL, setIfSQL string

	mu      sync.Mutex
	created atomic.Bool
}

var (
	_ sessionbridge.Store            = (*Store)(nil)
	_ sessionbridge.ConditionalStore = (*Store)(nil)
)

// New returns a store on db. It does no I/O.
func New(db DB, opts Options) *Store {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: db, opts: opts}
	switch {
	case len(opts.TableName) > maxNameBytes:
		s.err = fmt.Errorf("%w: the table name has %d bytes", ErrNameTooLong, len(opts.TableName))
	case len(opts.SchemaName) > maxNameBytes:
		s.err = fmt.Errorf("%w: the schema name has %d bytes", ErrNameTooLong, len(opts.SchemaName))
	}
	if opts.SchemaName != "" {
		s.table = pgx.Identifier{opts.SchemaName, opts.TableName}.Sanitize()
	} else {
		s.table = pgx.Identifier{opts.TableName}.Sanitize()
	}
	switch n := reclimit.Of(opts.Decoder); {
	case n < 0 || n > math.MaxInt32:
		s.limit = math.MaxInt32 // more than a json value can hold
	default:
		s.limit = int32(n)
	}
	// ts is to_timestamp($n), converted to the TimeZone option, passed as
	// parameter $tz, when set.
	ts := func(n, tz int) string {
		if opts.TimeZone == "" {
			return fmt.Sprintf("to_timestamp($%d)", n)
		}
		return fmt.Sprintf("(to_timestamp($%d) AT TIME ZONE $%d::text)", n, tz)
	}
	// A row whose record is over the limit is not selected, so not sent;
	// missSQL, run only when no row came back, tells it from a missing or
	// expired row. The test costs PostgreSQL less in the WHERE clause than
	// in the select list (a CASE), and less than a pg_column_size shortcut,
	// which would also let compressed records over the limit through. The
	// limit is a constant of the statement: as a parameter it cost more
	// than the test itself. No record reaches math.MaxInt32 bytes, so an
	// unlimited Decoder needs no test.
	//
	// instant is expire as the instant it means: the naive timestamp read
	// in the zone it was written in (the TimeZone option, parameter $3,
	// or the connection's).
	instant := "expire::timestamptz"
	if opts.TimeZone != "" {
		instant = "(expire AT TIME ZONE $3::text)"
	}
	where := " FROM " + s.table + " WHERE sid = $1 AND expire >= " + ts(2, 3)
	s.getSQL = "SELECT sess" + where
	s.versionSQL = "SELECT sess, " + instant + where
	if s.limit != math.MaxInt32 {
		limit := fmt.Sprintf(" AND octet_length(sess::text) <= %d", s.limit)
		s.getSQL += limit
		s.versionSQL += limit
		miss := fmt.Sprintf("SELECT octet_length(sess::text), CASE WHEN octet_length(sess::text) <= %d THEN sess END", s.limit)
		s.missSQL = miss + where
		s.missVersionSQL = miss + ", " + instant + where
	}
	s.setSQL = "INSERT INTO " + s.table + " (sess, expire, sid) SELECT $1, " + ts(2, 4) + ", $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=" + ts(2, 4) + " RETURNING sid"
	s.touchSQL = "UPDATE " + s.table + " SET expire = " + ts(1, 3) + " WHERE sid = $2 RETURNING sid"
	s.setIfSQL = "UPDATE " + s.table + " SET sess=$1, expire=" + ts(2, 6) + " WHERE sid = $3 AND sess::text = $4 AND expire >= " + ts(5, 6)
	s.destroySQL = "DELETE FROM " + s.table + " WHERE sid = $1"
	s.pruneSQL = "DELETE FROM " + s.table + " WHERE expire < " + ts(1, 2)
	return s
}

// args appends the TimeZone parameter, when the option is set, to a query's
// arguments.
func (s *Store) args(a ...any) []any {
	if s.opts.TimeZone != "" {
		a = append(a, s.opts.TimeZone)
	}
	return a
}

// CreateTable creates the table, its primary key and the expire index
// (connect-pg-simple's table.sql) unless the table exists.
//
// The constraint and index are named as connect-pg-simple names them for
// the default table ("session_pkey", "IDX_session_expire") and
// <table>_pkey and IDX_<table>_expire for another table; when such a name
// would exceed 63 bytes, PostgreSQL chooses a unique one instead.
func (s *Store) CreateTable(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	var exists *string
	if err := s.db.QueryRow(ctx, "SELECT to_regclass($1::text)::text", s.table).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	if exists != nil {
		return nil
	}
	// name is the quoted identifier name, or "" (PostgreSQL picks a unique
	// name) when name would be truncated.
	name := func(name string) string {
		if len(name) > maxNameBytes {
			return ""
		}
		return pgx.Identifier{name}.Sanitize()
	}
	pkey, index := `CONSTRAINT "session_pkey"`, `"IDX_session_expire"`
	if s.opts.TableName != DefaultTableName {
		pkey, index = name(s.opts.TableName+"_pkey"), name("IDX_"+s.opts.TableName+"_expire")
		if pkey != "" {
			pkey = "CONSTRAINT " + pkey
		}
	}
	ddl := `CREATE TABLE ` + s.table + ` (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);
ALTER TABLE ` + s.table + ` ADD ` + pkey + ` PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX ` + index + ` ON ` + s.table + ` ("expire");`
	if _, err := s.db.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	return nil
}

func (s *Store) ensure(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	if !s.opts.CreateTableIfMissing {
		return nil
	}
	if s.created.Load() { // the hot path takes no lock once the table exists
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

// wrap turns driver errors into the package's: a missing table is ErrNoTable.
func wrap(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("pgstore: %s: %w", op, ErrNoTable)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// nowSec is connect-pg-simple's currentTimestamp(): ceil(Date.now()/1000).
func (s *Store) nowSec() int64 { return jsdate.CeilSeconds(jsdate.Millis(s.opts.Now())) }

// expiry returns the epoch seconds connect-pg-simple stores in expire:
// ceil(cookie.expires), or ceil(now + TTL) for a browser-session cookie.
// It saturates at the end of the JavaScript Date range (8.64e12 s, within
// PostgreSQL's timestamp range) and at 0 (1970) below, so it never
// overflows and PostgreSQL never finds it out of range.
func (s *Store) expiry(sess *sessionjson.Session) int64 {
	var ms int64
	if e := sess.Cookie.Expires; e != nil {
		ms = jsdate.Millis(*e)
	} else {
		ms = jsdate.Millis(s.opts.Now()) + s.opts.TTL.Milliseconds() // both far from overflow
	}
	return max(0, min(jsdate.CeilSeconds(ms), jsdate.MaxMillis/1000))
}

// Get implements sessionbridge.Store. Rows whose expire has passed are not
// returned, as with connect-pg-simple. A record longer than the Decoder's
// MaxBytes is refused with an error wrapping sessionjson.ErrTooLarge
// without PostgreSQL sending it.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	return s.get(ctx, sid, nil)
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the sess
// text read as Version.Tag and Touched from the expire column.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	var v sessionbridge.Version
	sess, err := s.get(ctx, sid, &v)
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	return sess, v, nil
}

// get is Get, and GetVersion when v is not nil: then it selects expire too
// and fills in *v.
func (s *Store) get(ctx context.Context, sid string, v *sessionbridge.Version) (*sessionjson.Session, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	now := s.nowSec()
	var raw []byte
	var expire pgtype.Timestamptz
	var err error
	if v == nil {
		err = s.db.QueryRow(ctx, s.getSQL, s.args(sid, now)...).Scan(&raw)
	} else {
		err = s.db.QueryRow(ctx, s.versionSQL, s.args(sid, now)...).Scan(&raw, &expire)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if s.missSQL == "" {
			return nil, sessionbridge.ErrNotFound
		}
		return s.miss(ctx, sid, now, v)
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return s.decode(ctx, raw, expire, v)
}

// miss is get after its query found no row at now: the row is missing or
// expired, or its record is over the limit (or NULL, which
// connect-pg-simple's NOT NULL column never holds). A row that changed in
// between is read as it is now.
func (s *Store) miss(ctx context.Context, sid string, now int64, v *sessionbridge.Version) (*sessionjson.Session, error) {
	var n *int64
	var raw []byte
	var expire pgtype.Timestamptz
	var err error
	if v == nil {
		err = s.db.QueryRow(ctx, s.missSQL, s.args(sid, now)...).Scan(&n, &raw)
	} else {
		err = s.db.QueryRow(ctx, s.missVersionSQL, s.args(sid, now)...).Scan(&n, &raw, &expire)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, sessionbridge.ErrNotFound
	case err != nil:
		return nil, wrap("get", err)
	case n == nil:
		return nil, fmt.Errorf("pgstore: %w: sess is NULL", sessionjson.ErrInvalidJSON)
	case raw == nil:
		return nil, reclimit.Error("pgstore", *n, s.limit)
	}
	return s.decode(ctx, raw, expire, v)
}

// decode decodes a record pgx copied into raw; when v is not nil, it
// fills in *v from raw and the row's expire.
func (s *Store) decode(ctx context.Context, raw []byte, expire pgtype.Timestamptz, v *sessionbridge.Version) (*sessionjson.Session, error) {
	var tag string
	if v != nil {
		tag = string(raw) // before the decoder owns raw
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, raw)
	if err != nil {
		// connect-pg-simple deletes such a row; Go reports it and leaves the
		// table alone.
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if v != nil {
		*v = sessionbridge.Version{Tag: tag}
		if expire.Valid && expire.InfinityModifier == pgtype.Finite {
			v.Touched = s.touched(&sess.Cookie, jsdate.Millis(expire.Time))
		}
	}
	return sess, nil
}

// touched is when an expiry of expMs (epoch milliseconds) was set for a
// session with cookie c (see jsdate.Touched).
func (s *Store) touched(c *sessionjson.Cookie, expMs int64) time.Time {
	return jsdate.Touched(*c, expMs, s.opts.TTL, s.opts.Now())
}

// Set implements sessionbridge.Store (an upsert).
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	rec, err := sess.Encode()
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if _, err := s.db.Exec(ctx, s.setSQL, s.args(string(rec), s.expiry(sess), sid)...); err != nil {
		return wrap("set", err)
	}
	return nil
}

// SetIf implements sessionbridge.ConditionalStore: Set's write, in one
// UPDATE that matches only the row GetVersion read with v (same sess text)
// while it has not expired. Otherwise it changes nothing and returns an
// error wrapping sessionbridge.ErrConflict. The Version returned is that of
// the row written.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := s.ensure(ctx); err != nil {
		return sessionbridge.Version{}, err
	}
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, err
	}
	if v.Tag == "" { // no record has an empty text
		return sessionbridge.Version{}, fmt.Errorf("pgstore: set: %w", sessionbridge.ErrConflict)
	}
	rec, err := sess.Encode()
	if err != nil {
		return sessionbridge.Version{}, fmt.Errorf("pgstore: %w", err)
	}
	expire := s.expiry(sess)
	tag, err := s.db.Exec(ctx, s.setIfSQL, s.args(string(rec), expire, sid, v.Tag, s.nowSec())...)
	if err != nil {
		return sessionbridge.Version{}, wrap("set", err)
	}
	if tag.RowsAffected() == 0 {
		return sessionbridge.Version{}, fmt.Errorf("pgstore: set: %w", sessionbridge.ErrConflict)
	}
	return sessionbridge.Version{Tag: string(rec), Touched: s.touched(&sess.Cookie, expire*1000)}, nil
}

// Touch implements sessionbridge.Store: it updates expire only, never the
// record, so it cannot overwrite what another writer stored. It reports
// sessionbridge.ErrNotFound when there is no such row.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if s.opts.DisableTouch && s.err == nil {
		return nil
	}
	if err := s.ensure(ctx); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, s.touchSQL, s.args(s.expiry(sess), sid)...)
	if err != nil {
		return wrap("touch", err)
	}
	if tag.RowsAffected() == 0 {
		return sessionbridge.ErrNotFound
	}
	return nil
}

// Destroy implements sessionbridge.Store.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, s.destroySQL, sid); err != nil {
		return wrap("destroy", err)
	}
	return nil
}

// Prune deletes expired rows, like connect-pg-simple's pruneSessions, and
// returns how many it deleted. Call it periodically if the Node app runs
// with pruneSessionInterval false.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	if err := s.ensure(ctx); err != nil {
		return 0, err
	}
	tag, err := s.db.Exec(ctx, s.pruneSQL, s.args(s.nowSec())...)
	if err != nil {
		return 0, wrap("prune", err)
	}
	return tag.RowsAffected(), nil
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: the expire column
// decides, and touch moves it without rewriting cookie.expires.
func (s *Store) EnforcesExpiry() bool { return true }
