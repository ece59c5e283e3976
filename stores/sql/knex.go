package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// Knex is connect-session-knex 5 (with knex 3) on the database d, with
// its defaults: table sessions, columns sid, sess and expired. Everywhere,
// set stores now + cookie.maxAge (cookie.expires; now + one day for a
// browser-session cookie, or when 0 ms are left), touch stores
// cookie.expires and does nothing for a browser-session cookie, and a row
// is live while now <= expired, compared as below: get, touch and the
// conditional write all test that, and prune deletes the rest (its
// cleanup).
//
// On MySQL and MariaDB its table is
//
//	create table `sessions` (`sid` varchar(255), `sess` json not null,
//	  `expired` datetime not null, primary key (`sid`))
//	alter table `sessions` add index `sessions_expired_index`(`expired`)
//
// (sess is text before MySQL 5.7.8; MariaDB makes json a longtext with a
// json_valid check). expired is a UTC DATETIME in whole seconds, the
// milliseconds cut off, and live is CAST(now AS DATETIME) <= expired, now
// cut to the second as well.
//
// MySQL's own JSON type (not MariaDB's) stores a normalized copy of the
// record: keys reordered, spaces added. Go reads that copy as Node does,
// but the record Get returns is then MySQL's, not byte for byte the one
// written.
//
// On PostgreSQL:
//
//	create table "sessions" ("sid" varchar(255), "sess" json not null,
//	  "expired" timestamptz not null, constraint "sessions_pkey" primary key ("sid"))
//	create index "sessions_expired_index" on "sessions" ("expired")
//
// json keeps the text it is given, so records stay byte for byte.
// expired holds the millisecond, and live is CAST(now AS timestamp with
// time zone) <= expired. Node's set is an update-then-insert CTE; Go's is
// INSERT ... ON CONFLICT, which leaves the same row and does not fail
// when two first saves of one session race. A cookie that ends after
// 9999 is stored as it is; Node's set fails there (PostgreSQL does not
// read toISOString's +033658-...). For a table "schema.table", knex
// writes statements PostgreSQL refuses (a schema-qualified constraint
// name; an unqualified upsert); Go's work.
//
// On SQLite:
//
//	create table `sessions` (`sid` varchar(255), `sess` json not null,
//	  `expired` datetime not null, primary key (`sid`))
//	create index `sessions_expired_index` on `sessions` (`expired`)
//
// expired is ISO text, 2026-12-02T10:00:00.456Z, and live is
// datetime(now) <= datetime(expired): SQLite compares whole seconds. Set
// is insert or replace, as Node's. An expiry after 9999 is stored as
// 9999-12-31T23:59:59.999Z: Node stores toISOString's +033658-..., whose
// datetime() is NULL, so that row is never live.
//
// Columns.ID is sidFieldName; the other columns cannot be renamed, nor
// TTL (one day) changed; connect-session-knex has no disableTouch.
func Knex(d Dialect) Preset { return lookup("connect-session-knex", d, knexPresets) }

// knexPresets holds connect-session-knex's layouts by dialect.
var knexPresets = map[Dialect]*preset{
	MySQL: knexPreset(castNow("AS DATETIME"), expCol, preset{
		dialect: mysqlDialect,
		encode:  encodeDatetime,
		now:     nowDatetime,
		decode:  decodeDatetime,
		upsert:  onDuplicateKey([]column{colID, colExp, colData}, colExp, colData),
		write:   setList(colExp, colData),
		touch:   setList(colExp),
		ddl:     knexMySQLDDL,
	}),
}

func init() {
	knexPresets[Postgres] = knexPreset(castNow("as timestamp with time zone"), expCol, preset{
		dialect: postgresDialect,
		encode:  encodeTimestamptz,
		now:     nowTimestamptz,
		decode:  decodeTimestamptz,
		upsert:  onConflict([]column{colID, colExp, colData}, colExp, colData),
		write:   setList(colExp, colData),
		touch:   setList(colExp),
		ddl: func(_ context.Context, _ *sql.DB, n *names) ([]string, error) {
			q := postgresDialect.quoteIdent
			return []string{
				"create table " + n.qtable + " (" + n.id + " varchar(255), " + n.data + " json not null, " +
					n.exp + " timestamptz not null, constraint " + q(n.table+"_pkey") + " primary key (" + n.id + "))",
				"create index " + q(knexIndexName(n)) + " on " + n.qtable + " (" + n.exp + ")",
			}, nil
		},
	})
	knexPresets[SQLite] = knexPreset(datetimeOf(nowParam), datetimeOf(expCol), preset{
		dialect: sqliteDialect,
		encode:  encodeISO,
		now:     nowISO,
		decode:  decodeISO,
		upsert:  insertOrReplace(colID, colExp, colData),
		write:   setList(colExp, colData),
		touch:   setList(colExp),
		ddl: func(_ context.Context, _ *sql.DB, n *names) ([]string, error) {
			// An index lives in its table's database: SQLite wants the
			// database on the index name (knex puts it on the table).
			index, table := sqliteQuote(knexIndexName(n)), n.qtable
			if n.schema != "" {
				index, table = sqliteQuote(n.schema)+"."+index, sqliteQuote(n.table)
			}
			return []string{
				"create table " + n.qtable + " (" + n.id + " varchar(255), " + n.data + " json not null, " +
					n.exp + " datetime not null, primary key (" + n.id + "))",
				"create index " + index + " on " + table + " (" + n.exp + ")",
			}, nil
		},
	})
}

// knexPreset is connect-session-knex's preset on p's dialect: p, which
// gives the dialect's encoding and statements, with the layout and rules
// every dialect shares. A row is live while now <= expired and dead
// (pruned) while expired < now, each side written as now and exp are.
func knexPreset(now, exp operand, p preset) *preset {
	p.pkg = "connect-session-knex"
	p.table = "sessions"
	p.cols = Columns{ID: "sid", Data: "sess", Expires: "expired"}
	p.renames = Columns{ID: "sidFieldName"}
	p.qualified = true
	p.ttl = 24 * time.Hour
	p.expiry = knexExpiry
	p.live = compare(now, "<=", exp)
	p.dead = compare(exp, "<", now)
	p.touchLive = true
	return &p
}

// knexIndexName is the name knex gives the expired index: <table>_<column>
// _index, lower case, with the dots and dashes of the table name made
// underscores.
func knexIndexName(n *names) string {
	return strings.ToLower(strings.NewReplacer(".", "_", "-", "_").Replace(n.given) + "_expired_index")
}

// knexExpiry is connect-session-knex's expired: set stores now +
// cookie.maxAge, the milliseconds left until cookie.expires, or now + one
// day when that is null or 0 (JavaScript's falsy); touch stores
// cookie.expires, and nothing without one.
func knexExpiry(c *sessionjson.Cookie, nowMs, ttlMs int64, touch bool) (int64, bool) {
	if touch {
		if c.Expires == nil {
			return 0, false
		}
		return jsdate.Millis(*c.Expires), true
	}
	if c.Expires != nil {
		if e := jsdate.Millis(*c.Expires); e != nowMs {
			return e, true
		}
	}
	return nowMs + ttlMs, true
}

// knexMySQLDDL is what knex's createTable runs for connect-session-knex
// on MySQL, sess json or text as isDbSupportJSON decides from version().
func knexMySQLDDL(ctx context.Context, db *sql.DB, n *names) ([]string, error) {
	var version string
	if err := db.QueryRowContext(ctx, "select version() as version").Scan(&version); err != nil {
		return nil, err
	}
	sess := "text"
	if mysqlSupportsJSON(version) {
		sess = "json"
	}
	index := knexIndexName(n)
	return []string{
		"create table " + n.qtable + " (" + n.id + " varchar(255), " + n.data + " " + sess + " not null, " +
			n.exp + " datetime not null, primary key (" + n.id + "))",
		"alter table " + n.qtable + " add index " + mysqlDialect.quoteIdent(index) + "(" + n.exp + ")",
	}, nil
}
