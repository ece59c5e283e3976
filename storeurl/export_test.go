package storeurl

import (
	"time"

	"github.com/go-sql-driver/mysql"

	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// FormWork runs f and returns the look-ups made to keep each secret form
// once by the Parse calls f did. Tests using it must not run in parallel
// with other Parse calls.
func FormWork(f func()) int {
	n := 0
	testHookFormWork = func(k int) { n += k }
	defer func() { testHookFormWork = nil }()
	f()
	return n
}

// MongoCreatesTTLIndex reports whether Open creates connect-mongo's TTL
// index (autoRemove=native).
func MongoCreatesTTLIndex(s *Spec) bool { return s.conn.mongoTTLIndex }

// MemcachedTimeout is the memcached client's timeout Open sets, 0 for the
// client's default.
func MemcachedTimeout(s *Spec) time.Duration { return s.Memcached.Ring.Timeout }

var kindOpts = map[Kind]*kindOptions{
	Redis: &redisOptions, Postgres: &postgresOptions, Mongo: &mongoOptions,
	Memcached: &memcachedOptions, File: &fileOptions,
}

// OptionNames returns the store options of a kind: their names, and the
// aliases.
func OptionNames(k Kind) (names, aliases []string) {
	for _, o := range kindOpts[k].options {
		names = append(names, o.name)
		if o.alias != "" {
			aliases = append(aliases, o.alias)
		}
	}
	return names, aliases
}

// RefusedNames returns the Node options a kind refuses by name.
func RefusedNames(k Kind) []string {
	var n []string
	for _, r := range kindOpts[k].refused {
		n = append(n, r.names...)
	}
	return n
}

// MySQLConfig is the go-sql-driver/mysql configuration Open connects with.
func MySQLConfig(s *Spec) *mysql.Config { return s.conn.mysql }

// SQLitePath is the database file of a sqlite URL.
func SQLitePath(s *Spec) string { return s.conn.sqlitePath }

// MongoDBName is the databaseName (or dbName) option, "" when absent.
func MongoDBName(s *Spec) string { return s.conn.mongoDBName }

// Formats returns, for each kind, its formats and whether format= is
// required (no default).
func Formats() map[Kind][]string {
	m := map[Kind][]string{}
	for k, sf := range formatsOf {
		for _, f := range sf.formats {
			m[k] = append(m[k], f.name)
		}
	}
	return m
}

// FormatRequired reports whether a kind's URLs need format=.
func FormatRequired(k Kind) bool { return formatsOf[k].def == "" }

// FormatAvailable reports whether the Go store can open a kind's format:
// stores/sql has its preset.
func FormatAvailable(k Kind, format string) bool {
	for _, f := range formatsOf[k].formats {
		if f.name == format {
			s := &Spec{Kind: k}
			if f.preset != nil {
				s.SQL.Preset = f.preset()
			}
			return f.preset == nil || s.checkSQL(&f) == nil
		}
	}
	return false
}

// SQLiteDSN is the driver's data source name for a database file.
func SQLiteDSN(path string, create bool) string { return sqliteDSN(path, create) }

// FormatOptionNames returns the store options of a format and the Node
// options it refuses by name.
func FormatOptionNames(k Kind, format string) (names, refused []string) {
	for _, f := range formatsOf[k].formats {
		if f.name != format {
			continue
		}
		for _, o := range f.opts.options {
			names = append(names, o.name)
		}
		for _, r := range f.opts.refused {
			refused = append(refused, r.names...)
		}
	}
	return names, refused
}

// CheckPreset is Parse's check of the SQL preset p for a kind's format.
func CheckPreset(k Kind, format string, p sqlstore.Preset) error {
	s := &Spec{Kind: k}
	s.SQL.Preset = p
	return s.checkSQL(&storeFormat{name: format})
}

// SQLiteDSNForTest opens an existing or new database file for tests.
func SQLiteDSNForTest(path string) string { return sqliteDSN(path, true) }
