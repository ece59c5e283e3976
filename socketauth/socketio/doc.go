// Package socketio authorizes github.com/zishang520/socket.io (socket.io v4
// protocol, servers/socket/v3) connections from the Express session a Node
// app shares with Go: the Go form of passport.socketio's authorize(), built
// on socketauth.Authorizer.
//
//	a, _ := socketauth.New(socketauth.Config{Source: bridge})
//	io := socket.NewServer(nil, nil)
//	io.Use(socketio.Middleware(a, socketio.Options{Tracker: tracker}))
//	io.On("connection", func(args ...any) {
//		s := args[0].(*socket.Socket)
//		a, _ := socketio.Auth(s) // a.StoredUser: socket.request.user; a.LoggedIn
//		u, ok := socketio.User[*Account](s) // what Config.Deserialize returned
//		...
//	})
//
// Middleware is a namespace middleware: it runs once per namespace CONNECT
// (io.Use guards "/", io.Of(name, nil).Use another namespace) and rejects
// with a socket.ExtendedError, so the client's connect_error carries the
// message and data {code: "UNAUTHORIZED" | "SESSION_ERROR", critical}. An
// accepted socket's authorization is read with Auth (its user, typed, with
// User); it carries a *Data (SetData) for other servers, is in the room
// UserRoom(user)
// of its passport user, and, with Options.Tracker, is disconnected when its
// session ends.
//
// # The session from socket handlers
//
// Auth(s) is the authorization of the handshake; the session itself is
// read as stored now with LoadSession and changed with Update, which
// merges the handler's changes into whatever Node or another Go instance
// wrote in the meantime (sessionbridge.Bridge.Update), so neither side's
// change to another key is lost and Node's next request sees the
// handler's:
//
//	_ = s.On("prefs", func(args ...any) {
//		err := socketio.Update(ctx, s, func(sess *sessionbridge.Session) error {
//			return sess.Record.Set("theme", args[0])
//		})
//		...
//	})
//
// With a Tracker whose TrackerOptions.KeepAlive is set, the events a
// client emits keep its session alive the way its HTTP requests do, at
// most one store touch per session per KeepAlive. Only the client's
// events count: not the server's emits, not the client's
// acknowledgements of them, not the engine.io heartbeat, which a browser
// keeps answering in an idle tab; an idle socket lets its session expire,
// and the Tracker then disconnects it. KeepAlive is off by default: see
// docs/passport-socketio.md.
//
// # In front of the engine
//
// The namespace middleware runs when a client CONNECTs to a namespace, once
// its engine.io connection exists, and it authorizes every CONNECT whatever
// the transport. To keep clients without a session from opening engine.io
// connections at all, put socketauth's net/http middleware in front of the
// engine's handler, in EngineMode:
//
//	mux.Handle("/socket.io/", auth.MiddlewareFor(socketio.EngineMode(io), io.ServeHandler(nil)))
//
// A request whose sid is absent or empty ("?sid=", "?sid") opens a
// connection and is authorized; a request with a sid passes only on a
// connection the engine has open, with the session that opened it, the sid
// being read as the engine reads it (the last one). The plain
// Authorizer.Middleware works as well, with a store read per request.
//
// # Connection state recovery
//
// With ServerOptions.SetConnectionStateRecovery, zishang520 lets a recovered
// socket skip the namespace middlewares unless SetSkipMiddlewares(false) is
// set; such a socket would come back without any session check. Middleware
// refuses every connection on a server configured that way (connect_error
// "session check unavailable", code CodeSessionError) and logs why. With
// SetSkipMiddlewares(false) a recovered socket is authorized again, and
// leaves the per-user rooms of any other user it was in.
//
// # Across servers
//
// Data is JSON-friendly because FetchSockets across servers returns, for a
// socket on another server, whatever the adapter decoded (with the official
// Redis adapter: map[string]any). FromRemote reads both forms. SocketsOfUser,
// FilterSockets and DisconnectUser use only In(room).FetchSockets and
// In(room).DisconnectSockets, so they work with any adapter installed on the
// server (for Redis: github.com/zishang520/socket.io/adapters/redis/v3); this
// package imports none. Note that socket.io itself ships each remote
// socket's handshake (headers, cookies, auth) through the adapter; the Data
// and the room names this package adds hold no session id.
//
// # Coming from passport.socketio
//
// docs/passport-socketio.md in the repository lists passport.socketio's
// bugs and what this package does instead.
package socketio
