package socketio_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// recoveryOptions turns connection state recovery on; skip sets
// SkipMiddlewares, nil leaves zishang520's default (true).
func recoveryOptions(skip *bool) *socket.ServerOptions {
	csr := socket.DefaultConnectionStateRecovery()
	if skip != nil {
		csr.SetSkipMiddlewares(*skip)
	}
	opts := socket.DefaultServerOptions()
	opts.SetConnectionStateRecovery(csr)
	return opts
}

// waitGone returns the server's next disconnect, failing after rawTimeout.
func waitGone(t *testing.T, srv *server) disconnect {
	t.Helper()
	select {
	case d := <-srv.gone:
		return d
	case <-time.After(rawTimeout):
		t.Fatalf("no socket disconnected within %v", rawTimeout)
	}
	return disconnect{}
}

// recoverable is a socket that lost its transport and can be recovered.
type recoverable struct {
	id, pid, offset string
}

// connectThenDrop connects c to "/" over long-polling, reads the server's
// hello (whose last argument is the recovery offset), then closes the
// engine.io connection without a socket.io DISCONNECT, as a lost network
// does, and waits until the server has seen the socket go.
func connectThenDrop(t *testing.T, srv *server, c *raw) recoverable {
	t.Helper()
	o := c.pollingAttempt("", "/", nil)
	if !o.connected || o.ack.Pid == "" {
		t.Fatalf("connect: connected %v, pid %q: %s", o.connected, o.ack.Pid, strings.Join(o.trace, "; "))
	}
	if len(o.events) == 0 {
		c.readPolling("sid="+o.sid, "/", 1, &o)
	}
	var hello []any
	if len(o.events) == 0 || json.Unmarshal([]byte(o.events[0]), &hello) != nil || len(hello) < 3 {
		t.Fatalf("no hello with an offset: %q", o.events)
	}
	offset, _ := hello[len(hello)-1].(string)
	s := srv.waitConn(t)
	if st, body, err := c.do(http.MethodPost, "sid="+o.sid, "1"); err != nil || st != http.StatusOK { // engine.io CLOSE
		t.Fatalf("close: %d %q %v", st, body, err)
	}
	d := waitGone(t, srv)
	if d.id != s.Id() || d.reason != "transport close" {
		t.Fatalf("server saw %s go with %q, want %s with a transport close", d.id, d.reason, s.Id())
	}
	return recoverable{id: o.ack.Sid, pid: o.ack.Pid, offset: offset}
}

// TestRecoverySkippingMiddlewaresIsRefused: with connection state recovery
// on and zishang520's default SkipMiddlewares, a recovered socket would
// come back without passing the middleware, after its session ended and
// with no cookie at all. The middleware refuses every connection on such a
// server, as a critical failure, and says why in the log.
func TestRecoverySkippingMiddlewaresIsRefused(t *testing.T) {
	f := newGateFixture(t)
	logs := &nodetest.LockedBuffer{}
	a := newAuthorizer(t, socketauth.Config{Source: f.bridge, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for _, c := range []struct {
		name string
		skip *bool
	}{{"default", nil}, {"SkipMiddlewares(true)", new(true)}} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServerOpts(t, socketio.Middleware(a, socketio.Options{}), recoveryOptions(c.skip))
			alice := newRaw(srv.url, f.alice, "")
			o := alice.pollingAttempt("", "/", nil)
			if o.connected {
				// What such a server allows: drop the transport, end the
				// session, come back with the recovery ids and no cookie.
				_ = srv.waitConn(t)
				if st, _, err := alice.do(http.MethodPost, "sid="+o.sid, "1"); err != nil || st != http.StatusOK {
					t.Fatalf("close: %d %v", st, err)
				}
				waitGone(t, srv)
				var hello []any
				if len(o.events) == 0 {
					alice.readPolling("sid="+o.sid, "/", 1, &o)
				}
				if len(o.events) > 0 {
					_ = json.Unmarshal([]byte(o.events[0]), &hello)
				}
				offset := ""
				if len(hello) > 0 {
					offset, _ = hello[len(hello)-1].(string)
				}
				back := newRaw(srv.url, "", "").pollingAttempt("", "/", map[string]any{"pid": o.ack.Pid, "offset": offset})
				t.Fatalf("a socket connected on a server whose recovered sockets skip the middleware; then a recovery with no cookie connected: %v (recovered as %q, was %q)",
					back.connected, back.ack.Sid, o.ack.Sid)
			}
			if !strings.Contains(o.connErr, `"code":"SESSION_ERROR"`) || !strings.Contains(o.connErr, "session check unavailable") {
				t.Fatalf("connect_error %q, want the critical refusal: %s", o.connErr, strings.Join(o.trace, "; "))
			}
			srv.noConnection(t)
		})
	}
	if !strings.Contains(logs.String(), "SetSkipMiddlewares(false)") {
		t.Fatalf("the log does not say what to change:\n%s", logs)
	}
	if strings.Contains(logs.String(), f.aliceSession) {
		t.Fatalf("the log holds a session id:\n%s", logs)
	}

	// With SkipMiddlewares(false) the same server accepts alice.
	srv := startServerOpts(t, socketio.Middleware(a, socketio.Options{}), recoveryOptions(new(false)))
	if o := newRaw(srv.url, f.alice, "").pollingAttempt("", "/", nil); !o.connected {
		t.Fatalf("SkipMiddlewares(false): alice refused: %s", strings.Join(o.trace, "; "))
	}
	srv.waitConn(t)
}

// TestRecoveredSocketIsReauthorized: with SkipMiddlewares(false) a
// recovered socket passes the middleware again: it is refused when its
// session has ended, and when the session now holds another user it keeps
// none of the old user's rooms.
func TestRecoveredSocketIsReauthorized(t *testing.T) {
	f := newGateFixture(t)
	a := newAuthorizer(t, socketauth.Config{Source: f.bridge})
	srv := startServerOpts(t, socketio.Middleware(a, socketio.Options{}), recoveryOptions(new(false)))
	ctx := context.Background()

	// The session ended while the transport was down.
	gone := connectThenDrop(t, srv, newRaw(srv.url, f.alice, ""))
	aliceSess, err := f.bridge.LoadID(ctx, f.aliceSession)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bridge.Destroy(ctx, aliceSess); err != nil {
		t.Fatal(err)
	}
	o := newRaw(srv.url, f.alice, "").pollingAttempt("", "/", map[string]any{"pid": gone.pid, "offset": gone.offset})
	if o.connected || !strings.Contains(o.connErr, "session not found or expired") {
		t.Fatalf("recovery after the session ended: connected %v, connect_error %q", o.connected, o.connErr)
	}
	srv.noConnection(t)

	// Another user now: bob comes back on alice's recovered socket.
	f2 := newGateFixture(t)
	a2 := newAuthorizer(t, socketauth.Config{Source: f2.bridge})
	srv2 := startServerOpts(t, socketio.Middleware(a2, socketio.Options{}), recoveryOptions(new(false)))
	was := connectThenDrop(t, srv2, newRaw(srv2.url, f2.alice, ""))
	o = newRaw(srv2.url, f2.bob, "").pollingAttempt("", "/", map[string]any{"pid": was.pid, "offset": was.offset})
	if !o.connected {
		t.Fatalf("bob's recovery: %s", strings.Join(o.trace, "; "))
	}
	s := srv2.waitConn(t)
	if !s.Recovered() || string(s.Id()) != was.id {
		t.Fatalf("socket %s recovered %v, want alice's socket %s recovered", s.Id(), s.Recovered(), was.id)
	}
	aliceRoom, _ := socketio.UserRoom(7)
	bobRoom, _ := socketio.UserRoom(8)
	if s.Rooms().Has(aliceRoom) || !s.Rooms().Has(bobRoom) {
		t.Fatalf("recovered socket's rooms %v: in alice's room %v, in bob's %v; want bob's only", s.Rooms().Keys(), s.Rooms().Has(aliceRoom), s.Rooms().Has(bobRoom))
	}
	if rs, err := socketio.SocketsOfUser(ctx, srv2.io, 7); err != nil || len(rs) != 0 {
		t.Fatalf("SocketsOfUser(alice) = %d sockets (%v), want none", len(rs), err)
	}
	got, ok := socketio.Auth(s)
	if !ok || string(got.StoredUser) != "8" {
		t.Fatalf("recovered socket's Auth %+v, want bob", got)
	}
}

// TestSessionEndedBeforeTrackingIsRevoked: a session that ends after the
// authorization but before the socket is tracked (here, in the Success
// hook) sends no notification the Tracker could act on; the socket is
// revoked anyway, without Tracker.Run or Tracker.Watch running.
func TestSessionEndedBeforeTrackingIsRevoked(t *testing.T) {
	f := newGateFixture(t)
	a := newAuthorizer(t, socketauth.Config{Source: f.bridge, Success: func(ctx context.Context, au *socketauth.Auth) error {
		return f.bridge.Destroy(ctx, au.Session)
	}})
	tracker := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	srv := startServer(t, socketio.Middleware(a, socketio.Options{Tracker: tracker}), nil)
	c := newRaw(srv.url, f.alice, "")
	o := c.pollingAttempt("", "/", nil)
	if !o.connected {
		t.Fatalf("connect: %s", strings.Join(o.trace, "; "))
	}
	s := srv.waitConn(t)
	d := waitGone(t, srv)
	if d.id != s.Id() || d.reason != "server namespace disconnect" {
		t.Fatalf("disconnect of %s (%q), want %s by the server", d.id, d.reason, s.Id())
	}
	c.readPolling("sid="+o.sid, "/", 2, &o)
	found := false
	for _, e := range o.events {
		found = found || e == `["`+socketio.DefaultRevokeEvent+`","`+socketauth.ReasonSessionEnded+`"]`
	}
	if !found {
		t.Fatalf("the client got no %s: %q", socketio.DefaultRevokeEvent, o.events)
	}
}
