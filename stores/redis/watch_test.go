package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestFeed: the store's feed reports a write as a change and a destroy and
// an expiry as the session's end, ignores touches and other prefixes' keys,
// and stops with its context; on a single node and on every master of a
// Cluster.
func TestFeed(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) redis.UniversalClient{"single": single, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			st := redisstore.New(c, redisstore.Options{Prefix: prefix(t)})
			other := redisstore.New(c, redisstore.Options{Prefix: "other:" + prefix(t)})
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events := make(chan sessionbridge.SessionEvent, 64)
			done := make(chan error, 1)
			go func() {
				done <- st.Feed(redisstore.FeedOptions{Configure: true}).Watch(ctx, func(ev sessionbridge.SessionEvent) { events <- ev })
			}()
			seen := map[string]bool{} // every id reported
			// next returns the next event for sid.
			next := func(sid string, within time.Duration) (sessionbridge.SessionEvent, bool) {
				t.Helper()
				timeout := time.After(within)
				for {
					select {
					case ev := <-events:
						seen[ev.ID] = true
						if ev.ID == sid {
							return ev, true
						}
					case err := <-done:
						t.Fatalf("Watch returned early: %v", err)
					case <-timeout:
						return sessionbridge.SessionEvent{}, false
					}
				}
			}

			// The subscription starts asynchronously: write a probe session
			// until its write is reported.
			probe, _ := b.NewSession()
			for i := 0; ; i++ {
				if err := b.Save(ctx, probe); err != nil {
					t.Fatal(err)
				}
				if _, ok := next(probe.ID, 100*time.Millisecond); ok {
					break
				}
				if i == 50 {
					t.Fatal("the feed reported no write within 5s")
				}
			}

			s, _ := b.NewSession()
			stranger, _ := b.NewSession()
			if err := other.Set(ctx, stranger.ID, stranger.Record); err != nil {
				t.Fatal(err)
			}
			if err := b.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			if ev, ok := next(s.ID, 3*time.Second); !ok || ev.Ended {
				t.Fatalf("write: %+v %v, want a change", ev, ok)
			}
			if err := b.Touch(ctx, s); err != nil { // EXPIRE: no change
				t.Fatal(err)
			}
			if err := b.Destroy(ctx, s); err != nil {
				t.Fatal(err)
			}
			if ev, ok := next(s.ID, 3*time.Second); !ok || !ev.Ended {
				t.Fatalf("after touch and destroy: %+v %v, want the end (a touch is no change)", ev, ok)
			}

			expiring, _ := b.NewSession() // lives one second
			if err := b.Save(ctx, expiring); err != nil {
				t.Fatal(err)
			}
			if ev, ok := next(expiring.ID, 3*time.Second); !ok || ev.Ended {
				t.Fatalf("write: %+v %v, want a change", ev, ok)
			}
			if ev, ok := next(expiring.ID, 5*time.Second); !ok || !ev.Ended {
				t.Fatalf("expiry: %+v %v, want the end", ev, ok)
			}

			// Nothing was reported for the other prefix's key.
			for len(events) > 0 {
				seen[(<-events).ID] = true
			}
			if seen[stranger.ID] {
				t.Fatal("the feed reported a key of another prefix")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Watch after cancel: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Watch did not return after its context ended")
			}
		})
	}
}

// ExampleStore_Feed shows the feed's use: socketauth.Tracker.Watch
// revokes the sockets of a session as soon as it ends. (Not run: it needs
// a Redis server.)
func ExampleStore_Feed() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	store := redisstore.New(rdb, redisstore.Options{})
	feed := store.Feed(redisstore.FeedOptions{})
	// With socketauth: go tracker.Watch(ctx, feed)
	err := feed.Watch(context.Background(), func(ev sessionbridge.SessionEvent) {
		fmt.Println("session ended:", ev.Ended) // never log ev.ID
	})
	fmt.Println(err)
}

// TestFeedManyEvents: a burst of writes and deletes, pipelined so that
// Redis publishes the notifications faster than one at a time, is
// reported whole: every write as a change and every delete as an end, on a
// single node and on every master of a Cluster (where notify runs on one
// goroutine per master).
func TestFeedManyEvents(t *testing.T) {
	const n = 2000
	for name, mk := range map[string]func(*testing.T) redis.UniversalClient{"single": single, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			p := prefix(t)
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			changed, ended := map[string]int{}, map[string]int{}
			done := make(chan error, 1)
			go func() {
				done <- st.Feed(redisstore.FeedOptions{Configure: true}).Watch(ctx, func(ev sessionbridge.SessionEvent) {
					mu.Lock()
					defer mu.Unlock()
					if ev.Ended {
						ended[ev.ID]++
					} else {
						changed[ev.ID]++
					}
				})
			}()
			// wait polls until cond holds (under mu) or the time is up.
			wait := func(within time.Duration, cond func() bool) bool {
				deadline := time.Now().Add(within)
				for time.Now().Before(deadline) {
					mu.Lock()
					ok := cond()
					mu.Unlock()
					if ok {
						return true
					}
					select {
					case err := <-done:
						t.Fatalf("Watch returned early: %v", err)
					case <-time.After(20 * time.Millisecond):
					}
				}
				return false
			}
			// The subscription starts asynchronously (on every master of a
			// Cluster): write a probe session on each of a few slots until
			// all their writes are reported.
			probes := make([]string, 32)
			for i := range probes {
				probes[i] = fmt.Sprintf("probe%d", i)
			}
			t.Cleanup(func() {
				for _, id := range probes {
					_ = st.Destroy(context.Background(), id)
				}
			})
			rec := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
			allSeen := func() bool {
				for _, id := range probes {
					if changed[id] == 0 {
						return false
					}
				}
				return true
			}
			for i := 0; ; i++ {
				for _, id := range probes {
					if err := st.Set(ctx, id, rec); err != nil {
						t.Fatal(err)
					}
				}
				if wait(200*time.Millisecond, allSeen) {
					break
				}
				if i == 50 {
					t.Fatal("the feed reported no probe write within 10s")
				}
			}

			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("s%05d", i)
			}
			val, err := rec.Encode()
			if err != nil {
				t.Fatal(err)
			}
			// One pipeline per node: a Cluster client splits it by slot.
			if _, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
				for _, id := range ids {
					pl.Set(ctx, st.Key(id), val, time.Minute)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
				for _, id := range ids {
					pl.Del(ctx, st.Key(id))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			count := func() (int, int) {
				ch, en := 0, 0
				for _, id := range ids {
					if changed[id] > 0 {
						ch++
					}
					if ended[id] > 0 {
						en++
					}
				}
				return ch, en
			}
			if !wait(30*time.Second, func() bool { ch, en := count(); return ch == n && en == n }) {
				mu.Lock()
				ch, en := count()
				mu.Unlock()
				t.Fatalf("of %d sessions written then deleted, the feed reported %d writes and %d ends", n, ch, en)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Watch after cancel: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Watch did not return after its context ended")
			}
		})
	}
}

// TestFeedFollowsMaster: when the client's master changes while the old
// one stays up (a Sentinel switch with the old master on the wrong side of
// a network split), the feed's subscription, which stays connected to the
// old master, moves to the new one within a few Refresh intervals, and the
// notification setting is turned on there. The client dials whatever
// server the test points it to, as a failover client dials the master the
// sentinels name.
func TestFeedFollowsMaster(t *testing.T) {
	a, b := faulttest.StartRedis(t), faulttest.StartRedis(t)
	var target atomic.Value
	target.Store(a.Addr)
	c := redis.NewClient(&redis.Options{
		Addr: "master",
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target.Load().(string))
		},
		ConnMaxIdleTime:       time.Millisecond, // no pooled connection outlives the switch
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	st := redisstore.New(c, redisstore.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		done <- st.Feed(redisstore.FeedOptions{Configure: true, Refresh: 100 * time.Millisecond}).Watch(ctx, func(ev sessionbridge.SessionEvent) { events <- ev.ID })
	}()
	// seen writes sid on the server at addr until the feed reports it.
	seen := func(addr, sid string, tries int) bool {
		direct := redis.NewClient(&redis.Options{Addr: addr})
		defer direct.Close()
		for range tries {
			if err := direct.Set(ctx, st.Key(sid), `{"cookie":{}}`, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			timeout := time.After(100 * time.Millisecond)
		wait:
			for {
				select {
				case id := <-events:
					if id == sid {
						return true
					}
				case err := <-done:
					t.Fatalf("Watch returned early: %v", err)
				case <-timeout:
					break wait
				}
			}
		}
		return false
	}
	if !seen(a.Addr, "on-a", 50) {
		t.Fatal("the feed reported no write on the first master within 5 s")
	}
	target.Store(b.Addr)
	if !seen(b.Addr, "on-b", 30) {
		t.Fatal("the feed reported no write on the new master within 3 s: it stayed subscribed to the old one")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch after cancel: %v", err)
	}
}
