package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// Dialect is the database a [Preset] runs on.
type Dialect uint8

// The dialects.
const (
	// MySQL is MySQL and MariaDB, through github.com/go-sql-driver/mysql.
	MySQL Dialect = iota + 1
	// Postgres is PostgreSQL, through pgx's database/sql driver
	// (github.com/jackc/pgx/v5/stdlib).
	Postgres
	// SQLite is SQLite, through a database/sql driver such as
	// modernc.org/sqlite.
	SQLite
)

// String names the database: "MySQL", "PostgreSQL" or "SQLite".
func (d Dialect) String() string {
	switch d {
	case MySQL:
		return "MySQL"
	case Postgres:
		return "PostgreSQL"
	case SQLite:
		return "SQLite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Preset is the table, its columns, the expiry representation and the SQL
// of one npm session store on one database. Make one with [Knex],
// [ExpressMySQLSession], [Sequelize], [ConnectSQLite3] or
// [BetterSQLite3SessionStore]. The zero Preset is none: [New] refuses it.
type Preset struct {
	p *preset
	// what names the package and dialect asked for, for the error of a
	// combination that has no preset.
	what string
}

// String names the npm package and the database, such as
// "connect-session-knex on MySQL".
func (p Preset) String() string {
	if p.p != nil {
		return p.p.pkg + " on " + p.p.dialect.name
	}
	if p.what != "" {
		return p.what
	}
	return "no preset"
}

// lookup returns the preset of pkg on d from table, or a Preset that New
// refuses.
func lookup(pkg string, d Dialect, table map[Dialect]*preset) Preset {
	if p := table[d]; p != nil {
		return Preset{p: p}
	}
	return Preset{what: pkg + " on " + d.String()}
}

// dialect is what differs between databases, whatever the npm package:
// identifier quoting, placeholders, byte lengths and byte-exact
// comparisons, the catalog, and error codes. One value per database,
// shared by its presets.
type dialect struct {
	name string
	// quoteIdent quotes one identifier.
	quoteIdent func(name string) string
	// placeholder is the i-th parameter (1-based): "?" or "$i".
	placeholder func(i int) string
	// length is the length in bytes of the text in column col.
	length func(col string) string
	// same is a condition true when column col holds exactly the bytes of
	// the parameter param, whatever the column's collation.
	same func(col, param string) string
	// tableExists returns a query that yields a row iff the table schema.
	// table exists (schema "" is the connection's current one).
	tableExists func(schema, table string) (string, []any)
	// noTable reports whether err says that the table does not exist.
	noTable func(err error) bool
	// affectedIsChanged is true when the driver's RowsAffected counts the
	// rows an UPDATE changed, not those it matched (MySQL, unless the DSN
	// sets clientFoundRows): an UPDATE that writes the values a row
	// already holds then reports 0, and the store checks for the row.
	affectedIsChanged bool
}

// preset is one npm package's layout and SQL on one dialect. The fields
// that are functions build the package's statements from the quoted names;
// the core (sqlstore.go) runs them.
type preset struct {
	pkg     string // the npm package
	dialect *dialect

	table    string  // default table name
	cols     Columns // default column names
	renames  Columns // for each column that can be renamed, the Node option doing it
	ttlOpt   string  // the Node option for the lifetime of a browser-session cookie; "" when fixed
	touchOpt string  // the Node option that disables touch; "" when none
	// qualified is true when the package reads a dot in the table name as
	// database.table (knex, mysql2's ?? escaping), false when the whole
	// name is one identifier (sequelize).
	qualified bool
	// tableName, when not nil, is the table name the package uses for the
	// one it is given.
	tableName func(string) string
	// fixedTable is true when the package's table name cannot be changed.
	fixedTable bool
	ttl        time.Duration // default lifetime of a browser-session cookie

	// expiry is the epoch milliseconds the package stores for cookie c at
	// now (nowMs) with the lifetime ttlMs for a browser-session cookie, as
	// its set (touch false) or touch (touch true) computes it; ok is false
	// when its touch writes nothing.
	expiry func(c *sessionjson.Cookie, nowMs, ttlMs int64, touch bool) (ms int64, ok bool)
	// encode is the parameter stored for an expiry of ms, and the epoch
	// milliseconds it stands for once stored (whole seconds, clamped to
	// the column's range).
	encode func(ms int64) (param any, stored int64)
	// now is the parameter the expiry column is compared with at nowMs.
	now func(nowMs int64) any
	// decode reads the expiry column as the driver returns it (any of the
	// types database/sql scans into an any), in epoch milliseconds.
	decode func(v any) (int64, error)
	// stamp, when not nil, is the value of the package's bookkeeping
	// timestamps (sequelize's createdAt and updatedAt) at nowMs.
	stamp func(nowMs int64) any

	// live is the condition that a row has not expired (argNow); dead is
	// the prune condition, its negation as the package writes it.
	live, dead func(b *builder, n *names) string
	// upsert is the set statement.
	upsert func(b *builder, n *names) string
	// write is the SET list of a conditional write: the expiry, the data
	// and any bookkeeping column, as set writes them.
	write func(b *builder, n *names) string
	// touch is the SET list of touch; touchLive is true when touch moves
	// only a live row (the package's touch has the get condition).
	touch     func(b *builder, n *names) string
	touchLive bool

	// ddl returns the package's CREATE statements for the table.
	ddl func(ctx context.Context, db *sql.DB, n *names) ([]string, error)
}

// names are the table and column names, as given and quoted.
type names struct {
	given                  string // the table name given
	schema, table          string // as the catalog has them; schema "" is the current database
	qtable                 string // quoted, schema-qualified
	rawID, rawData, rawExp string // as given
	id, data, exp          string // quoted
}

func newNames(p *preset, table string, cols Columns) *names {
	if p.tableName != nil {
		table = p.tableName(table)
	}
	n := &names{given: table, table: table, rawID: cols.ID, rawData: cols.Data, rawExp: cols.Expires}
	if p.qualified {
		if i := strings.IndexByte(table, '.'); i >= 0 {
			n.schema, n.table = table[:i], table[i+1:]
		}
	}
	q := p.dialect.quoteIdent
	if p.qualified {
		parts := strings.Split(table, ".")
		for i, s := range parts {
			parts[i] = q(s)
		}
		n.qtable = strings.Join(parts, ".")
	} else {
		n.qtable = q(table)
	}
	n.id, n.data, n.exp = q(cols.ID), q(cols.Data), q(cols.Expires)
	return n
}

// arg is a statement parameter, by what it holds.
type arg uint8

const (
	argID      arg = iota // the session id
	argData               // the record written
	argExpires            // the expiry written
	argNow                // now, as the expiry column is compared with it
	argTag                // the record read (Version.Tag)
	argStamp              // now, as a bookkeeping timestamp
)

// stmt is a statement and, in order, what its parameters hold.
type stmt struct {
	sql  string
	args []arg
}

// builder collects a statement's parameters as its SQL text is built:
// each p call appends one and returns its placeholder. Go evaluates the
// operands of a string concatenation left to right, so p calls in one
// expression number the parameters in the order they appear.
type builder struct {
	d    *dialect
	args []arg
}

func (b *builder) p(a arg) string {
	b.args = append(b.args, a)
	return b.d.placeholder(len(b.args))
}

// build runs f with a fresh builder and returns the statement it made.
func build(d *dialect, f func(b *builder) string) stmt {
	b := &builder{d: d}
	sql := f(b)
	return stmt{sql: sql, args: b.args}
}

// values are what a statement's parameters take.
type values struct {
	id, data, tag       string
	expires, now, stamp any
}

func (s stmt) bind(v *values) []any {
	out := make([]any, len(s.args))
	for i, a := range s.args {
		switch a {
		case argID:
			out[i] = v.id
		case argData:
			out[i] = v.data
		case argExpires:
			out[i] = v.expires
		case argNow:
			out[i] = v.now
		case argTag:
			out[i] = v.tag
		case argStamp:
			out[i] = v.stamp
		}
	}
	return out
}

// cookieExpiry is the expiry most packages store: cookie.expires, or now
// plus the lifetime for a browser-session cookie.
func cookieExpiry(c *sessionjson.Cookie, nowMs, ttlMs int64) int64 {
	if c.Expires != nil {
		return jsdate.Millis(*c.Expires)
	}
	return nowMs + ttlMs
}

// column is a column of a statement and the parameter it takes.
type column struct {
	name func(n *names) string // quoted
	a    arg
}

// The columns by role.
var (
	colID   = column{func(n *names) string { return n.id }, argID}
	colData = column{func(n *names) string { return n.data }, argData}
	colExp  = column{func(n *names) string { return n.exp }, argExpires}
)

// stampCol is a bookkeeping timestamp column (sequelize's createdAt and
// updatedAt), named name, on d.
func stampCol(d *dialect, name string) column {
	q := d.quoteIdent(name)
	return column{func(*names) string { return q }, argStamp}
}

// setList is the SET list "c = ?, ..." of cols.
func setList(cols ...column) func(b *builder, n *names) string {
	return func(b *builder, n *names) string {
		var s strings.Builder
		for i, c := range cols {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString(c.name(n) + " = " + b.p(c.a))
		}
		return s.String()
	}
}

// operand is one side of a live or dead condition: the now parameter
// (argNow) or the expiry column, in the SQL the package writes around it.
type operand func(b *builder, n *names) string

// The bare operands.
var (
	nowParam operand = func(b *builder, _ *names) string { return b.p(argNow) }
	expCol   operand = func(_ *builder, n *names) string { return n.exp }
)

// castNow is "CAST(now <as>)", as knex writes it: as is "AS DATETIME" or
// "as timestamp with time zone".
func castNow(as string) operand {
	return func(b *builder, n *names) string { return "CAST(" + nowParam(b, n) + " " + as + ")" }
}

// datetimeOf is SQLite's "datetime(o)".
func datetimeOf(o operand) operand {
	return func(b *builder, n *names) string { return "datetime(" + o(b, n) + ")" }
}

// compare is the condition "l op r".
func compare(l operand, op string, r operand) func(b *builder, n *names) string {
	return func(b *builder, n *names) string { return l(b, n) + " " + op + " " + r(b, n) }
}

// insert is "INSERT<verb> INTO t (c, ...) VALUES (?, ...)".
func insert(verb string, b *builder, n *names, cols []column) string {
	var list, params strings.Builder
	for i, c := range cols {
		if i > 0 {
			list.WriteString(", ")
			params.WriteString(", ")
		}
		list.WriteString(c.name(n))
		params.WriteString(b.p(c.a))
	}
	return "INSERT" + verb + " INTO " + n.qtable + " (" + list.String() + ") VALUES (" + params.String() + ")"
}

// insertOrReplace is SQLite's INSERT OR REPLACE of cols: the row of that
// id deleted, if any, and this one inserted.
func insertOrReplace(cols ...column) func(b *builder, n *names) string {
	return func(b *builder, n *names) string { return insert(" OR REPLACE", b, n, cols) }
}

// onDuplicateKey is MySQL's INSERT of cols that, when the id exists, sets
// the columns of update to the values given (ON DUPLICATE KEY UPDATE).
func onDuplicateKey(cols []column, update ...column) func(b *builder, n *names) string {
	return func(b *builder, n *names) string {
		var set strings.Builder
		for i, c := range update {
			if i > 0 {
				set.WriteString(", ")
			}
			set.WriteString(c.name(n) + " = VALUES(" + c.name(n) + ")")
		}
		return insert("", b, n, cols) + " ON DUPLICATE KEY UPDATE " + set.String()
	}
}

// onConflict is an INSERT of cols that, when the id exists, sets the
// columns of update to the values given (PostgreSQL and SQLite).
func onConflict(cols []column, update ...column) func(b *builder, n *names) string {
	return func(b *builder, n *names) string {
		var set strings.Builder
		for i, c := range update {
			if i > 0 {
				set.WriteString(", ")
			}
			set.WriteString(c.name(n) + " = excluded." + c.name(n))
		}
		return insert("", b, n, cols) + " ON CONFLICT (" + n.id + ") DO UPDATE SET " + set.String()
	}
}
