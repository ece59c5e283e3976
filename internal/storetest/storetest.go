// Package storetest holds the checks of the built-in stores that need more
// than the store: the both-way checks against the live Node harness
// (testdata/node/app.js) using the matching connect-* package, and the
// record size limits. The store-agnostic sessionbridge.Store contract is
// the public package sessionbridgetest, which every store's tests run too.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Raw reads a session's record exactly as the store holds it (for
// byte-identity checks), or nil when it is absent.
type Raw func(sid string) []byte

// Peer runs the both-way checks between a Go Bridge and the live Node app
// on the same store.
type Peer struct {
	App    *nodetest.App
	Bridge *sessionbridge.Bridge
	Raw    Raw
}

func (p Peer) goLoad(t *testing.T, cookie string) (*sessionbridge.Session, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", p.Bridge.CookieName()+"="+cookie)
	return p.Bridge.Load(r)
}

// BothWays runs, against the live Node app:
//  1. Node logs in -> Go loads the session, sees the passport user and the
//     app data, and the record is byte-identical to what Node stored;
//  2. Go creates a session for a user -> Node's /me returns that user; Go
//     changes app data -> Node sees it; Node changes data -> Go sees it;
//  3. Go destroys -> Node is logged out; Node logs out -> Go gets
//     ErrNotFound for the old cookie.
//
// It logs each direction so the test output shows what ran.
func (p Peer) BothWays(t *testing.T) {
	ctx := context.Background()
	// 1. Node -> Go.
	cookie := p.App.Login("alice", "secret")
	p.App.SetData(cookie, map[string]any{"cart": []any{1, 2}, "note": "é😀\u2028<&>"})
	s, err := p.goLoad(t, cookie)
	if err != nil {
		t.Fatalf("Go cannot load Node's session: %v\n%s", err, p.App.Stderr())
	}
	var pp struct{ User json.Number }
	must(t, s.Record.Get("passport", &pp))
	if pp.User.String() != "7" {
		t.Fatalf("Go sees passport.user %q, want 7", pp.User)
	}
	var cart []int
	must(t, s.Record.Get("cart", &cart))
	var note string
	must(t, s.Record.Get("note", &note))
	if len(cart) != 2 || note != "é😀\u2028<&>" {
		t.Fatalf("Go sees cart %v note %q", cart, note)
	}
	if raw := p.Raw(s.ID); raw != nil {
		enc, _ := s.Record.Encode()
		if string(enc) != string(raw) {
			t.Fatalf("record not byte-identical:\n go %s\nraw %s", enc, raw)
		}
	}
	me := p.App.Me(cookie)
	if me.Sid != s.ID {
		t.Fatalf("Node sid %q, Go sid %q", me.Sid, s.ID)
	}
	t.Logf("Node -> Go: login as alice, Go loaded user 7 and the app data byte for byte")

	// 2. Go -> Node.
	gs, err := p.Bridge.NewSession()
	must(t, err)
	must(t, gs.Record.Set("passport", map[string]any{"user": 7}))
	must(t, gs.Record.Set("fromGo", "héllo"))
	must(t, p.Bridge.Save(ctx, gs))
	gcookie := p.Bridge.Signer().CookieValue(gs.ID)
	me = p.App.Me(gcookie)
	if !me.LoggedIn || string(me.User) == "null" || !strings.Contains(string(me.User), `"id":7`) || me.Sid != gs.ID {
		t.Fatalf("Node does not see Go's login: %+v\n%s", me, p.App.Stderr())
	}
	gs2, err := p.goLoad(t, gcookie)
	must(t, err)
	must(t, gs2.Record.Set("fromGo", "changed in Go"))
	must(t, p.Bridge.Save(ctx, gs2))
	me = p.App.Me(gcookie)
	if !strings.Contains(string(me.Session), `"fromGo":"changed in Go"`) {
		t.Fatalf("Node does not see Go's change: %s", me.Session)
	}
	p.App.SetData(gcookie, map[string]any{"fromNode": 42})
	gs3, err := p.goLoad(t, gcookie)
	must(t, err)
	var n int
	if err := gs3.Record.Get("fromNode", &n); err != nil || n != 42 {
		t.Fatalf("Go does not see Node's change: %d %v", n, err)
	}
	t.Logf("Go -> Node: Go login seen by passport, Go change seen by Node, Node change seen by Go")

	// 3. Destroy and logout.
	must(t, p.Bridge.Destroy(ctx, gs3))
	if me := p.App.Me(gcookie); me.LoggedIn {
		t.Fatalf("Node still logged in after Go destroyed the session")
	}
	p.App.Logout(cookie)
	if _, err := p.goLoad(t, cookie); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("after Node's logout Go gets %v, want ErrNotFound", err)
	}
	t.Logf("Go destroy logs Node out; Node logout makes Go's load ErrNotFound")
}

// TouchRace has Node write a counter into the session over and over while
// Go loads and touches the same session concurrently, then checks that
// Node's last write survived (a Go touch moves only the expiry and never
// writes back a stale copy) and that every record stayed readable by both.
func (p Peer) TouchRace(t *testing.T) {
	cookie := p.App.Login("alice", "secret")
	const writes = 40
	done := make(chan struct{})
	var goErrs []error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		for {
			select {
			case <-done:
				return
			default:
			}
			s, err := p.goLoad(t, cookie)
			if err != nil {
				goErrs = append(goErrs, err)
				return
			}
			if err := p.Bridge.Touch(ctx, s); err != nil {
				goErrs = append(goErrs, err)
				return
			}
		}
	}()
	for i := 1; i <= writes; i++ {
		p.App.SetData(cookie, map[string]any{"counter": i})
	}
	close(done)
	wg.Wait()
	for _, err := range goErrs {
		t.Errorf("Go load/touch during Node writes: %v", err)
	}
	s, err := p.goLoad(t, cookie)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Record.Get("counter", &n); err != nil || n != writes {
		t.Fatalf("after the race the counter is %d (%v), want Node's last write %d", n, err, writes)
	}
	if me := p.App.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), fmt.Sprintf(`"counter":%d`, writes)) {
		t.Fatalf("Node's view after the race: %+v", me)
	}
	t.Logf("touch race: %d Node writes while Go loaded and touched; Node's last write kept, both sides read it", writes)
}

// Record returns a valid express-session record of exactly n bytes (at
// least 150): a cookie expiring at expires and an app data string padding
// it to size, as JSON.stringify writes it.
func Record(n int, expires time.Time) []byte {
	head := `{"cookie":{"originalMaxAge":3600000,"expires":"` + expires.UTC().Format(sessionjson.ExpiresLayout) + `","httpOnly":true,"path":"/"},"pad":"`
	tail := `"}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		panic(fmt.Sprintf("storetest: a record cannot be as short as %d bytes", n))
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// SizeLimit stores records of exactly limit and limit+1 bytes with put
// (raw, as Node would have written them) and checks that store's Get
// returns the first and refuses the second with an error wrapping
// sessionjson.ErrTooLarge, which is neither ErrNotFound nor a bare outage:
// through a Bridge it is ErrStore and still ErrTooLarge, never ErrNoSession.
func SizeLimit(t *testing.T, store sessionbridge.Store, limit int, put func(sid string, rec []byte)) {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	under, over := "under"+fmt.Sprint(limit), "over"+fmt.Sprint(limit)
	put(under, Record(limit, exp))
	put(over, Record(limit+1, exp))
	got, err := store.Get(ctx, under)
	if err != nil {
		t.Fatalf("record of exactly the limit (%d bytes): %v", limit, err)
	}
	if b, _ := got.Encode(); len(b) != limit {
		t.Fatalf("record of %d bytes read back as %d", limit, len(b))
	}
	_, err = store.Get(ctx, over)
	if !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("record of limit+1 (%d) bytes: %v, want ErrTooLarge", limit+1, err)
	}
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: store})
	must(t, err)
	_, err = b.LoadID(ctx, over)
	if !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("too large through the Bridge: %v, want ErrStore wrapping ErrTooLarge", err)
	}
	if strings.Contains(err.Error(), over) {
		t.Fatalf("error names the session id: %v", err)
	}
	t.Logf("limit %d: %d bytes read, %d bytes refused (%v)", limit, limit, limit+1, err)
}

// Allocated returns the bytes the process allocated while fn ran
// (runtime.MemStats.TotalAlloc), which bounds what fn read into memory.
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// LongLived runs, on a session Node created with a very long cookie
// maxAge (1000 years, 10^15 ms): Go loads it, touches it and saves a change
// through the Bridge, and after each step check (the store's expiry, given
// the session) must pass, Go must still load it and Node must still be
// logged in and see Go's change. It is the guard against lifetimes that
// overflow into "delete this session".
func (p Peer) LongLived(t *testing.T, cookie string, check func(t *testing.T, s *sessionbridge.Session)) {
	t.Helper()
	ctx := context.Background()
	s, err := p.goLoad(t, cookie)
	if err != nil {
		t.Fatalf("Go cannot load Node's long-lived session: %v", err)
	}
	check(t, s)
	if err := p.Bridge.Touch(ctx, s); err != nil {
		t.Fatalf("Go touch: %v", err)
	}
	check(t, s)
	if me := p.App.Me(cookie); !me.LoggedIn {
		t.Fatalf("Node lost the session after Go's touch\n%s", p.App.Stderr())
	}
	s, err = p.goLoad(t, cookie)
	if err != nil {
		t.Fatalf("Go lost the session after its own touch: %v", err)
	}
	must(t, s.Record.Set("fromGo", "long"))
	must(t, p.Bridge.Save(ctx, s))
	check(t, s)
	me := p.App.Me(cookie)
	if !me.LoggedIn || !strings.Contains(string(me.Session), `"fromGo":"long"`) {
		t.Fatalf("Node after Go's save: %+v\n%s", me, p.App.Stderr())
	}
	if _, err := p.goLoad(t, cookie); err != nil {
		t.Fatalf("Go lost the session after its own save: %v", err)
	}
	t.Logf("originalMaxAge %d ms, expires %s: Go read, touched and saved it; Node still logged in", *s.Record.Cookie.OriginalMaxAge, s.Record.Cookie.Expires.Format(time.RFC3339))
}
