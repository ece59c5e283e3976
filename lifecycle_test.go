package sessionbridge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// lifecycleBridge is a Bridge on a MemoryStore with a settable clock.
func lifecycleBridge(t *testing.T, cfg sessionbridge.Config) (*sessionbridge.Bridge, *sessionbridge.MemoryStore, *time.Time) {
	t.Helper()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	st := sessionbridge.NewMemoryStore()
	st.SetClock(func() time.Time { return now })
	if cfg.Store == nil {
		cfg.Store = st
	}
	cfg.Secrets = []string{"keyboard cat"}
	cfg.Now = func() time.Time { return now }
	b, err := sessionbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b, st, &now
}

// seed stores a session with data and returns its id and cookie header.
// kv are keys and values in order.
func seed(t *testing.T, b *sessionbridge.Bridge, kv ...any) (string, string) {
	t.Helper()
	s, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		if err := s.Record.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID, b.CookieName() + "=" + b.Signer().CookieValue(s.ID)
}

func serve(h http.Handler, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// nodeWrites changes the stored record of sid as a Node app would, behind
// the Bridge's back.
func nodeWrites(t *testing.T, st *sessionbridge.MemoryStore, sid string, change func(*sessionjson.Session)) {
	t.Helper()
	rec, err := sessionjson.Decode(st.Raw(sid))
	if err != nil {
		t.Fatal(err)
	}
	change(rec)
	raw, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	st.SetRaw(sid, raw)
}

func storedData(t *testing.T, st *sessionbridge.MemoryStore, sid string) string {
	t.Helper()
	raw := st.Raw(sid)
	if raw == nil {
		return "<none>"
	}
	rec, err := sessionjson.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, k := range rec.Keys() {
		if k != "cookie" {
			v, _ := rec.Raw(k)
			parts = append(parts, k+"="+string(v))
		}
	}
	return strings.Join(parts, " ")
}

// TestLoadAndSaveMergesConcurrentChanges: Node changes the session while a
// Go handler runs; the Go change and Node's both survive with the default
// policy, Node's is lost with ConflictOverwrite, and ConflictFail answers
// with the ErrorHandler and an error wrapping ErrConflict.
func TestLoadAndSaveMergesConcurrentChanges(t *testing.T) {
	for _, tc := range []struct {
		policy sessionbridge.ConflictPolicy
		want   string
		code   int
	}{
		{sessionbridge.ConflictMerge, `a=2 b="node" n=1 d=4`, 200},
		{sessionbridge.ConflictOverwrite, `a=2 c=3 d=4`, 200},
		{sessionbridge.ConflictFail, `a=1 b="node" n=1`, 409},
	} {
		t.Run(fmt.Sprint(tc.policy), func(t *testing.T) {
			var failed error
			b, st, _ := lifecycleBridge(t, sessionbridge.Config{
				Conflict: tc.policy,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					failed = err
					w.WriteHeader(409)
				},
			})
			sid, cookie := seed(t, b, "a", 1, "c", 3)
			h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := sessionbridge.FromContext(r.Context())
				_ = s.Record.Set("a", 2) // changed by Go
				_ = s.Record.Set("d", 4) // added by Go
				nodeWrites(t, st, sid, func(rec *sessionjson.Session) {
					_ = rec.Set("b", "node") // added by Node
					_ = rec.Delete("c")      // deleted by Node
					_ = rec.Set("n", 1)
				})
			}))
			w := serve(h, cookie)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			if got := storedData(t, st, sid); got != tc.want {
				t.Fatalf("stored %s, want %s", got, tc.want)
			}
			if tc.policy == sessionbridge.ConflictFail && !errors.Is(failed, sessionbridge.ErrConflict) {
				t.Fatalf("ErrorHandler got %v, want ErrConflict", failed)
			}
		})
	}
}

// TestLoadAndSaveMergeDeletesAndCookie: a key Go deleted stays deleted
// while Node's other change survives; a cookie the handler changed (a
// "remember me" maxAge) is kept over Node's.
func TestLoadAndSaveMergeDeletesAndCookie(t *testing.T) {
	b, st, _ := lifecycleBridge(t, sessionbridge.Config{Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	sid, cookie := seed(t, b, "a", 1, "gone", true)
	month := int64(30 * 24 * time.Hour / time.Millisecond)
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Delete("gone")
		s.Record.Cookie.OriginalMaxAge = &month
		nodeWrites(t, st, sid, func(rec *sessionjson.Session) { _ = rec.Set("a", "node") })
	}))
	if w := serve(h, cookie); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := storedData(t, st, sid); got != `a="node"` {
		t.Fatalf("stored %s", got)
	}
	rec, _ := sessionjson.Decode(st.Raw(sid))
	if rec.Cookie.OriginalMaxAge == nil || *rec.Cookie.OriginalMaxAge != month {
		t.Fatalf("the handler's cookie was not kept: %+v", rec.Cookie.OriginalMaxAge)
	}
}

// TestLoadAndSaveDoesNotResurrect: Node logs the user out (destroys the
// session) while a Go handler changes it: the session stays gone.
func TestLoadAndSaveDoesNotResurrect(t *testing.T) {
	b, st, _ := lifecycleBridge(t, sessionbridge.Config{})
	sid, cookie := seed(t, b, "passport", map[string]any{"user": 7})
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("views", 1)
		_ = st.Destroy(r.Context(), sid)
	}))
	if w := serve(h, cookie); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if st.Raw(sid) != nil {
		t.Fatalf("destroyed session written back: %s", st.Raw(sid))
	}
}

// TestUpdateInterleavings: many writers, each changing its own key of one
// session with Update while the others do the same; every change survives.
func TestUpdateInterleavings(t *testing.T) {
	b, st, _ := lifecycleBridge(t, sessionbridge.Config{MaxConflictRetries: 1000})
	sid, _ := seed(t, b)
	const writers, rounds = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= rounds; i++ {
				err := b.Update(context.Background(), sid, func(s *sessionbridge.Session) error {
					return s.Record.Set(fmt.Sprintf("w%d", w), i)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rec, _ := sessionjson.Decode(st.Raw(sid))
	for w := range writers {
		var n int
		if err := rec.Get(fmt.Sprintf("w%d", w), &n); err != nil || n != rounds {
			t.Fatalf("writer %d: %d %v (record %s)", w, n, err, st.Raw(sid))
		}
	}
}

// countingStore counts the store operations the Bridge performs.
type countingStore struct {
	*sessionbridge.MemoryStore
	sets, touches atomic.Int64
}

func (c *countingStore) Set(ctx context.Context, sid string, s *sessionjson.Session) error {
	c.sets.Add(1)
	return c.MemoryStore.Set(ctx, sid, s)
}

func (c *countingStore) SetIf(ctx context.Context, sid string, s *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	c.sets.Add(1)
	return c.MemoryStore.SetIf(ctx, sid, s, v)
}

func (c *countingStore) Touch(ctx context.Context, sid string, s *sessionjson.Session) error {
	c.touches.Add(1)
	return c.MemoryStore.Touch(ctx, sid, s)
}

// TestTouchAfter: with TouchAfter, an unchanged session is touched in the
// store only when its expiry is older than TouchAfter, and a session used
// more often than its maxAge never expires.
func TestTouchAfter(t *testing.T) {
	cs := &countingStore{MemoryStore: sessionbridge.NewMemoryStore()}
	b, _, now := lifecycleBridge(t, sessionbridge.Config{
		Store:      cs,
		Cookie:     sessionbridge.CookieOptions{MaxAge: time.Hour},
		TouchAfter: 10 * time.Minute,
	})
	cs.SetClock(func() time.Time { return *now })
	_, cookie := seed(t, b, "passport", map[string]any{"user": 7})
	cs.sets.Store(0)
	seen := 0
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, _ := sessionbridge.FromContext(r.Context()); s.Record.Has("passport") {
			seen++
		}
	}))
	const requests = 300 // one every 3 minutes for 15 hours: 15 maxAges
	for range requests {
		*now = now.Add(3 * time.Minute)
		serve(h, cookie)
	}
	if seen != requests {
		t.Fatalf("the session was lost after %d of %d requests", seen, requests)
	}
	// A touch at most every TouchAfter: 15 h / 12 min (the first request
	// past 10 minutes) = 75.
	if got := cs.touches.Load(); got != 75 || cs.sets.Load() != 0 {
		t.Fatalf("touches %d sets %d, want 75 and 0", got, cs.sets.Load())
	}
	t.Logf("TouchAfter 10m, maxAge 1h, a request every 3m: %d store touches for %d requests", cs.touches.Load(), requests)
}

func TestNewRefusesLifecycleOptions(t *testing.T) {
	for name, cfg := range map[string]sessionbridge.Config{
		"TouchAfter at MaxAge": {TouchAfter: time.Hour, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}},
		"negative TouchAfter":  {TouchAfter: -1},
		"unknown Unset":        {Unset: 7},
		"unknown Conflict":     {Conflict: -1},
		"negative retries":     {MaxConflictRetries: -1},
	} {
		cfg.Secrets = []string{"s"}
		cfg.Store = sessionbridge.NewMemoryStore()
		if _, err := sessionbridge.New(cfg); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// A GenerateID id whose cookie cannot be read back (invalid UTF-8 does not
// survive decodeURIComponent) is refused, not sent in a cookie that would
// give the client a new session on every request.
func TestGenerateIDRefusesUnreadableIDs(t *testing.T) {
	for _, id := range []string{"", "\xff\xfe"} {
		b, st, _ := lifecycleBridge(t, sessionbridge.Config{
			SaveUninitialized: true,
			GenerateID:        func(*http.Request) (string, error) { return id, nil },
		})
		ran := false
		rec := serve(b.LoadAndSave(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })), "")
		if ran || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("id %q: handler ran %v, status %d, Set-Cookie %q", id, ran, rec.Code, rec.Header().Get("Set-Cookie"))
		}
		if n := st.Len(); n != 0 {
			t.Errorf("id %q: %d sessions stored", id, n)
		}
	}
}

// A handler that clears a large session while Node changed it merges in
// one pass: the keys the handler deleted go, Node's new key stays.
func TestLoadAndSaveMergeClearsLargeSession(t *testing.T) {
	b, st, _ := lifecycleBridge(t, sessionbridge.Config{})
	const n = 20000
	kv := make([]any, 0, 2*n)
	for i := range n {
		kv = append(kv, fmt.Sprintf("k%d", i), i)
	}
	sid, cookie := seed(t, b, kv...)
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		s.Record.Clear()
		_ = s.Record.Set("mine", true)
		nodeWrites(t, st, sid, func(rec *sessionjson.Session) { _ = rec.Set("node", 1) })
	}))
	start := time.Now()
	if rec := serve(h, cookie); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got, want := storedData(t, st, sid), `node=1 mine=true`; got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("merge of %d deleted keys took %v", n, d)
	}
}
