package socketio_test

import (
	"net/http"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// TestNodeClientThroughNetHTTPGate runs the real socket.io-client 4.8
// against a Go zishang520 server guarded only by the net/http middleware
// (MiddlewareFor with EngineMode, no namespace middleware): without a
// valid session it never connects, even when it sends "sid=" itself (the
// client puts its query options on the handshake); with a Node login it
// connects over polling, upgrades to websocket (a request carrying the
// sid) and over websocket alone.
func TestNodeClientThroughNetHTTPGate(t *testing.T) {
	h := newHarness(t)
	a := newAuthorizer(t, socketauth.Config{Source: h.bridge})
	g := startGated(t, func(io *socket.Server, next http.Handler) http.Handler {
		return a.MiddlewareFor(socketio.EngineMode(io), next)
	}, nil)
	alice := h.app.Login("alice", "secret")
	signed, _ := cookiesig.DecodeURIComponent(alice)
	forged := cookiesig.EncodeURIComponent(signed[:len(signed)-2] + "xx")

	refusedNames := []string{"no cookie", "no cookie, websocket", `no cookie, query sid ""`, `no cookie, query sid "", websocket`,
		"no cookie, unknown sid in the query", "forged cookie", "forged cookie, websocket"}
	refused := []spec{
		{URL: g.url},
		{URL: g.url, Transports: []string{"websocket"}},
		{URL: g.url, Query: map[string]string{"sid": ""}},
		{URL: g.url, Query: map[string]string{"sid": ""}, Transports: []string{"websocket"}},
		{URL: g.url, Query: map[string]string{"sid": unknownSid}},
		{URL: g.url, Cookie: cookieHeader(forged)},
		{URL: g.url, Cookie: cookieHeader(forged), Transports: []string{"websocket"}},
	}
	echo := map[string]any{"event": "echo", "args": []string{"hi"}}
	connects := []spec{
		{URL: g.url, Cookie: cookieHeader(alice)},                                      // polling, then upgrade
		{URL: g.url, Cookie: cookieHeader(alice), Transports: []string{"websocket"}},   // websocket only
		{URL: g.url, Cookie: cookieHeader(alice), Query: map[string]string{"sid": ""}}, // "sid=" on a logged-in handshake is fine
	}
	var sps []spec
	for _, sp := range refused {
		sp.WaitMs = 100
		sps = append(sps, sp)
	}
	for i, sp := range connects {
		sp.WaitMs, sp.Until = untilHello, "echo"
		if i == 0 {
			sp.Until = "upgraded" // the server's word that the upgrade went through
		}
		sps = append(sps, sp)
	}
	type clientSpec struct {
		spec
		Emit map[string]any `json:"emit,omitempty"`
	}
	in := make([]clientSpec, len(sps))
	for i, sp := range sps {
		in[i] = clientSpec{spec: sp}
		if i >= len(refused) {
			in[i].Emit = echo
		}
	}
	o := <-sioClient(t, in, untilHello)
	var rs []result
	o.decode(t, &rs)
	if len(rs) != len(sps) {
		t.Fatalf("sio-client.js answered %d of %d specs", len(rs), len(sps))
	}
	for i, r := range rs[:len(refused)] {
		t.Logf("%s: connected %v, error %+v", refusedNames[i], r.Connected, r.Error)
		if r.Connected || r.Error == nil {
			t.Errorf("%s: connected %v, error %v; want refused", refusedNames[i], r.Connected, r.Error)
		}
	}
	for i, r := range rs[len(refused):] {
		want, event := `"hi"`, "echo"
		if i == 0 {
			want, event = `"websocket"`, "upgraded"
		}
		arg, ok := r.event(event)
		t.Logf("logged in %d: connected %v, error %+v, %s %s", i, r.Connected, r.Error, event, arg)
		if !r.Connected || !ok || string(arg) != want {
			t.Errorf("logged-in client %d: connected %v, %s %s (%v), want %s", i, r.Connected, event, arg, ok, want)
		}
	}
	// Exactly the logged-in clients connected.
	for range connects {
		waitOne(t, g.conns, "connection of a logged-in client")
	}
	if c := drain(g.conns); len(c) > 0 {
		t.Errorf("more socket.io connections than logged-in clients: %q", c)
	}
}
