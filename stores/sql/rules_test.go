package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestTouchRules: each package's touch, checked against Node on twin
// rows: connect-session-knex's, connect-sqlite3's and better-sqlite3-
// session-store's touch skip an expired row; express-mysql-session's and
// connect-session-sequelize's move the expiry even on an expired row;
// a browser-session cookie is left alone by connect-session-knex and
// connect-sqlite3 and gets now + one day from better-sqlite3-session-
// store. A touch that writes the values the row already holds (twice in
// one instant) is no "not found", though MySQL reports 0 rows changed; a
// touch of a missing row is ErrNotFound and creates nothing;
// DisableTouch writes nothing.
func TestTouchRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			f.store(t, sqlstore.Options{})
			st := f.at(t, now)
			node := f.node(t)
			sp := f.spec(nil)
			past := record(now.Add(-time.Minute), 3600000, `"n":1`)
			fresh := record(now.Add(time.Hour), 3600000, `"n":1`)
			for _, sid := range []string{"node", "go"} {
				node.do(t, "set", at(now.Add(-time.Hour), map[string]any{"store": sp, "sid": sid, "record": past}))
			}
			// A touch of the expired row, with a cookie that lives an hour.
			node.do(t, "touch", at(now, map[string]any{"store": sp, "sid": "node", "record": fresh}))
			s, _ := sessionjson.Decode([]byte(fresh))
			goErr := st.Touch(ctx, "go", s)
			nc, gc := f.columns(t, st, "node"), f.columns(t, st, "go")
			if strings.Replace(nc, "node", "go", 1) != gc {
				t.Fatalf("touch of an expired row: Node's row %s, Go's %s", nc, gc)
			}
			revived := str(t, node.do(t, "get", at(now, map[string]any{"store": sp, "sid": "node"}))) != ""
			_, getErr := st.Get(ctx, "go")
			if revived != (getErr == nil) || revived == k.touchLive {
				t.Fatalf("touch of an expired row: Node's get after its touch %t, Go's Get after its touch %v", revived, getErr)
			}
			if k.touchLive && !errors.Is(goErr, sessionbridge.ErrNotFound) {
				t.Fatalf("Go's touch of an expired row: %v, want ErrNotFound (no live row)", goErr)
			}
			t.Logf("touch of an expired row revives it: %t (Node and Go)", revived)

			// Twice at the same instant: the second changes nothing.
			if err := st.Set(ctx, "same", s); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := st.Touch(ctx, "same", s); err != nil {
					t.Fatalf("touch %d at the same instant: %v", i+1, err)
				}
			}
			if err := st.Touch(ctx, "missing", s); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("touch of a missing row: %v, want ErrNotFound", err)
			}
			if _, _, ok := f.raw(t, st, "missing"); ok {
				t.Fatal("touch created a row")
			}

			// A browser-session cookie.
			browser := browserRecord(`"n":2`)
			for _, sid := range []string{"bnode", "bgo"} {
				node.do(t, "set", at(now, map[string]any{"store": sp, "sid": sid, "record": browser}))
			}
			node.do(t, "touch", at(now.Add(time.Hour), map[string]any{"store": sp, "sid": "bnode", "record": browser}))
			bs, _ := sessionjson.Decode([]byte(browser))
			if err := f.at(t, now.Add(time.Hour)).Touch(ctx, "bgo", bs); err != nil {
				t.Fatal(err)
			}
			bn, bg := f.columns(t, st, "bnode"), f.columns(t, st, "bgo")
			if bn != bg {
				t.Fatalf("touch of a browser-session cookie an hour later: Node's row %s, Go's %s", bn, bg)
			}
			t.Logf("browser-session cookie touched an hour after set: %s", bg)
		})
	}
	t.Run("DisableTouch", func(t *testing.T) {
		t.Parallel()
		for _, k := range kinds {
			if !k.options {
				continue
			}
			f := e.table(t, k)
			f.store(t, sqlstore.Options{})
			st := f.open(t, sqlstore.Options{DisableTouch: true})
			s := condtest.NewSession(t, time.Now(), time.Hour)
			if err := st.Set(ctx, "a", s); err != nil {
				t.Fatal(err)
			}
			before := f.columns(t, st, "a")
			s.Touch(time.Now().Add(time.Hour))
			if err := st.Touch(ctx, "a", s); err != nil {
				t.Fatal(err)
			}
			if err := st.Touch(ctx, "missing", s); err != nil {
				t.Fatalf("%s: DisableTouch, touch of a missing row: %v", k.name, err)
			}
			if after := f.columns(t, st, "a"); after != before {
				t.Fatalf("%s: DisableTouch, the row changed: %s -> %s", k.name, before, after)
			}
		}
	})
}

// TestSetIfUnchanged: a conditional write of exactly what the row holds,
// at the same instant, succeeds, though MySQL reports 0 rows changed
// (the store checks the row), with and without clientFoundRows, and on
// PostgreSQL and SQLite (whose counts are rows matched); a write against
// a row that no longer matches conflicts either way.
func TestSetIfUnchanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	check := func(t *testing.T, f *fixture, what string) {
		st := f.store(t, sqlstore.Options{Now: clock(now)})
		s := condtest.NewSession(t, now, time.Hour, "n", 1)
		if err := st.Set(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		got, v := condtest.GetVersion(t, st, "a")
		v2, err := st.SetIf(ctx, "a", got, v)
		if err != nil || v2.Tag != v.Tag {
			t.Fatalf("%s: SetIf of the unchanged record: %v", what, err)
		}
		if err := st.Set(ctx, "a", condtest.NewSession(t, now, time.Hour, "n", 2)); err != nil {
			t.Fatal(err)
		}
		_, err = st.SetIf(ctx, "a", got, v2)
		condtest.WantConflict(t, err, what+": after another Set")
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			if k.db != mariadb {
				check(t, e.table(t, k), k.name)
				return
			}
			for _, found := range []bool{false, true} {
				f := e.table(t, k)
				f.db = open(t, func(c *mysql.Config) { c.ClientFoundRows = found })
				check(t, f, fmt.Sprintf("%s (clientFoundRows %t)", k.name, found))
			}
		})
	}
}

// TestSetIfComparesBytes: MariaDB's record columns find equal texts that
// differ in case (connect-session-sequelize's TEXT in the table's
// utf8mb4_general_ci) or in trailing spaces (every PAD SPACE collation:
// that one, and utf8mb4_bin of express-mysql-session's mediumtext and
// MariaDB's json). SetIf compares bytes: a row changed only so still
// conflicts. The control shows the column's own = would have matched.
// (PostgreSQL's and SQLite's comparisons of the same texts tell such
// changes apart by themselves: the Conditional group of TestContract
// covers them.)
func TestSetIfComparesBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, k := range kindsOn(mariadb) {
		f := e.table(t, k)
		db := f.db
		st := f.store(t, sqlstore.Options{})
		tblq, id, data, _ := sqlstore.Names(st)
		s := condtest.NewSession(t, time.Now(), time.Hour, "name", "Alice")
		if err := st.Set(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		var unseen []string
		for _, change := range []string{`REPLACE(` + data + `, 'Alice', 'ALICE')`, `CONCAT(` + data + `, '  ')`} {
			got, v := condtest.GetVersion(t, st, "a")
			if _, err := db.Exec("UPDATE " + tblq + " SET " + data + " = " + change + " WHERE " + id + " = 'a'"); err != nil {
				t.Fatal(err)
			}
			// The control: does the column's own = take the changed
			// record for the one read?
			var equal bool
			if err := db.QueryRow("SELECT "+data+" = ? FROM "+tblq+" WHERE "+id+" = 'a'", v.Tag).Scan(&equal); err != nil {
				t.Fatal(err)
			}
			if equal {
				unseen = append(unseen, change)
			}
			_ = got.Set("n", 1)
			_, err := st.SetIf(ctx, "a", got, v)
			condtest.WantConflict(t, err, k.name+": after "+change)
			if err := st.Set(ctx, "a", s); err != nil {
				t.Fatal(err)
			}
		}
		if len(unseen) == 0 {
			t.Fatalf("%s: the column's collation sees every change: the test proves nothing", k.name)
		}
		t.Logf("%s: SetIf conflicts after changes the column's = ignores: %s", k.name, strings.Join(unseen, ", "))
	}
}

// TestDSNVariants: the store reads what go-sql-driver returns with
// parseTime (time.Time in loc, here Asia/Tokyo) and with
// interpolateParams (the text protocol: every value as text) as it reads
// the default, and writes the same rows; on PostgreSQL, a session whose
// TimeZone is Asia/Tokyo reads and writes the timestamptz columns as one
// in UTC does.
func TestDSNVariants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	e := newEnv(t)
	variants := []struct {
		name string
		b    backend
		open func(t *testing.T) *sql.DB
	}{
		{"parseTime", mariadb, func(t *testing.T) *sql.DB {
			return open(t, func(c *mysql.Config) { c.ParseTime, c.Loc = true, tokyo })
		}},
		{"interpolateParams", mariadb, func(t *testing.T) *sql.DB {
			return open(t, func(c *mysql.Config) { c.InterpolateParams = true })
		}},
		{"both", mariadb, func(t *testing.T) *sql.DB {
			return open(t, func(c *mysql.Config) { c.ParseTime, c.Loc, c.InterpolateParams = true, tokyo, true })
		}},
		{"TimeZone", postgres, func(t *testing.T) *sql.DB { return openPG(t, map[string]string{"timezone": "Asia/Tokyo"}) }},
	}
	for _, vr := range variants {
		t.Run(vr.name, func(t *testing.T) {
			t.Parallel()
			db := vr.open(t)
			for _, k := range kindsOn(vr.b) {
				f := e.table(t, k)
				ref := f.store(t, sqlstore.Options{Now: clock(now)})
				vf := *f
				vf.db = db
				st := vf.at(t, now.Add(time.Minute))
				s := condtest.NewSession(t, now, time.Hour, "n", 1)
				if err := ref.Set(ctx, "ref", s); err != nil {
					t.Fatal(err)
				}
				if err := vf.at(t, now).Set(ctx, "v", s); err != nil {
					t.Fatal(err)
				}
				if a, b := f.columns(t, ref, "ref"), f.columns(t, ref, "v"); a != b {
					t.Fatalf("%s: rows differ: %s / %s", k.name, a, b)
				}
				got, v, err := st.GetVersion(ctx, "ref")
				if err != nil || !v.Touched.Equal(now) {
					t.Fatalf("%s: GetVersion: Touched %v (%v), want %v", k.name, v.Touched, err, now)
				}
				_ = got.Set("n", 2)
				if _, err := st.SetIf(ctx, "ref", got, v); err != nil {
					t.Fatalf("%s: SetIf: %v", k.name, err)
				}
				got.Touch(now.Add(time.Minute))
				if err := st.Touch(ctx, "ref", got); err != nil {
					t.Fatalf("%s: Touch: %v", k.name, err)
				}
				if _, v, _ := st.GetVersion(ctx, "ref"); !v.Touched.Equal(now.Add(time.Minute)) {
					t.Fatalf("%s: Touched after Touch %v", k.name, v.Touched)
				}
				late := vf.at(t, now.Add(3*time.Hour))
				if _, err := late.Get(ctx, "ref"); !errors.Is(err, sessionbridge.ErrNotFound) {
					t.Fatalf("%s: expired row: %v", k.name, err)
				}
				if n, err := late.Prune(ctx); err != nil || n != 2 {
					t.Fatalf("%s: Prune %d %v, want both rows", k.name, n, err)
				}
			}
		})
	}
}

// TestIDCase: connect-session-knex's and connect-session-sequelize's id
// columns on MariaDB take the table's default collation (here
// utf8mb4_general_ci), so an id differing only in case finds the same
// row, for Node's get as for Go's; express-mysql-session's (utf8mb4_bin)
// does not, nor does any id on PostgreSQL or SQLite.
func TestIDCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			if err := st.Set(ctx, "CaseSensitiveID", condtest.NewSession(t, time.Now(), time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err := st.Get(ctx, "casesensitiveid")
			nodeFound := str(t, f.node(t).do(t, "get", map[string]any{"store": f.spec(nil), "sid": "casesensitiveid"})) != ""
			want := k.db == mariadb && k.pkg != "express-mysql-session"
			if (err == nil) != want || nodeFound != want {
				t.Fatalf("an id differing in case: Go %v, Node found %t; want found %t", err, nodeFound, want)
			}
		})
	}
}
