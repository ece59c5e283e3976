package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// readOnly is a session source that can only find and load sessions (no
// KeepAlive, no Update), as a SessionSource other than the Bridge may be.
type readOnly struct{ sessionbridge.SessionSource }

// TestSessionAccessors: LoadSession and Update on real sockets (the
// socket.io-client, a Go server, the memory store): a logged-in socket
// reads and changes its session; a socket without a session, or without
// a socket, gets ErrUnauthorized; a source that cannot update gets
// ErrUnsupported; fn's own error comes back as is and revokes nothing; a
// session that is gone gives ErrNoSession and revokes the socket.
func TestSessionAccessors(t *testing.T) {
	ctx := context.Background()
	bridge, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: sessionbridge.NewMemoryStore()})
	anonOK := func(context.Context, *socketauth.Failure) error { return nil }
	a := newAuthorizer(t, socketauth.Config{Source: bridge, Fail: anonOK})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour})
	srv := startServer(t, socketio.Middleware(a, socketio.Options{Tracker: tr}), nil)
	ro := newAuthorizer(t, socketauth.Config{Source: readOnly{bridge}})
	roSrv := startServer(t, socketio.Middleware(ro, socketio.Options{}), nil)

	login := func() (*sessionbridge.Session, string) {
		s, err := passportuser.Login(ctx, bridge, nil, 7, passportuser.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s, bridge.Signer().CookieValue(s.ID)
	}
	connect := func(srv *server, name, cookie string) (*driver, *socket.Socket) {
		d := startDriver(t, name, srv.url, cookie, []string{"websocket"})
		d.next("hello", event("hello"))
		return d, srv.waitConn(t)
	}
	sessA, cookieA := login()
	sessB, cookieB := login()
	dA, sA := connect(srv, "A", cookieA)
	dB, sB := connect(srv, "B", cookieB)
	_, anon := connect(srv, "anonymous", "")
	_, sRO := connect(roSrv, "read-only source", cookieA)

	set := func(key string, v any) func(*sessionbridge.Session) error {
		return func(s *sessionbridge.Session) error { return s.Record.Set(key, v) }
	}
	for name, s := range map[string]*socket.Socket{"no socket": nil, "anonymous": anon} {
		if _, err := socketio.LoadSession(ctx, s); !errors.Is(err, socketauth.ErrUnauthorized) {
			t.Errorf("%s: LoadSession: %v, want ErrUnauthorized", name, err)
		}
		if err := socketio.Update(ctx, s, set("k", 1)); !errors.Is(err, socketauth.ErrUnauthorized) {
			t.Errorf("%s: Update: %v, want ErrUnauthorized", name, err)
		}
	}
	if err := socketio.Update(ctx, sRO, set("k", 1)); !errors.Is(err, socketio.ErrUnsupported) {
		t.Errorf("read-only source: Update: %v, want ErrUnsupported", err)
	}
	if s, err := socketio.LoadSession(ctx, sRO); err != nil || s.ID != sessA.ID {
		t.Errorf("read-only source: LoadSession: %v", err)
	}

	if err := socketio.Update(ctx, sA, set("k", "v")); err != nil {
		t.Fatal(err)
	}
	if s, err := socketio.LoadSession(ctx, sA); err != nil || !s.Record.Has("k") {
		t.Fatalf("LoadSession after Update: %v (has k: %v)", err, err == nil && s.Record.Has("k"))
	}
	mine := fmt.Errorf("the handler's own reason: %w", sessionbridge.ErrNoSession)
	if err := socketio.Update(ctx, sA, func(*sessionbridge.Session) error { return mine }); err != mine {
		t.Fatalf("Update returned %v, want fn's error as is", err)
	}
	if !sA.Connected() {
		t.Fatal("fn's own error revoked the socket")
	}

	for _, c := range []struct {
		name string
		sess *sessionbridge.Session
		s    *socket.Socket
		d    *driver
		call func() error
	}{
		{"Update", sessA, sA, dA, func() error { return socketio.Update(ctx, sA, set("k", "w")) }},
		{"LoadSession", sessB, sB, dB, func() error { _, err := socketio.LoadSession(ctx, sB); return err }},
	} {
		if err := bridge.Destroy(ctx, c.sess); err != nil {
			t.Fatal(err)
		}
		if err := c.call(); !errors.Is(err, sessionbridge.ErrNoSession) {
			t.Fatalf("%s of a destroyed session: %v, want ErrNoSession", c.name, err)
		}
		got := c.d.next("revocation", event(socketio.DefaultRevokeEvent))
		if len(got.Args) != 1 || string(got.Args[0]) != `"`+socketauth.ReasonSessionEnded+`"` {
			t.Fatalf("%s: revoked with %s", c.name, got.raw)
		}
		c.d.next("disconnect", func(m driverMsg) bool { return m.Type == "disconnect" })
	}
}
