package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Sequelize is connect-session-sequelize 7 (with sequelize 6 and its
// default model) on the database d: table Sessions, columns sid,
// expires, data, createdAt and updatedAt, a one-day expiration. expires
// is cookie.expires, or now plus TTL (its expiration option) for a
// browser-session cookie; set writes expires, data and updatedAt (and
// createdAt for a new row), touch moves expires and updatedAt, even on an
// expired row. createdAt and updatedAt are set as sequelize sets them.
//
// On MySQL and MariaDB its table (what sequelize's sync() creates):
//
//	CREATE TABLE IF NOT EXISTS `Sessions` (`sid` VARCHAR(36) , `expires` DATETIME,
//	  `data` TEXT, `createdAt` DATETIME NOT NULL, `updatedAt` DATETIME NOT NULL,
//	  PRIMARY KEY (`sid`)) ENGINE=InnoDB;
//
// so a session id holds at most 36 characters and a record at most
// 65,535 bytes: MySQL refuses longer ones (in its default strict mode),
// to Node as to Go. The DATETIMEs are UTC in whole seconds, the
// milliseconds cut off.
//
// On PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS "Sessions" ("sid" VARCHAR(36) , "expires" TIMESTAMP WITH TIME ZONE,
//	  "data" TEXT, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
//	  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY ("sid"));
//
// a session id of at most 36 characters, a record of any length; the
// timestamps hold the millisecond.
//
// On SQLite:
//
//	CREATE TABLE IF NOT EXISTS `Sessions` (`sid` VARCHAR(36) PRIMARY KEY, `expires` DATETIME,
//	  `data` TEXT, `createdAt` DATETIME NOT NULL, `updatedAt` DATETIME NOT NULL);
//
// (SQLite enforces neither length); the timestamps are text, 2026-12-02
// 10:00:00.456 +00:00, compared as text. Go stores an expiry after 9999
// as 9999-12-31 23:59:59.999 +00:00, where Node writes a five-digit year
// that sorts wrong (10000 before 2026).
//
// connect-session-sequelize's get never looks at expires: Node serves an
// expired row until its cleanup, every 15 minutes, deletes it. Go reads
// a row only while expires >= now (to the second on MySQL, as the
// cleanup's expires < now compares there), so a session ends on time for
// Go; prune is that cleanup. Where Node's set reads the row and then
// inserts or updates it, Go's is one INSERT ... ON DUPLICATE KEY UPDATE
// (ON CONFLICT), which leaves the same row.
//
// TTL is expiration, DisableTouch disableTouch; the columns cannot be
// renamed (that takes a model of one's own, which Go cannot see).
func Sequelize(d Dialect) Preset { return lookup("connect-session-sequelize", d, sequelizePresets) }

var sequelizePresets = map[Dialect]*preset{
	MySQL: sequelizePreset(mysqlDialect, encodeDatetime, nowDatetime, decodeDatetime,
		func(b *builder, n *names) string {
			return "INSERT INTO " + n.qtable + " (" + n.id + ", " + n.exp + ", " + n.data + ", `createdAt`, `updatedAt`) VALUES (" +
				b.p(argID) + ", " + b.p(argExpires) + ", " + b.p(argData) + ", " + b.p(argStamp) + ", " + b.p(argStamp) +
				") ON DUPLICATE KEY UPDATE " + n.exp + " = VALUES(" + n.exp + "), " + n.data + " = VALUES(" + n.data +
				"), `updatedAt` = VALUES(`updatedAt`)"
		},
		func(n *names) string {
			return "CREATE TABLE IF NOT EXISTS " + n.qtable + " (" + n.id + " VARCHAR(36) , " + n.exp +
				" DATETIME, " + n.data + " TEXT, `createdAt` DATETIME NOT NULL, `updatedAt` DATETIME NOT NULL, PRIMARY KEY (" +
				n.id + ")) ENGINE=InnoDB;"
		}),
	Postgres: sequelizePreset(postgresDialect, encodeTimestamptz, nowTimestamptz, decodeTimestamptz, nil,
		func(n *names) string {
			return "CREATE TABLE IF NOT EXISTS " + n.qtable + " (" + n.id + " VARCHAR(36) , " + n.exp +
				" TIMESTAMP WITH TIME ZONE, " + n.data + ` TEXT, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, ` +
				`"updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (` + n.id + "));"
		}),
	SQLite: sequelizePreset(sqliteDialect, encodeSequelizeSQLite, nowSequelizeSQLite, decodeSequelizeSQLite, nil,
		func(n *names) string {
			return "CREATE TABLE IF NOT EXISTS " + n.qtable + " (" + n.id + " VARCHAR(36) PRIMARY KEY, " + n.exp +
				" DATETIME, " + n.data + " TEXT, `createdAt` DATETIME NOT NULL, `updatedAt` DATETIME NOT NULL);"
		}),
}

// sequelizePreset is connect-session-sequelize on d, with the dialect's
// DATE encoding, its upsert (nil: INSERT ... ON CONFLICT) and sync()'s
// CREATE TABLE.
func sequelizePreset(d *dialect, encode func(int64) (any, int64), now func(int64) any, decode func(any) (int64, error),
	upsert func(b *builder, n *names) string, ddl func(n *names) string) *preset {
	quote := "`"
	if d == postgresDialect {
		quote = `"`
	}
	created, updated := stampCol(d, "createdAt"), stampCol(d, "updatedAt")
	if upsert == nil {
		upsert = onConflict([]column{colID, colExp, colData, created, updated}, colExp, colData, updated)
	}
	return &preset{
		pkg:      "connect-session-sequelize",
		dialect:  d,
		table:    "Sessions",
		cols:     Columns{ID: "sid", Data: "data", Expires: "expires"},
		ttlOpt:   "expiration",
		touchOpt: "disableTouch",
		// sequelize quotes a table name whole, dots included, after
		// removing its quote characters.
		tableName: func(s string) string { return strings.ReplaceAll(s, quote, "") },
		ttl:       24 * time.Hour,
		expiry: func(c *sessionjson.Cookie, nowMs, ttlMs int64, _ bool) (int64, bool) {
			return cookieExpiry(c, nowMs, ttlMs), true
		},
		encode: encode,
		now:    now,
		decode: decode,
		stamp:  now,
		live:   func(b *builder, n *names) string { return n.exp + " >= " + b.p(argNow) },
		dead:   func(b *builder, n *names) string { return n.exp + " < " + b.p(argNow) },
		upsert: upsert,
		write:  setList(colExp, colData, updated),
		touch:  setList(colExp, updated),
		ddl: func(_ context.Context, _ *sql.DB, n *names) ([]string, error) {
			return []string{ddl(n)}, nil
		},
	}
}
