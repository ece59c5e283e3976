package socketauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/socketauth"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// keeper is the session source of the keep-alive tests: a real Bridge
// whose KeepAlive calls are counted and announced on started, and, while
// hold is open, held until hold closes or their ctx ends.
type keeper struct {
	*sessionbridge.Bridge
	calls   atomic.Int32
	started chan struct{}
	hold    chan struct{}
}

func newKeeper(b *sessionbridge.Bridge) *keeper {
	return &keeper{Bridge: b, started: make(chan struct{}, 64)}
}

func (k *keeper) KeepAlive(ctx context.Context, sid string) error {
	k.calls.Add(1)
	k.started <- struct{}{}
	if k.hold != nil {
		select {
		case <-k.hold:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", sessionbridge.ErrStore, ctx.Err())
		}
	}
	return k.Bridge.KeepAlive(ctx, sid)
}

// clock is a settable clock shared by a Bridge and a Tracker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logLines is a slog destination that hands each record (one JSON line)
// to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(bytes.TrimSpace(p))
	return len(p), nil
}

func (l logLines) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// track authorizes a handshake with the session's cookie and tracks it n
// times, as n sockets of one browser; revocations go to revoked.
func track(t *testing.T, a *socketauth.Authorizer, tr *socketauth.Tracker, b *sessionbridge.Bridge, s *sessionbridge.Session, n int, revoked chan<- string) []func() {
	t.Helper()
	var untrack []func()
	for i := range n {
		res, err := a.Authorize(context.Background(), handshake(b.Signer().CookieValue(s.ID), nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		untrack = append(untrack, tr.Track(res, func(reason string) { revoked <- fmt.Sprintf("conn %d: %s", i, reason) }))
	}
	return untrack
}

// storedExpiry returns the session's cookie.expires as the store holds it.
func storedExpiry(t *testing.T, b *sessionbridge.Bridge, sid string) time.Time {
	t.Helper()
	s, err := b.LoadID(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return *s.Record.Cookie.Expires
}

// TestKeepAliveThrottled: however many connections and events a session
// has, its keep-alive runs at most once per KeepAlive: the first activity
// extends the session at once, activity within KeepAlive of it does
// nothing, the first activity after does it again. Nothing happens without
// KeepAlive or for an untracked session.
func TestKeepAliveThrottled(t *testing.T) {
	const every = time.Minute
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: sessionbridge.NewMemoryStore(),
		Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, _ := b.NewSession()
	_ = s.Record.Set("passport", map[string]any{"user": 7})
	if err := b.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	k := newKeeper(b)
	a, _ := socketauth.New(socketauth.Config{Source: k})
	off := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{KeepAlive: every})
	socketauth.SetClock(tr, clk.Now)
	revoked := make(chan string, 8)
	track(t, a, off, b, s, 1, revoked)
	untrack := track(t, a, tr, b, s, 3, revoked)

	burst := func() {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 20 {
					tr.Activity(s.ID)
					off.Activity(s.ID)
				}
			})
		}
		wg.Wait()
		socketauth.WaitKeepAlives(tr)
		socketauth.WaitKeepAlives(off)
	}
	want := func(calls int, expires time.Time) {
		t.Helper()
		if got := int(k.calls.Load()); got != calls {
			t.Fatalf("KeepAlive calls %d, want %d", got, calls)
		}
		if got := storedExpiry(t, b, s.ID); !got.Equal(expires) {
			t.Fatalf("stored expiry %v, want %v", got, expires)
		}
	}

	saved := storedExpiry(t, b, s.ID)
	clk.Add(5 * time.Minute)
	burst()
	want(1, clk.Now().Add(time.Hour)) // 640 events on 3 connections: one keep-alive
	first := clk.Now()
	clk.Add(every - time.Millisecond)
	burst()
	want(1, first.Add(time.Hour))
	clk.Add(time.Millisecond)
	burst()
	want(2, clk.Now().Add(time.Hour))
	if !saved.Before(first.Add(time.Hour)) {
		t.Fatal("the keep-alive did not move the expiry")
	}

	for _, u := range untrack {
		u()
	}
	clk.Add(every)
	burst()
	want(2, clk.Now().Add(-every).Add(time.Hour)) // untracked: nothing
	select {
	case r := <-revoked:
		t.Fatalf("revoked: %s", r)
	default:
	}
}

// TestKeepAliveRevokesEndedSession: a keep-alive that finds the session
// destroyed (by Node's logout-and-destroy, say) revokes every connection
// of the session.
func TestKeepAliveRevokesEndedSession(t *testing.T) {
	f := setup(t)
	k := newKeeper(f.bridge)
	a, _ := socketauth.New(socketauth.Config{Source: k})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour, KeepAlive: time.Minute})
	revoked := make(chan string, 8)
	track(t, a, tr, f.bridge, f.user, 2, revoked)
	if err := f.bridge.Destroy(context.Background(), f.user); err != nil {
		t.Fatal(err)
	}
	tr.Activity(f.user.ID)
	got := map[string]bool{}
	for range 2 {
		select {
		case r := <-revoked:
			got[r] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("revoked %v, want both connections", got)
		}
	}
	for i := range 2 {
		if r := fmt.Sprintf("conn %d: %s", i, socketauth.ReasonSessionEnded); !got[r] {
			t.Fatalf("revoked %v, want %q", got, r)
		}
	}
	if s, c := tr.Len(); s != 0 || c != 0 {
		t.Fatalf("still tracked: %d sessions, %d connections", s, c)
	}
}

// TestKeepAliveOutageDisconnectsNobody: with the store's server down (a
// private Redis, stopped), keep-alives fail, every connection stays
// tracked and open, and the failure is logged once for several sessions,
// without their ids. Once the server is back, keep-alives work again.
func TestKeepAliveOutageDisconnectsNobody(t *testing.T) {
	srv := faulttest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	clk := &clock{now: time.Now()}
	st := redisstore.New(rdb, redisstore.Options{})
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st,
		Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := make(logLines, 16)
	k := newKeeper(b)
	a, _ := socketauth.New(socketauth.Config{Source: k, Logger: logs.logger(), Timeout: 2 * time.Second})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour, KeepAlive: time.Minute})
	socketauth.SetClock(tr, clk.Now)
	revoked := make(chan string, 8)
	var sessions []*sessionbridge.Session
	for range 3 {
		s, _ := b.NewSession()
		_ = s.Record.Set("passport", map[string]any{"user": 7})
		if err := b.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		track(t, a, tr, b, s, 1, revoked)
		sessions = append(sessions, s)
	}

	srv.Stop()
	for _, s := range sessions {
		tr.Activity(s.ID)
	}
	socketauth.WaitKeepAlives(tr)
	if n := k.calls.Load(); n != 3 {
		t.Fatalf("KeepAlive calls %d, want 3", n)
	}
	var line string
	select {
	case line = <-logs:
	default:
		t.Fatal("the failed keep-alives were not logged")
	}
	t.Logf("logged: %s", line)
	if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, "keep-alive failed") {
		t.Fatalf("log line %s, want a warning about the keep-alive", line)
	}
	for _, s := range sessions {
		if strings.Contains(line, s.ID) {
			t.Fatal("the log names a session id")
		}
	}
	select {
	case l := <-logs:
		t.Fatalf("logged again within KeepAlive: %s", l)
	case r := <-revoked:
		t.Fatalf("revoked during an outage: %s", r)
	default:
	}
	if s, c := tr.Len(); s != 3 || c != 3 {
		t.Fatalf("tracked %d sessions, %d connections; want 3, 3", s, c)
	}

	srv.Start()
	key := st.Key(sessions[0].ID)
	before := rdb.PTTL(ctx, key).Val()
	clk.Add(time.Minute) // the Bridge's clock: the touch sets a TTL about a minute longer
	tr.Activity(sessions[0].ID)
	socketauth.WaitKeepAlives(tr)
	if after := rdb.PTTL(ctx, key).Val(); after < before+30*time.Second {
		t.Fatalf("after the outage the keep-alive did not extend the session: TTL %v, then %v", before, after)
	}
	select {
	case l := <-logs:
		t.Fatalf("logged after the server came back: %s", l)
	default:
	}
}

// TestKeepAliveEndsWithItsConnections: a keep-alive in flight when its
// session's last connection goes (untracked, revoked, or revoked because
// a connection of another user of the session is tracked) is cancelled at
// once (not left to its timeout, here an hour), logs nothing, and leaves no
// goroutine behind.
func TestKeepAliveEndsWithItsConnections(t *testing.T) {
	for _, how := range []string{"untracked", "revoked", "user changed"} {
		t.Run(how, func(t *testing.T) {
			f := setup(t)
			k := newKeeper(f.bridge)
			k.hold = make(chan struct{}) // never released: only a cancellation ends the call
			logs := make(logLines, 16)
			a, _ := socketauth.New(socketauth.Config{Source: k, Logger: logs.logger(), Timeout: time.Hour})
			tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour, KeepAlive: time.Minute})
			revoked := make(chan string, 8)
			untrack := track(t, a, tr, f.bridge, f.user, 2, revoked)
			before := goleak.IgnoreCurrent() // the fixture's own goroutines
			tr.Activity(f.user.ID)
			<-k.started
			switch how {
			case "untracked":
				untrack[0]()
				untrack[1]()
			case "revoked":
				tr.Revoke(f.user.ID, socketauth.ReasonLoggedOut)
			default:
				other := &socketauth.Auth{Session: &sessionbridge.Session{ID: f.user.ID}, StoredUser: []byte(`"someone else"`), LoggedIn: true}
				defer tr.Track(other, func(string) {})()
			}
			done := make(chan struct{})
			go func() { socketauth.WaitKeepAlives(tr); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the keep-alive in flight was not cancelled")
			}
			goleak.VerifyNone(t, before)
			select {
			case l := <-logs:
				t.Fatalf("a cancelled keep-alive was logged: %s", l)
			default:
			}
		})
	}
}
