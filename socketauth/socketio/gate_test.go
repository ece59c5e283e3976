package socketio_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// gateFixture is a bridge on an in-memory store with two logged-in users.
type gateFixture struct {
	bridge       *sessionbridge.Bridge
	alice, bob   string // Cookie header values
	forgedAlice  string // alice's cookie with a tampered signature
	aliceSession string
}

func newGateFixture(t *testing.T) *gateFixture {
	t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: sessionbridge.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	f := &gateFixture{bridge: b}
	login := func(user int) (string, string) {
		s, err := passportuser.Login(context.Background(), b, nil, user, passportuser.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b.CookieName() + "=" + b.Signer().CookieValue(s.ID), s.ID
	}
	f.alice, f.aliceSession = login(7)
	f.bob, _ = login(8)
	// Flip the signature's last character: same session id, bad signature.
	last := f.alice[len(f.alice)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	f.forgedAlice = f.alice[:len(f.alice)-1] + string(repl)
	return f
}

// unknownSid is well formed (engine.io accepts its shape) but names no
// connection.
const unknownSid = "AAAAAAAAAAAAAAAAAAAA"

// TestNetHTTPGate drives raw engine.io requests, over long-polling and
// websocket, through the net/http middleware in front of a real zishang520
// server that has no namespace middleware, so that whatever passes the
// middleware gets a socket.io connection. Every way of naming a sid
// (empty, without "=", unknown, repeated in both orders, somebody else's)
// with no cookie, a forged one or, for a known connection, another user's
// valid one, must reach neither the engine nor a namespace. A logged-in
// client connects, and its established connection keeps working through
// the middleware, over polling and after upgrading to websocket.
func TestNetHTTPGate(t *testing.T) {
	f := newGateFixture(t)
	logs := &nodetest.LockedBuffer{}
	a := newAuthorizer(t, socketauth.Config{Source: f.bridge, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		if m := "not the one that opened the connection"; !strings.Contains(logs.String(), m) {
			t.Errorf("bob's requests on alice's connection were not logged (%q):\n%s", m, logs)
		}
		for _, secret := range []string{f.aliceSession, f.alice, f.bob, f.forgedAlice} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds a session id or a cookie:\n%s", logs)
			}
		}
	})
	modes := []struct {
		name   string
		engine bool // MiddlewareFor(EngineMode(io)): the middleware knows the engine's connections
		wrap   func(io *socket.Server, h http.Handler) http.Handler
	}{
		{"Middleware", false, func(_ *socket.Server, h http.Handler) http.Handler { return a.Middleware(h) }},
		{"MiddlewareFor(EngineMode)", true, func(io *socket.Server, h http.Handler) http.Handler {
			return a.MiddlewareFor(socketio.EngineMode(io), h)
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			g := startGated(t, m.wrap, nil)

			// The victim: alice, connected over long-polling.
			victim := newRaw(g.url, f.alice, "")
			known, o, err := victim.legitOpen()
			if err != nil || !o.connected {
				t.Fatalf("alice could not connect (%v): %s", err, strings.Join(o.trace, "; "))
			}
			if c := waitOne(t, g.conns, "connection of alice"); !strings.HasPrefix(c, "/ ") {
				t.Fatalf("alice's connection %q, want on /", c)
			}
			waitOne(t, g.engines, "engine connection of alice")

			type cred struct {
				name, cookie string
				status       int // the middleware's answer to a handshake
			}
			noCookie := cred{"no cookie", "", http.StatusUnauthorized}
			forged := cred{"forged cookie", f.forgedAlice, http.StatusForbidden}
			bob := cred{"bob's valid cookie", f.bob, http.StatusForbidden}
			variants := []struct {
				name, query string
				names       string // "new", "unknown" or "known": what engine.io reads
			}{
				{"empty sid", "sid=", "new"},
				{"sid without =", "sid", "new"},
				{"sid=&sid=", "sid=" + known + "&sid=", "new"},
				{"unknown sid", "sid=" + unknownSid, "unknown"},
				{"known then unknown", "sid=" + known + "&sid=" + unknownSid, "unknown"},
				{"unknown then known", "sid=" + unknownSid + "&sid=" + known, "known"},
				{"known sid", "sid=" + known, "known"},
			}
			n := 0
			for _, v := range variants {
				creds := []cred{noCookie, forged}
				if m.engine && v.names == "known" {
					// Only the connection's own session may use it.
					creds = append(creds, bob)
				}
				for _, c := range creds {
					for _, transport := range []string{"polling", "websocket"} {
						n++
						name := fmt.Sprintf("%s, %s, %s", v.name, c.name, transport)
						cl := newRaw(g.url, c.cookie, name)
						var o outcome
						if transport == "polling" {
							o = cl.pollingAttempt(v.query, "/admin", nil)
						} else {
							o = cl.wsAttempt(v.query, "/admin", nil)
						}
						want := c.status
						if m.engine && v.names == "unknown" {
							want = http.StatusBadRequest
						}
						if o.connected || o.status != want {
							t.Errorf("%s: status %d (want %d), socket.io connected %v\n  %s", name, o.status, want, o.connected, strings.Join(o.trace, "\n  "))
						}
					}
				}
			}
			// Every attempt was answered by the middleware: nothing of theirs is
			// still on its way to the engine.
			if r := drain(g.spy.reached); len(r) > 0 {
				t.Errorf("%d of %d attempts reached the engine: %q", len(r), n, r)
			}
			if c := drain(g.conns); len(c) > 0 {
				t.Errorf("socket.io connections established by the attempts: %q", c)
			}
			if e := drain(g.engines); len(e) > 0 {
				t.Errorf("engine.io connections opened by the attempts: %d", len(e))
			}
			rs, err := socketio.FilterSockets(context.Background(), g.io.Of("/admin", nil), func(*socketio.Data) bool { return true })
			if err != nil || len(rs) != 0 {
				t.Errorf("sockets on /admin: %d (%v), want none", len(rs), err)
			}

			// Positive controls. Alice's established polling connection still
			// works through the middleware...
			if st, body, err := victim.do(http.MethodPost, "sid="+known, `42["echo","polling"]`); err != nil || st != http.StatusOK {
				t.Fatalf("alice's POST on her connection: %d %q %v", st, body, err)
			}
			var echo outcome
			victim.readPolling("sid="+known, "/", 1, &echo)
			if len(echo.events) != 1 || echo.events[0] != `["echo","polling"]` {
				t.Fatalf("alice's echo over polling: %q\n  %s", echo.events, strings.Join(echo.trace, "\n  "))
			}
			// ...and upgrades to websocket (an upgrade request carries the sid).
			ws, st, err := victim.dial("sid=" + known)
			if err != nil {
				t.Fatalf("alice's upgrade: %d %v", st, err)
			}
			defer ws.Close()
			for _, step := range []struct{ send, want string }{
				{"2probe", "3probe"},
				{"5", `42["upgraded","websocket"]`},
				{`42["echo","websocket"]`, `42["echo","websocket"]`},
			} {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(step.send)); err != nil {
					t.Fatalf("alice's upgrade, send %q: %v", step.send, err)
				}
				if step.want == "" {
					continue
				}
				got, err := read(ws)
				for err == nil && (got == "2" || got == "6") { // ping, noop
					got, err = read(ws)
				}
				if got != step.want {
					t.Fatalf("alice's upgrade: sent %q, got %q (%v), want %q", step.send, got, err, step.want)
				}
			}
			// A fresh logged-in websocket client connects too.
			bobWS := newRaw(g.url, f.bob, "").wsAttempt("", "/", nil)
			if !bobWS.connected {
				t.Fatalf("bob over websocket: %s", strings.Join(bobWS.trace, "; "))
			}
			if c := waitOne(t, g.conns, "connection of bob"); !strings.HasPrefix(c, "/ ") {
				t.Fatalf("bob's connection %q, want on /", c)
			}
		})
	}
}
