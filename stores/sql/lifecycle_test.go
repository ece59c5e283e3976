package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// member returns the JSON of key in a record Node read, "" when absent.
func member(t *testing.T, rec, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(rec), &m); err != nil {
		t.Fatalf("%q: %v", rec, err)
	}
	return string(m[key])
}

// TestLifecycleWithNode: a Go service (a Bridge) and the Node store on
// one session, as express-session peers, for every preset:
//   - Node changes one key while Go changes another, between Go's load and
//     its save, round after round: with ConflictMerge both survive; with
//     ConflictOverwrite (express-session's last writer wins) Node's is
//     lost, which shows the check can fail;
//   - a session used only through Go (KeepAlive, with and without
//     TouchAfter) for three times its maxAge stays alive for Node; idle
//     for a maxAge afterwards it ends for Node's get (for
//     connect-session-sequelize, whose get never checks expiry, for its
//     cleanup) and for Go.
func TestLifecycleWithNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Each check runs in a goroutine of its own: they mostly sleep, and
	// t.Parallel would run them two at a time on a two-core machine.
	var wg sync.WaitGroup
	for _, k := range kinds {
		wg.Go(func() {
			t.Run(k.name+"/ConcurrentChanges", func(t *testing.T) {
				f := e.table(t, k)
				st := f.store(t, sqlstore.Options{})
				for _, policy := range []sessionbridge.ConflictPolicy{sessionbridge.ConflictMerge, sessionbridge.ConflictOverwrite} {
					concurrent(t, f.node(t), st, f.spec(nil), policy)
				}
			})
		})
		for _, touchAfter := range []time.Duration{0, 500 * time.Millisecond} {
			wg.Go(func() {
				t.Run(fmt.Sprintf("%s/ActiveOnGo/TouchAfter=%v", k.name, touchAfter), func(t *testing.T) {
					f := e.table(t, k) // its own: sequelize's cleanup empties the table
					// and its own Node process: no wait behind the other checks
					activeOnGo(t, startNode(t, harnessOf(k)), k, f.store(t, sqlstore.Options{}), f.spec(nil), touchAfter)
				})
			})
		}
	}
	wg.Wait()
}

func concurrent(t *testing.T, node *nodeStores, st *sqlstore.Store, sp map[string]any, policy sessionbridge.ConflictPolicy) {
	ctx := context.Background()
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Conflict: policy})
	if err != nil {
		t.Fatal(err)
	}
	sid := fmt.Sprintf("concurrent-%d", policy)
	node.do(t, "set", map[string]any{"store": sp, "sid": sid, "record": record(time.Now().Add(time.Hour), 3600000, `"passport":{"user":7}`)})
	rounds := 20
	if policy == sessionbridge.ConflictOverwrite {
		rounds = 3 // the control: one lost change is enough
	}
	for i := 1; i <= rounds; i++ {
		err := b.Update(ctx, sid, func(s *sessionbridge.Session) error {
			if err := s.Record.Set("goKey", i); err != nil {
				return err
			}
			// Node, between Go's load and its save: express-session
			// loads the session, the handler changes it, it is saved.
			rec := str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid}))
			ns, err := sessionjson.Decode([]byte(rec))
			if err != nil {
				return err
			}
			if err := ns.Set("nodeKey", i); err != nil {
				return err
			}
			out, _ := ns.Encode()
			node.do(t, "set", map[string]any{"store": sp, "sid": sid, "record": string(out)})
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	rec := str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid}))
	goKey, nodeKey := member(t, rec, "goKey"), member(t, rec, "nodeKey")
	if goKey != fmt.Sprint(rounds) || member(t, rec, "passport") != `{"user":7}` {
		t.Fatalf("Go's change lost: %s", rec)
	}
	switch policy {
	case sessionbridge.ConflictMerge:
		if nodeKey != fmt.Sprint(rounds) {
			t.Fatalf("Node's concurrent change lost: %s", rec)
		}
		t.Logf("%d rounds of Node writing between Go's load and save: both changes survived every time", rounds)
	case sessionbridge.ConflictOverwrite:
		if nodeKey != "" {
			t.Fatalf("with ConflictOverwrite Node's change survived (%s): the merge check proves nothing", rec)
		}
	}
}

func activeOnGo(t *testing.T, node *nodeStores, k kind, st *sqlstore.Store, sp map[string]any, touchAfter time.Duration) {
	maxAge := 2 * time.Second
	if k.pkg == "better-sqlite3-session-store" {
		// Live while datetime(now) < datetime(expire): a row lives
		// between maxAge - 1 s and maxAge, and TouchAfter touches it
		// every two keep-alives at most. 3 s leave a margin.
		maxAge = 3 * time.Second
	}
	ctx := context.Background()
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st,
		Cookie: sessionbridge.CookieOptions{MaxAge: maxAge}, TouchAfter: touchAfter})
	if err != nil {
		t.Fatal(err)
	}
	sid := fmt.Sprintf("active-%d", touchAfter)
	node.do(t, "open", map[string]any{"store": sp})
	node.do(t, "set", map[string]any{"store": sp, "sid": sid,
		"record": record(time.Now().Add(maxAge), maxAge.Milliseconds(), `"passport":{"user":7}`)})
	requests := 0
	for end := time.Now().Add(3 * maxAge); time.Now().Before(end); requests++ {
		if err := b.KeepAlive(ctx, sid); err != nil {
			t.Fatalf("Go keep-alive %d: %v", requests, err)
		}
		time.Sleep(maxAge / 5)
	}
	if str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid})) == "" {
		t.Fatalf("Node lost the session after %d Go keep-alives over %v (maxAge %v)", requests, 3*maxAge, maxAge)
	}
	time.Sleep(maxAge + 1500*time.Millisecond)
	if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Go still reads the session idle for maxAge: %v", err)
	}
	if !k.nodeChecks {
		if str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid})) == "" {
			t.Fatal("connect-session-sequelize's get no longer serves the expired row: it was said never to check")
		}
		node.do(t, "prune", map[string]any{"store": sp})
	}
	if str(t, node.do(t, "get", map[string]any{"store": sp, "sid": sid})) != "" {
		t.Fatal("the session outlived maxAge without use for Node: the check above proves nothing")
	}
	t.Logf("alive for Node after %d Go-only keep-alives over 3 maxAges (TouchAfter %v); ended after maxAge idle", requests, touchAfter)
}
