package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// sqliteDialect is SQLite through any database/sql driver: every value
// bound as a string or a number, never a time.Time (whose text the
// drivers choose).
var sqliteDialect = &dialect{
	name:        "SQLite",
	quoteIdent:  sqliteQuote,
	placeholder: func(int) string { return "?" },
	length:      func(col string) string { return "length(CAST(" + col + " AS BLOB))" },
	// Bytes, whatever the column's affinity or collation.
	same: func(col, param string) string { return "CAST(" + col + " AS BLOB) = CAST(" + param + " AS BLOB)" },
	tableExists: func(schema, table string) (string, []any) {
		// SQLite's table names ignore ASCII case, as NOCASE does.
		master := "sqlite_master"
		if schema != "" {
			master = sqliteQuote(schema) + ".sqlite_master"
		}
		return "SELECT 1 FROM " + master + " WHERE type = 'table' AND name = ? COLLATE NOCASE", []any{table}
	},
	// SQLite's own message, whatever the driver wraps it in; a missing
	// attached database ("unknown database") too.
	noTable: func(err error) bool {
		if err == nil {
			return false
		}
		msg := err.Error()
		return strings.Contains(msg, "no such table") || strings.Contains(msg, "unknown database")
	},
}

// sqliteQuote quotes an identifier in backticks, as knex and sequelize do
// on SQLite.
func sqliteQuote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// plainName matches a table name that SQL takes unquoted: connect-sqlite3
// writes its name into its CREATE TABLE as it is.
var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// isoLayout is Date.prototype.toISOString for years 0 to 9999.
const isoLayout = "2006-01-02T15:04:05.000Z"

// maxSQLiteMs is the last millisecond SQLite's date functions read,
// 9999-12-31 23:59:59.999 UTC: datetime() of a later date, or of the
// +YYYYYY years toISOString writes past 9999, is NULL.
var maxSQLiteMs = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()

// encodeISO is the ISO text connect-session-knex and better-sqlite3-
// session-store store for an expiry of ms (toISOString), clamped to
// 1970-01-01T00:00:00.000Z (expired either way) and to the last instant
// datetime() reads, 9999-12-31T23:59:59.999Z: Node's text for a later
// date is stored but datetime() of it is NULL, so Node never reads its
// own row.
func encodeISO(ms int64) (any, int64) {
	ms = max(0, min(ms, maxSQLiteMs))
	return time.UnixMilli(ms).UTC().Format(isoLayout), ms
}

// nowISO is now as those packages compare it: new Date().toISOString().
func nowISO(ms int64) any {
	v, _ := encodeISO(ms)
	return v
}

// decodeISO reads an ISO expiry: the text, or the time.Time a driver
// makes of it for a column declared datetime (modernc.org/sqlite and
// mattn/go-sqlite3 do).
func decodeISO(v any) (int64, error) {
	return decodeSQLiteTime(v, time.RFC3339Nano)
}

// sequelizeSQLiteLayout is how sequelize writes a DATE on SQLite: moment's
// 'YYYY-MM-DD HH:mm:ss.SSS Z' in its default time zone, +00:00.
const sequelizeSQLiteLayout = "2006-01-02 15:04:05.000 -07:00"

// encodeSequelizeSQLite is the text sequelize stores for an expiry of ms,
// clamped to 1970 (expired either way) and to 9999-12-31 23:59:59.999
// +00:00: the column is compared as text, and a year of five digits
// would sort wrong.
func encodeSequelizeSQLite(ms int64) (any, int64) {
	ms = max(0, min(ms, maxSQLiteMs))
	return time.UnixMilli(ms).UTC().Format(sequelizeSQLiteLayout), ms
}

// nowSequelizeSQLite is now as sequelize writes it.
func nowSequelizeSQLite(ms int64) any {
	v, _ := encodeSequelizeSQLite(ms)
	return v
}

// decodeSequelizeSQLite reads sequelize's text, or a driver's time.Time.
func decodeSequelizeSQLite(v any) (int64, error) {
	return decodeSQLiteTime(v, "2006-01-02 15:04:05.999 -07:00")
}

// decodeSQLiteTime reads a time stored as text in layout, or the
// time.Time a driver made of it.
func decodeSQLiteTime(v any, layout string) (int64, error) {
	var s string
	switch v := v.(type) {
	case time.Time:
		return jsdate.Millis(v), nil
	case string:
		s = v
	case []byte:
		if len(v) > 64 {
			return 0, errors.New("a date text too long")
		}
		s = string(v)
	default:
		return 0, fmt.Errorf("a date read as %T", v)
	}
	if len(s) > 64 {
		return 0, errors.New("a date text too long")
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return 0, errors.New("an unreadable date text")
	}
	return jsdate.Millis(t), nil
}

// encodeJSNumber is connect-sqlite3's expired for an expiry of ms: the
// JavaScript number, which node-sqlite3 binds as an INTEGER when it fits
// in 32 bits and as a REAL otherwise (any date after 1970-01-25). Go binds
// the same. The column has no type: a TEXT there would sort after every
// number and never expire.
func encodeJSNumber(ms int64) (any, int64) {
	if ms >= math.MinInt32 && ms <= math.MaxInt32 {
		return ms, ms
	}
	return float64(ms), ms
}

// nowJSNumber is connect-sqlite3's now, Date.now(), bound alike.
func nowJSNumber(ms int64) any {
	v, _ := encodeJSNumber(ms)
	return v
}

// decodeJSNumber reads connect-sqlite3's expired: a REAL or an INTEGER
// of epoch milliseconds.
func decodeJSNumber(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		if v > jsdate.MaxMillis || v < -jsdate.MaxMillis {
			return 0, errors.New("epoch milliseconds beyond the Date range")
		}
		return v, nil
	case float64:
		if math.IsNaN(v) || v > float64(jsdate.MaxMillis) || v < -float64(jsdate.MaxMillis) {
			return 0, errors.New("epoch milliseconds beyond the Date range")
		}
		return int64(math.Floor(v)), nil
	}
	return 0, fmt.Errorf("epoch milliseconds read as %T", v)
}
