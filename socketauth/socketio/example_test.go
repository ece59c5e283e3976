package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// connect plays a socket.io client over engine.io long-polling (the wire
// format socket.io-client uses): open, CONNECT to "/", then read until the
// server's first event or its connect_error. hangUp disconnects.
func connect(base, cookie string) (answer string, hangUp func()) {
	do := func(method, sid, body string) string {
		u := base + "/socket.io/?EIO=4&transport=polling"
		if sid != "" {
			u += "&sid=" + sid
		}
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var open struct{ Sid string }
	_ = json.Unmarshal([]byte(strings.TrimPrefix(do("GET", "", ""), "0")), &open) // 0{"sid":...}
	hangUp = func() { do("POST", open.Sid, "41\x1e1") }                           // DISCONNECT, then engine close
	do("POST", open.Sid, "40")                                                    // CONNECT to "/"
	for range 10 {
		for _, pkt := range strings.Split(do("GET", open.Sid, ""), "\x1e") {
			switch {
			case strings.HasPrefix(pkt, "42"): // EVENT ["name", args...]
				var ev []any
				_ = json.Unmarshal([]byte(pkt[2:]), &ev)
				return fmt.Sprint("event ", ev), hangUp
			case strings.HasPrefix(pkt, "44"): // CONNECT_ERROR {message, data}
				var e socket.ExtendedError
				_ = json.Unmarshal([]byte(pkt[2:]), &e)
				return fmt.Sprintf("connect_error %q %v", e.Message, e.Data), hangUp
			}
		}
	}
	return "no answer", hangUp
}

// Authorize socket.io connections with the Express session: only a
// logged-in session connects, the handler sees its passport user, and the
// user's sockets can be found and disconnected by user. (The store here is
// in memory; in production it is the store the Node app uses, e.g.
// stores/redis, and the cookie comes from a Node login.)
func ExampleMiddleware() {
	ctx := context.Background()
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
	})
	auth, _ := socketauth.New(socketauth.Config{Source: bridge})

	srv := socket.NewServer(nil, nil)
	srv.Use(socketio.Middleware(auth, socketio.Options{}))
	srv.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		a, _ := socketio.Auth(s) // always there behind Middleware
		_ = s.Emit("hello", fmt.Sprintf("user %s (logged_in %v)", a.StoredUser, a.LoggedIn))
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close(nil)

	// A passport login (done here by Go, the same as a Node login).
	sess, _ := passportuser.Login(ctx, bridge, nil, 7, passportuser.Options{})
	cookie := bridge.CookieName() + "=" + bridge.Signer().CookieValue(sess.ID)

	msg, hangUp := connect(ts.URL, cookie)
	fmt.Println(msg)
	msg, hangUpAnon := connect(ts.URL, "")
	fmt.Println(msg)
	hangUpAnon()

	// Find user 7's sockets (on every server sharing the adapter), then
	// disconnect them.
	rs, _ := socketio.SocketsOfUser(ctx, srv, 7)
	for _, r := range rs {
		d, _ := socketio.FromRemote(r)
		fmt.Printf("user %s: socket connected: %v\n", d.User, r.Id() != "")
	}
	_ = socketio.DisconnectUser(srv, 7)
	rs, _ = socketio.SocketsOfUser(ctx, srv, 7)
	fmt.Println("after DisconnectUser:", len(rs))
	hangUp()
	// Output:
	// event [hello user 7 (logged_in true)]
	// connect_error "no session cookie" map[code:UNAUTHORIZED critical:false]
	// user 7: socket connected: true
	// after DisconnectUser: 0
}

// With a deserializer (passport's deserializeUser), a handler gets the
// application's user with its type: User[T] returns what Deserialize
// returned, with no type assertion in the handler.
func ExampleUser() {
	type account struct {
		ID   int
		Name string
	}
	accounts := map[string]*account{"7": {ID: 7, Name: "Alice"}}
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
	})
	auth, _ := socketauth.New(socketauth.Config{
		Source: bridge,
		Deserialize: func(_ context.Context, stored json.RawMessage) (any, error) {
			if a, ok := accounts[string(stored)]; ok {
				return a, nil
			}
			return nil, passportuser.ErrNotLoggedIn
		},
	})

	srv := socket.NewServer(nil, nil)
	srv.Use(socketio.Middleware(auth, socketio.Options{}))
	srv.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		acct, ok := socketio.User[*account](s)
		if !ok {
			s.Disconnect(false)
			return
		}
		_, isString := socketio.User[string](s) // not the deserialized type
		_ = s.Emit("hello", fmt.Sprintf("%s (id %d); as a string: %v", acct.Name, acct.ID, isString))
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close(nil)

	sess, _ := passportuser.Login(context.Background(), bridge, nil, 7, passportuser.Options{})
	msg, hangUp := connect(ts.URL, bridge.CookieName()+"="+bridge.Signer().CookieValue(sess.ID))
	fmt.Println(msg)
	hangUp()
	// Output:
	// event [hello Alice (id 7); as a string: false]
}

// The per-user room depends only on the stored passport user's JSON value,
// not on its Go type or an object's key order.
func ExampleUserRoom() {
	a, _ := socketio.UserRoom(7)
	b, _ := socketio.UserRoom(json.RawMessage("7"))
	c, _ := socketio.UserRoom("7") // the JSON string "7": another user
	d, _ := socketio.UserRoom(json.RawMessage(`{"id":7,"name":"Alice"}`))
	e, _ := socketio.UserRoom(map[string]any{"name": "Alice", "id": 7})
	fmt.Println(a == b, a == c, d == e)
	_, err := socketio.UserRoom(json.RawMessage("null"))
	fmt.Println(err)
	// Output:
	// true false true
	// socketio: not a passport user
}

// Keep clients without a session from opening engine.io connections at
// all: the net/http middleware in front of the server, in EngineMode,
// authorizes each handshake (a request without a sid, or with an empty one)
// and lets a request carrying a sid through only on a connection the engine
// has open, with the session that opened it. The namespace middleware still
// authorizes each CONNECT.
func ExampleEngineMode() {
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
	})
	auth, _ := socketauth.New(socketauth.Config{Source: bridge})

	srv := socket.NewServer(nil, nil)
	srv.Use(socketio.Middleware(auth, socketio.Options{}))
	srv.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		a, _ := socketio.Auth(s)
		_ = s.Emit("hello", "user "+string(a.StoredUser))
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", auth.MiddlewareFor(socketio.EngineMode(srv), srv.ServeHandler(nil)))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close(nil)

	sess, _ := passportuser.Login(context.Background(), bridge, nil, 7, passportuser.Options{})
	cookie := bridge.CookieName() + "=" + bridge.Signer().CookieValue(sess.ID)

	// A logged-in client: the handshake and every later request carry the
	// cookie.
	msg, hangUp := connect(ts.URL, cookie)
	fmt.Println(msg)
	hangUp()

	// No cookie: no engine.io connection, even with an empty or an unknown sid.
	for _, q := range []string{"", "&sid=", "&sid=AAAAAAAAAAAAAAAAAAAA"} {
		resp, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling" + q)
		if err != nil {
			fmt.Println(err)
			continue
		}
		resp.Body.Close()
		fmt.Printf("?%s: %d\n", strings.TrimPrefix(q, "&"), resp.StatusCode)
	}
	// Output:
	// event [hello user 7]
	// ?: 401
	// ?sid=: 401
	// ?sid=AAAAAAAAAAAAAAAAAAAA: 400
}

// Socket handlers read the session as it is now and change it without
// losing what Node writes meanwhile (Update merges), and the events a
// client emits keep its session alive (TrackerOptions.KeepAlive). Here the
// "connection" handler stands for the handler of a client event.
func ExampleUpdate() {
	ctx := context.Background()
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
		Cookie:  sessionbridge.CookieOptions{MaxAge: 30 * time.Minute},
	})
	auth, _ := socketauth.New(socketauth.Config{Source: bridge})
	// At most one keep-alive (a store read and touch) per session every
	// 3 minutes, however many events its sockets receive. Run the
	// tracker's Run and/or Watch as well, to disconnect ended sessions.
	tracker := socketauth.NewTracker(auth, socketauth.TrackerOptions{KeepAlive: 3 * time.Minute})

	srv := socket.NewServer(nil, nil)
	srv.Use(socketio.Middleware(auth, socketio.Options{Tracker: tracker}))
	srv.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		err := socketio.Update(ctx, s, func(sess *sessionbridge.Session) error {
			var visits int
			_ = sess.Record.Get("socketVisits", &visits) // none yet: 0
			return sess.Record.Set("socketVisits", visits+1)
		})
		if err != nil {
			_ = s.Emit("hello", "update failed: "+err.Error())
			return
		}
		now, _ := socketio.LoadSession(ctx, s)
		visits, _ := now.Record.Raw("socketVisits")
		_ = s.Emit("hello", "visits "+string(visits))
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close(nil)

	sess, _ := passportuser.Login(ctx, bridge, nil, 7, passportuser.Options{})
	cookie := bridge.CookieName() + "=" + bridge.Signer().CookieValue(sess.ID)
	for range 2 {
		msg, hangUp := connect(ts.URL, cookie)
		fmt.Println(msg)
		hangUp()
	}
	// Output:
	// event [hello visits 1]
	// event [hello visits 2]
}
