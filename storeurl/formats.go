package storeurl

import (
	"slices"
	"strconv"
	"strings"
	"time"

	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// The npm session stores a URL can name with format=.
const (
	fmtConnectRedis     = "connect-redis"
	fmtConnectPgSimple  = "connect-pg-simple"
	fmtConnectMongo     = "connect-mongo"
	fmtMongoDBSession   = "connect-mongodb-session"
	fmtConnectMemcached = "connect-memcached"
	fmtFileStore        = "session-file-store"
	fmtKnex             = "connect-session-knex"
	fmtExpressMySQL     = "express-mysql-session"
	fmtSequelize        = "connect-session-sequelize"
	fmtConnectSQLite3   = "connect-sqlite3"
	fmtBetterSQLite3    = "better-sqlite3-session-store"
)

// storeFormat is one npm session store a URL scheme can name with format=.
type storeFormat struct {
	name string       // the npm package, as format= names it
	opts *kindOptions // its options
	// preset returns the stores/sql preset of an SQL format on the URL's
	// database; nil for the other stores. Parse refuses a preset that
	// stores/sql does not have (yet).
	preset func() sqlstore.Preset
	// defaults sets the npm package's defaults that differ from the zero
	// value of the Go store's options, before the URL's options apply.
	defaults func(s *Spec)
}

// schemeFormats are the formats of one kind of URL.
type schemeFormats struct {
	scheme string // for messages
	// def is the format of a URL without format=; "" when format= is
	// required.
	def     string
	formats []storeFormat
}

func (sf *schemeFormats) names() string {
	var n []string
	for _, f := range sf.formats {
		n = append(n, f.name)
	}
	return strings.Join(n, ", ")
}

// formatsOf lists, for each kind, the stores its URLs can name. An SQL
// store on one more database is one more entry here (its preset, and for
// a new scheme its driver in sql.go).
var formatsOf = map[Kind]*schemeFormats{
	Redis:     {scheme: "redis://", def: fmtConnectRedis, formats: []storeFormat{{name: fmtConnectRedis, opts: &redisOptions}}},
	Memcached: {scheme: "memcached://", def: fmtConnectMemcached, formats: []storeFormat{{name: fmtConnectMemcached, opts: &memcachedOptions}}},
	File:      {scheme: "file:", def: fmtFileStore, formats: []storeFormat{{name: fmtFileStore, opts: &fileOptions}}},
	Mongo: {scheme: "mongodb://", def: fmtConnectMongo, formats: []storeFormat{
		{name: fmtConnectMongo, opts: &mongoOptions},
		{name: fmtMongoDBSession, opts: &mongoDBSessionOptions},
	}},
	Postgres: {scheme: "postgres://", def: fmtConnectPgSimple, formats: []storeFormat{
		{name: fmtConnectPgSimple, opts: &postgresOptions},
		{name: fmtKnex, opts: &knexOptions, defaults: createsTable,
			preset: func() sqlstore.Preset { return sqlstore.Knex(sqlstore.Postgres) }},
		{name: fmtSequelize, opts: &sequelizeOptions,
			preset: func() sqlstore.Preset { return sqlstore.Sequelize(sqlstore.Postgres) }},
	}},
	MySQL: {scheme: "mysql://", formats: []storeFormat{
		{name: fmtKnex, opts: &knexOptions, defaults: createsTable,
			preset: func() sqlstore.Preset { return sqlstore.Knex(sqlstore.MySQL) }},
		{name: fmtExpressMySQL, opts: &expressMySQLOptions, defaults: createsTable,
			preset: sqlstore.ExpressMySQLSession},
		{name: fmtSequelize, opts: &sequelizeOptions,
			preset: func() sqlstore.Preset { return sqlstore.Sequelize(sqlstore.MySQL) }},
	}},
	SQLite: {scheme: "sqlite:", formats: []storeFormat{
		{name: fmtKnex, opts: &knexOptions, defaults: createsTable,
			preset: func() sqlstore.Preset { return sqlstore.Knex(sqlstore.SQLite) }},
		{name: fmtSequelize, opts: &sequelizeOptions,
			preset: func() sqlstore.Preset { return sqlstore.Sequelize(sqlstore.SQLite) }},
		{name: fmtConnectSQLite3, opts: &connectSQLite3Options, defaults: createsTable,
			preset: sqlstore.ConnectSQLite3},
		{name: fmtBetterSQLite3, opts: &betterSQLite3Options, defaults: createsTable,
			preset: sqlstore.BetterSQLite3SessionStore},
	}},
}

// format takes the format= option out of q (in any case when fold) and
// returns the format it names, or the kind's default. It sets s.Format,
// the SQL preset and the package's defaults.
func (q query) format(s *Spec, fold bool) (*storeFormat, error) {
	sf := formatsOf[s.Kind]
	if !fold {
		for n := range q.v {
			if n != "format" && strings.EqualFold(n, "format") {
				return nil, badf("unknown option %s: option names are case-sensitive; write format", n)
			}
		}
	}
	key, v, ok, err := q.lookup("format", fold)
	switch {
	case err != nil:
		return nil, err
	case !ok && sf.def == "":
		return nil, badf("%s URLs need format=, the npm package the Node app stores sessions with: one of %s", sf.scheme, sf.names())
	case !ok:
		v = sf.def
	}
	i := slices.IndexFunc(sf.formats, func(f storeFormat) bool { return f.name == v })
	if i < 0 {
		return nil, badf("%s=%q: %s URLs take format=%s", key, v, sf.scheme, strings.Join(strings.Split(sf.names(), ", "), "|"))
	}
	f := &sf.formats[i]
	s.Format = f.name
	if f.preset != nil {
		s.SQL.Preset = f.preset()
	}
	if f.defaults != nil {
		f.defaults(s)
	}
	return f, nil
}

// millis parses a duration option the npm package takes in milliseconds:
// a whole number of milliseconds, or a Go duration ("24h") of whole
// milliseconds; at least 1ms, at most 2^31 seconds.
func millis(key, v string) (time.Duration, error) {
	const most = int64(1) << 31 * 1000
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 1 || n > most {
			return 0, badf("%s=%s: want a number of milliseconds from 1 to %d", key, v, most)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Millisecond || d%time.Millisecond != 0 || d > time.Duration(most)*time.Millisecond {
		return 0, badf("%s=%q: want milliseconds (86400000), as the npm package takes it, or a duration of whole milliseconds (24h)", key, v)
	}
	return d, nil
}

// offOnly is an option that runs a timer in Node, accepted only with the
// values that turn the timer off, since the Go store has none.
func offOnly(name, off string, values ...string) storeOption {
	return storeOption{name: name, set: func(_ *Spec, key, v string) error {
		if !slices.Contains(values, v) {
			return badf("%s: the Go store does not delete expired sessions on a timer (call the store's Prune periodically); leave that to the Node app, or give %s=%s", key, key, off)
		}
		return nil
	}}
}

// sqlTableName is a table name option.
func sqlTableName(name, def string) storeOption {
	return storeOption{name: name, set: func(s *Spec, key, v string) (err error) {
		s.SQL.TableName, err = nonEmpty(key, v, def)
		return err
	}}
}

// sqlColumn is a column name option.
func sqlColumn(name, def string, field func(*Spec) *string) storeOption {
	return storeOption{name: name, set: func(s *Spec, key, v string) (err error) {
		*field(s), err = nonEmpty(key, v, def)
		return err
	}}
}

// expirationOption is the expiration option (milliseconds) of
// express-mysql-session and connect-session-sequelize.
var expirationOption = storeOption{name: "expiration", set: func(s *Spec, key, v string) (err error) {
	s.SQL.TTL, err = millis(key, v)
	return err
}}

var sqlDisableTouch = boolOption("disableTouch", func(s *Spec) *bool { return &s.SQL.DisableTouch })

const sqlConnectionInURL = "the connection is the URL itself (user, password, host, port and database in it, the driver's options in its query)"

// createsTable is the default of the packages that create their table
// when they start: by default (connect-session-knex's createTable,
// express-mysql-session's createDatabaseTable) or always, with no option
// to turn it off (connect-sqlite3, better-sqlite3-session-store).
func createsTable(s *Spec) { s.SQL.CreateTableIfMissing = true }

var knexOptions = kindOptions{
	pkg: fmtKnex,
	options: []storeOption{
		sqlTableName("tableName", "sessions"),
		sqlColumn("sidFieldName", "sid", func(s *Spec) *string { return &s.SQL.Columns.ID }),
		boolOption("createTable", func(s *Spec) *bool { return &s.SQL.CreateTableIfMissing }),
		offOnly("cleanupInterval", "0", "0"),
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"knex"}, sqlConnectionInURL},
		{[]string{"onDbCleanupError"}, "the Go store does not clean up on a timer, and returns its errors"},
	},
}

var expressMySQLOptions = kindOptions{
	pkg: fmtExpressMySQL,
	options: []storeOption{
		sqlTableName("schema.tableName", "sessions"),
		sqlColumn("schema.columnNames.session_id", "session_id", func(s *Spec) *string { return &s.SQL.Columns.ID }),
		sqlColumn("schema.columnNames.expires", "expires", func(s *Spec) *string { return &s.SQL.Columns.Expires }),
		sqlColumn("schema.columnNames.data", "data", func(s *Spec) *string { return &s.SQL.Columns.Data }),
		expirationOption,
		sqlDisableTouch,
		boolOption("createDatabaseTable", func(s *Spec) *bool { return &s.SQL.CreateTableIfMissing }),
		offOnly("clearExpired", "false", "false"),
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"checkExpirationInterval"}, "it is for clearExpired, which the Go store does not run: give clearExpired=false and call the store's Prune periodically, or leave clearing to the Node app"},
		{[]string{"schema"}, "express-mysql-session renames only schema.tableName and schema.columnNames.session_id, .expires and .data"},
		{[]string{"host", "port", "user", "password", "database"}, sqlConnectionInURL},
		{[]string{"waitForConnections", "connectionLimit", "maxIdle", "idleTimeout", "queueLimit"}, "mysql2's pool options are not supported: database/sql pools the connections"},
		{[]string{"endConnectionOnClose"}, "the Closer Open returns closes the connection"},
	},
}

var sequelizeOptions = kindOptions{
	pkg: fmtSequelize,
	options: []storeOption{
		sqlTableName("tableName", "Sessions"),
		expirationOption,
		sqlDisableTouch,
		offOnly("checkExpirationInterval", "0", "0", "false"),
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"db"}, sqlConnectionInURL},
		{[]string{"table", "extendDefaultFields"}, "a model of one's own is not supported: the Go store knows connect-session-sequelize's default model (sid, expires, data, createdAt, updatedAt)"},
		{[]string{"modelKey"}, "it names the sequelize model, not the table: give tableName"},
	},
}

var connectSQLite3Options = kindOptions{
	pkg: fmtConnectSQLite3,
	options: []storeOption{
		sqlTableName("table", "sessions"),
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"db", "dir"}, "the database file is the URL's path: sqlite:rel/path or sqlite:///abs/path"},
		{[]string{"createDirIfNotExists"}, "the Go store creates no directory: create it beforehand, or let the Node app do it"},
		{[]string{"mode"}, "the Go store opens the database file for reading and writing, and creates it when it may create the table"},
		{[]string{"concurrentDb"}, "the journal mode is the database file's: once the Node app sets WAL, it stays"},
	},
}

var betterSQLite3Options = kindOptions{
	pkg: fmtBetterSQLite3,
	options: []storeOption{
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"client"}, "the database file is the URL's path: sqlite:rel/path or sqlite:///abs/path"},
		{[]string{"expired"}, "the Go store does not delete expired sessions on a timer: call the store's Prune periodically (the Node store always does: its expired.clear cannot be turned off)"},
	},
}

var mongoDBSessionOptions = kindOptions{
	pkg:  fmtMongoDBSession,
	fold: true,
	options: []storeOption{
		{name: "collection", set: func(s *Spec, key, v string) (err error) {
			s.MongoDBSession.Collection, err = nonEmpty(key, v, "sessions")
			return err
		}},
		{name: "databaseName", set: func(s *Spec, key, v string) (err error) {
			s.conn.mongoDBName, err = nonEmpty(key, v, "the URL's database, else test")
			return err
		}},
		{name: "idField", set: func(s *Spec, key, v string) (err error) {
			s.MongoDBSession.IDField, err = nonEmpty(key, v, "_id")
			return err
		}},
		{name: "expiresKey", set: func(s *Spec, key, v string) (err error) {
			s.MongoDBSession.ExpiresKey, err = nonEmpty(key, v, "expires")
			return err
		}},
		{name: "expires", set: func(s *Spec, key, v string) (err error) {
			s.MongoDBSession.Expires, err = millis(key, v)
			return err
		}},
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"uri", "connectionOptions"}, "the connection is the URL itself; put the driver's options in its query"},
		{[]string{"expiresAfterSeconds"}, "it configures the TTL index, which the Node app's connect-mongodb-session creates when it connects; Open creates no index (in Go code, the store's CreateTTLIndex does)"},
	},
}
