package socketauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

type fixture struct {
	store  *sessionbridge.MemoryStore
	bridge *sessionbridge.Bridge
	user   *sessionbridge.Session // logged in as 7
	anon   *sessionbridge.Session // no passport user
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: sessionbridge.NewMemoryStore()}
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: f.store, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	f.bridge = b
	ctx := context.Background()
	f.user, _ = b.NewSession()
	_ = f.user.Record.Set("passport", map[string]any{"user": 7})
	_ = b.Save(ctx, f.user)
	f.anon, _ = b.NewSession()
	_ = b.Save(ctx, f.anon)
	return f
}

func (f *fixture) cookie(s *sessionbridge.Session) string { return f.bridge.Signer().CookieValue(s.ID) }

func handshake(cookie string, query url.Values) *http.Request {
	u := "/socket.io/?EIO=4&transport=polling"
	if query != nil {
		u += "&" + query.Encode()
	}
	r := httptest.NewRequest("GET", u, nil)
	if cookie != "" {
		r.Header.Set("Cookie", "connect.sid="+cookie)
	}
	return r
}

func TestAuthorizeOutcomes(t *testing.T) {
	f := setup(t)
	a, err := socketauth.New(socketauth.Config{Source: f.bridge, AuthField: "session", QueryParam: "session"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := f.cookie(f.user)
	forged := strings.Replace(good, "s%3A", "s%3AX", 1)
	other, _ := cookiesig.NewSigner("wrong secret")
	rawSigned, _ := url.QueryUnescape(good) // "s:<id>.<sig>"

	ok := []struct {
		name   string
		cookie string
		query  url.Values
		auth   map[string]any
	}{
		{"cookie", good, nil, nil},
		{"auth signed (encoded)", "", nil, map[string]any{"session": good}},
		{"auth signed (raw)", "", nil, map[string]any{"session": rawSigned}},
		{"query signed", "", url.Values{"session": {rawSigned}}, nil},
		{"cookie and same auth", good, nil, map[string]any{"session": rawSigned}},
	}
	for _, c := range ok {
		res, err := a.Authorize(ctx, handshake(c.cookie, c.query), c.auth)
		if err != nil || !res.LoggedIn || string(res.StoredUser) != "7" || res.Session.ID != f.user.ID {
			t.Errorf("%s: %v %+v", c.name, err, res)
		}
	}

	bad := []struct {
		name   string
		cookie string
		query  url.Values
		auth   map[string]any
		msg    string
		cause  error
	}{
		{"nothing", "", nil, nil, "no session cookie", cookiesig.ErrNoCookie},
		{"forged cookie", forged, nil, nil, "invalid session cookie", cookiesig.ErrBadSignature},
		{"wrong secret", other.CookieValue(f.user.ID), nil, nil, "invalid session cookie", cookiesig.ErrBadSignature},
		{"unsigned cookie", f.user.ID, nil, nil, "invalid session cookie", cookiesig.ErrNotSigned},
		{"unsigned id in auth", "", nil, map[string]any{"session": f.user.ID}, "invalid session cookie", cookiesig.ErrNotSigned},
		{"unsigned id in query", "", url.Values{"session": {f.user.ID}}, nil, "invalid session cookie", cookiesig.ErrNotSigned},
		{"passport.socketio's session_id", "", url.Values{"session_id": {f.user.ID}}, nil, "no session cookie", cookiesig.ErrNoCookie},
		{"auth not a string", "", nil, map[string]any{"session": 7.0}, "invalid session cookie", cookiesig.ErrMalformed},
		{"valid cookie, forged auth", good, nil, map[string]any{"session": forged}, "invalid session cookie", cookiesig.ErrBadSignature},
		{"forged cookie, valid auth", forged, nil, map[string]any{"session": good}, "invalid session cookie", cookiesig.ErrBadSignature},
		{"two sessions", good, nil, map[string]any{"session": f.cookie(f.anon)}, "conflicting session credentials", socketauth.ErrConflict},
		{"anonymous session", f.cookie(f.anon), nil, nil, "not logged in", passportuser.ErrNotLoggedIn},
		{"unknown session", f.bridge.Signer().CookieValue("nosuchsessionid0000000000000000x"), nil, nil, "session not found or expired", sessionbridge.ErrNotFound},
	}
	for _, c := range bad {
		res, err := a.Authorize(ctx, handshake(c.cookie, c.query), c.auth)
		var fl *socketauth.Failure
		if res != nil || !errors.As(err, &fl) || fl.Critical || fl.Message != c.msg ||
			!errors.Is(err, socketauth.ErrUnauthorized) || !errors.Is(err, c.cause) || errors.Is(err, socketauth.ErrCritical) {
			t.Errorf("%s: res %v err %v", c.name, res, err)
		}
		if err != nil && strings.Contains(err.Error(), f.user.ID) {
			t.Errorf("%s: message leaks the id", c.name)
		}
	}
}

// downStore fails every read, like a store whose server is stopped.
type downStore struct{ sessionbridge.Store }

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (downStore) Get(context.Context, string) (*sessionjson.Session, error) { return nil, errDown }

func TestCriticalFailuresAreNeverAccepted(t *testing.T) {
	f := setup(t)
	down, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: downStore{f.store}})
	var sawCritical atomic.Bool
	a, _ := socketauth.New(socketauth.Config{Source: down, Fail: func(ctx context.Context, fl *socketauth.Failure) error {
		sawCritical.Store(fl.Critical)
		return nil // tries to accept everything
	}})
	res, err := a.Authorize(context.Background(), handshake(f.cookie(f.user), nil), nil)
	if res != nil || !errors.Is(err, socketauth.ErrCritical) || !errors.Is(err, errDown) || !sawCritical.Load() {
		t.Fatalf("store down: res %v err %v critical %v", res, err, sawCritical.Load())
	}
	if err.Error() != "session store unavailable" {
		t.Fatalf("client message %q", err.Error())
	}

	// A deserializer failure is critical too; "user gone" is not.
	dbDown := errors.New("users db down")
	mk := func(deser passportuser.Deserializer[any]) *socketauth.Authorizer {
		a, _ := socketauth.New(socketauth.Config{Source: f.bridge, Deserialize: deser})
		return a
	}
	_, err = mk(func(context.Context, json.RawMessage) (any, error) { return nil, dbDown }).
		Authorize(context.Background(), handshake(f.cookie(f.user), nil), nil)
	if !errors.Is(err, socketauth.ErrCritical) || !errors.Is(err, dbDown) {
		t.Fatalf("deserializer failure: %v", err)
	}
	_, err = mk(func(context.Context, json.RawMessage) (any, error) { return nil, passportuser.ErrNotLoggedIn }).
		Authorize(context.Background(), handshake(f.cookie(f.user), nil), nil)
	if !errors.Is(err, socketauth.ErrUnauthorized) {
		t.Fatalf("deleted user: %v", err)
	}
	res, err = mk(func(_ context.Context, raw json.RawMessage) (any, error) { return "user#" + string(raw), nil }).
		Authorize(context.Background(), handshake(f.cookie(f.user), nil), nil)
	if err != nil || res.User != "user#7" {
		t.Fatalf("deserialized: %v %v", res, err)
	}
}

func TestHooks(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// Fail accepting an unauthorized client: anonymous, not logged in.
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge, Fail: func(context.Context, *socketauth.Failure) error { return nil }})
	res, err := a.Authorize(ctx, handshake("", nil), nil)
	if err != nil || res.LoggedIn || res.Session != nil {
		t.Fatalf("anonymous accept: %v %+v", err, res)
	}
	// Fail replacing the message.
	a, _ = socketauth.New(socketauth.Config{Source: f.bridge, Fail: func(context.Context, *socketauth.Failure) error { return errors.New("please log in") }})
	if _, err := a.Authorize(ctx, handshake("", nil), nil); err == nil || err.Error() != "please log in" || !errors.Is(err, socketauth.ErrUnauthorized) {
		t.Fatalf("custom message: %v", err)
	}
	// Success rejecting.
	banned := errors.New("banned")
	a, _ = socketauth.New(socketauth.Config{Source: f.bridge, Success: func(_ context.Context, au *socketauth.Auth) error {
		if string(au.StoredUser) == "7" {
			return banned
		}
		return nil
	}})
	if _, err := a.Authorize(ctx, handshake(f.cookie(f.user), nil), nil); !errors.Is(err, banned) || !errors.Is(err, socketauth.ErrUnauthorized) {
		t.Fatalf("success hook: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	f := setup(t)
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	var seen string
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if au, ok := socketauth.FromContext(r.Context()); ok {
			seen = string(au.StoredUser)
		} else {
			seen = "no auth (not a handshake)"
		}
	}))
	cases := []struct {
		name   string
		cookie string
		url    string
		code   int
		seen   string
	}{
		{"handshake ok", f.cookie(f.user), "/socket.io/?EIO=4&transport=polling", 200, "7"},
		{"no cookie", "", "/socket.io/?EIO=4&transport=polling", 401, ""},
		{"not logged in", f.cookie(f.anon), "/socket.io/?EIO=4&transport=websocket", 401, ""},
		{"forged", strings.Replace(f.cookie(f.user), "s%3A", "s%3AX", 1), "/socket.io/?EIO=4&transport=polling", 403, ""},
		// Middleware cannot know a server's connections: a sid, empty,
		// repeated or not, is no reason to skip the authorization.
		{"sid, no cookie", "", "/socket.io/?EIO=4&transport=polling&sid=abc", 401, ""},
		{"empty sid, no cookie", "", "/socket.io/?EIO=4&transport=polling&sid=", 401, ""},
		{"sid without =, no cookie", "", "/socket.io/?EIO=4&transport=polling&sid", 401, ""},
		{"two sids, forged", strings.Replace(f.cookie(f.user), "s%3A", "s%3AX", 1), "/socket.io/?EIO=4&transport=polling&sid=a&sid=b", 403, ""},
		{"sid, logged in", f.cookie(f.user), "/socket.io/?EIO=4&transport=polling&sid=abc", 200, "7"},
	}
	for _, c := range cases {
		seen = ""
		r := httptest.NewRequest("GET", c.url, nil)
		if c.cookie != "" {
			r.Header.Set("Cookie", "connect.sid="+c.cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code || seen != c.seen {
			t.Errorf("%s: code %d seen %q", c.name, w.Code, seen)
		}
	}
	down, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: downStore{f.store}})
	ad, _ := socketauth.New(socketauth.Config{Source: down})
	w := httptest.NewRecorder()
	ad.Middleware(h).ServeHTTP(w, handshake(f.cookie(f.user), nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("store down: %d", w.Code)
	}
}

func TestTrackerRevalidate(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Concurrency: 2})

	other, _ := f.bridge.NewSession()
	_ = other.Record.Set("passport", map[string]any{"user": 8})
	_ = f.bridge.Save(ctx, other)

	var mu sync.Mutex // revoke runs on Revalidate's goroutines
	reasons := map[string][]string{}
	track := func(name string, s *sessionbridge.Session) func() {
		res, err := a.Authorize(ctx, handshake(f.cookie(s), nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Track(res, func(reason string) {
			mu.Lock()
			reasons[name] = append(reasons[name], reason)
			mu.Unlock()
		})
	}
	track("u1", f.user)
	track("u2", f.user) // two connections of one session
	untrack := track("o1", other)
	if s, c := tr.Len(); s != 2 || c != 3 {
		t.Fatalf("Len = %d sessions %d conns", s, c)
	}
	// Nothing changed: nothing revoked.
	if checked, revoked := tr.Revalidate(ctx); checked != 2 || revoked != 0 {
		t.Fatalf("revalidate unchanged: %d %d", checked, revoked)
	}
	// Log the user out (passport's "passport":{}), destroy the other.
	_ = f.user.Record.Set("passport", map[string]any{})
	_ = f.bridge.Save(ctx, f.user)
	_ = f.bridge.Destroy(ctx, other)
	if checked, revoked := tr.Revalidate(ctx); checked != 2 || revoked != 3 {
		t.Fatalf("revalidate: checked %d revoked %d", checked, revoked)
	}
	if len(reasons["u1"]) != 1 || reasons["u1"][0] != socketauth.ReasonLoggedOut || reasons["o1"][0] != socketauth.ReasonSessionEnded {
		t.Fatalf("reasons %v", reasons)
	}
	untrack() // after revocation: harmless
	if s, c := tr.Len(); s != 0 || c != 0 {
		t.Fatalf("after revoke Len = %d %d", s, c)
	}

	// A store outage revokes nothing.
	down, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: downStore{f.store}})
	ad, _ := socketauth.New(socketauth.Config{Source: down})
	td := socketauth.NewTracker(ad, socketauth.TrackerOptions{})
	s2, _ := f.bridge.NewSession()
	_ = s2.Record.Set("passport", map[string]any{"user": 9})
	revokedDuringOutage := false
	td.Track(&socketauth.Auth{Session: s2, StoredUser: json.RawMessage("9"), LoggedIn: true}, func(string) { revokedDuringOutage = true })
	if _, revoked := td.Revalidate(ctx); revoked != 0 || revokedDuringOutage {
		t.Fatal("an outage revoked a connection")
	}
}

// TestTrackerUserChanged: a session whose passport.user changes revokes the
// connections of the old user, both when a re-validation sees it and when
// a connection of the new user is tracked; key order does not count.
func TestTrackerUserChanged(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	obj, _ := f.bridge.NewSession()
	_ = obj.Record.SetRaw("passport", json.RawMessage(`{"user":{"id":1,"role":"a"}}`))
	_ = f.bridge.Save(ctx, obj)
	var got []string
	track := func(user string) {
		tr.Track(&socketauth.Auth{Session: obj, StoredUser: json.RawMessage(user), LoggedIn: true}, func(r string) { got = append(got, user+":"+r) })
	}
	track(`{"role":"a","id":1}`) // same user, other key order
	if _, revoked := tr.Revalidate(ctx); revoked != 0 {
		t.Fatalf("key order counted as a user change: %v", got)
	}
	track(`{"id":2}`) // another user on the same session
	if len(got) != 1 || got[0] != `{"role":"a","id":1}:`+socketauth.ReasonUserChanged {
		t.Fatalf("tracking another user: %v", got)
	}
	if n, err := tr.Check(ctx, obj.ID); err != nil || n != 1 || got[1] != `{"id":2}:`+socketauth.ReasonUserChanged {
		t.Fatalf("check after the stored user differs: %d %v %v", n, err, got)
	}
}
