package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestNodeParity: for the same session at the same instant, Go's Set and
// Touch leave the same row as the real npm package (Node's clock fixed
// through the Node CLI): the same expiry, in the column's own text, for
// cookies whose expires falls on each side of a half second, for a
// browser-session cookie (the package's default lifetime, or its
// expiration option), for 0 ms left, and for cookies past or far in the
// future. Each side then reads the other's row: Go byte for byte what
// Node stored, Node the record Go stored.
func TestNodeParity(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 250e6, time.UTC)
	hour := int64(time.Hour / time.Millisecond)
	type tcase struct {
		name string
		rec  string
	}
	cases := []tcase{
		{"expires .000", record(now.Add(time.Hour-250*time.Millisecond), hour, `"n":1`)},
		{"expires .499", record(now.Add(time.Hour+249*time.Millisecond), hour, `"n":2`)},
		{"expires .500", record(now.Add(time.Hour+250*time.Millisecond), hour, `"n":3`)},
		{"expires .999", record(now.Add(time.Hour+749*time.Millisecond), hour, `"n":4`)},
		{"browser-session", browserRecord(`"n":5`)},
		{"expires now (0 ms left)", record(now, hour, `"n":6`)},
		{"expired an hour ago", record(now.Add(-time.Hour), hour, `"n":7`)},
		{"unicode and escapes", record(now.Add(time.Hour), hour, `"note":"é😀`+"\u2028"+`<&>\"\\"`)},
	}
	for _, k := range kinds {
		for _, opts := range []map[string]any{nil, {"expiration": 7200000}} {
			if opts != nil && !k.options {
				continue // the package has no such option
			}
			name := k.name
			goOpts := sqlstore.Options{Now: clock(now)}
			if opts != nil {
				name += "/expiration"
				goOpts.TTL = 2 * time.Hour
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := e.table(t, k)
				st := f.store(t, goOpts)
				node := f.node(t)
				sp := f.spec(opts)
				for i, c := range cases {
					nsid, gsid := fmt.Sprintf("node-%d", i), fmt.Sprintf("go-%d", i)
					stored := str(t, node.do(t, "set", at(now, map[string]any{"store": sp, "sid": nsid, "record": c.rec})))
					if stored != c.rec {
						t.Fatalf("%s: Node stored %s, want %s", c.name, stored, c.rec)
					}
					s, err := sessionjson.Decode([]byte(c.rec))
					if err != nil {
						t.Fatal(err)
					}
					if err := st.Set(context.Background(), gsid, s); err != nil {
						t.Fatal(err)
					}
					nc, gc := f.columns(t, st, nsid), f.columns(t, st, gsid)
					if nc != gc {
						t.Fatalf("%s: after set, Node's row has %s, Go's %s", c.name, nc, gc)
					}
					nrec, _, _ := f.raw(t, st, nsid)
					grec, _, _ := f.raw(t, st, gsid)
					if nrec != c.rec || grec != c.rec {
						t.Fatalf("%s: stored records differ:\nNode %s\n  Go %s", c.name, nrec, grec)
					}
					// Each reads the other's row, at the same instant.
					got, err := st.Get(context.Background(), nsid)
					nodeGot := str(t, node.do(t, "get", at(now, map[string]any{"store": sp, "sid": gsid})))
					if c.name == "expired an hour ago" {
						if !errors.Is(err, sessionbridge.ErrNotFound) || (nodeGot != "" && k.nodeChecks) {
							t.Fatalf("%s: Go read %v, Node read %q; want neither", c.name, err, nodeGot)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s: Go cannot read Node's row: %v", c.name, err)
					}
					if b, _ := got.Encode(); string(b) != c.rec {
						t.Fatalf("%s: Go read %s, want %s", c.name, b, c.rec)
					}
					if nodeGot != c.rec {
						t.Fatalf("%s: Node read Go's row as %q, want %s", c.name, nodeGot, c.rec)
					}

					// Touch a minute later with a cookie rolled to then.
					later := now.Add(time.Minute)
					rolled := c.rec
					if s.Cookie.Expires != nil {
						s.Cookie.Expires = new(s.Cookie.Expires.Add(time.Minute))
						b, _ := s.Encode()
						rolled = string(b)
					}
					node.do(t, "touch", at(later, map[string]any{"store": sp, "sid": nsid, "record": rolled}))
					lst := f.open(t, sqlstore.Options{TTL: goOpts.TTL, Now: clock(later)})
					if err := lst.Touch(context.Background(), gsid, s); err != nil {
						t.Fatal(err)
					}
					nc2, gc2 := f.columns(t, st, nsid), f.columns(t, st, gsid)
					if nc2 != gc2 {
						t.Fatalf("%s: after touch, Node's row has %s, Go's %s", c.name, nc2, gc2)
					}
					if c.name == "expires .000" && nc2 == nc {
						t.Fatalf("%s: touch did not move the expiry (%s): the check proves nothing", c.name, nc2)
					}
					nrec2, _, _ := f.raw(t, st, nsid)
					grec2, _, _ := f.raw(t, st, gsid)
					if nrec2 != c.rec || grec2 != c.rec {
						t.Fatalf("%s: touch rewrote the record:\nNode %s\n  Go %s", c.name, nrec2, grec2)
					}
					t.Logf("%-24s set: %s; touch a minute later: %s", c.name, nc, nc2)
				}
			})
		}
	}
}

// TestHugeLifetimes: cookies that live 1000 years and 10^15 ms (year
// 33658). Where the npm package cannot store them (a DATETIME ends with
// 9999, express-mysql-session's int(11) unsigned with 2106, PostgreSQL
// does not parse toISOString's +033658) Node's set fails; where it stores
// a text SQLite's datetime() cannot read (+033658-..., NULL) or one that
// sorts wrong as text (sequelize's 33658-...), Node's row is never live
// or dies at the wrong time. Go stores the column's last instant there
// instead (PostgreSQL holds the year 33658: Go stores it), and Node reads
// that row as live.
func TestHugeLifetimes(t *testing.T) {
	e := newEnv(t)
	now := time.Now().Truncate(time.Millisecond)
	// Go's expiry where it departs from Node's.
	clamped := map[string]string{
		"knex":                         "9999-12-31 23:59:59",
		"express-mysql-session":        "4294967295",
		"sequelize":                    "9999-12-31 23:59:59",
		"knex-pg":                      "33658-09-27T01:46:40.000000Z",
		"sequelize-pg":                 "33658-09-27T01:46:40.000000Z",
		"knex-sqlite":                  "'9999-12-31T23:59:59.999Z'",
		"sequelize-sqlite":             "'9999-12-31 23:59:59.999 +00:00'",
		"connect-sqlite3":              "",
		"better-sqlite3-session-store": "'9999-12-31T23:59:59.999Z'",
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			node := f.node(t)
			sp := f.spec(nil)
			for _, ms := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
				exp := time.UnixMilli(now.UnixMilli() + ms)
				if ms == 1e15 {
					exp = time.UnixMilli(1e15) // the same year whenever the test runs
				}
				rec := record(exp, ms, `"passport":{"user":7}`)
				_, nodeErr := node.try(t, "set", map[string]any{"store": sp, "sid": "node", "record": rec})
				s, err := sessionjson.Decode([]byte(rec))
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Set(context.Background(), "go", s); err != nil {
					t.Fatalf("maxAge %d: Go's set: %v", ms, err)
				}
				_, goExp, _ := f.raw(t, st, "go")
				_, nodeExp, nodeRow := f.raw(t, st, "node")
				if _, err := st.Get(context.Background(), "go"); err != nil {
					t.Fatalf("maxAge %d: Go cannot read its row: %v", ms, err)
				}
				if str(t, node.do(t, "get", map[string]any{"store": sp, "sid": "go"})) == "" {
					t.Fatalf("maxAge %d: Node does not read Go's row (expiry %s)", ms, goExp)
				}
				nodeLive := nodeRow && str(t, node.do(t, "get", map[string]any{"store": sp, "sid": "node"})) != ""
				t.Logf("maxAge %d ms: Node's set: error %v, expiry %s, read back by Node %t; Go's expiry %s", ms, nodeErr, nodeExp, nodeLive, goExp)
				switch {
				case nodeErr == nil && nodeRow && nodeExp == goExp:
					if !nodeLive && k.nodeChecks {
						t.Fatalf("maxAge %d: the same row as Node's, which Node cannot read", ms)
					}
				case goExp != clamped[k.name]:
					t.Fatalf("maxAge %d: Node stored %q (error %v), Go %s; want the same, or Go's %s", ms, nodeExp, nodeErr, goExp, clamped[k.name])
				}
				_ = st.Destroy(context.Background(), "go")
				node.do(t, "destroy", map[string]any{"store": sp, "sid": "node"})
			}
		})
	}
}

// TestNodeConditional: the Version of a row Node wrote is good for SetIf,
// and a Node set between Go's GetVersion and SetIf is a conflict that
// leaves Node's write; re-read and re-applied, both changes survive and
// Node reads them.
func TestNodeConditional(t *testing.T) {
	e := newEnv(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			node := f.node(t)
			sp := f.spec(nil)
			const sid = "conditional-node"
			now := time.Now()
			node.do(t, "set", map[string]any{"store": sp, "sid": sid, "record": record(now.Add(time.Hour), 3600000, `"passport":{"user":7}`)})
			s, v := condtest.GetVersion(t, st, sid)
			if rec, _, _ := f.raw(t, st, sid); v.Tag != rec {
				t.Fatalf("Tag %s is not the record stored %s", v.Tag, rec)
			}
			if d := time.Since(v.Touched); d < -time.Second || d > 5*time.Second {
				t.Fatalf("Touched of Node's row is %v ago, want about now", d)
			}
			_ = s.Set("fromGo", 1)
			if _, err := st.SetIf(context.Background(), sid, s, v); err != nil {
				t.Fatalf("SetIf on Node's row: %v", err)
			}
			s, v = condtest.GetVersion(t, st, sid)
			changed, _ := s.Encode()
			nodeRec := strings.Replace(string(changed), `"fromGo":1`, `"fromGo":1,"fromNode":2`, 1)
			node.do(t, "set", map[string]any{"store": sp, "sid": sid, "record": nodeRec})
			_ = s.Set("fromGo", 3)
			_, err := st.SetIf(context.Background(), sid, s, v)
			condtest.WantConflict(t, err, "after Node's set")
			condtest.NotNamed(t, err, sid)
			if rec, _, _ := f.raw(t, st, sid); rec != nodeRec {
				t.Fatalf("Node's write was overwritten: %s", rec)
			}
			s, v = condtest.GetVersion(t, st, sid)
			_ = s.Set("fromGo", 3)
			if _, err := st.SetIf(context.Background(), sid, s, v); err != nil {
				t.Fatalf("SetIf after re-reading: %v", err)
			}
			got := str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid}))
			if !strings.Contains(got, `"fromGo":3`) || !strings.Contains(got, `"fromNode":2`) {
				t.Fatalf("Node reads %s", got)
			}
			// Node's destroy: Go's SetIf does not bring the session back.
			s, v = condtest.GetVersion(t, st, sid)
			node.do(t, "destroy", map[string]any{"store": sp, "sid": sid})
			_, err = st.SetIf(context.Background(), sid, s, v)
			condtest.WantConflict(t, err, "after Node's destroy")
			if _, err := st.Get(context.Background(), sid); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("after Node's destroy and Go's SetIf: %v", err)
			}
		})
	}
}
