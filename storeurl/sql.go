package storeurl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/sessionbridge/sessionbridge"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// DefaultMySQLPort is the port of a mysql:// URL that names none.
const DefaultMySQLPort = "3306"

// mysqlDriverParams are the github.com/go-sql-driver/mysql parameters a
// mysql:// URL may carry (the driver checks their values). The others are
// refused: some would change what the SQL store reads (charset, collation,
// loc), and the driver sends any it does not know to the server as a
// system variable.
var mysqlDriverParams = []string{
	"timeout", "readTimeout", "writeTimeout", "tls",
	"allowCleartextPasswords", "allowNativePasswords", "allowFallbackToPlaintext",
	"checkConnLiveness", "compress", "interpolateParams", "parseTime", "maxAllowedPacket",
}

// mysqlRefused are driver parameters refused with a reason.
var mysqlRefused = map[string]string{
	"charset":         "the SQL store needs the driver's default utf8mb4 connection",
	"collation":       "the SQL store needs the driver's default utf8mb4 connection",
	"loc":             "the SQL store reads and writes DATETIME in UTC, the driver's default",
	"timeTruncate":    "the SQL store writes the times as the npm package does",
	"clientFoundRows": "the SQL store counts updated rows itself",
}

// parseMySQL parses mysql://user[:pass]@host[:port]/db?format=...
func parseMySQL(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: MySQL, redacted: p.redacted, conn: &driverConfig{secrets: p.secrets}}
	if len(p.hosts) != 1 {
		return nil, badf("a mysql URL names one server")
	}
	addr, err := hostPort(p.hosts[0], DefaultMySQLPort, 0, 1)
	if err != nil {
		return nil, err
	}
	db, err := url.PathUnescape(strings.TrimPrefix(p.path, "/"))
	if err != nil || db == "" || strings.ContainsAny(db, "/\x00") {
		return nil, badf("path: a mysql URL's path is the database: mysql://host:3306/db")
	}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	f, err := q.format(s, false)
	if err != nil {
		return nil, err
	}
	if err := q.storeOptions(s, f.opts); err != nil {
		return nil, err
	}
	rest := q.names()
	slices.Sort(rest)
	var unknown []string
	for _, n := range rest {
		if why, ok := mysqlRefused[n]; ok {
			return nil, badf("%s: %s", n, why)
		}
		if !slices.Contains(mysqlDriverParams, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, badf("unknown option %s (%s options: %s; driver options: %s)",
			strings.Join(unknown, ", "), f.name, f.opts.names(), strings.Join(mysqlDriverParams, ", "))
	}
	// The driver parses its parameters without the credentials, which it
	// could quote in an error; they are set afterwards.
	dsn := "tcp(" + addr + ")/"
	if len(rest) > 0 {
		dsn += "?" + q.encode()
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, badf("%v", err)
	}
	if p.hasUser {
		cfg.User, _ = url.PathUnescape(p.user)
		cfg.Passwd, _ = url.PathUnescape(p.pass)
	}
	cfg.DBName = db
	cfg.Logger = quietMySQL{}
	s.conn.mysql = cfg
	if err := s.checkSQL(f); err != nil {
		return nil, err
	}
	return s, nil
}

// quietMySQL drops the driver's log lines: its errors reach the caller.
type quietMySQL struct{}

func (quietMySQL) Print(...any) {}

// parseSQLite parses sqlite:rel/path, sqlite:/abs/path, sqlite:///abs/path
// or sqlite://localhost/abs/path, with format=.
func parseSQLite(rawURL string) (*Spec, error) {
	scheme, rest, _ := strings.Cut(rawURL, ":")
	// A sqlite URL has no userinfo, but one written there anyway must not
	// be echoed: refuse any '@' after "//" without quoting.
	if strings.HasPrefix(rest, "//") && strings.IndexByte(rest, '@') >= 0 {
		return nil, badf(`%s:// URLs take no user or password; write "@" in a file name as %%40 (the URL is not shown)`, strings.ToLower(scheme))
	}
	if strings.Contains(rest, "#") {
		return nil, badf("a fragment (#...) is not allowed; write # in a file name as %%23")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	file := rest
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		host, path, _ := strings.Cut(after, "/")
		if host != "" && host != "localhost" {
			return nil, badf("%s://%s names a host; write %s:%s for a relative path or %s:///abs/path for an absolute one", scheme, host, scheme, after, scheme)
		}
		file = "/" + path
	}
	var secrets secretForms
	redactedQuery, err := secrets.addQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	redacted := scheme + ":" + rest
	if strings.Contains(rawURL, "?") {
		redacted += "?" + redactedQuery
	}
	s := &Spec{Kind: SQLite, redacted: redacted, conn: &driverConfig{secrets: secrets}}
	file, err = url.PathUnescape(file)
	switch {
	case err != nil:
		return nil, badf("path: %v", err)
	case file == "" || file == "/":
		return nil, badf("no database file; write sqlite:rel/path or sqlite:///abs/path")
	case strings.ContainsRune(file, 0):
		return nil, badf("path contains a NUL byte")
	case strings.Contains(file, ":memory:"):
		return nil, badf("name a database file: an in-memory database is not one the Node app can share")
	case strings.HasPrefix(file, "file:"):
		return nil, badf("write the database file's path, not an SQLite URI filename (file:...)")
	}
	s.conn.sqlitePath = file
	q, err := parseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	f, err := q.format(s, false)
	if err != nil {
		return nil, err
	}
	if err := q.storeOptions(s, f.opts); err != nil {
		return nil, err
	}
	if n := q.names(); len(n) > 0 {
		slices.Sort(n)
		return nil, badf("unknown option %s (%s options: %s)", strings.Join(n, ", "), f.name, f.opts.names())
	}
	if err := s.checkSQL(f); err != nil {
		return nil, err
	}
	return s, nil
}

// refusingConnector is a connector that never connects, for checking the
// SQL store's options without I/O.
type refusingConnector struct{}

func (refusingConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("storeurl: no connection")
}

func (refusingConnector) Driver() driver.Driver { return nil }

// checkSQL refuses a format whose preset stores/sql does not have (yet)
// and, for the others, lets the SQL store check its options as Open will
// give them. It does no I/O.
func (s *Spec) checkSQL(f *storeFormat) error {
	db := sql.OpenDB(refusingConnector{})
	defer db.Close()
	if _, err := sqlstore.New(db, sqlstore.Options{Preset: s.SQL.Preset}); err != nil {
		return badf("format=%s is not available on %s: the Go SQL store (stores/sql) does not support %s yet", f.name, s.Kind, s.SQL.Preset)
	}
	if _, err := sqlstore.New(db, s.SQL); err != nil {
		return badf("format=%s: %v", f.name, err)
	}
	return nil
}

// sqliteBusyTimeout is how long a statement waits for a lock the Node app
// holds on the database file, in milliseconds (better-sqlite3's default).
const sqliteBusyTimeout = 5000

// sqliteDSN is the modernc.org/sqlite data source name of a database file:
// an SQLite URI filename, opened for reading and writing, and created
// only when the store may create its table.
func sqliteDSN(path string, create bool) string {
	const hex = "0123456789ABCDEF"
	if strings.HasPrefix(path, "//") {
		path = "/" + strings.TrimLeft(path, "/") // not an authority
	}
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(path); i++ {
		c := path[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	mode := "rw"
	if create {
		mode = "rwc"
	}
	fmt.Fprintf(&b, "?mode=%s&_pragma=busy_timeout(%d)", mode, sqliteBusyTimeout)
	return b.String()
}

// openSQL opens the database of an SQL format and the store on it.
func (s *Spec) openSQL(ctx context.Context, notParsed error) (sessionbridge.Store, io.Closer, error) {
	var c driver.Connector
	switch {
	case s.Kind == MySQL && s.conn.mysql != nil:
		var err error
		if c, err = mysql.NewConnector(s.conn.mysql); err != nil {
			return nil, nil, unavailable(s, err)
		}
	case s.Kind == Postgres && s.conn.pgConnConfig != nil:
		c = stdlib.GetConnector(*s.conn.pgConnConfig)
	case s.Kind == SQLite && s.conn.sqlitePath != "":
	default:
		return nil, nil, notParsed
	}
	var db *sql.DB
	if c != nil {
		db = sql.OpenDB(c)
	} else {
		var err error
		if db, err = sql.Open("sqlite", sqliteDSN(s.conn.sqlitePath, s.SQL.CreateTableIfMissing)); err != nil {
			return nil, nil, unavailable(s, err)
		}
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, unavailable(s, err)
	}
	st, err := sqlstore.New(db, s.SQL)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%w: format=%s: %v", ErrBadURL, s.Format, err)
	}
	return st, db, nil
}
