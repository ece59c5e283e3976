package storeurl_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// sqlOpts shows the SQL store options of s, the preset by its name.
func sqlOpts(s *storeurl.Spec) string {
	o := s.SQL
	return fmt.Sprintf("%s table=%q cols=%q/%q/%q ttl=%v noTouch=%v create=%v",
		o.Preset, o.TableName, o.Columns.ID, o.Columns.Data, o.Columns.Expires, o.TTL, o.DisableTouch, o.CreateTableIfMissing)
}

// TestSQLFormatOptions: each option of each SQL preset, by the npm
// package's name, reaches the SQL store's Options; the defaults are the
// package's (knex and express-mysql-session create their table).
func TestSQLFormatOptions(t *testing.T) {
	const (
		knex = "mysql://root@h/test?format=connect-session-knex"
		ems  = "mysql://root@h/test?format=express-mysql-session"
		seq  = "mysql://root@h/test?format=connect-session-sequelize"
	)
	knexOn := "connect-session-knex on MySQL"
	emsOn := "express-mysql-session on MySQL"
	seqOn := "connect-session-sequelize on MySQL"
	for _, tc := range []struct{ url, want string }{
		{knex, knexOn + ` table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{knex + "&tableName=t&sidFieldName=id&createTable=false&cleanupInterval=0", knexOn + ` table="t" cols="id"/""/"" ttl=0s noTouch=false create=false`},
		{knex + "&tableName=app.t", knexOn + ` table="app.t" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{ems, emsOn + ` table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{ems + "&schema.tableName=t&schema.columnNames.session_id=a&schema.columnNames.data=c&schema.columnNames.expires=b" +
			"&expiration=3600000&disableTouch=true&createDatabaseTable=false&clearExpired=false",
			emsOn + ` table="t" cols="a"/"c"/"b" ttl=1h0m0s noTouch=true create=false`},
		{ems + "&expiration=2h", emsOn + ` table="" cols=""/""/"" ttl=2h0m0s noTouch=false create=true`},
		{ems + "&expiration=1", emsOn + ` table="" cols=""/""/"" ttl=1ms noTouch=false create=true`},
		{seq, seqOn + ` table="" cols=""/""/"" ttl=0s noTouch=false create=false`},
		{seq + "&tableName=S&expiration=60000&disableTouch=true&checkExpirationInterval=0", seqOn + ` table="S" cols=""/""/"" ttl=1m0s noTouch=true create=false`},
		{seq + "&checkExpirationInterval=false", seqOn + ` table="" cols=""/""/"" ttl=0s noTouch=false create=false`},
		{"mariadb://root@h/test?format=connect-session-knex", knexOn + ` table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
	} {
		s := mustParse(t, tc.url)
		if got := sqlOpts(s); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.url, got, tc.want)
		}
		if s.Kind != storeurl.MySQL || s.Format != strings.Fields(tc.want)[0] || s.TouchAfter != 0 {
			t.Errorf("%s: kind %s, format %s, touchAfter %v", tc.url, s.Kind, s.Format, s.TouchAfter)
		}
	}
	for _, u := range []string{knex, ems, seq} {
		if s := mustParse(t, u+"&touchAfter=90"); s.TouchAfter != 90*time.Second {
			t.Errorf("%s&touchAfter=90: TouchAfter %v", u, s.TouchAfter)
		}
	}
}

// TestSQLFormatRefusals: what the Go SQL store does not implement is
// refused with the reason, a bad value with what is wanted, an unknown
// option with the list of the good ones; never a password's value.
func TestSQLFormatRefusals(t *testing.T) {
	const (
		knex = "mysql://root:hunter2secret@h/test?format=connect-session-knex"
		ems  = "mysql://root:hunter2secret@h/test?format=express-mysql-session"
		seq  = "mysql://root:hunter2secret@h/test?format=connect-session-sequelize"
	)
	for _, tc := range []struct{ url, msg string }{
		// format=
		{"mysql://root:hunter2secret@h/test", "mysql:// URLs need format=, the npm package the Node app stores sessions with: one of connect-session-knex, express-mysql-session, connect-session-sequelize"},
		{"mysql://root:hunter2secret@h/test?format=connect-redis", `format="connect-redis": mysql:// URLs take format=connect-session-knex|express-mysql-session|connect-session-sequelize`},
		{"mysql://root:hunter2secret@h/test?format=", `format="": mysql:// URLs take format=`},
		{"mysql://root:hunter2secret@h/test?Format=connect-session-knex", "unknown option Format: option names are case-sensitive; write format"},
		{knex + "&format=connect-session-knex", "format is given 2 times"},
		// connect-session-knex
		{knex + "&cleanupInterval=60000", "cleanupInterval: the Go store does not delete expired sessions on a timer (call the store's Prune periodically); leave that to the Node app, or give cleanupInterval=0"},
		{knex + "&knex=x", "knex: the connection is the URL itself"},
		{knex + "&onDbCleanupError=x", "onDbCleanupError: the Go store does not clean up on a timer"},
		{knex + "&createTable=yes", `createTable="yes": want true or false`},
		{knex + "&tableName=", "tableName= is empty; leave it out for the default (sessions)"},
		{knex + "&sidFieldName=", "sidFieldName= is empty"},
		{knex + "&sidfieldname=x", "unknown option sidfieldname: option names are case-sensitive, as in connect-session-knex; write sidFieldName"},
		{knex + "&expiration=1000", "unknown option expiration (connect-session-knex options: tableName, sidFieldName, createTable, cleanupInterval, touchAfter; driver options: timeout,"},
		{knex + "&disableTouch=true", "unknown option disableTouch"},
		{knex + "&ttl=60", "unknown option ttl"},
		// express-mysql-session
		{ems + "&clearExpired=true", "clearExpired: the Go store does not delete expired sessions on a timer"},
		{ems + "&checkExpirationInterval=1000", "checkExpirationInterval: it is for clearExpired"},
		{ems + "&schema.columnNames.other=x", "schema.columnNames.other: express-mysql-session renames only schema.tableName and schema.columnNames.session_id, .expires and .data"},
		{ems + "&schema[tableName]=x", "schema[tableName]: express-mysql-session renames only"},
		{ems + "&password=hunter2secret", "password: the connection is the URL itself"},
		{ems + "&database=x", "database: the connection is the URL itself"},
		{ems + "&connectionLimit=5", "connectionLimit: mysql2's pool options are not supported"},
		{ems + "&endConnectionOnClose=false", "endConnectionOnClose: the Closer Open returns closes the connection"},
		{ems + "&expiration=0", "expiration=0: want a number of milliseconds from 1 to"},
		{ems + "&expiration=-5", "expiration=-5: want a number of milliseconds"},
		{ems + "&expiration=1500us", `expiration="1500us": want milliseconds (86400000), as the npm package takes it, or a duration of whole milliseconds`},
		{ems + "&expiration=soon", `expiration="soon"`},
		{ems + "&expiration=2147483648001", "expiration=2147483648001: want a number of milliseconds from 1 to 2147483648000"},
		{ems + "&disableTouch=maybe", `disableTouch="maybe": want true or false`},
		{ems + "&schema.columnNames.data=", "schema.columnNames.data= is empty; leave it out for the default (data)"},
		{ems + "&tableName=t", "unknown option tableName (express-mysql-session options: schema.tableName, schema.columnNames.session_id"},
		// connect-session-sequelize
		{seq + "&checkExpirationInterval=900000", "checkExpirationInterval: the Go store does not delete expired sessions on a timer"},
		{seq + "&table=Model", "table: a model of one's own is not supported"},
		{seq + "&extendDefaultFields=f", "extendDefaultFields: a model of one's own is not supported"},
		{seq + "&modelKey=S", "modelKey: it names the sequelize model, not the table: give tableName"},
		{seq + "&db=x", "db: the connection is the URL itself"},
		{seq + "&sidFieldName=id", "unknown option sidFieldName (connect-session-sequelize options: tableName, expiration, disableTouch, checkExpirationInterval, touchAfter"},
		{seq + "&createTable=true", "unknown option createTable"},
		// the driver
		{knex + "&charset=latin1", "charset: the SQL store needs the driver's default utf8mb4 connection"},
		{knex + "&collation=latin1_swedish_ci", "collation: the SQL store needs"},
		{knex + "&loc=Local", "loc: the SQL store reads and writes DATETIME in UTC"},
		{knex + "&clientFoundRows=true", "clientFoundRows: "},
		{knex + "&strict=true", "unknown option strict"},
		{knex + "&multiStatements=true", "unknown option multiStatements"},
		{knex + "&sql_mode=ANSI", "unknown option sql_mode"},
		{knex + "&timeout=soon", `time: invalid duration "soon"`},
		{knex + "&tls=custom", "unknown config name: custom"},
		{knex + "&parseTime=maybe", "invalid bool value: maybe"},
		// the URL
		{"mysql://root:hunter2secret@h?format=connect-session-knex", "a mysql URL's path is the database"},
		{"mysql://root:hunter2secret@h/?format=connect-session-knex", "a mysql URL's path is the database"},
		{"mysql://root:hunter2secret@h/a/b?format=connect-session-knex", "a mysql URL's path is the database"},
		{"mysql://root:hunter2secret@h/%zz?format=connect-session-knex", "path: "},
		{"mysql://root:hunter2secret@a,b/test?format=connect-session-knex", "a mysql URL names one server"},
		{"mysql://root:hunter2secret@h:0/test?format=connect-session-knex", "port must be a number"},
		{"mysql://root:hunter2secret@/test?format=connect-session-knex", "no host"},
		{"mysql:h/test", "mysql URLs start with mysql://"},
	} {
		mustRefuse(t, tc.url, tc.msg, "hunter2secret")
	}
}

// TestMySQLDriverConfig: the URL becomes go-sql-driver/mysql's Config: the
// server, the database, the credentials decoded, the driver parameters
// checked by the driver; and printing the Spec shows no credential.
func TestMySQLDriverConfig(t *testing.T) {
	s := mustParse(t, "mysql://us%40r:p%3Aw%2Fhunter2secret@db.example:3307/app%2Dx?format=express-mysql-session"+
		"&timeout=2s&readTimeout=3s&writeTimeout=4s&tls=true&parseTime=true&interpolateParams=true&compress=false")
	c := storeurl.MySQLConfig(s)
	got := fmt.Sprintf("%s %s %s %s %s %v %v %v %v %v", c.Net, c.Addr, c.DBName, c.User, c.Passwd,
		c.Timeout, c.ReadTimeout, c.WriteTimeout, c.ParseTime, c.InterpolateParams)
	if want := "tcp db.example:3307 app-x us@r p:w/hunter2secret 2s 3s 4s true true"; got != want {
		t.Errorf("config %s, want %s", got, want)
	}
	if c.TLS == nil || c.TLS.ServerName != "db.example" || c.TLS.InsecureSkipVerify || len(c.Params) != 0 {
		t.Errorf("tls=true: %+v, params %v", c.TLS, c.Params)
	}
	if s.Kind != storeurl.MySQL || s.Format != "express-mysql-session" {
		t.Errorf("kind %s format %s", s.Kind, s.Format)
	}
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%+v", *s), fmt.Sprintf("%#v", s)} {
		if strings.Contains(out, "hunter2secret") || strings.Contains(out, "us@r") || strings.Contains(out, "us%40r") {
			t.Errorf("printing the Spec shows a credential: %s", out)
		}
	}
	if want := "mysql://xxxxx@db.example:3307/app%2Dx?format=express-mysql-session&timeout=2s"; !strings.HasPrefix(s.String(), want) {
		t.Errorf("String() = %s, want it to start with %s", s, want)
	}

	for u, want := range map[string]string{
		"mysql://h/test?format=connect-session-knex":                   "h:3306 root? false",
		"mysql://root@127.0.0.1/test?format=connect-session-knex":      "127.0.0.1:3306 root false",
		"mariadb://root@[::1]:3308/test?format=connect-session-knex":   "[::1]:3308 root false",
		"mysql://u@h/test?format=connect-session-knex&tls=skip-verify": "h:3306 u true",
		"mysql://u@h/test?format=connect-session-knex&tls=false":       "h:3306 u false",
	} {
		c := storeurl.MySQLConfig(mustParse(t, u))
		user := c.User
		if user == "" {
			user = "root?"
		}
		got := fmt.Sprintf("%s %s %v", c.Addr, user, c.TLS != nil && c.TLS.InsecureSkipVerify)
		if got != want {
			t.Errorf("%s: %s, want %s", u, got, want)
		}
	}
	// A password option in the query is masked in String too.
	s = mustParse(t, "mysql://u@h/test?format=connect-session-knex&timeout=1s")
	if s.String() != "mysql://u@h/test?format=connect-session-knex&timeout=1s" && !strings.Contains(s.String(), "xxxxx@h/test") {
		t.Errorf("String() = %s", s)
	}
}

// TestSQLiteURLs: sqlite URLs name the database file in every form, with
// the options of each SQLite preset and the package's defaults
// (connect-sqlite3 and better-sqlite3-session-store always create their
// table, knex by default, sequelize never: its app calls sync()).
func TestSQLiteURLs(t *testing.T) {
	formats := storeurl.Formats()[storeurl.SQLite]
	if want := "connect-session-knex connect-session-sequelize connect-sqlite3 better-sqlite3-session-store"; strings.Join(formats, " ") != want {
		t.Fatalf("sqlite formats %v, want %s", formats, want)
	}
	if !storeurl.FormatRequired(storeurl.SQLite) || !storeurl.FormatRequired(storeurl.MySQL) || storeurl.FormatRequired(storeurl.Postgres) || storeurl.FormatRequired(storeurl.Mongo) {
		t.Fatal("format= is required for mysql and sqlite URLs only")
	}
	for _, tc := range []struct{ url, path string }{
		{"sqlite:sessions.db", "sessions.db"},
		{"sqlite:data/sessions.db", "data/sessions.db"},
		{"sqlite:/var/lib/app/s.db", "/var/lib/app/s.db"},
		{"sqlite:///var/lib/app/s.db", "/var/lib/app/s.db"},
		{"sqlite://localhost/var/lib/app/s.db", "/var/lib/app/s.db"},
		{"SQLite3:my%20sessions.db", "my sessions.db"},
	} {
		for _, f := range formats {
			u := tc.url + "?format=" + f + "&touchAfter=60"
			s, err := storeurl.Parse(u)
			if err != nil {
				t.Errorf("%s: %v", u, err)
			} else if storeurl.SQLitePath(s) != tc.path || s.Kind != storeurl.SQLite || s.Format != f || s.TouchAfter != time.Minute {
				t.Errorf("%s: path %q kind %s format %s", u, storeurl.SQLitePath(s), s.Kind, s.Format)
			}
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"sqlite:s.db?format=connect-session-knex", `connect-session-knex on SQLite table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{"sqlite:s.db?format=connect-session-knex&tableName=t&sidFieldName=id&createTable=false&cleanupInterval=0", `connect-session-knex on SQLite table="t" cols="id"/""/"" ttl=0s noTouch=false create=false`},
		{"sqlite:s.db?format=connect-session-sequelize&tableName=S&expiration=1000&disableTouch=true", `connect-session-sequelize on SQLite table="S" cols=""/""/"" ttl=1s noTouch=true create=false`},
		{"sqlite:s.db?format=connect-sqlite3", `connect-sqlite3 on SQLite table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{"sqlite:s.db?format=connect-sqlite3&table=t", `connect-sqlite3 on SQLite table="t" cols=""/""/"" ttl=0s noTouch=false create=true`},
		{"sqlite:s.db?format=better-sqlite3-session-store", `better-sqlite3-session-store on SQLite table="" cols=""/""/"" ttl=0s noTouch=false create=true`},
	} {
		if got := sqlOpts(mustParse(t, tc.url)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.url, got, tc.want)
		}
	}
	// The driver's data source name: an SQLite URI filename, escaped,
	// created only when the store may create its table.
	for _, tc := range []struct {
		path   string
		create bool
		want   string
	}{
		{"s.db", true, "file:s.db?mode=rwc&_pragma=busy_timeout(5000)"},
		{"/var/lib/a b/s?#%.db", false, "file:/var/lib/a%20b/s%3F%23%25.db?mode=rw&_pragma=busy_timeout(5000)"},
		{"//host/s.db", false, "file:/host/s.db?mode=rw&_pragma=busy_timeout(5000)"},
	} {
		if got := storeurl.SQLiteDSN(tc.path, tc.create); got != tc.want {
			t.Errorf("SQLiteDSN(%q, %v) = %s, want %s", tc.path, tc.create, got, tc.want)
		}
	}
	for _, tc := range []struct{ url, msg string }{
		{"sqlite:s.db", "sqlite: URLs need format=, the npm package the Node app stores sessions with: one of connect-session-knex, connect-session-sequelize, connect-sqlite3, better-sqlite3-session-store"},
		{"sqlite:s.db?format=express-mysql-session", `format="express-mysql-session": sqlite: URLs take format=connect-session-knex|connect-session-sequelize|connect-sqlite3|better-sqlite3-session-store`},
		{"sqlite:?format=connect-sqlite3", "no database file; write sqlite:rel/path or sqlite:///abs/path"},
		{"sqlite:", "no database file"},
		{"sqlite://", "no database file"},
		{"sqlite:///", "no database file"},
		{"sqlite://sessions.db?format=connect-sqlite3", "sqlite://sessions.db names a host; write sqlite:sessions.db for a relative path or sqlite:///abs/path for an absolute one"},
		{"sqlite::memory:?format=connect-sqlite3", "an in-memory database is not one the Node app can share"},
		{"sqlite:file:s.db?mode=memory&format=connect-sqlite3", "not an SQLite URI filename"},
		{"sqlite:s%00.db?format=connect-sqlite3", "NUL"},
		{"sqlite:s%zz.db?format=connect-sqlite3", "path"},
		{"sqlite:s.db#x?format=connect-sqlite3", "fragment"},
		{"sqlite://u:hunter2secret@localhost/s.db?format=connect-sqlite3", "sqlite:// URLs take no user or password"},
		{"sqlite://u:x?hunter2secret@h/s.db", "sqlite:// URLs take no user or password"},
		{"sqlite:s.db?format=connect-sqlite3&db=other", "db: the database file is the URL's path"},
		{"sqlite:s.db?format=connect-sqlite3&dir=/tmp", "dir: the database file is the URL's path"},
		{"sqlite:s.db?format=connect-sqlite3&concurrentDb=true", "concurrentDb: the journal mode is the database file's"},
		{"sqlite:s.db?format=connect-sqlite3&table=", "table= is empty"},
		{"sqlite:s.db?format=connect-sqlite3&tableName=x", "unknown option tableName (connect-sqlite3 options: table, touchAfter)"},
		{"sqlite:s.db?format=better-sqlite3-session-store&client=x", "client: the database file is the URL's path"},
		{"sqlite:s.db?format=better-sqlite3-session-store&expired.clear=false", "expired.clear: the Go store does not delete expired sessions on a timer"},
		{"sqlite:s.db?format=better-sqlite3-session-store&password=hunter2secret", "unknown option password"},
		{"sqlite:s.db?format=connect-session-knex&cleanupInterval=1", "cleanupInterval: the Go store does not delete"},
		{"sqlite:s.db?format=connect-session-sequelize&modelKey=x", "modelKey: "},
		{"sqlite:s.db?format=connect-session-knex&timeout=1s", "unknown option timeout"},
	} {
		mustRefuse(t, tc.url, tc.msg, "hunter2secret")
	}
}

// TestPostgresSQLFormats: connect-pg-simple stays the default of
// postgres:// (and may be named); format= picks the SQL presets on
// PostgreSQL instead, with their options.
func TestPostgresSQLFormats(t *testing.T) {
	for _, u := range []string{"postgres://u@h/db", "postgres://u@h/db?format=connect-pg-simple", "postgresql://u@h/db?tableName=t&format=connect-pg-simple"} {
		s := mustParse(t, u)
		if s.Kind != storeurl.Postgres || s.Format != "connect-pg-simple" || s.Postgres.TableName == "" || sqlOpts(s) != `no preset table="" cols=""/""/"" ttl=0s noTouch=false create=false` {
			t.Errorf("%s: kind %s format %s table %q sql %s", u, s.Kind, s.Format, s.Postgres.TableName, sqlOpts(s))
		}
	}
	for _, f := range []string{"connect-session-knex", "connect-session-sequelize"} {
		u := "postgres://u:hunter2secret@h/db?format=" + f + "&touchAfter=60&sslmode=disable"
		s := mustParse(t, u)
		if s.Kind != storeurl.Postgres || s.Format != f || s.SQL.Preset.String() != f+" on PostgreSQL" || s.TouchAfter != time.Minute {
			t.Errorf("%s: kind %s format %s preset %s", u, s.Kind, s.Format, s.SQL.Preset)
		}
		if strings.Contains(s.String(), "hunter2secret") {
			t.Errorf("String() = %s", s)
		}
	}
	if got := sqlOpts(mustParse(t, "postgres://u@h/db?format=connect-session-knex&tableName=t&createTable=false")); got != `connect-session-knex on PostgreSQL table="t" cols=""/""/"" ttl=0s noTouch=false create=false` {
		t.Errorf("knex on PostgreSQL: %s", got)
	}
	// pgx checks its own parameters, without the password.
	mustRefuse(t, "postgres://u:hunter2secret@h/db?format=connect-session-knex&sslmode=bogus", "sslmode", "hunter2secret")
	for u, msg := range map[string]string{
		"postgres://u@h/db?format=express-mysql-session":                  `format="express-mysql-session": postgres:// URLs take format=connect-pg-simple|connect-session-knex|connect-session-sequelize`,
		"postgres://u@h/db?format=connect-session-knex&cleanupInterval=5": "cleanupInterval: the Go store does not delete",
		"postgres://u@h/db?format=connect-session-knex&createtable=1":     "unknown option createtable: option names are case-sensitive, as in connect-session-knex; write createTable",
	} {
		mustRefuse(t, u, msg, "")
	}
}

// TestMongoDBSessionFormat: format=connect-mongodb-session takes that
// package's options (case-insensitive, as every MongoDB URL option), not
// connect-mongo's, and refuses what the Go store does not do.
func TestMongoDBSessionFormat(t *testing.T) {
	const base = "mongodb://u:hunter2secret@h/app?format=connect-mongodb-session"
	s := mustParse(t, base)
	if s.Kind != storeurl.Mongo || s.Format != "connect-mongodb-session" || s.MongoDatabase != "app" ||
		!reflect.DeepEqual(s.MongoDBSession, mongodbsessionstore.Options{Collection: "sessions"}) {
		t.Fatalf("defaults: %s %s %s %+v", s.Kind, s.Format, s.MongoDatabase, s.MongoDBSession)
	}
	if s.Mongo.Collection != "" {
		t.Errorf("connect-mongo's options are set too: %+v", s.Mongo)
	}
	s = mustParse(t, base+"&collection=c&databaseName=other&idField=sid&expiresKey=expireAt&expires=3600000&touchAfter=60&w=majority")
	want := mongodbsessionstore.Options{Collection: "c", IDField: "sid", ExpiresKey: "expireAt", Expires: time.Hour}
	if !reflect.DeepEqual(s.MongoDBSession, want) || s.MongoDatabase != "other" || s.TouchAfter != time.Minute {
		t.Errorf("options: %+v db %s touchAfter %v", s.MongoDBSession, s.MongoDatabase, s.TouchAfter)
	}
	s = mustParse(t, "mongodb://h?FORMAT=connect-mongodb-session&Collection=c&EXPIRES=2h&idfield=sid&databasename=d")
	if s.MongoDBSession.Collection != "c" || s.MongoDBSession.Expires != 2*time.Hour || s.MongoDBSession.IDField != "sid" || s.MongoDatabase != "d" {
		t.Errorf("case-insensitive names: %+v %s", s.MongoDBSession, s.MongoDatabase)
	}
	if s := mustParse(t, "mongodb://h?format=connect-mongo&collection=c"); s.Format != "connect-mongo" || s.Mongo.Collection != "c" || s.MongoDatabase != "test" {
		t.Errorf("format=connect-mongo: %s %+v", s.Format, s.Mongo)
	}
	if err := mustParse(t, base).SetSecret("squirrel"); !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "connect-mongodb-session does not encrypt sessions") {
		t.Errorf("SetSecret: %v", err)
	}
	for _, tc := range []struct{ url, msg string }{
		{base + "&uri=mongodb://x", "uri: the connection is the URL itself"},
		{base + "&connectionOptions.tls=true", "connectionOptions.tls: the connection is the URL itself"},
		{base + "&expiresAfterSeconds=10", "expiresAfterSeconds: it configures the TTL index, which the Node app's connect-mongodb-session creates when it connects"},
		{base + "&expires=0", "expires=0: want a number of milliseconds"},
		{base + "&expires=1s5us", "expires="},
		{base + "&collection=", "collection= is empty"},
		{base + "&idField=", "idField= is empty"},
		{base + "&expiresKey=", "expiresKey= is empty"},
		{base + "&databaseName=", "databaseName= is empty"},
		{base + "&collectionName=c", "unknown option collectionname (store options: collection, databaseName, idField, expiresKey, expires, touchAfter)"},
		{base + "&stringify=false", "unknown option stringify"},
		{base + "&autoRemove=native", "unknown option autoremove"},
		{base + "&crypto.secret=hunter2secret", "unknown option crypto.secret"},
		{base + "&format=connect-mongo", "format is given 2 times"},
		{base + "&Format=connect-mongo", "format is given in two spellings"},
		{"mongodb://h?format=connect-redis", `format="connect-redis": mongodb:// URLs take format=connect-mongo|connect-mongodb-session`},
	} {
		mustRefuse(t, tc.url, tc.msg, "hunter2secret")
	}
}

// TestDefaultFormats: the stores with one Node package take its name as
// format= too, and no other.
func TestDefaultFormats(t *testing.T) {
	for u, f := range map[string]string{
		"redis://h?format=connect-redis":                "connect-redis",
		"redis://a:1,b:2?format=connect-redis":          "connect-redis",
		"redis://h":                                     "connect-redis",
		"memcached://h?format=connect-memcached":        "connect-memcached",
		"file:d?format=session-file-store":              "session-file-store",
		"file:d":                                        "session-file-store",
		"postgres://u@h/db":                             "connect-pg-simple",
		"mongodb://h/db":                                "connect-mongo",
		"mysql://h/db?format=connect-session-knex":      "connect-session-knex",
		"mongodb://h/db?format=connect-mongodb-session": "connect-mongodb-session",
	} {
		if s := mustParse(t, u); s.Format != f {
			t.Errorf("%s: Format %q, want %q", u, s.Format, f)
		}
	}
	for u, msg := range map[string]string{
		"redis://h?format=connect-mongo":           `format="connect-mongo": redis:// URLs take format=connect-redis`,
		"redis://h?Format=connect-redis":           "unknown option Format: option names are case-sensitive; write format",
		"memcached://h?format=connect-redis":       "memcached:// URLs take format=connect-memcached",
		"file:d?format=connect-sqlite3":            "file: URLs take format=session-file-store",
		"file:d?format=session-file-store&format=": "format is given 2 times",
	} {
		mustRefuse(t, u, msg, "")
	}
}

// TestFormatOptionNamesAreNodes checks the options of the new formats,
// and the Node options they refuse by name, against the npm packages'
// sources, so that each is spelt as Node spells it (touchAfter aside,
// which every store takes for the Bridge).
func TestFormatOptionNamesAreNodes(t *testing.T) {
	root := nodetest.Root(t)
	for _, tc := range []struct {
		kind   storeurl.Kind
		format string
		files  []string
	}{
		{storeurl.MySQL, "connect-session-knex", []string{"testdata/nodestores/node_modules/connect-session-knex/dist/index.js"}},
		{storeurl.MySQL, "express-mysql-session", []string{"testdata/nodestores/node_modules/express-mysql-session/index.js"}},
		{storeurl.MySQL, "connect-session-sequelize", []string{"testdata/nodestores/node_modules/connect-session-sequelize/lib/connect-session-sequelize.js"}},
		{storeurl.SQLite, "connect-sqlite3", []string{"testdata/nodesqlite/node_modules/connect-sqlite3/lib/connect-sqlite3.js"}},
		{storeurl.SQLite, "better-sqlite3-session-store", []string{"testdata/nodesqlite/node_modules/better-sqlite3-session-store/src/index.js"}},
		{storeurl.Mongo, "connect-mongodb-session", []string{"testdata/nodemongo/node_modules/connect-mongodb-session/index.js"}},
	} {
		var src strings.Builder
		for _, f := range tc.files {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				nodetest.Unavailable(t, f, "make node-deps")
			}
			src.Write(b)
		}
		names, refused := storeurl.FormatOptionNames(tc.kind, tc.format)
		if len(names) == 0 || len(refused) == 0 {
			t.Errorf("%s: %d options, %d refused", tc.format, len(names), len(refused))
		}
		for _, name := range append(names, refused...) {
			if name == "touchAfter" {
				continue
			}
			// express-mysql-session's schema.columnNames.x: each part.
			for _, part := range strings.Split(name, ".") {
				if !regexp.MustCompile(`\b` + regexp.QuoteMeta(part) + `\b`).MatchString(src.String()) {
					t.Errorf("%s: %s (%s) does not appear in %v", tc.format, name, part, tc.files)
				}
			}
		}
	}
}

// TestSQLPresetsOfFormats: each available SQL format's preset is the
// stores/sql preset of the npm package on the URL's database.
func TestSQLPresetsOfFormats(t *testing.T) {
	for u, want := range map[string]sqlstore.Preset{
		"mysql://h/db?format=connect-session-knex":      sqlstore.Knex(sqlstore.MySQL),
		"mysql://h/db?format=express-mysql-session":     sqlstore.ExpressMySQLSession(),
		"mysql://h/db?format=connect-session-sequelize": sqlstore.Sequelize(sqlstore.MySQL),
	} {
		if s := mustParse(t, u); s.SQL.Preset != want {
			t.Errorf("%s: preset %s, want %s", u, s.SQL.Preset, want)
		}
	}
}

// TestSQLPresetNotAvailable: a preset stores/sql does not have is refused
// by Parse, saying so (every format= of the URLs has one today; this is
// the message a format on a database stores/sql lacks would give).
func TestSQLPresetNotAvailable(t *testing.T) {
	err := storeurl.CheckPreset(storeurl.MySQL, "connect-session-knex", sqlstore.Knex(sqlstore.Dialect(99)))
	want := "format=connect-session-knex is not available on mysql: the Go SQL store (stores/sql) does not support connect-session-knex on Dialect(99) yet"
	if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want ErrBadURL saying %q", err, want)
	}
	if err := storeurl.CheckPreset(storeurl.MySQL, "connect-session-knex", sqlstore.Knex(sqlstore.MySQL)); err != nil {
		t.Fatalf("knex on MySQL: %v", err)
	}
	for k, fs := range storeurl.Formats() {
		for _, f := range fs {
			if !storeurl.FormatAvailable(k, f) {
				t.Errorf("%s format=%s is not available", k, f)
			}
		}
	}
}
