package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// TestSocketActivityKeepsNodeSessionAlive runs, on every store (see
// backends), the real Node app with a maxAge of a few seconds and a Go
// socket.io server with a keep-alive Tracker (KeepAlive 250 ms) that also
// follows the store's change feed where it has one (Redis), or else
// re-validates every 200 ms. Two sockets of one Node login (websocket, and
// polling upgraded) emit an event every 100-130 ms: three maxAges after
// the login, Node still has the session logged in, and the session was
// kept alive at most once per KeepAlive however many events the two
// sockets sent. A third socket, of another login, stays connected without
// emitting: engine.io pings go back and forth (every 200 ms) but do not
// count, so the store lets the session expire, the Tracker revokes the
// socket, and Node has the user logged out. When the clients close,
// nothing of socketauth's is left running. The stores run concurrently.
func TestSocketActivityKeepsNodeSessionAlive(t *testing.T) {
	requireClient(t)
	onEveryStore(t, keepAliveOn)
	noGoroutines(t, "sessionbridge/socketauth.", "sessionbridge/socketauth/socketio.")
}

// onEveryStore runs test on each backend, all at once: each subtest
// mostly waits for its sessions' lifetimes, so they run concurrently
// however few CPUs -parallel allows (t.Run may be called from several
// goroutines; the calls return once their subtests are done).
func onEveryStore(t *testing.T, test func(*testing.T, backend)) {
	var wg sync.WaitGroup
	for _, b := range backends {
		wg.Go(func() {
			t.Run(b.name, func(t *testing.T) { test(t, b) })
		})
	}
	wg.Wait()
}

// keepAliveOn is TestSocketActivityKeepsNodeSessionAlive on one store.
func keepAliveOn(t *testing.T, b backend) {
	const every = 250 * time.Millisecond
	maxAge := b.maxAge
	h := b.start(t, map[string]string{"MAX_AGE_MS": fmt.Sprint(maxAge.Milliseconds())})
	src := &counted{Bridge: h.bridge, calls: map[string]int{}}
	a := newAuthorizer(t, socketauth.Config{Source: src})
	interval := time.Hour // the feed tells the Tracker
	if h.watch == nil {
		interval = 200 * time.Millisecond
	}
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: interval, KeepAlive: every})
	followCtx, stopFollow := context.WithCancel(context.Background())
	defer stopFollow()
	followed := h.follow(followCtx, tr)

	opts := socket.DefaultServerOptions()
	opts.SetPingInterval(200 * time.Millisecond)
	opts.SetPingTimeout(time.Second)
	srv := startServerOpts(t, socketio.Middleware(a, socketio.Options{Tracker: tr}), opts)

	// The clients are started first: the sessions live a few seconds from
	// the logins, the node processes can take longer than that to load on
	// a busy machine.
	active := []*driver{newDriver(t, "active websocket"), newDriver(t, "active polling")}
	idle := newDriver(t, "idle")
	alice := h.app.Login("alice", "secret")
	loggedIn := time.Now()
	zero := h.app.Login("zero", "secret")
	active[0].connect(srv.url, alice, []string{"websocket"})
	active[1].connect(srv.url, alice, nil)
	idle.connect(srv.url, zero, nil)
	for _, d := range append(active, idle) {
		d.next("hello", event("hello"))
	}
	start := time.Now()
	for i, d := range active {
		d.send(map[string]any{"op": "every", "event": "tick", "ms": 100 + 30*i})
	}

	// The idle socket: its session expires in the store after maxAge (as
	// the store counts it) and the Tracker revokes it, pings
	// notwithstanding.
	pings := 0
	idle.next("session_revoked", func(m driverMsg) bool {
		if m.Type == "ping" {
			pings++
		}
		return m.Type == "event" && m.Name == socketio.DefaultRevokeEvent
	})
	idle.next("disconnect", func(m driverMsg) bool { return m.Type == "disconnect" })
	t.Logf("%s, maxAge %v: idle socket revoked %v after the login, having answered %d pings", b.name, maxAge, time.Since(loggedIn).Round(time.Millisecond), pings)
	if pings == 0 {
		t.Fatal("the idle client answered no ping before its session expired: the test shows nothing about pings")
	}
	if me := h.app.Me(zero); me.LoggedIn {
		t.Fatalf("Node still has the idle socket's session logged in: %s", me.Session)
	}

	// The active sockets: until three maxAges after the login, any
	// revocation or disconnect fails the test.
	until := time.After(time.Until(loggedIn.Add(3 * maxAge)))
	for waiting := true; waiting; {
		select {
		case m := <-active[0].msgs:
			active[0].fail(m)
		case m := <-active[1].msgs:
			active[1].fail(m)
		case <-until:
			waiting = false
		}
	}
	sent := 0
	for _, d := range active {
		d.send(map[string]string{"op": "stop"})
		sent += d.next("stopped", func(m driverMsg) bool { return m.Type == "stopped" }).Sent
	}
	elapsed := time.Since(start)
	aliceID, zeroID := sessionIDOf(t, h.bridge, alice), sessionIDOf(t, h.bridge, zero)
	if me := h.app.Me(alice); !me.LoggedIn || me.Sid != aliceID {
		t.Fatalf("%v after the login Node has lost the active sockets' session: logged in %v, %s", time.Since(loggedIn).Round(time.Millisecond), me.LoggedIn, me.Session)
	}
	keeps, most := src.count(aliceID), int(elapsed/every)+1
	t.Logf("%s: active: %d events over %v, %d keep-alives (at most %d); idle: %d", b.name, sent, elapsed.Round(time.Millisecond), keeps, most, src.count(zeroID))
	if keeps < 1 || keeps > most {
		t.Fatalf("%d keep-alives in %v with KeepAlive %v, want 1 to %d", keeps, elapsed, every, most)
	}
	if n := src.count(zeroID); n != 0 {
		t.Fatalf("the idle socket's session was kept alive %d times", n)
	}

	for _, d := range active {
		d.close()
	}
	for range 3 {
		select {
		case <-srv.gone:
		case <-time.After(driverTimeout):
			t.Fatal("the server did not see every socket go")
		}
	}
	stopFollow()
	if err := <-followed; err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if s, c := tr.Len(); s != 0 || c != 0 {
		t.Fatalf("still tracked: %d sessions, %d connections", s, c)
	}
}

// fail fails the test on a message an active socket must not get.
func (d *driver) fail(m driverMsg) {
	d.t.Helper()
	if m.Type == "ping" || m.Type == "event" && m.Name != socketio.DefaultRevokeEvent {
		return
	}
	d.t.Fatalf("%s: %s", d.name, m.raw)
}

// sessionIDOf returns the session id a cookie value carries.
func sessionIDOf(t *testing.T, b *sessionbridge.Bridge, cookie string) string {
	t.Helper()
	id, err := b.SessionIDFromHeader("connect.sid=" + cookie)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sessionHandlers gives s the events "get" (LoadSession: the key's value
// as stored now) and "set" (Update: sets the key; between runs after the
// load, before the save). Both answer through the acknowledgement: "get"
// with [value or null, error or null], "set" with [error or null].
func sessionHandlers(s *socket.Socket, between func()) {
	ctx := context.Background()
	errText := func(err error) any {
		if err == nil {
			return nil
		}
		return err.Error()
	}
	_ = s.On("get", func(args ...any) {
		reply := args[len(args)-1].(socket.Ack)
		key, _ := args[0].(string)
		sess, err := socketio.LoadSession(ctx, s)
		if err != nil {
			reply([]any{nil, errText(err)}, nil)
			return
		}
		raw, _ := sess.Record.Raw(key)
		reply([]any{raw, nil}, nil)
	})
	_ = s.On("set", func(args ...any) {
		reply := args[len(args)-1].(socket.Ack)
		key, _ := args[0].(string)
		err := socketio.Update(ctx, s, func(sess *sessionbridge.Session) error {
			if err := sess.Record.Set(key, args[1]); err != nil {
				return err
			}
			between()
			return nil
		})
		reply([]any{errText(err)}, nil)
	})
}

// TestSocketUpdateKeepsNodeChanges, on every store (see backends): a
// socket handler reads the session as Node left it after the handshake
// (LoadSession), and changes a key with Update while Node changes another
// one between Update's load and its save (the handler waits for Node's
// write to complete): with the Bridge's default ConflictMerge both changes
// are in Node's next /me. The same interleaving under ConflictOverwrite
// (express-session's own rule) loses Node's change, which shows that the
// write really came in between. The stores run concurrently.
func TestSocketUpdateKeepsNodeChanges(t *testing.T) {
	requireClient(t)
	onEveryStore(t, func(t *testing.T, b backend) { updateOn(t, b.start(t, nil)) })
}

// updateOn is TestSocketUpdateKeepsNodeChanges on one store.
func updateOn(t *testing.T, h *storePeer) {
	for _, c := range []struct {
		name     string
		policy   sessionbridge.ConflictPolicy
		nodeKept bool
	}{
		{"merge", sessionbridge.ConflictMerge, true},
		{"overwrite", sessionbridge.ConflictOverwrite, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: h.store, Conflict: c.policy})
			if err != nil {
				t.Fatal(err)
			}
			a := newAuthorizer(t, socketauth.Config{Source: b})
			tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour})
			srv := startServer(t, socketio.Middleware(a, socketio.Options{Tracker: tr}), nil)
			alice := h.app.Login("alice", "secret")
			d := startDriver(t, "client", srv.url, alice, []string{"websocket"})
			d.next("hello", event("hello"))
			s := srv.waitConn(t)
			loaded, written := make(chan struct{}), make(chan struct{})
			sessionHandlers(s, func() {
				close(loaded)
				select {
				case <-written:
				case <-time.After(driverTimeout): // the test has failed already
				}
			})

			// A change Node makes after the handshake is read fresh.
			h.app.SetData(alice, map[string]any{"theme": "dark"})
			d.send(map[string]any{"op": "emit", "event": "get", "args": []string{"theme"}, "ack": 1})
			if got := d.next("get's ack", ack(1)); len(got.Args) != 2 || string(got.Args[0]) != `"dark"` || string(got.Args[1]) != "null" {
				t.Fatalf("LoadSession read %s, want Node's theme", got.raw)
			}

			d.send(map[string]any{"op": "emit", "event": "set", "args": []any{"fromGo", map[string]any{"n": 1}}, "ack": 2})
			select {
			case <-loaded:
			case <-time.After(driverTimeout):
				t.Fatal("the handler's Update did not load the session")
			}
			h.app.SetData(alice, map[string]any{"fromNode": "n"}) // Node's whole-session save, during Go's update
			close(written)
			if got := d.next("set's ack", ack(2)); len(got.Args) != 1 || string(got.Args[0]) != "null" {
				t.Fatalf("Update: %s", got.raw)
			}

			me := h.app.Me(alice)
			var sess map[string]json.RawMessage
			if err := json.Unmarshal(me.Session, &sess); err != nil {
				t.Fatal(err)
			}
			t.Logf("Node's /me: %s", me.Session)
			if !me.LoggedIn || string(sess["fromGo"]) != `{"n":1}` || string(sess["theme"]) != `"dark"` {
				t.Fatalf("Node's session after the socket's update: %s", me.Session)
			}
			if _, kept := sess["fromNode"]; kept != c.nodeKept {
				t.Fatalf("Node's concurrent change kept: %v, want %v", kept, c.nodeKept)
			}
		})
	}
}
