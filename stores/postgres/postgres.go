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
// Go converts explicitly, whatever its own connections use.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Defaults, as connect-pg-simple sets them.
const (
	DefaultTableName = "session"
	DefaultTTL       = 86400 * time.Second
)

// ErrNoTable means the session table does not exist. Create it with
// Store.CreateTable or Options.CreateTableIfMissing.
var ErrNoTable = errors.New("pgstore: the session table does not exist")

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
	// TTL is the lifetime of browser-session cookies; default one day. (ttl)
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

	mu      sync.Mutex
	created atomic.Bool
}

var _ sessionbridge.Store = (*Store)(nil)

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
	if opts.SchemaName != "" {
		s.table = pgx.Identifier{opts.SchemaName, opts.TableName}.Sanitize()
	} else {
		s.table = pgx.Identifier{opts.TableName}.Sanitize()
	}
	ts := func(n int) string { return fmt.Sprintf("to_timestamp($%d)", n) }
	if opts.TimeZone != "" {
		tz := "'" + strings.ReplaceAll(opts.TimeZone, "'", "''") + "'"
		ts = func(n int) string { return fmt.Sprintf("(to_timestamp($%d) AT TIME ZONE %s)", n, tz) }
	}
	s.getSQL = "SELECT sess FROM " + s.table + " WHERE sid = $1 AND expire >= " + ts(2)
	s.setSQL = "INSERT INTO " + s.table + " (sess, expire, sid) SELECT $1, " + ts(2) + ", $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=" + ts(2) + " RETURNING sid"
	s.touchSQL = "UPDATE " + s.table + " SET expire = " + ts(1) + " WHERE sid = $2 RETURNING sid"
	s.destroySQL = "DELETE FROM " + s.table + " WHERE sid = $1"
	s.pruneSQL = "DELETE FROM " + s.table + " WHERE expire < " + ts(1)
	return s
}

// Table returns the quoted, schema-qualified table name.
func (s *Store) Table() string { return s.table }

// CreateTable creates the table, its primary key and the expire index
// (connect-pg-simple's table.sql) unless the table exists.
func (s *Store) CreateTable(ctx context.Context) error {
	var exists *string
	if err := s.db.QueryRow(ctx, "SELECT to_regclass($1::text)::text", s.table).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	if exists != nil {
		return nil
	}
	pkey, index := `"session_pkey"`, `"IDX_session_expire"`
	if s.opts.TableName != DefaultTableName {
		pkey = pgx.Identifier{s.opts.TableName + "_pkey"}.Sanitize()
		index = pgx.Identifier{"IDX_" + s.opts.TableName + "_expire"}.Sanitize()
	}
	ddl := `CREATE TABLE ` + s.table + ` (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);
ALTER TABLE ` + s.table + ` ADD CONSTRAINT ` + pkey + ` PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX ` + index + ` ON ` + s.table + ` ("expire");`
	if _, err := s.db.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	return nil
}

func (s *Store) ensure(ctx context.Context) error {
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
func (s *Store) nowSec() int64 { return ceilDiv(s.opts.Now().UnixMilli(), 1000) }

func ceilDiv(ms, d int64) int64 {
	q := ms / d
	if ms%d > 0 {
		q++
	}
	return q
}

// ExpireAt returns the epoch seconds connect-pg-simple stores in expire:
// ceil(cookie.expires), or ceil(now + TTL) for a browser-session cookie.
func (s *Store) ExpireAt(sess *sessionjson.Session) int64 {
	if e := sess.Cookie.Expires; e != nil {
		return ceilDiv(e.UnixMilli(), 1000)
	}
	return ceilDiv(s.opts.Now().UnixMilli()+s.opts.TTL.Milliseconds(), 1000)
}

// Get implements sessionbridge.Store. Rows whose expire has passed are not
// returned, as with connect-pg-simple.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	var raw []byte
	err := s.db.QueryRow(ctx, s.getSQL, sid, s.nowSec()).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sessionbridge.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	sess, err := s.opts.Decoder.DecodeOwned(raw) // pgx copied the row into raw
	if err != nil {
		// connect-pg-simple deletes such a row; Go reports it and leaves the
		// table alone.
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return sess, nil
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
	if _, err := s.db.Exec(ctx, s.setSQL, string(rec), s.ExpireAt(sess), sid); err != nil {
		return wrap("set", err)
	}
	return nil
}

// Touch implements sessionbridge.Store: it updates expire only, never the
// record. It reports sessionbridge.ErrNotFound when there is no such row.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if s.opts.DisableTouch {
		return nil
	}
	if err := s.ensure(ctx); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, s.touchSQL, s.ExpireAt(sess), sid)
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
	tag, err := s.db.Exec(ctx, s.pruneSQL, s.nowSec())
	if err != nil {
		return 0, wrap("prune", err)
	}
	return tag.RowsAffected(), nil
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: the expire column
// decides, and touch moves it without rewriting cookie.expires.
func (s *Store) EnforcesExpiry() bool { return true }
