package sqlstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// postgresDialect is PostgreSQL through pgx's database/sql driver: time.Time
// parameters for timestamptz, the record bound as text.
var postgresDialect = &dialect{
	name:        "PostgreSQL",
	quoteIdent:  func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` },
	placeholder: func(i int) string { return "$" + strconv.Itoa(i) },
	// json has no length and no =: its text is the bytes stored.
	length: func(col string) string { return "octet_length(" + col + "::text)" },
	// "C" compares bytes, whatever the database's collation (a
	// nondeterministic ICU collation can find different texts equal).
	same: func(col, param string) string { return col + `::text COLLATE "C" = ` + param },
	tableExists: func(schema, table string) (string, []any) {
		// As knex's hasTable: the current schema, where an unqualified
		// CREATE TABLE puts the table.
		if schema == "" {
			return "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1", []any{table}
		}
		return "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2", []any{schema, table}
	},
	noTable: func(err error) bool {
		// pgconn.PgError, without importing the driver.
		var e interface{ SQLState() string }
		if !errors.As(err, &e) {
			return false
		}
		switch e.SQLState() {
		case "42P01", "3F000": // undefined_table, invalid_schema_name
			return true
		}
		return false
	},
}

// minTimestamptzMs is the first instant a timestamptz holds, 4714-11-24
// 00:00:00 UTC BC, in epoch milliseconds. Its last, in 294276 AD, is past
// the end of the Date range.
var minTimestamptzMs = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).UnixMilli()

// encodeTimestamptz is the timestamptz stored for an expiry of ms: that
// instant, to the millisecond as Node's Date holds it, clamped to the
// column's first instant (expired either way).
func encodeTimestamptz(ms int64) (any, int64) {
	ms = max(ms, minTimestamptzMs)
	return time.UnixMilli(ms).UTC(), ms
}

// nowTimestamptz is now as the packages compare a timestamptz with it.
func nowTimestamptz(ms int64) any {
	v, _ := encodeTimestamptz(ms)
	return v
}

// decodeTimestamptz reads a timestamptz as the driver returns it, a
// time.Time, in epoch milliseconds (microseconds cut off, as Date does).
// pgx returns "infinity" and "-infinity" as text, which no session has.
func decodeTimestamptz(v any) (int64, error) {
	t, ok := v.(time.Time)
	if !ok {
		return 0, fmt.Errorf("a timestamptz read as %T", v)
	}
	return jsdate.Millis(t), nil
}
