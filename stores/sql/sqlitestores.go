package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ConnectSQLite3 is connect-sqlite3 0.9 on SQLite, with its defaults:
// table sessions, columns sid, expired and sess. Its table has columns
// without types:
//
//	CREATE TABLE IF NOT EXISTS sessions (sid PRIMARY KEY, expired, sess)
//
// expired is epoch milliseconds as node-sqlite3 binds a JavaScript number:
// a REAL (an INTEGER for the first 25 days of 1970). Go stores the same
// number: a text there would sort after every number, and the row would
// never expire. Set stores now + cookie.maxAge (cookie.expires; now + one
// day for a browser-session cookie, or when 0 ms are left) with INSERT OR
// REPLACE; touch stores cookie.expires on a live row and does nothing for
// a browser-session cookie. A row is live while now <= expired, to the
// millisecond; prune deletes the rest (its daily cleanup, now > expired).
//
// TableName is its table option (a dot reads as database.table, as in
// Node's SQL); the columns cannot be renamed, nor TTL (one day) changed,
// and it has no disableTouch.
func ConnectSQLite3() Preset { return lookup("connect-sqlite3", SQLite, connectSQLite3Presets) }

var connectSQLite3Presets = map[Dialect]*preset{
	SQLite: {
		pkg:       "connect-sqlite3",
		dialect:   sqliteDialect,
		table:     "sessions",
		cols:      Columns{ID: "sid", Data: "sess", Expires: "expired"},
		qualified: true,
		ttl:       24 * time.Hour,
		expiry:    knexExpiry, // the same rules
		encode:    encodeJSNumber,
		now:       nowJSNumber,
		decode:    decodeJSNumber,
		live:      func(b *builder, n *names) string { return b.p(argNow) + " <= " + n.exp },
		dead:      func(b *builder, n *names) string { return b.p(argNow) + " > " + n.exp },
		upsert:    insertOrReplace(colID, colExp, colData),
		write:     setList(colExp, colData),
		touch:     setList(colExp),
		touchLive: true,
		ddl: func(_ context.Context, _ *sql.DB, n *names) ([]string, error) {
			// Node writes the name as it is; Go too, unless SQL needs
			// it quoted (where Node's statement fails).
			table := n.given
			if !plainName.MatchString(table) {
				table = n.qtable
			}
			return []string{"CREATE TABLE IF NOT EXISTS " + table + " (sid PRIMARY KEY, expired, sess)"}, nil
		},
	},
}

// BetterSQLite3SessionStore is better-sqlite3-session-store 0.1 on
// SQLite: table sessions (fixed), columns sid, sess and expire.
//
//	CREATE TABLE IF NOT EXISTS sessions
//	  (
//	    sid TEXT NOT NULL PRIMARY KEY,
//	    sess JSON NOT NULL,
//	    expire TEXT NOT NULL
//	  )
//
// expire is ISO text, 2026-12-02T10:00:00.456Z. Set stores now +
// cookie.maxAge (now + one day for a browser-session cookie, or when 0
// ms are left) with INSERT OR REPLACE; touch stores cookie.expires, or
// now + one day for a browser-session cookie, on a live row. A row is
// live while datetime(now) < datetime(expire): whole seconds, the second
// of expire itself excluded. Its cleanup deletes only rows with
// datetime(now) > datetime(expire), and so does prune: during the second
// of expire a row is neither live nor deleted.
//
// Node compares with SQLite's own clock (datetime('now')); Go passes its
// clock (Options.Now) instead, the same on one machine. The table name,
// the columns and the lifetime (one day) cannot be changed, and it has no
// disableTouch.
func BetterSQLite3SessionStore() Preset {
	return lookup("better-sqlite3-session-store", SQLite, betterSQLite3Presets)
}

var betterSQLite3Presets = map[Dialect]*preset{
	SQLite: {
		pkg:        "better-sqlite3-session-store",
		dialect:    sqliteDialect,
		table:      "sessions",
		fixedTable: true,
		cols:       Columns{ID: "sid", Data: "sess", Expires: "expire"},
		ttl:        24 * time.Hour,
		expiry:     betterSQLite3Expiry,
		encode:     encodeISO,
		now:        nowISO,
		decode:     decodeISO,
		live:       compare(datetimeOf(nowParam), "<", datetimeOf(expCol)),
		dead:       compare(datetimeOf(nowParam), ">", datetimeOf(expCol)),
		upsert:     insertOrReplace(colID, colData, colExp),
		write:      setList(colExp, colData),
		touch:      setList(colExp),
		touchLive:  true,
		ddl: func(context.Context, *sql.DB, *names) ([]string, error) {
			// Its text, spaces included: SQLite keeps it in sqlite_master.
			return []string{`
  CREATE TABLE IF NOT EXISTS sessions
  (
    sid TEXT NOT NULL PRIMARY KEY,
    sess JSON NOT NULL,
    expire TEXT NOT NULL
  )
`}, nil
		},
	},
}

// betterSQLite3Expiry is better-sqlite3-session-store's expire: set
// stores now + cookie.maxAge, or now + one day when that is null or 0;
// touch stores cookie.expires, or now + one day without one.
func betterSQLite3Expiry(c *sessionjson.Cookie, nowMs, ttlMs int64, touch bool) (int64, bool) {
	if touch && c.Expires == nil {
		return nowMs + ttlMs, true
	}
	return knexExpiry(c, nowMs, ttlMs, touch)
}
