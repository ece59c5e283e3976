package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// mysqlDialect is MySQL and MariaDB through github.com/go-sql-driver/mysql,
// with or without parseTime and interpolateParams in the DSN.
var mysqlDialect = &dialect{
	name:        "MySQL",
	quoteIdent:  func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" },
	placeholder: func(int) string { return "?" },
	length:      func(col string) string { return "LENGTH(" + col + ")" },
	// The column's collation may ignore case (utf8mb4_general_ci, the
	// usual default for TEXT) and trailing spaces (every PAD SPACE
	// collation, utf8mb4_bin included): compare bytes. CONVERT makes
	// the column's text utf8mb4, as the connection sends the parameter.
	same: func(col, param string) string {
		return "CAST(CONVERT(" + col + " USING utf8mb4) AS BINARY) = CAST(" + param + " AS BINARY)"
	},
	tableExists: func(schema, table string) (string, []any) {
		if schema == "" {
			return "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", []any{table}
		}
		return "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", []any{schema, table}
	},
	noTable: func(err error) bool {
		var e *mysql.MySQLError
		return errors.As(err, &e) && e.Number == 1146 // ER_NO_SUCH_TABLE
	},
	affectedIsChanged: true,
}

// datetimeLayout is how connect-session-knex (date.toISOString().slice(0,
// 19) with a space for the T) and sequelize (moment's 'YYYY-MM-DD
// HH:mm:ss' in its default time zone, +00:00) write a DATETIME on MySQL:
// UTC, the milliseconds cut off.
const datetimeLayout = "2006-01-02 15:04:05"

// maxDatetimeMs is the last second a DATETIME holds, 9999-12-31 23:59:59
// UTC, in epoch milliseconds.
var maxDatetimeMs = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()

// encodeDatetime is the DATETIME text stored for an expiry of ms: whole
// seconds, rounded down as Node cuts the milliseconds off, clamped to
// 1970-01-01 00:00:00 (expired either way) and to 9999-12-31 23:59:59
// (where Node's text stops being a DATETIME MySQL accepts).
func encodeDatetime(ms int64) (any, int64) {
	s := max(0, min(ms, maxDatetimeMs)) / 1000
	return time.Unix(s, 0).UTC().Format(datetimeLayout), s * 1000
}

// nowDatetime is now as the packages compare a DATETIME with it: the
// same text, whole seconds rounded down.
func nowDatetime(ms int64) any {
	v, _ := encodeDatetime(ms)
	return v
}

// decodeDatetime reads a DATETIME as UTC in epoch milliseconds: the text
// go-sql-driver returns without parseTime, or the time.Time it returns
// with it (whose wall clock is the stored text, whatever its loc).
func decodeDatetime(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case time.Time:
		t := time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
		return jsdate.Millis(t), nil
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return 0, fmt.Errorf("a DATETIME read as %T", v)
	}
	if len(s) > len("2006-01-02 15:04:05.999999") {
		return 0, errors.New("a DATETIME too long")
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		return 0, errors.New("an unreadable DATETIME")
	}
	return jsdate.Millis(t), nil
}

// maxUint32 is the largest value of express-mysql-session's `expires`
// column, int(11) unsigned: 2106-02-07 06:28:15 UTC.
const maxUint32 = math.MaxUint32

// roundSeconds is JavaScript's Math.round(ms / 1000) for an integer ms
// within the Date range: halves round up, toward +Infinity.
func roundSeconds(ms int64) int64 {
	n := ms + 500
	s := n / 1000
	if n%1000 < 0 {
		s-- // floor, not truncation
	}
	return s
}

// encodeSeconds is express-mysql-session's expires for an expiry of ms:
// Math.round(ms / 1000) seconds, clamped to the unsigned 32-bit column
// (0, expired either way, and 2106-02-07, where MySQL refuses Node's
// larger value).
func encodeSeconds(ms int64) (any, int64) {
	s := max(0, min(roundSeconds(ms), maxUint32))
	return s, s * 1000
}

// nowSeconds is express-mysql-session's now: Math.round(Date.now() / 1000).
func nowSeconds(ms int64) any { return roundSeconds(ms) }

// decodeSeconds reads an integer column of epoch seconds in epoch
// milliseconds: the int64 or uint64 of the binary protocol, or the
// decimal text of the text protocol (interpolateParams).
func decodeSeconds(v any) (int64, error) {
	const maxSecs = jsdate.MaxMillis / 1000
	var s int64
	switch v := v.(type) {
	case int64:
		s = v
	case uint64:
		if v > uint64(maxSecs) {
			return 0, errors.New("epoch seconds beyond the Date range")
		}
		s = int64(v)
	case []byte, string:
		var text string
		if b, ok := v.([]byte); ok {
			if len(b) > 20 {
				return 0, errors.New("epoch seconds too long")
			}
			text = string(b)
		} else {
			text = v.(string)
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, errors.New("unreadable epoch seconds")
		}
		s = n
	default:
		return 0, fmt.Errorf("epoch seconds read as %T", v)
	}
	if s > maxSecs || s < -maxSecs {
		return 0, errors.New("epoch seconds beyond the Date range")
	}
	return s * 1000, nil
}

// mysqlSupportsJSON is connect-session-knex's isDbSupportJSON on MySQL:
// version() 5.7.8 or later, compared as its JavaScript does (each part
// through the unary +, so "8-log" is NaN and fails). MariaDB's "10.x"
// passes.
func mysqlSupportsJSON(version string) bool {
	parts := strings.Split(version, ".")
	num := func(i int) float64 {
		if i >= len(parts) {
			return math.NaN() // +undefined
		}
		s := strings.TrimSpace(parts[i])
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return num(0) > 5 || (parts[0] == "5" && (num(1) > 7 || (num(1) == 7 && num(2) >= 8)))
}
