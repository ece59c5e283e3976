package socketauth_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// TestIsHandshake: the sid is read as engine.io reads it, the last value
// of the query, and an empty one opens a connection.
func TestIsHandshake(t *testing.T) {
	for q, want := range map[string]bool{
		"EIO=4&transport=polling":       true,
		"sid=":                          true,
		"sid":                           true,
		"sid=a&sid=":                    true, // engine.io reads the last one
		"sid=&sid=a":                    false,
		"sid=a&sid=b":                   false,
		"%73id=a":                       false, // an escaped key is still "sid"
		"sid=a&EIO=4&transport=polling": false,
		"sids=a&xsid=b":                 true,
	} {
		r := httptest.NewRequest("GET", "/socket.io/?"+q, nil)
		if got := socketauth.IsHandshake(r); got != want {
			t.Errorf("IsHandshake(?%s) = %v, want %v", q, got, want)
		}
	}
}

// engineTable is what an engine.io server knows: its open connections and
// the handshake request of each. Handshakes are recorded by the handler
// behind the middleware, so a connection exists only if the middleware let
// its handshake through, as with a real engine (see the socketio package's
// TestNetHTTPGate for zishang520 itself).
type engineTable struct {
	mu    sync.Mutex
	conns map[string]*http.Request
}

func (e *engineTable) lookup(sid string) (*http.Request, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.conns[sid]
	return r, ok
}

func (e *engineTable) add(sid string, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.conns[sid] = r
}

// TestMiddlewareForEngineIO: in EngineIO mode a handshake is authorized, a
// request on an open connection passes only with the session of the
// connection's handshake, and an unknown sid is refused before the engine.
func TestMiddlewareForEngineIO(t *testing.T) {
	f := setup(t)
	logs := &nodetest.LockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge, QueryParam: "session", Logger: log})
	anonOK, _ := socketauth.New(socketauth.Config{Source: f.bridge, Logger: log, Fail: func(context.Context, *socketauth.Failure) error { return nil }})
	table := &engineTable{conns: map[string]*http.Request{}}

	// The "engine": a request without a sid opens connection "c<n>"; a
	// request with one reports the user of the connection's handshake.
	var next int
	engine := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		au, ok := socketauth.FromContext(r.Context())
		user := "none"
		if ok && au.LoggedIn {
			user = string(au.StoredUser)
		} else if ok {
			user = "anonymous"
		}
		if socketauth.IsHandshake(r) {
			table.mu.Lock()
			next++
			sid := "c" + string(rune('0'+next))
			table.mu.Unlock()
			table.add(sid, r)
			w.Write([]byte("open " + sid + " " + user))
			return
		}
		w.Write([]byte("on connection, user " + user))
	})
	h := a.MiddlewareFor(socketauth.EngineIO(table.lookup), engine)
	hAnon := anonOK.MiddlewareFor(socketauth.EngineIO(table.lookup), engine)

	do := func(h http.Handler, query, cookie string) (int, string) {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&"+query, nil)
		if cookie != "" {
			r.Header.Set("Cookie", "connect.sid="+cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	open := func(h http.Handler, query, cookie string) string {
		t.Helper()
		code, body := do(h, query, cookie)
		fields := strings.Fields(body)
		if code != 200 || len(fields) != 3 || fields[0] != "open" {
			t.Fatalf("handshake ?%s: %d %q", query, code, body)
		}
		return fields[1]
	}
	alice := open(h, "", f.cookie(f.user))
	signed, _ := url.QueryUnescape(f.cookie(f.user))
	byQuery := open(h, "session="+url.QueryEscape(signed), "")
	anonymous := open(hAnon, "", "")
	table.add("foreign", httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)) // not opened through socketauth
	forged := strings.Replace(f.cookie(f.user), "s%3A", "s%3AX", 1)
	other, _ := f.bridge.NewSession()
	_ = other.Record.Set("passport", map[string]any{"user": 8})
	_ = f.bridge.Save(context.Background(), other)
	bob := f.cookie(other)

	cases := []struct {
		name, query, cookie string
		h                   http.Handler
		code                int
		body                string
	}{
		{"handshake, no cookie", "", "", h, 401, "no session cookie"},
		{"empty sid, no cookie", "sid=", "", h, 401, "no session cookie"},
		{"sid without =, forged", "sid", forged, h, 403, "invalid session cookie"},
		{"unknown sid, logged in", "sid=nosuch", f.cookie(f.user), h, 400, "unknown connection"},
		{"known then unknown, logged in", "sid=" + alice + "&sid=nosuch", f.cookie(f.user), h, 400, "unknown connection"},
		{"unknown then known, logged in", "sid=nosuch&sid=" + alice, f.cookie(f.user), h, 200, "on connection, user 7"},
		{"known, same session", "sid=" + alice, f.cookie(f.user), h, 200, "on connection, user 7"},
		{"known, no cookie", "sid=" + alice, "", h, 401, "no session cookie"},
		{"known, forged cookie", "sid=" + alice, forged, h, 403, "invalid session cookie"},
		{"known, another session", "sid=" + alice, bob, h, 403, "session does not match the connection"},
		{"known, unsigned id", "sid=" + alice, f.user.ID, h, 403, "invalid session cookie"},
		{"opened by query credential, same query", "sid=" + byQuery + "&session=" + url.QueryEscape(signed), "", h, 200, "on connection, user 7"},
		{"opened by query credential, none", "sid=" + byQuery, "", h, 401, "no session cookie"},
		{"opened by query credential, conflicting", "sid=" + byQuery + "&session=" + url.QueryEscape(signed), bob, h, 403, "conflicting session credentials"},
		{"handshake not authorized by socketauth", "sid=foreign", f.cookie(f.user), h, 400, "unknown connection"},
		{"anonymous connection, no cookie", "sid=" + anonymous, "", hAnon, 200, "on connection, user anonymous"},
		{"nil lookup authorizes every request", "sid=" + alice, "", a.MiddlewareFor(socketauth.EngineIO(nil), engine), 401, "no session cookie"},
	}
	for _, c := range cases {
		code, body := do(c.h, c.query, c.cookie)
		if code != c.code || body != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.code, c.body)
		}
	}
	if !strings.Contains(logs.String(), "not the one that opened the connection") {
		t.Errorf("a request with another session on a connection was not logged:\n%s", logs)
	}
	for _, secret := range []string{f.user.ID, other.ID, signed, cookiesig.EncodeURIComponent(signed)} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log holds an id or a cookie:\n%s", logs)
		}
	}
}
