package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// DefaultRevokeEvent is the event a revoked socket receives, with the reason
// (socketauth.ReasonSessionEnded, ReasonLoggedOut, ReasonUserChanged) as
// its one argument, just before the server disconnects it.
const DefaultRevokeEvent = "session_revoked"

// Error codes in the data of a rejection (connect_error's err.data.code).
const (
	// CodeUnauthorized: no valid, logged-in session (not critical).
	CodeUnauthorized = "UNAUTHORIZED"
	// CodeSessionError: the server could not decide (store or deserializer
	// failure); err.data.critical is true.
	CodeSessionError = "SESSION_ERROR"
)

// Options configure Middleware. The zero value is usable.
type Options struct {
	// Timeout bounds one authorization (store read and deserializer); the
	// handshake request's own context is already cancelled when a namespace
	// middleware runs, so the middleware makes its own. Default
	// socketauth.DefaultTimeout.
	Timeout time.Duration
	// Tracker, if set, tracks every accepted, logged-in socket from its
	// "connection" until its "disconnect" and disconnects it when its
	// session ends (see socketauth.Tracker; run Tracker.Run and/or
	// Tracker.Watch yourself). It must be built on the same
	// Authorizer. A session that ends between the authorization and the
	// connection raises no notification for a tracked socket, so once a
	// socket is tracked its session is checked again (Tracker.Check: one
	// more store read per connection); a socket whose session ended in
	// between is revoked at once.
	//
	// With TrackerOptions.KeepAlive, every event a tracked socket's client
	// emits (EVENT and BINARY_EVENT packets, before the socket's own
	// middlewares and handlers) is reported to Tracker.Activity, which
	// keeps the session alive while the client is active. Nothing else
	// counts: not what the server emits, not the acknowledgements the
	// client sends back for it, not the engine.io heartbeat (a browser
	// answers pings in an idle tab too), so an open but idle socket lets
	// its session expire like an idle browser tab.
	Tracker *socketauth.Tracker
	// RevokeEvent is emitted to a revoked socket, with the reason, before
	// it is disconnected; default DefaultRevokeEvent.
	RevokeEvent string
	// KeepSession keeps the loaded session (the whole record) with each
	// socket, for Auth(s).Session: the session as it was at the handshake,
	// never refreshed. By default only the user is kept (a few hundred
	// bytes per socket instead of the record's size plus about a
	// kilobyte); read the session as stored now with LoadSession, and
	// change it with Update.
	KeepSession bool
}

// Data is what Middleware attaches to an accepted socket (Socket.SetData):
// the Go form of passport.socketio's socket.request.user and its
// logged_in. It is JSON-friendly because a socket on another server is seen
// through the adapter as decoded JSON (see FromRemote); only the exported
// fields cross servers, and they never contain the session id. On this
// server, read a socket's authorization with Auth (or its user with User).
type Data struct {
	// User is session.passport.user exactly as stored (a number, a string
	// or an object, ids above 2^53 intact), or nil for an anonymous client
	// accepted by the Fail hook.
	User json.RawMessage `json:"user"`
	// LoggedIn is false only for an anonymous client accepted by the
	// socketauth Fail hook. Unlike passport.socketio it is kept outside the
	// user object.
	LoggedIn bool `json:"logged_in"`

	auth *socketauth.Auth // local sockets only
	conn *conn            // tracking state, local sockets only
	ref  *sessionRef      // the socket's session, local logged-in sockets only
}

// sessionRef is how a local socket reaches its session (LoadSession,
// Update). The id never leaves this process: it is unexported, so it is
// not part of the Data an adapter sends to other servers.
type sessionRef struct {
	sid     string
	src     sessionbridge.SessionSource
	tracker *socketauth.Tracker // nil when the socket is not tracked
}

// DecodeUser decodes User into v, keeping numbers exact as json.Number
// when v leaves the type open. It returns socketauth.ErrUnauthorized for an
// anonymous socket.
func (d *Data) DecodeUser(v any) error {
	if !d.LoggedIn || len(d.User) == 0 {
		return socketauth.ErrUnauthorized
	}
	dec := json.NewDecoder(bytes.NewReader(d.User))
	dec.UseNumber()
	return dec.Decode(v)
}

// dataOf returns the Data Middleware attached to a local socket.
func dataOf(s *socket.Socket) (*Data, bool) {
	if s == nil {
		return nil, false
	}
	d, ok := s.Data().(*Data)
	return d, ok && d != nil
}

// Auth returns the authorization of a socket on this server that
// Middleware accepted: LoggedIn (false only for an anonymous client the
// Fail hook accepted), StoredUser (passport.user exactly as stored, the
// same bytes as the socket's Data.User), User (the deserialized user, see
// User) and, with Options.KeepSession, Session (otherwise nil). It reports
// false for a socket Middleware did not accept. A socket on another server
// has only its Data (FromRemote).
func Auth(s *socket.Socket) (*socketauth.Auth, bool) {
	d, ok := dataOf(s)
	if !ok || d.auth == nil {
		return nil, false
	}
	return d.auth, true
}

// User returns the user of a logged-in socket on this server as a T: the
// value socketauth.Config.Deserialize returned for it, or, without a
// deserializer, the stored passport user as a json.RawMessage. It reports
// false for an anonymous socket, a socket Middleware did not accept, and a
// user that is not a T (a T that is an interface holds any user that
// implements it).
//
//	u, ok := socketio.User[*Account](s) // Deserialize returns *Account
func User[T any](s *socket.Socket) (T, bool) {
	a, ok := Auth(s)
	if !ok || !a.LoggedIn {
		var zero T
		return zero, false
	}
	u, ok := a.User.(T)
	return u, ok
}

// FromRemote returns the Data of a socket returned by FetchSockets: the
// *Data itself for a socket on this server, or the Data decoded from what
// the adapter delivered for a socket on another server (map[string]any from
// JSON, or raw JSON). It reports false for a socket this package's
// middleware did not accept.
//
// An adapter that decodes JSON numbers into float64 (the official Redis
// adapter does) rounds a numeric user id above 2^53 in the remote Data; the
// user's room (SocketsOfUser) is not affected.
func FromRemote(rs *socket.RemoteSocket) (*Data, bool) {
	if rs == nil {
		return nil, false
	}
	return decodeData(rs.Data())
}

func decodeData(v any) (*Data, bool) {
	switch d := v.(type) {
	case *Data:
		return d, d != nil
	case Data:
		return &d, true
	case map[string]any:
		li, ok := d["logged_in"].(bool)
		if !ok {
			return nil, false
		}
		u, has := d["user"]
		if !has {
			return nil, false
		}
		out := &Data{LoggedIn: li}
		if u != nil {
			b, err := json.Marshal(u)
			if err != nil {
				return nil, false
			}
			out.User = b
		}
		return out, true
	case json.RawMessage:
		return decodeRaw(d)
	case []byte:
		return decodeRaw(d)
	case string:
		return decodeRaw([]byte(d))
	}
	return nil, false
}

func decodeRaw(b []byte) (*Data, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	var li bool
	if err := json.Unmarshal(m["logged_in"], &li); err != nil {
		return nil, false
	}
	u, has := m["user"]
	if !has {
		return nil, false
	}
	out := &Data{LoggedIn: li}
	if string(bytes.TrimSpace(u)) != "null" {
		out.User = u
	}
	return out, true
}

// Middleware returns a namespace middleware (for io.Use or
// io.Of(name, nil).Use) that authorizes each CONNECT with a: the handshake
// request (Cookie header, query) and the CONNECT packet's auth payload are
// passed to a.Authorize, with a context of its own bounded by
// opts.Timeout.
//
// A failure is sent to the client as connect_error with the failure's
// message (socketauth.Failure.Message, safe to show) and data
// {"code": CodeUnauthorized or CodeSessionError, "critical": bool}; nothing
// is connected. On success the socket gets a *Data (read it with Auth and
// User on this server, FromRemote on another), joins
// UserRoom(user) if logged in, and, with opts.Tracker, is tracked until it
// disconnects: when its session ends it receives opts.RevokeEvent with the
// reason and is disconnected with Disconnect(false), so socket.io-client
// does not reconnect on its own.
//
// Connection state recovery (ServerOptions.SetConnectionStateRecovery)
// skips the namespace middlewares for a recovered socket unless
// SetSkipMiddlewares(false) is set, and zishang520 defaults it to true: a
// socket recovered after its session ended would reconnect unchecked, with
// its old user. Middleware therefore refuses every connection (a critical
// failure, code CodeSessionError, logged to the Authorizer's Logger) on a
// server where recovered sockets skip it; with SetSkipMiddlewares(false) a
// recovered socket is authorized again like any other, and leaves the
// rooms of any other user it had before (the session may now hold another
// user).
//
// a must not be nil (Middleware panics at setup otherwise).
func Middleware(a *socketauth.Authorizer, opts Options) socket.NamespaceMiddleware {
	if a == nil {
		panic("socketio: Middleware needs a *socketauth.Authorizer")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = socketauth.DefaultTimeout
	}
	if opts.RevokeEvent == "" {
		opts.RevokeEvent = DefaultRevokeEvent
	}
	m := &middleware{a: a, opts: opts}
	return m.serve
}

// middleware is the state one Middleware shares between connections.
type middleware struct {
	a        *socketauth.Authorizer
	opts     Options  // with defaults applied
	hooked   sync.Map // socket.Namespace -> struct{}: "connection" listener installed
	warnSkip sync.Once
}

// serve is the namespace middleware: it authorizes the CONNECT of s, sets
// up its Data and user room, tracks it if asked to, and calls next with nil
// or the rejection.
func (m *middleware) serve(s *socket.Socket, next func(*socket.ExtendedError)) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	defer cancel()
	res, err := m.authorize(ctx, s)
	if err != nil {
		next(rejection(err))
		return
	}
	d, sid := newData(res, m.opts.KeepSession)
	if sid != "" {
		d.ref = &sessionRef{sid: sid, src: m.a.Source(), tracker: m.opts.Tracker}
	}
	if err := joinUserRoom(s, res); err != nil {
		next(rejection(err))
		return
	}
	if m.opts.Tracker != nil && sid != "" {
		m.track(s, d, sid)
	}
	s.SetData(d)
	next(nil)
}

// authorize passes the handshake request and auth payload of s to the
// Authorizer. It refuses every connection on a server whose recovered
// sockets skip the namespace middlewares, logging why once.
func (m *middleware) authorize(ctx context.Context, s *socket.Socket) (*socketauth.Auth, error) {
	if skipsMiddlewares(s) {
		m.warnSkip.Do(func() {
			m.a.Logger().LogAttrs(ctx, slog.LevelError, "socketio: every connection is refused: "+errSkipMiddlewares.Error())
		})
		return nil, &socketauth.Failure{Message: "session check unavailable", Critical: true,
			Err: fmt.Errorf("%w: %w", socketauth.ErrCritical, errSkipMiddlewares)}
	}
	r, payload := handshake(s)
	if r == nil {
		return nil, &socketauth.Failure{Message: "no handshake request", Critical: true}
	}
	return m.a.Authorize(ctx, r, payload)
}

// handshake returns the handshake request of s (nil if there is none) and
// the CONNECT packet's auth payload.
func handshake(s *socket.Socket) (*http.Request, map[string]any) {
	var r *http.Request
	if hc := s.Request(); hc != nil {
		r = hc.Request()
	}
	var payload map[string]any
	if hs := s.Handshake(); hs != nil {
		payload = hs.Auth
	}
	return r, payload
}

// newData returns the Data of a socket authorized as res, and the id of its
// session ("" when there is none). It keeps only what the socket needs: a
// copy of the user (so the record it points into can be collected) unless
// keepSession is set.
func newData(res *socketauth.Auth, keepSession bool) (*Data, string) {
	kept := res
	var sid string
	if res.Session != nil {
		sid = res.Session.ID
	}
	if !keepSession {
		kept = &socketauth.Auth{StoredUser: bytes.Clone(res.StoredUser), User: res.User, LoggedIn: res.LoggedIn}
	}
	return &Data{User: kept.StoredUser, LoggedIn: res.LoggedIn, auth: kept}, sid
}

// joinUserRoom puts s in the room of the user res holds, if logged in, and
// takes it out of every other user's room.
func joinUserRoom(s *socket.Socket, res *socketauth.Auth) error {
	var room socket.Room
	if res.LoggedIn {
		var err error
		room, err = UserRoom(res.StoredUser)
		if err != nil { // cannot happen for a stored passport user
			return &socketauth.Failure{Message: "invalid session", Critical: true, Err: err}
		}
	}
	// A recovered socket comes back with the rooms it had, and its
	// session may now hold another user (or none): it leaves every
	// other user's room.
	for _, joined := range s.Rooms().Keys() {
		if joined != room && strings.HasPrefix(string(joined), RoomPrefix) {
			s.Leave(joined)
		}
	}
	if room != "" {
		// Joined before the socket connects, so the application's
		// "connection" handlers already see it in its user's room; a
		// socket that never connects leaves every room on cleanup.
		s.Join(room)
	}
	return nil
}

// track prepares the tracking of s, with Data d, for session sid: it is
// untracked on "disconnect", tracked from the namespace's "connection"
// event (onConnection), and reports its client's events as activity.
func (m *middleware) track(s *socket.Socket, d *Data, sid string) {
	c := &conn{sid: sid, tracker: m.opts.Tracker}
	d.conn = c
	// Registered before the socket can connect, so a disconnect racing
	// with the "connection" hook is never missed.
	_ = s.On("disconnect", func(...any) { c.stop() })
	// A socket middleware sees every EVENT and BINARY_EVENT packet the
	// client sends, and nothing else (acknowledgements, heartbeats); one
	// registered now runs before those the application adds on
	// "connection", and cannot be removed by OffAny.
	s.Use(func(_ []any, next func(error)) {
		c.active()
		next(nil)
	})
	// Tracking starts from the namespace's "connection" event: a socket
	// that never connects (client gone during the handshake) is never
	// tracked, so nothing leaks.
	if _, loaded := m.hooked.LoadOrStore(s.Nsp(), struct{}{}); !loaded {
		_ = s.Nsp().On("connection", m.onConnection)
	}
}

// onConnection is the namespaces' "connection" listener: it starts
// tracking a socket the middleware prepared for it.
func (m *middleware) onConnection(args ...any) {
	if len(args) == 0 {
		return
	}
	s, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	d, ok := dataOf(s)
	if !ok || d.conn == nil {
		return
	}
	d.conn.start(s, d.auth, m.opts, m.a.Logger())
}

// errSkipMiddlewares is the cause of the refusals on a server whose
// recovered sockets skip the namespace middlewares.
var errSkipMiddlewares = errors.New("connection state recovery is on with SkipMiddlewares, so a recovered socket would skip the session check; call SetSkipMiddlewares(false) on the ConnectionStateRecovery options")

// skipsMiddlewares reports whether the server of s lets recovered sockets
// skip the namespace middlewares.
func skipsMiddlewares(s *socket.Socket) bool {
	nsp := s.Nsp()
	if nsp == nil || nsp.Server() == nil || nsp.Server().Opts() == nil {
		return false
	}
	csr := nsp.Server().Opts().ConnectionStateRecovery()
	return csr != nil && csr.SkipMiddlewares()
}

// rejection turns an Authorize error into the error sent to the client.
func rejection(err error) *socket.ExtendedError {
	var f *socketauth.Failure
	if !errors.As(err, &f) {
		f = &socketauth.Failure{Message: "unauthorized", Critical: true, Err: err}
	}
	code := CodeUnauthorized
	if f.Critical {
		code = CodeSessionError
	}
	return socket.NewExtendedError(f.Message, map[string]any{"code": code, "critical": f.Critical})
}

// conn is the tracking state of one socket: tracked from its connection
// until its disconnect, whichever order the two goroutines see them in.
type conn struct {
	sid     string // the session to track; never leaves this process
	tracker *socketauth.Tracker
	mu      sync.Mutex
	closed  bool
	untrack func()
}

// active reports client activity to the Tracker while the socket is
// tracked.
func (c *conn) active() {
	c.mu.Lock()
	tracked := c.untrack != nil
	c.mu.Unlock()
	if tracked {
		c.tracker.Activity(c.sid)
	}
}

func (c *conn) start(s *socket.Socket, auth *socketauth.Auth, opts Options, log *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Connected is false once the socket has closed (it is cleared before
	// the "disconnect" event), so a socket that is already gone is not
	// tracked even if its disconnect listener has not run yet.
	if c.closed || c.untrack != nil || !s.Connected() {
		return
	}
	t, event := opts.Tracker, opts.RevokeEvent
	c.untrack = t.Track(&socketauth.Auth{Session: &sessionbridge.Session{ID: c.sid}, StoredUser: auth.StoredUser, LoggedIn: true}, func(reason string) {
		_ = s.Emit(event, reason)
		s.Disconnect(false)
	})
	// The session may have ended between the authorization and now, when
	// no notification could reach this socket: check it once more.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		defer cancel()
		if _, err := t.Check(ctx, c.sid); err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "socketio: re-validation of a new socket failed; Tracker.Run will retry", slog.Any("error", err))
		}
	}()
}

func (c *conn) stop() {
	c.mu.Lock()
	c.closed = true
	untrack := c.untrack
	c.untrack = nil
	c.mu.Unlock()
	if untrack != nil {
		untrack()
	}
}
