package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ExpressMySQLSession is express-mysql-session 3 on MySQL or MariaDB,
// with its defaults: table sessions, columns session_id, expires and
// data, a one-day expiration.
//
// Its table (its schema.sql):
//
//	CREATE TABLE IF NOT EXISTS `sessions` (
//	  `session_id` varchar(128) COLLATE utf8mb4_bin NOT NULL,
//	  `expires` int(11) unsigned NOT NULL,
//	  `data` mediumtext COLLATE utf8mb4_bin,
//	  PRIMARY KEY (`session_id`)
//	) ENGINE=InnoDB
//
// expires is in epoch seconds, Math.round(cookie.expires / 1000), or now
// plus TTL (its expiration option) for a browser-session cookie; set and
// touch store it alike, and touch moves only expires, even on an expired
// row, as Node's does. A row is live while expires >= Math.round(now /
// 1000): Node's get tests that after reading the row, Go in the query;
// prune deletes the rest (its clearExpiredSessions). A NULL data is no
// session, as for Node.
//
// Columns renames any of the three columns (schema.columnNames); TTL is
// expiration, DisableTouch disableTouch.
func ExpressMySQLSession() Preset {
	return lookup("express-mysql-session", MySQL, expressMySQLPresets)
}

var expressMySQLPresets = map[Dialect]*preset{
	MySQL: {
		pkg:       "express-mysql-session",
		dialect:   mysqlDialect,
		table:     "sessions",
		cols:      Columns{ID: "session_id", Data: "data", Expires: "expires"},
		renames:   Columns{ID: "schema.columnNames.session_id", Data: "schema.columnNames.data", Expires: "schema.columnNames.expires"},
		ttlOpt:    "expiration",
		touchOpt:  "disableTouch",
		qualified: true, // mysql2's ?? escaping reads a dot as database.table
		ttl:       24 * time.Hour,
		expiry: func(c *sessionjson.Cookie, nowMs, ttlMs int64, _ bool) (int64, bool) {
			return cookieExpiry(c, nowMs, ttlMs), true
		},
		encode: encodeSeconds,
		now:    nowSeconds,
		decode: decodeSeconds,
		live:   func(b *builder, n *names) string { return n.exp + " >= " + b.p(argNow) },
		dead:   func(b *builder, n *names) string { return n.exp + " < " + b.p(argNow) },
		upsert: onDuplicateKey([]column{colID, colExp, colData}, colExp, colData),
		write:  setList(colExp, colData),
		touch:  setList(colExp),
		ddl: func(_ context.Context, _ *sql.DB, n *names) ([]string, error) {
			return []string{"CREATE TABLE IF NOT EXISTS " + n.qtable + " (\n" +
				"  " + n.id + " varchar(128) COLLATE utf8mb4_bin NOT NULL,\n" +
				"  " + n.exp + " int(11) unsigned NOT NULL,\n" +
				"  " + n.data + " mediumtext COLLATE utf8mb4_bin,\n" +
				"  PRIMARY KEY (" + n.id + ")\n" +
				") ENGINE=InnoDB"}, nil
		},
	},
}
