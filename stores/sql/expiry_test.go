package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// lastLive is the last instant a row whose cookie expires at exp is live
// by k's package, and the last instant its cleanup keeps it.
func lastLive(k kind, exp time.Time) (live, kept time.Time) {
	sec := exp.Truncate(time.Second)
	switch k.name {
	case "knex", "sequelize", "knex-sqlite":
		// A DATETIME, or SQLite's datetime(): the whole second of E.
		return sec.Add(999 * time.Millisecond), sec.Add(999 * time.Millisecond)
	case "express-mysql-session":
		// expires = Math.round(E/1000); live while Math.round(now/1000) <= expires
		l := exp.Round(time.Second).Add(499 * time.Millisecond)
		return l, l
	case "better-sqlite3-session-store":
		// live while datetime(now) < datetime(expire); deleted once
		// datetime(now) > datetime(expire)
		return sec.Add(-time.Millisecond), sec.Add(999 * time.Millisecond)
	}
	// timestamptz, sequelize's text on SQLite, connect-sqlite3's
	// milliseconds: to the millisecond.
	return exp, exp
}

// TestExpiryBoundary: the instant a session ends, as each npm package
// decides it, and as Go does. A session whose cookie expires at E is
// written by Node; then, at instants around the expiry Node stored, Go's
// Get must answer as Node's get (connect-session-knex: CAST(now AS
// DATETIME) <= expired, CAST(now as timestamp with time zone) <= expired,
// datetime(now) <= datetime(expired); express-mysql-session: expires >=
// Math.round(now / 1000); connect-sqlite3: now <= expired;
// better-sqlite3-session-store: datetime(now) < datetime(expire)), and
// Go's Prune must keep exactly the rows the package's cleanup keeps.
// connect-session-sequelize's get never checks: there Node's cleanup is
// the reference for Go's Get.
func TestExpiryBoundary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			node := f.node(t)
			sp := f.spec(nil)
			ctx := context.Background()
			for _, frac := range []time.Duration{400 * time.Millisecond, 600 * time.Millisecond} {
				exp := base.Add(time.Hour + frac)
				rec := record(exp, 3600000, `"passport":{"user":7}`)
				last, lastKept := lastLive(k, exp)
				var report []string
				for _, d := range []time.Duration{-time.Second, -time.Millisecond, 0, time.Millisecond, 499 * time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond, time.Second} {
					for _, ref := range []time.Time{last, lastKept} {
						if ref == lastKept && lastKept.Equal(last) {
							continue
						}
						now := ref.Add(d)
						want, wantKept := !now.After(last), !now.After(lastKept)
						node.do(t, "set", at(base, map[string]any{"store": sp, "sid": "b", "record": rec}))
						reader := f.at(t, now)
						_, err := reader.Get(ctx, "b")
						goLive := err == nil
						if err != nil && !errors.Is(err, sessionbridge.ErrNotFound) {
							t.Fatal(err)
						}
						nodeGet := str(t, node.do(t, "get", at(now, map[string]any{"store": sp, "sid": "b"}))) != ""
						// The package's cleanup at now, then Go's Prune at now.
						node.do(t, "prune", at(now, map[string]any{"store": sp}))
						_, _, nodeKept := f.raw(t, st, "b")
						node.do(t, "set", at(base, map[string]any{"store": sp, "sid": "b", "record": rec}))
						n, err := reader.Prune(ctx)
						if err != nil {
							t.Fatal(err)
						}
						_, _, goKept := f.raw(t, st, "b")
						if goLive != want || nodeKept != wantKept || goKept != wantKept || (n == 1) == wantKept {
							t.Fatalf("E=%s, now %s (last live instant %s, last kept %s): Go Get live %t (want %t), Node's cleanup kept %t, Go's Prune kept %t (deleted %d); want kept %t",
								exp.Format("15:04:05.000"), now.Format("15:04:05.000"), last.Format("15:04:05.000"), lastKept.Format("15:04:05.000"),
								goLive, want, nodeKept, goKept, n, wantKept)
						}
						if !k.nodeChecks {
							if !nodeGet {
								t.Fatalf("now %s: connect-session-sequelize's get refused the row: it never checks expiry", now.Format("15:04:05.000"))
							}
						} else if nodeGet != goLive {
							t.Fatalf("E=%s, now %s: Node's get live %t, Go's %t", exp.Format("15:04:05.000"), now.Format("15:04:05.000"), nodeGet, goLive)
						}
						report = append(report, fmt.Sprintf("%s:%t/%t", now.Format("05.000"), goLive, goKept))
					}
				}
				node.do(t, "set", at(base, map[string]any{"store": sp, "sid": "b", "record": rec}))
				_, stored, _ := f.raw(t, st, "b")
				t.Logf("cookie.expires %s, stored %s: live/kept at %s", exp.Format("15:04:05.000"), stored, strings.Join(report, " "))
			}
		})
	}
}

// TestTouched: Version.Touched is when the expiry column was last set, by
// Set, Touch or SetIf, minus the session's lifetime: originalMaxAge, or
// TTL for a browser-session cookie; to within the column's whole
// second, never after now.
func TestTouched(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) // whole seconds: the columns store exact values
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			at := func(d time.Duration) *sqlstore.Store { return f.at(t, t0.Add(d)) }
			f.store(t, sqlstore.Options{})
			st := at(0)
			s := condtest.NewSession(t, t0, time.Hour)
			if err := st.Set(ctx, "a", s); err != nil {
				t.Fatal(err)
			}
			if err := st.Set(ctx, "browser", condtest.NewSession(t, t0, 0)); err != nil {
				t.Fatal(err)
			}
			later := at(10 * time.Minute)
			if _, v, err := later.GetVersion(ctx, "a"); err != nil || !v.Touched.Equal(t0) {
				t.Fatalf("Touched after Set %v (%v), want %v", v.Touched, err, t0)
			}
			if _, v, err := later.GetVersion(ctx, "browser"); err != nil || !v.Touched.Equal(t0) {
				t.Fatalf("browser-session Touched after Set %v (%v), want %v (expiry minus one day)", v.Touched, err, t0)
			}
			s.Touch(t0.Add(10 * time.Minute))
			if err := later.Touch(ctx, "a", s); err != nil {
				t.Fatal(err)
			}
			got, v, err := at(20*time.Minute).GetVersion(ctx, "a")
			if err != nil || !v.Touched.Equal(t0.Add(10*time.Minute)) {
				t.Fatalf("Touched after Touch %v (%v), want %v", v.Touched, err, t0.Add(10*time.Minute))
			}
			got.Touch(t0.Add(20 * time.Minute))
			v2, err := at(20*time.Minute).SetIf(ctx, "a", got, v)
			if err != nil || !v2.Touched.Equal(t0.Add(20*time.Minute)) {
				t.Fatalf("SetIf returned Touched %v (%v)", v2.Touched, err)
			}
			if _, v, _ := at(30*time.Minute).GetVersion(ctx, "a"); !v.Touched.Equal(v2.Touched) {
				t.Fatalf("Touched after SetIf %v, want %v", v.Touched, v2.Touched)
			}
			// A reader whose clock is behind never gets a Touched after its now.
			if _, v, _ := at(-time.Minute).GetVersion(ctx, "a"); v.Touched.After(t0.Add(-time.Minute)) {
				t.Fatalf("Touched %v is after the reader's now", v.Touched)
			}
		})
	}
}
