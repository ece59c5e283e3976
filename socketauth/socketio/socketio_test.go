package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/sioadapter"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestSocketIO runs every scenario against one live Node app (STORE=redis,
// its own REDIS_PREFIX) and the real socket.io-client, in parallel.
func TestSocketIO(t *testing.T) {
	h := newHarness(t)
	for name, fn := range map[string]func(*testing.T, *harness){
		"NodeLoginConnects":   testNodeLoginConnects,
		"Rejected":            testRejected,
		"SignedValueInAuth":   testSignedValueInAuth,
		"StoreDownIsCritical": testStoreDownIsCritical,
		"AcrossServers":       testAcrossServers,
		"RevokedOnNodeLogout": testRevokedOnNodeLogout,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, h)
		})
	}
}

type hello struct {
	Connected  bool            `json:"connected"`
	User       json.RawMessage `json:"user"`
	LoggedIn   bool            `json:"logged_in"`
	InUserRoom bool            `json:"in_user_room"`
	AppUser    json.RawMessage `json:"app_user"`
	Transport  string          `json:"handshake_transport"`
	Nsp        string          `json:"nsp"`
}

func wantHello(t *testing.T, r result, user, name string) {
	t.Helper()
	if !r.Connected || r.Error != nil {
		t.Fatalf("connected=%v error=%+v, want connected", r.Connected, r.Error)
	}
	raw, ok := r.event("hello")
	if !ok {
		t.Fatal("no hello from the server's connection handler")
	}
	var h hello
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("hello %s: %v", raw, err)
	}
	if string(h.User) != user || !h.LoggedIn || !h.InUserRoom {
		t.Fatalf("hello %s: want user %s, logged_in, in the user's room", raw, user)
	}
	if name != "" && string(h.AppUser) != `{"name":"`+name+`"}` {
		t.Fatalf("hello %s: want the deserialized user %q", raw, name)
	}
}

// Test 1: a cookie from a real Node login connects, on both transports, and
// the Go connection handler sees the user, the deserialized user and the
// user's room. When the client leaves, the Tracker forgets the socket.
func testNodeLoginConnects(t *testing.T, h *harness) {
	a := newAuthorizer(t, socketauth.Config{Source: h.bridge, Deserialize: deserialize})
	tracker := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	srv := startServer(t, socketio.Middleware(a, socketio.Options{Tracker: tracker}), nil)

	type want struct{ stored, name, transport string }
	var sps []spec
	var wants []want
	for name, u := range users {
		cookie := h.app.Login(name, "secret")
		for tname, tr := range clientTransports {
			sps = append(sps, spec{URL: srv.url, Cookie: cookieHeader(cookie), Transports: tr, WaitMs: untilHello, Until: "hello"})
			wants = append(wants, want{u.stored, u.name, tname})
		}
	}
	// The same middleware on another namespace (io.Of("/admin").Use).
	adminCookie := h.app.Login("alice", "secret")
	sps = append(sps, spec{URL: srv.url + "/admin", Cookie: cookieHeader(adminCookie), WaitMs: untilHello, Until: "hello"})
	wants = append(wants, want{"7", "Alice", "polling"})
	for i, r := range runClients(t, sps) {
		w := wants[i]
		t.Logf("%s over %s: %s", w.name, w.transport, r.raw)
		wantHello(t, r, w.stored, w.name)
		// The engine.io handshake's transport as the server saw it (the
		// default client may already have upgraded when "connect" fires).
		raw, _ := r.event("hello")
		var hl hello
		_ = json.Unmarshal(raw, &hl)
		if wantNsp := map[bool]string{true: "/admin", false: "/"}[i == len(sps)-1]; hl.Nsp != wantNsp {
			t.Fatalf("namespace %q, want %s", hl.Nsp, wantNsp)
		}
		if hl.Transport != w.transport {
			t.Fatalf("handshake transport %q, want %s", hl.Transport, w.transport)
		}
		if r.DisconnectReason == nil || *r.DisconnectReason != "io client disconnect" {
			t.Fatalf("disconnect reason %v, want the client's own close", r.DisconnectReason)
		}
	}
	// Every client closed its socket: nothing stays tracked.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, c := tracker.Len()
		if s == 0 && c == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracker still holds %d sessions, %d connections after every client left", s, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Test 2: every way to be refused gives connect_error with the message, and
// nothing connects.
func testRejected(t *testing.T, h *harness) {
	// The Go store is told the keys have no TTL (connect-redis disableTTL),
	// so the Bridge checks cookie.expires itself (bug 3).
	noTTL, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret},
		Store: redisstore.New(h.rdb, redisstore.Options{Prefix: h.prefix, DisableTTL: true})})
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, socketauth.Config{Source: noTTL, AuthField: "session", QueryParam: "session"})
	srv := startServer(t, socketio.Middleware(a, socketio.Options{}), nil)

	alice := h.app.Login("alice", "secret")
	aliceSid := h.app.Me(alice).Sid
	zero := h.app.Login("zero", "secret")
	signedAlice, _ := cookiesig.DecodeURIComponent(alice) // "s:<sid>.<sig>"
	forged := signedAlice[:len(signedAlice)-4] + "AAAA"
	if forged == signedAlice {
		forged = signedAlice[:len(signedAlice)-4] + "BBBB"
	}
	wrongSecret, err := cookiesig.NewSigner("not the app's secret")
	if err != nil {
		t.Fatal(err)
	}
	// An expired session still in the store: what connect-redis with
	// disableTTL (or any store without TTL) keeps after cookie.expires.
	// passport.socketio accepted it (bug 3).
	expired := h.app.Login("alice", "secret")
	expiredKey := h.store.Key(h.app.Me(expired).Sid)
	rec, err := h.store.Get(context.Background(), h.app.Me(expired).Sid)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	rec.Cookie.Expires = &past
	val, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rdb.Set(context.Background(), expiredKey, val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	loggedOut := h.app.Login("alice", "secret")
	h.app.Logout(loggedOut) // passport 0.7: passport.user removed, then the session regenerated (old one destroyed)
	anonymous := h.app.Login("alice", "secret")
	h.app.SetData(anonymous, map[string]any{"passport": map[string]any{}}) // a session without a user

	cases := []struct {
		name, message string
		sp            spec
	}{
		{"no cookie", "no session cookie", spec{}},
		{"forged signature", "invalid session cookie", spec{Cookie: cookieHeader(cookiesig.EncodeURIComponent(forged))}},
		{"wrong secret", "invalid session cookie", spec{Cookie: cookieHeader(wrongSecret.CookieValue(aliceSid))}},
		{"logged out in Node", "session not found or expired", spec{Cookie: cookieHeader(loggedOut)}},
		{"expired, record kept without TTL", "session not found or expired", spec{Cookie: cookieHeader(expired)}},
		{"session without passport user", "not logged in", spec{Cookie: cookieHeader(anonymous)}},
		{"unsigned id in auth", "invalid session cookie", spec{Auth: map[string]any{"session": aliceSid}}},
		{"unsigned id in query", "invalid session cookie", spec{Query: map[string]string{"session": aliceSid}}},
		// passport.socketio's own parameter (bug 1) is not a source at all.
		{"passport.socketio session_id query", "no session cookie", spec{Query: map[string]string{"session_id": aliceSid}}},
		{"valid cookie, forged auth", "invalid session cookie", spec{Cookie: cookieHeader(alice), Auth: map[string]any{"session": forged}}},
		{"valid cookie, unsigned auth", "invalid session cookie", spec{Cookie: cookieHeader(alice), Auth: map[string]any{"session": aliceSid}}},
		{"valid cookie, another session in auth", "conflicting session credentials", spec{Cookie: cookieHeader(alice), Auth: map[string]any{"session": zero}}},
		{"auth value not a string", "invalid session cookie", spec{Auth: map[string]any{"session": 42}}},
	}
	var sps []spec
	var names []string
	for _, c := range cases {
		for tname, tr := range clientTransports {
			sp := c.sp
			sp.URL, sp.Transports, sp.WaitMs = srv.url, tr, 100
			sps = append(sps, sp)
			names = append(names, c.name+"/"+tname)
		}
	}
	for i, r := range runClients(t, sps) {
		c := cases[i/len(clientTransports)]
		t.Logf("%s: %s", names[i], r.raw)
		wantRejected(t, r, c.message, socketio.CodeUnauthorized)
	}
	srv.noConnection(t)
	if n := h.rdb.Exists(context.Background(), expiredKey).Val(); n != 1 {
		t.Fatalf("the expired record is gone (EXISTS=%d): the expiry case proved nothing", n)
	}
	// The control: the same cookie that the cases above tampered with works.
	wantHello(t, runClient(t, spec{URL: srv.url, Cookie: cookieHeader(alice), WaitMs: untilHello, Until: "hello"}), "7", "")
}

// Test 3: the signed cookie value in the auth payload (no Cookie header) —
// the cross-origin case passport.socketio's README got wrong (bug 2).
func testSignedValueInAuth(t *testing.T, h *harness) {
	a := newAuthorizer(t, socketauth.Config{Source: h.bridge, AuthField: "session"})
	srv := startServer(t, socketio.Middleware(a, socketio.Options{}), nil)
	cookie := h.app.Login("big", "secret") // URL-encoded, as in document.cookie
	raw, ok := cookiesig.DecodeURIComponent(cookie)
	if !ok || !strings.HasPrefix(raw, "s:") || raw == cookie {
		t.Fatalf("cookie %q does not decode to s:...", cookie)
	}
	var sps []spec
	for _, v := range []string{cookie, raw} {
		for _, tr := range clientTransports {
			sps = append(sps, spec{URL: srv.url, Auth: map[string]any{"session": v}, Transports: tr, WaitMs: untilHello, Until: "hello"})
		}
	}
	for _, r := range runClients(t, sps) {
		t.Logf("auth only: %s", r.raw)
		wantHello(t, r, `"9007199254740993"`, "")
	}
}

// Test 4: the store stops answering during handshakes: rejected as critical
// whatever the Fail hook says. "Stopped" is simulated without touching the
// shared Redis: the Go store's client points at a loopback port where
// nothing listens (a listener opened and closed again), or is a client that
// was Close()d. The cookie is a real one from the Node app, so the
// signature verifies and the store is consulted.
func testStoreDownIsCritical(t *testing.T, h *harness) {
	cookie := h.app.Login("alice", "secret")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()
	closed := redis.NewClient(&redis.Options{Addr: h.addr})
	closed.Close()
	clients := map[string]*redis.Client{
		"nothing listens": redis.NewClient(&redis.Options{Addr: deadAddr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second}),
		"closed client":   closed,
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer c.Close()
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: redisstore.New(c, redisstore.Options{Prefix: h.prefix})})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var seen []*socketauth.Failure
			a := newAuthorizer(t, socketauth.Config{Source: b, Fail: func(_ context.Context, f *socketauth.Failure) error {
				mu.Lock()
				seen = append(seen, f)
				mu.Unlock()
				return nil // "accept": must not be honoured for a critical failure
			}})
			srv := startServer(t, socketio.Middleware(a, socketio.Options{}), nil)
			var sps []spec
			for _, tr := range clientTransports {
				sps = append(sps, spec{URL: srv.url, Cookie: cookieHeader(cookie), Transports: tr, WaitMs: untilHello, Until: "hello"})
			}
			for _, r := range runClients(t, sps) {
				t.Logf("store down: %s", r.raw)
				wantRejected(t, r, "session store unavailable", socketio.CodeSessionError)
			}
			srv.noConnection(t)
			mu.Lock()
			failures := seen
			seen = nil
			mu.Unlock()
			if len(failures) != 2 {
				t.Fatalf("Fail hook called %d times, want 2", len(failures))
			}
			for _, f := range failures {
				if !f.Critical || !errors.Is(f.Err, socketauth.ErrCritical) || !errors.Is(f.Err, sessionbridge.ErrStore) {
					t.Fatalf("Fail hook saw Critical=%v Err=%v; want critical, wrapping ErrCritical and ErrStore", f.Critical, f.Err)
				}
			}

			// The same hook returning nil does accept a client that is
			// merely not logged in (never critical): anonymous, logged_in false.
			r := runClient(t, spec{URL: srv.url, WaitMs: untilHello, Until: "hello"})
			raw, ok := r.event("hello")
			var hl hello
			if !r.Connected || !ok || json.Unmarshal(raw, &hl) != nil || hl.LoggedIn || string(hl.User) != "null" {
				t.Fatalf("anonymous accepted by the Fail hook: %s", r.raw)
			}
		})
	}
}

// Test 5: two Go servers sharing the (test) Redis adapter: a filter on one
// finds the user's socket on the other, with its Data, and disconnects it.
func testAcrossServers(t *testing.T, h *harness) {
	a := newAuthorizer(t, socketauth.Config{Source: h.bridge})
	adapterPrefix := "sbsio-adapter:" + uniquePrefix(t)
	srvA := startServer(t, socketio.Middleware(a, socketio.Options{}), &sioadapter.Builder{Client: h.rdb, Prefix: adapterPrefix})
	srvB := startServer(t, socketio.Middleware(a, socketio.Options{}), &sioadapter.Builder{Client: h.rdb, Prefix: adapterPrefix})

	aliceOut := startClient(t, spec{URL: srvA.url, Cookie: cookieHeader(h.app.Login("alice", "secret")), Transports: []string{"websocket"}, WaitMs: 15000})
	aliceOnA := srvA.waitConn(t)
	zeroOut := startClient(t, spec{URL: srvB.url, Cookie: cookieHeader(h.app.Login("zero", "secret")), WaitMs: 15000})
	zeroOnB := srvB.waitConn(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	one := func(rs []*socket.RemoteSocket, err error, want socket.SocketId, user string, remote bool) {
		t.Helper()
		if err != nil || len(rs) != 1 || rs[0].Id() != want {
			t.Fatalf("got %d sockets (%v), want exactly %s", len(rs), err, want)
		}
		d, ok := socketio.FromRemote(rs[0])
		if !ok || string(d.User) != user || !d.LoggedIn {
			t.Fatalf("Data %+v (ok %v), want user %s logged in", d, ok, user)
		}
		_, isMap := rs[0].Data().(map[string]any)
		if isMap != remote {
			t.Fatalf("Data is %T; remote=%v", rs[0].Data(), remote)
		}
		t.Logf("found %s, user %s, Data %T", rs[0].Id(), d.User, rs[0].Data())
	}
	rs, err := socketio.SocketsOfUser(ctx, srvB.io, 7) // alice, on A, from B
	one(rs, err, aliceOnA.Id(), "7", true)
	rs, err = socketio.SocketsOfUser(ctx, srvB.io, json.RawMessage("0")) // zero, local on B
	one(rs, err, zeroOnB.Id(), "0", false)
	rs, err = socketio.SocketsOfUser(ctx, srvA.io, 0) // zero, on B, from A
	one(rs, err, zeroOnB.Id(), "0", true)
	rs, err = socketio.SocketsOfUser(ctx, srvA.io, "7") // the JSON string "7" is another user
	if err != nil || len(rs) != 0 {
		t.Fatalf(`SocketsOfUser("7") = %d sockets (%v), want none`, len(rs), err)
	}
	rs, err = socketio.FilterSockets(ctx, srvB.io, func(d *socketio.Data) bool { return string(d.User) == "7" })
	one(rs, err, aliceOnA.Id(), "7", true)
	rs, err = socketio.FilterSockets(ctx, srvA.io, func(*socketio.Data) bool { return true })
	if err != nil || len(rs) != 2 {
		t.Fatalf("FilterSockets(all) from A = %d sockets (%v), want 2", len(rs), err)
	}

	if err := socketio.DisconnectUser(srvB.io, 7); err != nil { // alice lives on A
		t.Fatal(err)
	}
	r := aliceOut.wait(t)
	if !r.Connected || r.DisconnectReason == nil || *r.DisconnectReason != "io server disconnect" {
		t.Fatalf("alice's client: want connected, then disconnected by the server")
	}
	select {
	case o := <-zeroOut:
		t.Fatalf("zero's client ended too: %s", o.line)
	case <-time.After(200 * time.Millisecond):
	}
	if err := socketio.DisconnectUser(srvA.io, 0); err != nil { // zero lives on B
		t.Fatal(err)
	}
	r = zeroOut.wait(t)
	if r.DisconnectReason == nil || *r.DisconnectReason != "io server disconnect" {
		t.Fatal("zero's client: want disconnected by the server")
	}
}

// Test 6: Node logs the user out; the Go socket gets "session_revoked" and
// is disconnected within the bound: once through Redis keyspace
// notifications (Tracker.Watch with the Redis store's Feed, which the test
// lets turn them on with Configure: true), once through periodic
// re-validation only (Run).
func testRevokedOnNodeLogout(t *testing.T, h *harness) {
	for _, mode := range []string{"Watch", "Run"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newAuthorizer(t, socketauth.Config{Source: h.bridge})
			interval, bound := time.Hour, 2*time.Second // notifications only
			if mode == "Run" {
				interval = 300 * time.Millisecond
				bound = interval + time.Second
			}
			tracker := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: interval})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			if mode == "Watch" {
				name := "sbsio-watch-" + strings.ReplaceAll(uniquePrefix(t), ":", "-")
				wc := redis.NewClient(&redis.Options{Addr: h.addr, ClientName: name})
				t.Cleanup(func() { wc.Close() })
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := tracker.Watch(ctx, h.store.Feed(redisstore.FeedOptions{Client: wc, Configure: true})); err != nil {
						t.Errorf("Watch: %v", err)
					}
				}()
				services.WaitPSubscribed(t, h.rdb, name)
			} else {
				wg.Add(1)
				go func() { defer wg.Done(); tracker.Run(ctx) }()
			}
			srv := startServer(t, socketio.Middleware(a, socketio.Options{Tracker: tracker}), nil)
			cookie := h.app.Login("alice", "secret")
			url := srv.url
			if mode == "Run" {
				url += "/admin" // tracking works on any namespace the middleware guards
			}
			out := startClient(t, spec{URL: url, Cookie: cookieHeader(cookie), WaitMs: 15000})
			s := srv.waitConn(t)
			waitTracked(t, tracker, 1)

			start := time.Now()
			h.app.Logout(cookie)
			var d disconnect
			select {
			case d = <-srv.gone:
			case <-time.After(bound + 5*time.Second):
				t.Fatalf("socket still connected %v after the Node logout", time.Since(start))
			}
			elapsed := d.at.Sub(start)
			r := out.wait(t)
			t.Logf("%s: disconnected %v after the Node logout (bound %v), server reason %q; client: %s", mode, elapsed.Round(time.Millisecond), bound, d.reason, r.raw)
			if d.id != s.Id() || d.reason != "server namespace disconnect" {
				t.Fatalf("server-side disconnect of %s reason %q", d.id, d.reason)
			}
			if elapsed > bound {
				t.Fatalf("revoked after %v, bound %v", elapsed, bound)
			}
			reason, ok := r.event(socketio.DefaultRevokeEvent)
			if !ok || (string(reason) != `"`+socketauth.ReasonLoggedOut+`"` && string(reason) != `"`+socketauth.ReasonSessionEnded+`"`) {
				t.Fatalf("client events: want %s with a logout reason", socketio.DefaultRevokeEvent)
			}
			if r.DisconnectReason == nil || *r.DisconnectReason != "io server disconnect" {
				t.Fatal("client: want 'io server disconnect' (no automatic reconnection)")
			}
			waitTracked(t, tracker, 0)
		})
	}
}

// waitTracked waits until the tracker holds n connections.
func waitTracked(t *testing.T, tr *socketauth.Tracker, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, c := tr.Len(); c == n {
			return
		}
		if time.Now().After(deadline) {
			_, c := tr.Len()
			t.Fatalf("tracker holds %d connections, want %d", c, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
