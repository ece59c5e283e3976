package socketauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// ErrUnknownConnection means a request names an engine.io connection (a
// non-empty sid) that the engine behind MiddlewareFor does not have open, or
// that no socketauth middleware authorized. It is wrapped, with
// ErrUnauthorized, in the *Failure behind a 400 answer.
var ErrUnknownConnection = errors.New("socketauth: unknown connection")

// Mode tells MiddlewareFor which kind of server is behind it, and so which
// requests may pass without a store read of their own. The zero Mode is for
// any server that is not an engine.io server this process can look into (a
// plain websocket server, a proxy to a Node socket.io server): every
// request is authorized. It is also what Middleware uses.
type Mode struct {
	handshake func(sid string) (*http.Request, bool)
}

// EngineIO returns the Mode for an engine.io server (socket.io's transport
// layer) running in this process. handshake must look sid up in the
// engine's table of open connections and return the connection's first
// request (the handshake MiddlewareFor authorized), or false when the
// engine has no such connection. socketauth/socketio.EngineMode builds it
// for github.com/zishang520/socket.io.
//
// In this mode a request whose sid query parameter, read as engine.io reads
// it (the last value), is absent or empty is a handshake and is authorized
// like in the zero Mode. A request with a non-empty sid passes only if the
// engine has that connection open, a socketauth middleware authorized its
// handshake, and the request's own session credentials (the Cookie header
// and Config.QueryParam, signatures verified, no store read) name the
// session the handshake was authorized with. So the engine.io sid alone is
// never a credential, except on a connection the Fail hook accepted as
// anonymous: that one carries no session, and its requests pass on the sid.
//
// A nil handshake gives the zero Mode, which authorizes every request.
func EngineIO(handshake func(sid string) (*http.Request, bool)) Mode {
	return Mode{handshake: handshake}
}

type ctxKey struct{}

// FromContext returns the Auth Middleware stored for the request: the
// request's own authorization, or, for a request on an open engine.io
// connection (EngineIO mode), the authorization of the connection's
// handshake.
func FromContext(ctx context.Context) (*Auth, bool) {
	a, ok := ctx.Value(ctxKey{}).(*Auth)
	return a, ok
}

// IsHandshake reports whether an engine.io server treats r as a handshake
// (a request that opens a connection): its sid query parameter, read as
// engine.io reads it (the last value; both the Node and the zishang520
// servers do so), is absent or empty. "?sid=" and "?sid" are handshakes.
// A request that is not a handshake is not thereby part of a connection:
// the engine may not know its sid. IsHandshake is no authorization check;
// MiddlewareFor with EngineIO is.
func IsHandshake(r *http.Request) bool {
	return engineSID(r) == ""
}

// engineSID returns the sid query parameter as engine.io reads it: the last
// value of the parsed query (zishang520's ParameterBag.Peek over
// URL.Query(); Node's engine.io builds an object from URLSearchParams, in
// which a later pair overwrites an earlier one).
func engineSID(r *http.Request) string {
	if r == nil || r.URL == nil {
		return ""
	}
	vs := r.URL.Query()["sid"]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// Middleware authorizes every request in front of next, as MiddlewareFor
// with the zero Mode: a request must come from a logged-in session (401
// when there is none, 403 when a presented credential is invalid, 503 when
// the store failed), and its Auth is put in the request context
// (FromContext). Use it in front of a plain websocket server, or any server
// where every request may open a connection. For an engine.io server in
// this process, MiddlewareFor with EngineIO saves the store read on every
// request of an open connection.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return a.MiddlewareFor(Mode{}, next)
}

// MiddlewareFor authorizes requests in front of next, according to mode
// (see Mode and EngineIO). A handshake (every request in the zero Mode) is
// authorized with Authorize, without an auth payload: 401 when there is no
// logged-in session, 403 when a presented credential is invalid or two
// credentials name different sessions, 503 when the store or the
// deserializer failed; the Fail hook may accept a non-critical failure as
// anonymous. In EngineIO mode a request on an open connection is answered
// 400 when the engine does not know its sid (ErrUnknownConnection), 401
// when it carries no credential and 403 when its credentials are invalid or
// name another session than the connection's handshake; the Fail hook is
// not consulted for these. Answers carry only Failure.Message (no id,
// cookie or secret). Requests that pass reach next with their Auth in the
// context (FromContext).
//
// Every request is checked, whatever its method: a CORS preflight (OPTIONS)
// carries no cookie and is refused, so answer preflights before the
// middleware if cross-origin clients need them.
//
// MiddlewareFor guards only the requests that reach it: an engine reached by
// another route, or by a transport that bypasses net/http (WebTransport),
// is not guarded by it, and a connection opened that way is refused here
// (ErrUnknownConnection). For socket.io, the namespace middleware
// (socketauth/socketio.Middleware) authorizes every CONNECT whatever the
// transport; use it, with or without MiddlewareFor in front.
func (a *Authorizer) MiddlewareFor(mode Mode, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res *Auth
		var err error
		if sid := engineSID(r); mode.handshake != nil && sid != "" {
			res, err = a.connection(r, mode, sid)
		} else {
			res, err = a.Authorize(r.Context(), r, nil)
		}
		if err != nil {
			http.Error(w, err.Error(), status(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res)))
	})
}

// status is the HTTP status of a refusal.
func status(err error) int {
	var f *Failure
	switch {
	case errors.As(err, &f) && f.Critical:
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrUnknownConnection):
		return http.StatusBadRequest
	case errors.Is(err, cookiesig.ErrBadSignature), errors.Is(err, cookiesig.ErrNotSigned),
		errors.Is(err, cookiesig.ErrMalformed), errors.Is(err, ErrConflict):
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// connection checks a request on the open engine.io connection sid: the
// engine must know it, a socketauth middleware must have authorized its
// handshake, and the request must present the handshake's session. Only
// signatures are checked (no store read): the session was loaded at the
// handshake, and the Tracker revokes connections whose session ends.
func (a *Authorizer) connection(r *http.Request, mode Mode, sid string) (*Auth, error) {
	refuse := func(msg string, err error) (*Auth, error) {
		return nil, &Failure{Message: msg, Err: fmt.Errorf("%w: %w", ErrUnauthorized, err), Request: r}
	}
	hs, ok := mode.handshake(sid)
	if !ok || hs == nil {
		return refuse("unknown connection", ErrUnknownConnection)
	}
	opened, ok := FromContext(hs.Context())
	if !ok || opened == nil {
		return refuse("unknown connection", fmt.Errorf("%w: its handshake was not authorized by socketauth", ErrUnknownConnection))
	}
	if opened.Session == nil {
		return opened, nil // accepted as anonymous by the Fail hook: no session to match
	}
	id, err := a.sessionID(r, nil)
	switch {
	case errors.Is(err, ErrConflict):
		return refuse("conflicting session credentials", err)
	case errors.Is(err, cookiesig.ErrNoCookie):
		return refuse("no session cookie", err)
	case err != nil:
		return refuse("invalid session cookie", err)
	case id != opened.Session.ID:
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "socket request refused: its session is not the one that opened the connection",
			slog.String("path", r.URL.Path))
		return refuse("session does not match the connection", fmt.Errorf("%w: the request's session is not the connection's", ErrConflict))
	}
	return opened, nil
}
