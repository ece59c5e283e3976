package main

// Tests of the SQL stores' raw anchors (sqlload.go): they replay the
// store's own query, with the sid and the current time where the store
// puts them, read the same record, and skip an expired row as the store
// does. Never their speed.

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Every encoding of now is told apart from every other by the two
// recording instants: the anchor finds exactly one.
func TestNowEncodingsAreDistinct(t *testing.T) {
	base := time.Now().Truncate(time.Second)
	t1, t2 := base.Add(700*time.Millisecond).UnixMilli(), base.Add(time.Hour+300*time.Millisecond).UnixMilli()
	for _, e := range nowEncodings {
		a := recordedQuery{"SELECT x FROM t WHERE id = ? AND e >= ?", []any{"sid", e.f(t1)}}
		b := recordedQuery{a.sql, []any{"sid", e.f(t2)}}
		got, err := anchorFromRecordings(a, b, t1, t2, "sid")
		if err != nil {
			t.Errorf("%s: %v", e.desc, err)
			continue
		}
		if now, ok := got.roles[1].(sqlArgNow); !ok || now.enc.desc != e.desc {
			t.Errorf("%s: found %#v", e.desc, got.roles[1])
		}
	}
}

// The roles: the sid, now and constants kept; a query the anchor cannot
// replay is refused.
func TestSQLAnchorRoles(t *testing.T) {
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	t1, t2 := base.Add(700*time.Millisecond).UnixMilli(), base.Add(time.Hour+300*time.Millisecond).UnixMilli()
	const q = "SELECT data FROM sessions WHERE session_id = ? AND expires >= ? AND kind = ?"
	a := recordedQuery{q, []any{"abc", int64(1796205601), "web"}}
	b := recordedQuery{q, []any{"abc", int64(1796209200), "web"}}
	got, err := anchorFromRecordings(a, b, t1, t2, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.roles[0].(sqlArgSid); !ok {
		t.Errorf("argument 1 is %#v, want the sid", got.roles[0])
	}
	if now, ok := got.roles[1].(sqlArgNow); !ok || now.enc.desc != "Math.round(Date.now() / 1000)" {
		t.Errorf("argument 2 is %#v, want Math.round(Date.now() / 1000)", got.roles[1])
	}
	if got.roles[2] != "web" {
		t.Errorf("argument 3 is %#v, want the constant", got.roles[2])
	}
	if d := got.describeArgs(); d != `sid, Math.round(Date.now() / 1000), "web"` {
		t.Errorf("described as %q", d)
	}
	for name, bad := range map[string][2]recordedQuery{
		"another query":     {a, {q + " LIMIT 1", b.args}},
		"an unknown now":    {a, {q, []any{"abc", int64(1796205601 + 7), "web"}}},
		"no now":            {{q, []any{"abc", "web"}}, {q, []any{"abc", "web"}}},
		"no sid":            {{q, []any{"xyz", int64(1796205601)}}, {q, []any{"xyz", int64(1796209200)}}},
		"more arguments":    {a, {q, append([]any{}, b.args[0], b.args[1], b.args[2], "x")}},
		"a changing string": {{q, []any{"abc", "1"}}, {q, []any{"abc", "2"}}},
	} {
		if _, err := anchorFromRecordings(bad[0], bad[1], t1, t2, "abc"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The recorder gives the anchor one query and nothing else.
func TestSQLRecorderOne(t *testing.T) {
	r := &sqlRecorder{}
	if _, err := r.one(); err == nil {
		t.Error("no query accepted")
	}
	r.query("SELECT 1", nil)
	if q, err := r.one(); err != nil || q.sql != "SELECT 1" {
		t.Errorf("one query: %q, %v", q.sql, err)
	}
	r.query("SELECT 2", nil)
	if _, err := r.one(); err == nil {
		t.Error("two queries accepted")
	}
	r.reset()
	r.query("SELECT 1", nil)
	r.note("exec UPDATE t SET x = 1")
	if _, err := r.one(); err == nil {
		t.Error("a query and an exec accepted")
	}
}

func TestCodeSpan(t *testing.T) {
	for in, want := range map[string]string{
		"a b":         "`a b`",
		"SELECT `x`":  "`` SELECT `x` ``",
		"a ``b`` c":   "``` a ``b`` c ```",
		"`edge`":      "`` `edge` ``",
		"no ticks ()": "`no ticks ()`",
	} {
		if got := codeSpan(in); got != want {
			t.Errorf("codeSpan(%q) = %q, want %q", in, got, want)
		}
	}
}

// expiredSQL makes a row of each SQL store expired: its expiry column set
// to 1970-01-02 in the preset's representation.
var expiredSQL = map[string]string{
	"mariadb":                "UPDATE %s SET `expires` = 86400 WHERE `session_id` = ?",
	"mariadb-knex":           "UPDATE %s SET `expired` = '1970-01-02 00:00:00' WHERE `sid` = ?",
	"mariadb-sequelize":      "UPDATE %s SET `expires` = '1970-01-02 00:00:00' WHERE `sid` = ?",
	"sqlite":                 "UPDATE %s SET `expired` = '1970-01-02T00:00:00.000Z' WHERE `sid` = ?",
	"sqlite-connect-sqlite3": "UPDATE %s SET expired = 86400000.0 WHERE sid = ?",
	"sqlite-better-sqlite3":  "UPDATE %s SET expire = '1970-01-02T00:00:00.000Z' WHERE sid = ?",
	"sqlite-sequelize":       "UPDATE %s SET `expires` = '1970-01-02 00:00:00.000 +00:00' WHERE `sid` = ?",
}

// nowEncodingOf is how each preset passes now to its query, as its
// documentation says.
var nowEncodingOf = map[string]string{
	"mariadb":                "Math.round(Date.now() / 1000)",
	"mariadb-knex":           "now as UTC DATETIME text, whole seconds",
	"mariadb-sequelize":      "now as UTC DATETIME text, whole seconds",
	"sqlite":                 "now as ISO text (toISOString)",
	"sqlite-connect-sqlite3": "Date.now() as a REAL",
	"sqlite-better-sqlite3":  "now as ISO text (toISOString)",
	"sqlite-sequelize":       "now as sequelize's text",
}

// sqliteTables are the SQLite presets' default tables.
var sqliteTables = map[string]string{
	"sqlite": "sessions", "sqlite-connect-sqlite3": "sessions", "sqlite-better-sqlite3": "sessions", "sqlite-sequelize": "Sessions",
}

// Against the databases (SQLite always, MariaDB when running): both sides
// of every SQL store read the checked record and user, the anchor is the
// store's query, a forged cookie loads nothing, an expired row is read by
// neither side, and the MariaDB table is dropped at the end.
func TestSQLLoadSides(t *testing.T) {
	if len(expiredSQL) != len(sqlStores) {
		t.Fatalf("expiredSQL covers %d stores of %d", len(expiredSQL), len(sqlStores))
	}
	f, err := newFixture(5)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := &config{tmp: t.TempDir()}
	for name, s := range sqlStores {
		t.Run(name, func(t *testing.T) {
			if !s.sqlite {
				mc, err := mysql.ParseDSN(*mariadbDSN)
				if err != nil {
					t.Fatal(err)
				}
				if !reachable(mc.Addr) {
					nodetest.Unavailable(t, "MariaDB at "+mc.Addr, "bash scripts/services.sh mariadb")
				}
			}
			b, err := newSQLBench(ctx, cfg, f, s)
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				if !closed {
					b.close()
				}
			}()
			if !strings.Contains(b.name, s.pkg) || !strings.Contains(b.rawDesc, "sid") {
				t.Errorf("row %q, raw read %q", b.name, b.rawDesc)
			}
			bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: b.store})
			if err != nil {
				t.Fatal(err)
			}
			reqs := make([]*http.Request, len(f.headers))
			for i, h := range f.headers {
				reqs[i], _ = http.NewRequest("GET", "http://bench/me", nil)
				reqs[i].Header.Set("Cookie", h)
			}
			for i := range f.ids {
				if err := checkLoad(bridge, reqs, f, i); err != nil {
					t.Errorf("load %d: %v", i, err)
				}
				got, err := b.raw(ctx, i)
				if err != nil || string(got) != string(f.records[i]) {
					t.Errorf("raw %d: %.80q, %v", i, got, err)
				}
			}
			// The anchor: the store's query, the sid and now where the
			// preset puts them, in the preset's representation of now.
			a := b.anchor
			if len(a.roles) != 2 || a.roles[0] != any(sqlArgSid{}) || !strings.Contains(a.sql, " = ? AND ") {
				t.Errorf("anchor %q %v: want the sid, then now", a.sql, a.roles)
			} else if now, ok := a.roles[1].(sqlArgNow); !ok || now.enc.desc != nowEncodingOf[name] {
				t.Errorf("anchor's now: %#v, want %s", a.roles[1], nowEncodingOf[name])
			}
			if a.ncols != 3 || !strings.Contains(a.sql, " <= 4194304 THEN ") {
				t.Errorf("anchor %q: %d columns, want the record within the limit, its length and expiry", a.sql, a.ncols)
			}
			if _, err := a.read(ctx, b.db, "no-such-session"); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("raw read of an unknown id: %v, want no rows", err)
			}
			table := b.table
			if table == "" {
				table = sqliteTables[name]
			}
			forged, _ := http.NewRequest("GET", "http://bench/me", nil)
			forged.Header.Set("Cookie", f.headers[0][:len(f.headers[0])-3]+"AAA")
			if _, err := bridge.Load(forged); !errors.Is(err, sessionbridge.ErrNoSession) {
				t.Errorf("forged cookie: %v, want ErrNoSession", err)
			}
			// An expired row: the anchor skips it, as the store does.
			res, err := b.db.ExecContext(ctx, strings.Replace(expiredSQL[name], "%s", "`"+table+"`", 1), f.ids[1])
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("expiring session 1 changed %d rows", n)
			}
			if _, err := b.raw(ctx, 1); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("raw read of an expired row: %v, want no rows", err)
			}
			if err := checkLoad(bridge, reqs, f, 1); !errors.Is(err, sessionbridge.ErrNoSession) {
				t.Errorf("load of an expired row: %v, want ErrNoSession", err)
			}
			// The others stay live.
			if got, err := b.raw(ctx, 2); err != nil || string(got) != string(f.records[2]) {
				t.Errorf("raw 2 after expiring 1: %.80q, %v", got, err)
			}
			if s.sqlite {
				return
			}
			db := b.db
			closed = true
			b.close()
			// The table is gone (a pool of its own: b's is closed).
			mc, _ := mysql.ParseDSN(*mariadbDSN)
			c, err := mysql.NewConnector(mc)
			if err != nil {
				t.Fatal(err)
			}
			check := sql.OpenDB(c)
			defer check.Close()
			var n int
			if err := check.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n); err != nil || n != 0 {
				t.Errorf("table %s after close: %d, %v", table, n, err)
			}
			if err := db.PingContext(ctx); err == nil {
				t.Error("the pool is still open after close")
			}
		})
	}
}
