package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"go.uber.org/goleak"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/socketauth"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// quietRedis silences go-redis's logging of failed dials (thousands of
// lines during a failover) for the test.
func quietRedis(t *testing.T) {
	logging.Disable()
	t.Cleanup(logging.Enable)
}

// leakCheck snapshots the goroutines running now; call the function it
// returns once every client, server and Node app made since is closed.
func leakCheck(t *testing.T) func() {
	before := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		http.DefaultClient.CloseIdleConnections() // the Node apps' test client
		goleak.VerifyNone(t, before)
	}
}

// waitTimeout is the WaitTimeout of the writers that wait for a replica:
// shorter than the calls' deadline, so that a write no replica
// acknowledged fails as ErrNotReplicated, not as a deadline.
const waitTimeout = 200 * time.Millisecond

// writers are the Go writers of a failover run on client: one as
// connect-redis writes, one that waits for a replica.
func writers(c redis.UniversalClient) []faulttest.Writer {
	return []faulttest.Writer{
		{Name: "plain", Store: redisstore.New(c, redisstore.Options{})},
		{Name: "WAIT 1", Store: redisstore.New(c, redisstore.Options{WaitReplicas: 1, WaitTimeout: waitTimeout})},
	}
}

// TestFailover runs the Redis failovers under load, a Sentinel setup and
// a Cluster with replicas side by side (each with its own private servers,
// Node app and Go clients), and then checks that closing the clients left
// no goroutine behind.
func TestFailover(t *testing.T) {
	quietRedis(t)
	verify := leakCheck(t)
	t.Run("setups", func(t *testing.T) {
		t.Run("sentinel", func(t *testing.T) { t.Parallel(); sentinelFailovers(t) })
		t.Run("cluster", func(t *testing.T) { t.Parallel(); clusterFailovers(t) })
	})
	verify()
}

// sentinelFailovers: on one Sentinel setup (a master, a replica, three
// sentinels), one Go FailoverClient and the Node app on node-redis's
// createSentinel, under a steady load of Node logins, Go reads and Go
// writes (RunFailover):
//
//   - the master is killed; the sentinels promote the replica;
//   - the new master is killed while its replica lags 300 ms behind
//     (faulttest's KillMasterLagging), so the promoted replica lacks the
//     writes of those 300 ms: Node's and the plain writer's are lost, the
//     writes that wait for a replica fail (503) instead, and none of them
//     is lost.
//
// After each, the killed master comes back as a replica, and a socket
// Tracker following the store's feed since before the first failover still
// revokes on a Node logout. Then Options.WaitReplicas is checked on the
// setup (checkWaitReplicas).
func sentinelFailovers(t *testing.T) {
	s := faulttest.StartSentinel(t)
	node := faulttest.StartNode(t, map[string]string{"STORE": "redis-sentinel", "REDIS_SENTINELS": strings.Join(s.SentinelAddrs(), ","), "REDIS_MASTER_NAME": faulttest.MasterName})
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: faulttest.MasterName, SentinelAddrs: s.SentinelAddrs(), ContextTimeoutEnabled: true})
	defer c.Close()
	st := redisstore.New(c, redisstore.Options{})
	w := startWatch(t, st)
	defer w.stop()
	run := func(name string, fault func() *faulttest.Server) faulttest.FailoverReport {
		var killed *faulttest.Server
		rep := faulttest.RunFailover(t, faulttest.Failover{
			Name:    name,
			Store:   st,
			Writers: writers(c),
			Node:    node,
			Fault:   func() { killed = fault() },
			Settle:  func() { s.AwaitFailover(killed); s.Restart(killed) },
		})
		w.assertRevokes(t, node, func(string) bool { return true })
		return rep
	}
	t.Run("master killed", func(t *testing.T) {
		run("sentinel: master killed", func() *faulttest.Server { m := s.Master(); m.Stop(); return m })
	})
	t.Run("replica behind", func(t *testing.T) {
		rep := run("sentinel: master killed, replica 300 ms behind", func() *faulttest.Server { return s.KillMasterLagging(300 * time.Millisecond) })
		if rep.Lost["WAIT 1"] != 0 {
			t.Errorf("%d of the writes a replica acknowledged were lost", rep.Lost["WAIT 1"])
		}
		if rep.Lost["plain"] == 0 {
			t.Errorf("no plain write was lost although the replica missed the last 300 ms: the scenario did not happen")
		}
	})
	t.Run("WaitReplicas", func(t *testing.T) {
		r := s.Nodes[0]
		if r == s.Master() {
			r = s.Nodes[1]
		}
		checkWaitReplicas(t, c, r)
	})
}

// clusterFailovers: the same on one Cluster with replicas (three masters,
// three replicas), one Go ClusterClient and the Node app on node-redis's
// createCluster:
//
//   - a manual failover (CLUSTER FAILOVER on a replica): the master hands
//     its slots over and becomes a replica, without a crash;
//   - the new master of those slots is killed; its replica (the old
//     master) takes them back, and the killed node comes back as a
//     replica.
//
// After each, a Node logout of a session on the slots that moved still
// revokes through the feed, which must have followed them. Then
// Options.WaitReplicas is checked on the master of its keys.
func clusterFailovers(t *testing.T) {
	c := faulttest.StartReplicaCluster(t)
	node := faulttest.StartNode(t, map[string]string{"STORE": "redis-cluster", "REDIS_CLUSTER_ADDRS": strings.Join(c.Addrs(), ",")})
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	defer cc.Close()
	st := redisstore.New(cc, redisstore.Options{})
	w := startWatch(t, st)
	defer w.stop()
	run := func(name string, kill bool) {
		master := c.MasterFor(st.Key("probe"))
		replica := c.ReplicaOf(master)
		fault := func() { c.Failover(replica) }
		settle := func() { c.AwaitPromoted(master, replica) }
		if kill {
			fault = master.Stop
			settle = func() { c.AwaitPromoted(master, replica); c.Restart(master) }
		}
		faulttest.RunFailover(t, faulttest.Failover{
			Name:    name,
			Store:   st,
			Writers: writers(cc),
			Node:    node,
			Fault:   fault,
			Settle:  settle,
		})
		w.assertRevokes(t, node, func(sid string) bool { return c.MasterFor(st.Key(sid)) == replica })
	}
	t.Run("manual failover", func(t *testing.T) { run("cluster: manual failover", false) })
	t.Run("master killed", func(t *testing.T) { run("cluster: master killed", true) })
	t.Run("WaitReplicas", func(t *testing.T) {
		checkWaitReplicas(t, cc, c.ReplicaOf(c.MasterFor(waitPrefix+"a")))
	})
}

// watch is a socket Tracker following a store's feed.
type watch struct {
	a    *socketauth.Authorizer
	tr   *socketauth.Tracker
	stop func()
}

// startWatch starts a socket Tracker on st's feed (notifications turned on
// with Configure), waits until it reports a write, and returns it; stop
// ends the watch and waits for it.
func startWatch(t *testing.T, st *redisstore.Store) *watch {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{faulttest.Secret}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	a, err := socketauth.New(socketauth.Config{Source: b})
	if err != nil {
		t.Fatal(err)
	}
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	seen := make(chan struct{}, 1)
	feed := st.Feed(redisstore.FeedOptions{Configure: true})
	go func() {
		// Tracker.Watch over a feed that also signals the first event.
		done <- tr.Watch(ctx, feedFunc(func(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
			return feed.Watch(ctx, func(ev sessionbridge.SessionEvent) {
				select {
				case seen <- struct{}{}:
				default:
				}
				notify(ev)
			})
		}))
	}()
	w := &watch{a: a, tr: tr, stop: func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Tracker.Watch: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Tracker.Watch did not return after its context ended")
		}
	}}
	probe, _ := b.NewSession()
	for i := 0; ; i++ {
		if err := b.Save(ctx, probe); err != nil {
			t.Fatal(err)
		}
		select {
		case <-seen:
			return w
		case err := <-done:
			t.Fatalf("Tracker.Watch returned early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if i == 50 {
			t.Fatal("the feed reported no write within 5s")
		}
	}
}

// feedFunc is a SessionFeed made of a function.
type feedFunc func(ctx context.Context, notify func(sessionbridge.SessionEvent)) error

func (f feedFunc) Watch(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
	return f(ctx, notify)
}

// assertRevokes logs a user in through Node (again, until want accepts
// the session id: on a Cluster, a session on the promoted master), tracks
// a socket authorized by that login, logs the user out through Node, and
// fails the test unless the Tracker revokes the socket through the feed
// alone.
func (w *watch) assertRevokes(t *testing.T, node *nodetest.App, want func(sid string) bool) {
	t.Helper()
	for range 50 {
		cookie := node.Login("alice", "secret")
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		r.Header.Set("Cookie", "connect.sid="+cookie)
		res, err := w.a.Authorize(context.Background(), r, nil)
		if err != nil {
			t.Fatalf("authorize a Node login after the failover: %v", err)
		}
		if !want(res.Session.ID) {
			continue
		}
		revoked := make(chan string, 1)
		untrack := w.tr.Track(res, func(reason string) { revoked <- reason })
		defer untrack()
		start := time.Now()
		node.Logout(cookie)
		select {
		case reason := <-revoked:
			t.Logf("a Node logout after the failover revoked the socket in %v (%s)", time.Since(start).Round(time.Millisecond), reason)
		case <-time.After(3 * time.Second):
			t.Error("a Node logout after the failover did not revoke the socket within 3 s: the feed does not follow the new master")
		}
		return
	}
	t.Fatal("no Node login landed where wanted in 50 tries")
}

// onReplica returns the value the replica holds for key ("" for none).
func onReplica(t *testing.T, replica *faulttest.Server, key string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer c.Close()
	ctx := context.Background()
	var get *redis.StringCmd
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "readonly") // a Cluster replica answers reads only after READONLY
		get = p.Get(ctx, key)
		return nil
	})
	v, err := get.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("read the replica: %v", err)
	}
	return v
}

// checkWaitReplicas checks Options.WaitReplicas through client on the
// master of its keys, whose replica is replica: Set, SetIf and Destroy return once the replica
// has the write; while the replica does not acknowledge (frozen) they
// fail with ErrNotReplicated (a store error for the Bridge), bounded by
// WaitTimeout or a shorter context deadline, the master holding the write;
// Touch never waits, and a conflict stays ErrConflict. Every key is on one
// slot (a hash tag, waitPrefix).
func checkWaitReplicas(t *testing.T, client redis.UniversalClient, replica *faulttest.Server) {
	ctx := context.Background()
	st := redisstore.New(client, redisstore.Options{Prefix: waitPrefix, WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	for _, id := range []string{"a", "b"} {
		if err := st.Set(ctx, id, sess); err != nil {
			t.Fatal(err)
		}
		if onReplica(t, replica, st.Key(id)) == "" {
			t.Fatalf("Set %s returned before the replica had it", id)
		}
	}
	_, vb, err := st.GetVersion(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}

	replica.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			replica.Thaw()
		}
	}()
	notReplicated := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, redisstore.ErrNotReplicated) {
			t.Errorf("%s with the replica frozen: %v, want ErrNotReplicated", what, err)
		}
	}
	notReplicated("Set", st.Set(ctx, "c", sess))
	if _, err := st.Get(ctx, "c"); err != nil {
		t.Errorf("the master does not hold the write that was not replicated: %v", err)
	}
	// A deadline shorter than WaitTimeout bounds the wait (WAIT asks for
	// less; the error is ErrNotReplicated, or the deadline's when the
	// round trip took the rest). A hang check, not a speed target.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	err = st.Set(short, "c", sess)
	cancel()
	if err == nil || errors.Is(err, sessionbridge.ErrNotFound) || time.Since(start) > time.Second {
		t.Errorf("Set with a 100 ms deadline and the replica frozen: %v after %v, want a store error within the deadline", err, time.Since(start))
	}
	s, _ := b.NewSession()
	if err := b.Save(ctx, s); !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, redisstore.ErrNotReplicated) {
		t.Errorf("Bridge.Save with the replica frozen: %v, want ErrStore and ErrNotReplicated", err)
	}
	_, err = st.SetIf(ctx, "b", sess, vb)
	notReplicated("SetIf", err)
	if _, err := st.SetIf(ctx, "b", sess, sessionbridge.Version{Tag: "stale"}); !errors.Is(err, sessionbridge.ErrConflict) || errors.Is(err, redisstore.ErrNotReplicated) {
		t.Errorf("SetIf of a stale version with the replica frozen: %v, want ErrConflict only", err)
	}
	notReplicated("Destroy", st.Destroy(ctx, "a"))
	if err := st.Touch(ctx, "b", sess); err != nil {
		t.Errorf("Touch with the replica frozen: %v, want no wait", err)
	}
	replica.Thaw()
	thawed = true

	if err := st.Set(ctx, "c", sess); err != nil {
		t.Errorf("Set after the thaw: %v", err)
	}
	_, vb, err = st.GetVersion(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetIf(ctx, "b", sess, vb); err != nil {
		t.Errorf("SetIf after the thaw: %v", err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := st.Destroy(ctx, id); err != nil {
			t.Errorf("Destroy after the thaw: %v", err)
		}
		if onReplica(t, replica, st.Key(id)) != "" {
			t.Errorf("Destroy %s returned before the replica deleted it", id)
		}
	}
}

// waitPrefix is checkWaitReplicas's key prefix: a hash tag, so that every
// key is on one slot of a Cluster.
const waitPrefix = "{sbwait}:"

// BenchmarkSetWait is Set of a typical session on a master with one
// replica (a private Sentinel setup), as connect-redis writes (plain) and
// waiting for the replica (WaitReplicas 1): the cost of WAIT per write.
func BenchmarkSetWait(b *testing.B) {
	logging.Disable()
	defer logging.Enable()
	s := faulttest.StartSentinel(b)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: faulttest.MasterName, SentinelAddrs: s.SentinelAddrs(), ContextTimeoutEnabled: true})
	defer c.Close()
	ctx := context.Background()
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = sess.Set("passport", map[string]any{"user": 7})
	for _, bc := range []struct {
		name string
		opts redisstore.Options
	}{
		{"plain", redisstore.Options{}},
		{"WAIT_1", redisstore.Options{WaitReplicas: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := redisstore.New(c, bc.opts)
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Set(ctx, "bench", sess); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
