package socketauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// nilSource verifies credentials like the Bridge but its LoadID answers
// neither a session nor an error, as a careless SessionSource might.
type nilSource struct {
	*sessionbridge.Bridge
	loads atomic.Int32
}

func (s *nilSource) LoadID(context.Context, string) (*sessionbridge.Session, error) {
	s.loads.Add(1)
	return nil, nil
}

type account struct{ Name string }

// TestAuthorizeBadInputs: a nil request, a source returning no session and
// a deserializer returning a nil user are refused, never a panic or a
// logged-in Auth with no user.
func TestAuthorizeBadInputs(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	if res, err := a.Authorize(ctx, nil, nil); err == nil || !errors.Is(err, socketauth.ErrUnauthorized) {
		t.Fatalf("nil request: %v, %v; want ErrUnauthorized", res, err)
	}
	if res, err := a.Authorize(ctx, &http.Request{Header: http.Header{}}, nil); err == nil {
		t.Fatalf("request without URL: %v accepted", res)
	}

	src := &nilSource{Bridge: f.bridge}
	na, _ := socketauth.New(socketauth.Config{Source: src})
	_, err := na.Authorize(ctx, handshake(f.cookie(f.user), nil), nil)
	var fl *socketauth.Failure
	if !errors.As(err, &fl) || !fl.Critical || !errors.Is(err, socketauth.ErrCritical) {
		t.Fatalf("LoadID returning (nil, nil): %v, want a critical failure", err)
	}
	res, err := a.Authorize(ctx, handshake(f.cookie(f.user), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := socketauth.NewTracker(na, socketauth.TrackerOptions{})
	revoked := 0
	tr.Track(res, func(string) { revoked++ })
	if n, err := tr.Check(ctx, f.user.ID); err == nil || n != 0 || revoked != 0 {
		t.Fatalf("Check with LoadID returning (nil, nil): %d revoked, %v; want an error and nothing revoked", n, err)
	}

	for name, deserialize := range map[string]passportuser.Deserializer[any]{
		"untyped nil": func(context.Context, json.RawMessage) (any, error) { return nil, nil },
		"typed nil":   func(context.Context, json.RawMessage) (any, error) { return (*account)(nil), nil },
		"nil map":     func(context.Context, json.RawMessage) (any, error) { return map[string]any(nil), nil },
	} {
		da, _ := socketauth.New(socketauth.Config{Source: f.bridge, Deserialize: deserialize})
		res, err := da.Authorize(ctx, handshake(f.cookie(f.user), nil), nil)
		if err == nil || !errors.Is(err, passportuser.ErrNotLoggedIn) || !errors.Is(err, socketauth.ErrUnauthorized) {
			t.Errorf("Deserialize returning a %s: %+v, %v; want not logged in", name, res, err)
		}
	}
	da, _ := socketauth.New(socketauth.Config{Source: f.bridge, Deserialize: func(context.Context, json.RawMessage) (any, error) { return &account{"a"}, nil }})
	if res, err := da.Authorize(ctx, handshake(f.cookie(f.user), nil), nil); err != nil || res.User.(*account).Name != "a" {
		t.Fatalf("Deserialize returning a user: %+v, %v", res, err)
	}
}

// TestMiddlewareForWalkArounds: the sid is taken from the query only, as
// engine.io does, whatever the method; an escaped key is still "sid"; a sid
// in a POST body does not make a request part of a connection.
func TestMiddlewareForWalkArounds(t *testing.T) {
	f := setup(t)
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	table := &engineTable{conns: map[string]*http.Request{}}
	var reached atomic.Int32
	engine := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if socketauth.IsHandshake(r) {
			table.add("c1", r)
		}
	})
	h := a.MiddlewareFor(socketauth.EngineIO(table.lookup), engine)
	open := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
	open.Header.Set("Cookie", "connect.sid="+f.cookie(f.user))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, open)
	if w.Code != 200 {
		t.Fatalf("handshake: %d %s", w.Code, w.Body)
	}
	reached.Store(0)

	for _, c := range []struct {
		name, method, query, body string
		code                      int
	}{
		{"escaped key", "GET", "%73id=c1", "", 401},
		{"escaped key, both", "GET", "sid=c1&%73id=", "", 401}, // last one empty: a handshake
		{"POST body sid", "POST", "", "sid=c1", 401},
		{"POST on connection", "POST", "sid=c1", "4hello", 401},
		{"HEAD", "HEAD", "sid=c1", "", 401},
		{"OPTIONS", "OPTIONS", "sid=c1", "", 401},
		{"OPTIONS handshake", "OPTIONS", "", "", 401},
		{"websocket upgrade", "GET", "sid=c1&transport=websocket", "", 401},
		{"semicolon", "GET", "x=1;sid=c1", "", 401},
	} {
		r := httptest.NewRequest(c.method, "/socket.io/?EIO=4&transport=polling&"+c.query, strings.NewReader(c.body))
		if c.body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if strings.Contains(c.query, "websocket") {
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code {
			t.Errorf("%s: %d %q, want %d", c.name, w.Code, w.Body, c.code)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests without a cookie reached the engine", n)
	}
}

// countingSource counts store reads.
type countingSource struct {
	*sessionbridge.Bridge
	loads atomic.Int32
}

func (s *countingSource) LoadID(ctx context.Context, sid string) (*sessionbridge.Session, error) {
	s.loads.Add(1)
	return s.Bridge.LoadID(ctx, sid)
}

// TestWatchUntrackedAndDrains: events for sessions the Tracker does not
// track read nothing and revoke nothing, and Watch returns only after the
// re-validations it started are done.
func TestWatchUntrackedAndDrains(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	src := &countingSource{Bridge: f.bridge}
	a, _ := socketauth.New(socketauth.Config{Source: src})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour, Concurrency: 1})
	res, err := a.Authorize(ctx, handshake(f.cookie(f.user), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Int32
	tr.Track(res, func(string) { revoked.Add(1) })
	src.loads.Store(0)

	err = tr.Watch(ctx, feedFunc(func(_ context.Context, notify func(sessionbridge.SessionEvent)) error {
		notify(sessionbridge.SessionEvent{ID: "untracked"})
		notify(sessionbridge.SessionEvent{ID: "untracked", Ended: true})
		notify(sessionbridge.SessionEvent{ID: f.anon.ID})
		notify(sessionbridge.SessionEvent{ID: ""})
		for range 5 {
			notify(sessionbridge.SessionEvent{ID: f.user.ID}) // tracked, still logged in
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if n := src.loads.Load(); n != 5 {
		t.Fatalf("%d store reads when Watch returned, want the 5 of the tracked session's events", n)
	}
	if n := revoked.Load(); n != 0 {
		t.Fatalf("%d connections revoked", n)
	}
	if s, c := tr.Len(); s != 1 || c != 1 {
		t.Fatalf("tracked: %d sessions, %d connections", s, c)
	}
}
