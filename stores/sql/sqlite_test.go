package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestConnectSQLite3Numbers: connect-sqlite3's expired has no type, so
// what is bound is what is stored. node-sqlite3 binds a JavaScript number
// as an INTEGER when it fits in 32 bits and as a REAL otherwise; Go's row
// holds the same storage class as Node's (quote() shows it: 5000 and
// 1796209200500.0). The control: an expiry stored as TEXT sorts after
// every number, so that row, an hour expired, is still live for Node's
// get and survives its cleanup; Go never writes one.
func TestConnectSQLite3Numbers(t *testing.T) {
	t.Parallel()
	k := kindNamed("connect-sqlite3")
	f := newEnv(t).table(t, k)
	now := time.Date(2026, 12, 2, 10, 0, 0, 500e6, time.UTC)
	st := f.store(t, sqlstore.Options{Now: clock(now)})
	node := f.node(t)
	sp := f.spec(nil)
	ctx := context.Background()
	for _, c := range []struct {
		rec, want string
	}{
		{record(time.UnixMilli(5000), 3600000, `"n":1`), "expired=5000"}, // an INTEGER
		{record(now.Add(time.Hour), 3600000, `"n":2`), "expired=1796209200500.0"},
	} {
		node.do(t, "set", at(now, map[string]any{"store": sp, "sid": "node", "record": c.rec}))
		s, err := sessionjson.Decode([]byte(c.rec))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "go", s); err != nil {
			t.Fatal(err)
		}
		nc, gc := f.columns(t, st, "node"), f.columns(t, st, "go")
		if nc != c.want || gc != c.want {
			t.Fatalf("Node's row %s, Go's %s; want %s", nc, gc, c.want)
		}
	}

	// The control: a TEXT expiry an hour past.
	_, id, data, exp := sqlstore.Names(st)
	tbl, _, _, _ := sqlstore.Names(st)
	past := now.Add(-time.Hour).UnixMilli()
	rec := record(now.Add(-time.Hour), 3600000, `"n":3`)
	if _, err := f.db.Exec("INSERT INTO "+tbl+" ("+id+", "+exp+", "+data+") VALUES ('text', CAST(? AS TEXT), ?)", past, rec); err != nil {
		t.Fatal(err)
	}
	if got := str(t, node.do(t, "get", at(now, map[string]any{"store": sp, "sid": "text"}))); got != rec {
		t.Fatalf("Node's get of a TEXT expiry an hour past: %q; the control shows nothing", got)
	}
	node.do(t, "prune", at(now, map[string]any{"store": sp}))
	if _, _, ok := f.raw(t, st, "text"); !ok {
		t.Fatal("Node's cleanup deleted the TEXT expiry: the control shows nothing")
	}
	if _, err := st.Get(ctx, "text"); err != nil {
		t.Fatalf("Go reads that row as Node does (live): %v", err)
	}
	t.Logf("a TEXT expiry an hour past is live for Node and survives its cleanup; Go stores numbers")
}
