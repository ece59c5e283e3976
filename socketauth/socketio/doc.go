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
// # passport.socketio's bugs, and what this package does instead
//
// The bugs are those of passport.socketio 3.7.0, its last release.
//
//  1. An unsigned ?session_id=<sid> was accepted and overrode the cookie.
//     Here the session id comes only from a signed value: the Cookie header,
//     and, only if enabled (socketauth.Config.AuthField, QueryParam), the
//     signed cookie value in the auth payload or the query. An unsigned id
//     is refused ("invalid session cookie"), and credentials naming two
//     different sessions are refused ("conflicting session credentials").
//  2. The README's cross-origin workaround sent the signed cookie value,
//     which was never unsigned. Here that exact value, URL-encoded
//     ("s%3A...") or raw ("s:..."), is unsigned and verified, so a client
//     that cannot send cookies connects with
//     io(url, {auth: {[AuthField]: signedCookieValue}}).
//  3. No expiry check: an expired session from a store without TTL
//     authorized. Here sessionbridge.Bridge.LoadID refuses a session whose
//     cookie.expires has passed unless the store expires sessions itself
//     ("session not found or expired").
//  4. Nothing was touched or saved, and logout did not revoke open sockets.
//     Here a socketauth.Tracker (Options.Tracker) disconnects a socket when
//     its session is destroyed, expires, is logged out or changes user,
//     found by a store's change feed (Tracker.Watch; for Redis, keyspace
//     notifications through redisstore.Store.Feed) or periodic
//     re-validation (Tracker.Run); the client first gets Options.RevokeEvent
//     with the reason, then a server disconnect ("io server disconnect"),
//     after which socket.io-client does not reconnect by itself.
//  5. Without a secret it never succeeded. Here the secrets are the
//     Bridge's (socketauth.Config.Source), which refuses to be built
//     without one.
//  6. A tampered signature led to store.get(”) and "No session found". Here
//     a bad signature never reaches the store: "invalid session cookie".
//  7. logged_in was lost on primitive users and written into the user
//     object. Here Data.LoggedIn sits beside Data.User, which is the stored
//     passport user exactly as stored (0, "9007199254740993", objects), and
//     the application's own user object (socketauth.Config.Deserialize) is
//     never modified.
//  8. An anonymous session was a critical failure. Here "not logged in" is
//     never critical (code "UNAUTHORIZED"); only a store or deserializer
//     failure is ("SESSION_ERROR", critical true), and such a failure is
//     rejected even if the Fail hook returns nil.
//  9. A null store threw. Here socketauth.New and sessionbridge.New return
//     an error for a missing source or store, and the middleware never
//     panics on a failed authorization.
//  10. The xdomain check was dead code. Here there is none: cross-origin
//     policy belongs to the server's CORS options (ServerOptions.SetCors);
//     the cookie, auth and query sources are all verified the same way.
//  11. filterSocketsByUser used io.sockets.connected, removed in socket.io 3,
//     so it returned [] (and ignored userProperty). Here SocketsOfUser (by
//     the per-user room) and FilterSockets (by predicate on Data) use
//     FetchSockets, on one server or across servers sharing an adapter.
package socketio
