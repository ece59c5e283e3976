package memcachedstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// TestSetIf: a SetIf on the record read succeeds and writes what Set
// writes (flags, exptime) and returns an empty Tag; one with a Tag that is
// not a CAS id conflicts and changes nothing. sessionbridgetest's
// Conditional checks cover a stale Version, another Set or a Destroy in
// between (Stale, Destroyed), an empty Tag (EmptyTag) and the empty Tag
// SetIf returns (Chain).
func TestSetIf(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	if err := st.Set(ctx, "sid", newSession(t, time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, v := condtest.GetVersion(t, st, "sid")
	_ = s.Set("cart", []int{1, 2})
	nv, err := st.SetIf(ctx, "sid", s, v)
	if err != nil {
		t.Fatalf("SetIf on the record read: %v", err)
	}
	if nv.Tag != "" {
		t.Fatalf("SetIf returned Tag %q; gomemcache does not report the new CAS id", nv.Tag)
	}
	want, _ := s.Encode()
	flags, value, _ := rawGet(t, p+"sid")
	if flags != memcachedstore.FlagJSON || string(value) != string(want) {
		t.Fatalf("SetIf stored flags %d %s, want flags 2 %s", flags, value, want)
	}
	if secs, _ := ttl(t, p+"sid"); secs < 3597 || secs > 3600 {
		t.Fatalf("SetIf exptime: %ds left, want about 3600", secs)
	}

	// Tags that are not a CAS id match nothing.
	stale := newSession(t, time.Now(), time.Hour)
	_ = stale.Set("stale", true)
	for _, tag := range []string{"x", "-1", "1e3", "18446744073709551616"} {
		_, err = st.SetIf(ctx, "sid", stale, sessionbridge.Version{Tag: tag})
		condtest.WantConflict(t, err, fmt.Sprintf("with Tag %q", tag))
	}
	if _, value, _ := rawGet(t, p+"sid"); string(value) != string(want) {
		t.Fatalf("a conflicting SetIf changed the item: %s", value)
	}
}

// TestSetIfExpired: a SetIf of a session whose cookie has expired removes
// the item, conditionally like any SetIf.
func TestSetIfExpired(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	if err := st.Set(ctx, "sid", newSession(t, time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	old := newSession(t, time.Now().Add(-2*time.Hour), time.Hour)
	_, v := condtest.GetVersion(t, st, "sid")
	if err := st.Set(ctx, "sid", newSession(t, time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := st.SetIf(ctx, "sid", old, v)
	condtest.WantConflict(t, err, "of an expired session after another Set")
	if _, _, ok := rawGet(t, p+"sid"); !ok {
		t.Fatal("a conflicting SetIf of an expired session removed the newer item")
	}
	_, v = condtest.GetVersion(t, st, "sid")
	nv, err := st.SetIf(ctx, "sid", old, v)
	if err != nil || nv != (sessionbridge.Version{}) {
		t.Fatalf("SetIf of an expired session: %+v, %v", nv, err)
	}
	if _, _, ok := rawGet(t, p+"sid"); ok {
		t.Fatal("SetIf of an expired session left the item")
	}
}

// TestConditionalNode: the real connect-memcached writes between Go's read
// and Go's write. SetIf conflicts and keeps Node's write; Touch keeps
// Node's data and moves the expiry, and Node reads Go's touch.
func TestConditionalNode(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	app := nodetest.StartApp(t, nodeEnv(t, p))
	ctx := context.Background()
	cookie := app.Login("alice", "secret")
	sid := app.Me(cookie).Sid

	s, v := condtest.GetVersion(t, st, sid)
	app.SetData(cookie, map[string]any{"fromNode": 1})
	_ = s.Set("fromGo", 1)
	_, err := st.SetIf(ctx, sid, s, v)
	condtest.WantConflict(t, err, "after Node's write")
	if me := app.Me(cookie); !strings.Contains(string(me.Session), `"fromNode":1`) || strings.Contains(string(me.Session), "fromGo") {
		t.Fatalf("Node's session after Go's conflicting SetIf: %s", me.Session)
	}

	// Re-read, apply, write: Node sees both.
	s, v = condtest.GetVersion(t, st, sid)
	_ = s.Set("fromGo", 1)
	if _, err := st.SetIf(ctx, sid, s, v); err != nil {
		t.Fatalf("SetIf after re-reading: %v", err)
	}
	if me := app.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), `"fromNode":1`) || !strings.Contains(string(me.Session), `"fromGo":1`) {
		t.Fatalf("Node's session after Go's SetIf: %+v", me)
	}

	// Touch after Node's write: Node's data, Go's cookie.
	g, err := st.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	app.SetData(cookie, map[string]any{"fromNode": 2}, "fromGo")
	later := time.Now().Add(time.Minute)
	g.Touch(later)
	if err := st.Touch(ctx, sid, g); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	got, err := st.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if condtest.Member(got, "fromNode") != "2" || got.Has("fromGo") || !got.Cookie.Equal(g.Cookie) {
		t.Fatalf("after Go's Touch the record is %v; want Node's data with Go's cookie", got)
	}
	if secs, _ := ttl(t, st.Key(sid)); secs < 3657 || secs > 3660 {
		t.Fatalf("after Go's Touch %ds left, want about 3660", secs)
	}
	me := app.Me(cookie)
	if !me.LoggedIn || !strings.Contains(string(me.Session), `"fromNode":2`) || me.Expires == nil {
		t.Fatalf("Node's view after Go's Touch: %+v", me)
	}
	t.Log("Node wrote between Go's read and write: SetIf conflicted, Touch kept Node's data; Node reads both")
}

// TestTouchRace: Node writes over and over while Go loads and touches.
func TestTouchRace(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	storetest.Peer{App: nodetest.StartApp(t, nodeEnv(t, p)), Bridge: bridge(t, st, time.Hour)}.TouchRace(t)
}

// TestTouch: the record found keeps its data and gets the caller's
// cookie; a missing session is not created; an expiry in the past removes
// the item; an item Node cannot read is left alone.
func TestTouch(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	stored := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"cart":[1]}`
	rawSet(t, p+"sid", 2, 600, []byte(stored))
	mine := newSession(t, time.Now(), 2*time.Hour)
	_ = mine.Set("other", "data")
	before, _ := mine.Encode()
	if err := st.Touch(ctx, "sid", mine); err != nil {
		t.Fatal(err)
	}
	expires := mine.Cookie.Expires.UTC().Format(sessionjson.ExpiresLayout)
	want := `{"cookie":{"originalMaxAge":7200000,"expires":"` + expires + `","httpOnly":true,"path":"/"},"passport":{"user":7},"cart":[1]}`
	if flags, value, _ := rawGet(t, p+"sid"); flags != 2 || string(value) != want {
		t.Fatalf("touched item: flags %d\n got %s\nwant %s", flags, value, want)
	}
	if secs, _ := ttl(t, p+"sid"); secs < 7197 || secs > 7200 {
		t.Fatalf("touched item: %ds left, want about 7200", secs)
	}
	if after, _ := mine.Encode(); string(after) != string(before) {
		t.Fatal("Touch changed the caller's session")
	}

	for _, id := range []string{"missing", "never-stored"} {
		if err := st.Touch(ctx, id, mine); !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("Touch of a missing session: %v, want ErrNotFound", err)
		}
		if _, _, ok := rawGet(t, p+id); ok {
			t.Fatal("Touch created a missing session")
		}
	}

	past := newSession(t, time.Now().Add(-3*time.Hour), time.Hour)
	if err := st.Touch(ctx, "sid", past); err != nil {
		t.Fatalf("Touch to the past: %v", err)
	}
	if _, _, ok := rawGet(t, p+"sid"); ok {
		t.Fatal("Touch to an expiry in the past left the item")
	}

	rawSet(t, p+"flags0", 0, 600, []byte(stored))
	if err := st.Touch(ctx, "flags0", mine); !errors.Is(err, memcachedstore.ErrWrongFlags) {
		t.Fatalf("Touch of a flags-0 item: %v", err)
	}
	rawSet(t, p+"bad", 2, 600, []byte("not json"))
	if err := st.Touch(ctx, "bad", mine); !errors.Is(err, sessionjson.ErrMalformed) {
		t.Fatalf("Touch of a bad item: %v", err)
	}
	for key, v := range map[string]string{"flags0": stored, "bad": "not json"} {
		if _, value, _ := rawGet(t, p+key); string(value) != v {
			t.Fatalf("Touch changed the unreadable item %s: %s", key, value)
		}
	}
}

// TestTouched: Version.Touched is when the cookie's expiry was set, which
// is what the item's exptime follows; zero when the exptime does not
// follow the cookie.
func TestTouched(t *testing.T) {
	p := prefix(t)
	c := client(t)
	st := memcachedstore.New(c, memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := st.Set(ctx, "sid", newSession(t, at, time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, v := condtest.GetVersion(t, st, "sid")
	if !v.Touched.Equal(at) {
		t.Fatalf("after Set: Touched %v, want %v", v.Touched, at)
	}
	later := at.Add(30 * time.Second)
	s.Touch(later)
	if err := st.Touch(ctx, "sid", s); err != nil {
		t.Fatal(err)
	}
	s, v = condtest.GetVersion(t, st, "sid")
	if !v.Touched.Equal(later) {
		t.Fatalf("after Touch: Touched %v, want %v", v.Touched, later)
	}
	// The item's exptime is where Touched + originalMaxAge says.
	until := int(time.Until(later.Add(time.Hour)) / time.Second)
	if secs, _ := ttl(t, p+"sid"); secs < until-3 || secs > until+1 {
		t.Fatalf("item has %ds left; Touched + originalMaxAge is in %ds", secs, until)
	}
	s.Touch(at.Add(45 * time.Second))
	nv, err := st.SetIf(ctx, "sid", s, v)
	if err != nil || !nv.Touched.Equal(at.Add(45*time.Second)) {
		t.Fatalf("SetIf returned %+v, %v; want Touched %v", nv, err, at.Add(45*time.Second))
	}

	zero := func(name string, st *memcachedstore.Store, s *sessionjson.Session) {
		t.Helper()
		if err := st.Set(ctx, "z", s); err != nil {
			t.Fatal(err)
		}
		if _, v := condtest.GetVersion(t, st, "z"); !v.Touched.IsZero() {
			t.Errorf("%s: Touched %v, want zero", name, v.Touched)
		}
	}
	zero("browser-session cookie", st, newSession(t, at, 0))
	zero("TTL option", memcachedstore.New(c, memcachedstore.Options{Prefix: p, TTL: time.Hour}), newSession(t, at, time.Hour))
	zero("cookie set in the future", st, newSession(t, time.Now().Add(time.Hour), time.Hour))
	zero("expiry beyond 2038", st, newSession(t, time.Now(), 20*365*24*time.Hour))
}

// TestConcurrentSetIf: goroutines on two stores (as two Go instances)
// each change their own key of one session with GetVersion, SetIf and a
// retry on conflict; every change survives. It runs on the shared server
// and on three servers picked by the ketama selector.
func TestConcurrentSetIf(t *testing.T) {
	t.Run("one server", func(t *testing.T) {
		c1, c2 := client(t), client(t)
		p := prefix(t)
		concurrentRMW(t, memcachedstore.New(c1, memcachedstore.Options{Prefix: p}), memcachedstore.New(c2, memcachedstore.Options{Prefix: p}))
	})
	t.Run("three servers", func(t *testing.T) {
		var addrs []string
		for range 3 {
			addrs = append(addrs, faulttest.StartMemcached(t).Addr)
		}
		var stores []*memcachedstore.Store
		for range 2 {
			sel, err := memcachedstore.NewServerSelector(addrs...)
			if err != nil {
				t.Fatal(err)
			}
			c := memcache.NewFromSelector(sel)
			t.Cleanup(func() { _ = c.Close() })
			stores = append(stores, memcachedstore.New(c, memcachedstore.Options{Prefix: "sess:"}))
		}
		concurrentRMW(t, stores...)
		// The sessions landed on every server, each on the one Node's
		// client would pick.
		seen := map[string]bool{}
		for i := range 30 {
			sid := fmt.Sprintf("spread-%d", i)
			key := stores[0].Key(sid)
			if err := stores[0].Set(context.Background(), sid, newSession(t, time.Now(), time.Hour)); err != nil {
				t.Fatal(err)
			}
			for _, a := range addrs {
				c := memcache.New(a)
				if _, err := c.Get(key); err == nil {
					seen[a] = true
				}
				_ = c.Close()
			}
		}
		if len(seen) != 3 {
			t.Fatalf("sessions went to %d of 3 servers", len(seen))
		}
	})
}

func concurrentRMW(t *testing.T, stores ...*memcachedstore.Store) {
	ctx := context.Background()
	const sessions, workers, rounds = 3, 6, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for n := range sessions {
		sid := fmt.Sprintf("rmw-%d", n)
		if err := stores[0].Set(ctx, sid, newSession(t, time.Now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
		for w := range workers {
			st := stores[w%len(stores)]
			key := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for r := 1; r <= rounds; r++ {
					for attempt := 0; ; attempt++ {
						if attempt == 1000 {
							t.Errorf("%s %s: no SetIf succeeded in 1000 attempts", sid, key)
							return
						}
						s, v, err := st.GetVersion(ctx, sid)
						if err != nil {
							t.Errorf("GetVersion: %v", err)
							return
						}
						var have int
						_ = s.Get(key, &have)
						if have != r-1 {
							t.Errorf("%s %s: read %d, want %d: a change was lost", sid, key, have, r-1)
							return
						}
						_ = s.Set(key, r)
						_, err = st.SetIf(ctx, sid, s, v)
						if err == nil {
							break
						}
						if !errors.Is(err, sessionbridge.ErrConflict) {
							t.Errorf("SetIf: %v", err)
							return
						}
						mu.Lock()
						conflicts++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	for n := range sessions {
		s, err := stores[0].Get(ctx, fmt.Sprintf("rmw-%d", n))
		if err != nil {
			t.Fatal(err)
		}
		for w := range workers {
			if got := condtest.Member(s, fmt.Sprintf("w%d", w)); got != strconv.Itoa(rounds) {
				t.Fatalf("session %d: w%d is %s, want %d", n, w, got, rounds)
			}
		}
	}
	t.Logf("%d sessions x %d goroutines x %d changes on %d stores: all kept, %d conflicts retried", sessions, workers, rounds, len(stores), conflicts)
	if conflicts == 0 {
		t.Log("no conflict happened: the interleavings were not exercised this run")
	}
}

// TestNoCAS: a memcached started with -C gives out CAS id 0, and its cas
// command then overwrites whatever the item holds; SetIf and Touch refuse
// to write.
func TestNoCAS(t *testing.T) {
	addr := startMemcachedNoCAS(t)
	c := memcache.New(addr)
	t.Cleanup(func() { _ = c.Close() })
	st := memcachedstore.New(c, memcachedstore.Options{})
	ctx := context.Background()
	if err := st.Set(ctx, "sid", newSession(t, time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, v, err := st.GetVersion(ctx, "sid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetIf(ctx, "sid", s, v); !errors.Is(err, memcachedstore.ErrNoCAS) {
		t.Fatalf("SetIf without CAS: %v, want ErrNoCAS", err)
	}
	if err := st.Touch(ctx, "sid", s); !errors.Is(err, memcachedstore.ErrNoCAS) {
		t.Fatalf("Touch without CAS: %v, want ErrNoCAS", err)
	}
}

// startMemcachedNoCAS starts a private memcached with -C (no CAS ids).
func startMemcachedNoCAS(t *testing.T) string {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		nodetest.Unavailable(t, "memcached", "make services (scripts/services.sh installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	args := []string{"-C", "-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "16"}
	if os.Geteuid() == 0 {
		u := "nobody"
		if _, err := user.Lookup("memcache"); err == nil {
			u = "memcache"
		}
		args = append(args, "-u", u)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("memcached -C did not start on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
