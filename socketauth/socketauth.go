// Package socketauth authorizes socket.io (engine.io) handshakes from the
// Express session a Node app shares with Go: the Go successor of the npm
// package passport.socketio, for socket.io v4.
//
// An Authorizer takes the handshake's *http.Request (and, for socket.io,
// the CONNECT packet's auth payload), finds the signed session cookie,
// loads the session through a sessionbridge.SessionSource (for
// express-session, a *sessionbridge.Bridge), checks that passport
// holds a user, optionally deserializes it, and answers with an Auth or a
// typed failure. Use it
//   - with github.com/zishang520/socket.io through the socketauth/socketio
//     package (namespace middleware, per-socket user, filters by user);
//   - in front of any net/http websocket or engine.io server through
//     Middleware and MiddlewareFor.
//
// Only a signed session id is accepted, from any source; "not logged in"
// (ErrUnauthorized) is never confused with an outage (ErrCritical); a
// Tracker revokes open connections when their session ends.
// docs/passport-socketio.md in the repository compares it with
// passport.socketio.
//
// # What the net/http middleware protects, and what it does not
//
// Middleware authorizes every request it sees: nothing reaches the wrapped
// handler without a logged-in session (or the Fail hook's consent). That is
// the only safe rule when the middleware cannot tell which requests open a
// connection, e.g. in front of a plain websocket handler, where any request
// may upgrade.
//
// In front of an engine.io server in this process, MiddlewareFor with
// EngineIO (socketauth/socketio.EngineMode for zishang520) authorizes the
// handshakes, which engine.io recognises by an absent or empty sid query
// parameter ("?sid=" and "?sid" open a new connection), and lets a request
// with a non-empty sid through only when the engine has that connection
// open, a socketauth middleware authorized its handshake, and the request
// presents the handshake's session (signature checked, no store read). The
// sid is read as engine.io reads it (the last "sid" of the query), so a
// repeated parameter cannot make the middleware and the engine disagree,
// and the sid alone never replaces the session cookie.
//
// It does not protect:
//   - routes and transports that do not pass through it: another handler
//     serving the same engine, WebTransport (HTTP/3) sessions. Connections
//     opened that way are refused by MiddlewareFor, but they exist; the
//     socket.io namespace middleware (socketauth/socketio.Middleware) checks
//     every CONNECT whatever the transport, so use it in any case;
//   - a session that ends while its connection is open: websocket frames
//     are not requests, and requests on an open engine.io connection are
//     matched to the handshake's session without a store read, so only a
//     Tracker (Tracker.Run, Tracker.Watch) disconnects such a
//     connection;
//   - against a stolen session cookie, which is a credential like in Node;
//   - cross-origin policy: a browser sends the session cookie with a
//     cross-site websocket handshake unless the cookie's SameSite forbids
//     it, so the server behind must check Origin (gorilla/websocket's
//     Upgrader does by default; zishang520 through ServerOptions.SetCors).
package socketauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// Errors. Every failure wraps exactly one of ErrUnauthorized (the client has
// no valid, logged-in session: an answer, not a failure) and ErrCritical (the
// server could not decide: store down, deserializer failed).
var (
	ErrUnauthorized = errors.New("socketauth: unauthorized")
	ErrCritical     = errors.New("socketauth: authorization failed")
	// ErrConflict means several credentials were presented (cookie, auth,
	// query) that name different sessions.
	ErrConflict = errors.New("socketauth: credentials name different sessions")
)

// DefaultTimeout bounds one authorization (store read and deserializer).
const DefaultTimeout = 5 * time.Second

// Config configures an Authorizer. Source is required.
type Config struct {
	// Source verifies the session credentials and loads the sessions
	// (passport.socketio's key, secret and store): a *sessionbridge.Bridge
	// for express-session.
	Source sessionbridge.SessionSource
	// Deserialize turns passport.user into the application's user
	// (passport's deserializeUser). Nil keeps the stored JSON as the user.
	Deserialize passportuser.Deserializer[any]
	// AuthField, if set, also accepts the signed session cookie value
	// ("s:<id>.<signature>", URL-encoded or not) in the socket.io auth
	// payload under this key, for clients that cannot send cookies.
	AuthField string
	// QueryParam, if set, also accepts the signed session cookie value in
	// this query parameter of the handshake request.
	QueryParam string
	// Success is called after a successful authorization (passport.socketio
	// success); returning an error rejects the connection with it. Hooks
	// must honour ctx: the connection waits for them.
	Success func(ctx context.Context, a *Auth) error
	// Fail decides about a failed authorization (passport.socketio fail).
	// Returning nil accepts the connection as anonymous, which is honoured
	// only when f.Critical is false: a critical failure is always rejected.
	// Returning an error rejects with that error's message. Nil rejects
	// every failure with f.Message.
	Fail func(ctx context.Context, f *Failure) error
	// Timeout bounds one authorization; default DefaultTimeout.
	Timeout time.Duration
	// MaxCredentialBytes caps a session cookie value taken from the auth
	// payload or the query; default cookiesig.DefaultMaxHeaderBytes. (The
	// Cookie header is capped by the Source, e.g. the Bridge's
	// MaxHeaderBytes.)
	MaxCredentialBytes int
	// Logger receives critical failures (never ids, cookies or secrets).
	Logger *slog.Logger
}

// Auth is a successful (or accepted anonymous) authorization.
type Auth struct {
	// Session is the loaded session, nil for an accepted anonymous client.
	Session *sessionbridge.Session
	// StoredUser is session.passport.user exactly as stored.
	StoredUser json.RawMessage
	// User is the deserialized user (StoredUser when no Deserialize).
	User any
	// LoggedIn is false only for an anonymous client the Fail hook accepted
	// (passport.socketio's user.logged_in, kept outside the user).
	LoggedIn bool
}

// Failure describes a failed authorization for the Fail hook.
type Failure struct {
	// Message is safe to show the client: it names no id or secret.
	Message string
	// Critical is true when the server could not decide (store or
	// deserializer error); such a failure is never accepted.
	Critical bool
	// Err is the cause, for errors.Is and logs.
	Err error
	// Request is the handshake request.
	Request *http.Request
}

func (f *Failure) Error() string { return f.Message }
func (f *Failure) Unwrap() error { return f.Err }

// Authorizer authorizes handshakes. It is safe for concurrent use.
type Authorizer struct {
	cfg Config
	log *slog.Logger
}

// ErrNoSource is returned by New for a Config without a Source.
var ErrNoSource = errors.New("socketauth: a Source is required")

// New returns an Authorizer, or ErrNoSource when cfg.Source is nil (or a
// nil *sessionbridge.Bridge).
func New(cfg Config) (*Authorizer, error) {
	if b, isBridge := cfg.Source.(*sessionbridge.Bridge); cfg.Source == nil || (isBridge && b == nil) {
		return nil, ErrNoSource
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	a := &Authorizer{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

func (a *Authorizer) maxCredential() int {
	if a.cfg.MaxCredentialBytes > 0 {
		return a.cfg.MaxCredentialBytes
	}
	return cookiesig.DefaultMaxHeaderBytes
}

// Source returns the configured session source (Config.Source).
func (a *Authorizer) Source() sessionbridge.SessionSource { return a.cfg.Source }

// Logger returns the logger critical failures go to (Config.Logger, or
// slog.Default()), for packages that build on the Authorizer.
func (a *Authorizer) Logger() *slog.Logger { return a.log }

// sessionID returns the verified session id from every enabled credential:
// the Cookie header, the auth payload's AuthField and the QueryParam.
func (a *Authorizer) sessionID(r *http.Request, auth map[string]any) (string, error) {
	src := a.cfg.Source
	var sid string
	seen := false
	add := func(id string) error {
		if seen && id != sid {
			return ErrConflict
		}
		sid, seen = id, true
		return nil
	}
	// The Cookie header.
	id, err := src.SessionID(r)
	switch {
	case err == nil:
		if err := add(id); err != nil {
			return "", err
		}
	case !errors.Is(err, cookiesig.ErrNoCookie):
		return "", err // a cookie that is present but unsigned or forged
	}
	signed := func(v string) error {
		if v == "" {
			return nil
		}
		if len(v) > a.maxCredential() {
			return fmt.Errorf("%w: %w: credential of %d bytes exceeds the limit", sessionbridge.ErrNoSession, cookiesig.ErrMalformed, len(v))
		}
		if strings.IndexByte(v, '%') >= 0 {
			if d, ok := cookiesig.DecodeURIComponent(v); ok {
				v = d
			}
		}
		if !utf8.ValidString(v) {
			// Node never sees these bytes: it refuses raw bytes above 0x7F in
			// a URL and decodes invalid escapes to U+FFFD, so no id it
			// signed can match.
			return fmt.Errorf("%w: %w: credential is not valid UTF-8", sessionbridge.ErrNoSession, cookiesig.ErrMalformed)
		}
		id, err := src.SessionIDFromValue(v)
		if err != nil {
			return err // wraps ErrNoSession and the cookiesig reason
		}
		return add(id)
	}
	if a.cfg.AuthField != "" && auth != nil {
		if v, ok := auth[a.cfg.AuthField]; ok {
			s, isString := v.(string)
			if !isString {
				return "", fmt.Errorf("%w: %w: auth.%s is not a string", sessionbridge.ErrNoSession, cookiesig.ErrMalformed, a.cfg.AuthField)
			}
			if err := signed(s); err != nil {
				return "", err
			}
		}
	}
	if a.cfg.QueryParam != "" {
		if vs, ok := r.URL.Query()[a.cfg.QueryParam]; ok {
			for _, v := range vs {
				if err := signed(v); err != nil {
					return "", err
				}
			}
		}
	}
	if !seen {
		return "", fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, cookiesig.ErrNoCookie)
	}
	return sid, nil
}

// Authorize checks a handshake: r is the engine.io handshake request, auth
// the socket.io CONNECT payload (nil if none). On failure it returns a
// *Failure (as the error) wrapping ErrUnauthorized or ErrCritical and the
// cause, after the Fail hook accepted nothing; when the hook accepts an
// unauthorized client it returns an anonymous Auth and no error.
func (a *Authorizer) Authorize(ctx context.Context, r *http.Request, auth map[string]any) (*Auth, error) {
	if r == nil || r.URL == nil {
		// Refused before the hooks, which may read f.Request.
		return nil, &Failure{Message: "no handshake request", Err: fmt.Errorf("%w: no handshake request", ErrUnauthorized)}
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	res, f := a.authorize(ctx, r, auth)
	if f == nil && a.cfg.Success != nil {
		if herr := a.cfg.Success(ctx, res); herr != nil {
			f = &Failure{Message: herr.Error(), Err: fmt.Errorf("%w: %w", ErrUnauthorized, herr)}
		}
	}
	if f == nil {
		return res, nil
	}
	f.Request = r
	if f.Critical {
		a.log.LogAttrs(ctx, slog.LevelError, "socket authorization failed",
			slog.String("path", r.URL.Path), slog.Any("error", f.Err))
	}
	if a.cfg.Fail == nil {
		return nil, f
	}
	herr := a.cfg.Fail(ctx, f)
	switch {
	case herr == nil && !f.Critical:
		return &Auth{}, nil // accepted as anonymous
	case herr == nil, herr == error(f):
		return nil, f // a critical failure is never accepted
	}
	return nil, &Failure{Message: herr.Error(), Critical: f.Critical, Err: fmt.Errorf("%w: %w", kind(f), herr), Request: r}
}

func kind(f *Failure) error {
	if f.Critical {
		return ErrCritical
	}
	return ErrUnauthorized
}

func (a *Authorizer) authorize(ctx context.Context, r *http.Request, auth map[string]any) (*Auth, *Failure) {
	unauthorized := func(msg string, err error) (*Auth, *Failure) {
		return nil, &Failure{Message: msg, Err: fmt.Errorf("%w: %w", ErrUnauthorized, err)}
	}
	critical := func(msg string, err error) (*Auth, *Failure) {
		return nil, &Failure{Message: msg, Critical: true, Err: fmt.Errorf("%w: %w", ErrCritical, err)}
	}
	sid, err := a.sessionID(r, auth)
	switch {
	case errors.Is(err, ErrConflict):
		return unauthorized("conflicting session credentials", err)
	case errors.Is(err, cookiesig.ErrNoCookie):
		return unauthorized("no session cookie", err)
	case err != nil:
		return unauthorized("invalid session cookie", err)
	}
	s, err := a.cfg.Source.LoadID(ctx, sid)
	switch {
	case errors.Is(err, sessionbridge.ErrNoSession):
		return unauthorized("session not found or expired", err)
	case err != nil:
		return critical("session store unavailable", err)
	case s == nil:
		return critical("session store unavailable", errNilSession)
	}
	stored, err := passportuser.Raw(s)
	switch {
	case errors.Is(err, passportuser.ErrNotLoggedIn):
		return unauthorized("not logged in", err)
	case err != nil:
		return critical("invalid session", err)
	}
	res := &Auth{Session: s, StoredUser: stored, User: stored, LoggedIn: true}
	if a.cfg.Deserialize != nil {
		u, err := a.cfg.Deserialize(ctx, stored) // passportuser.Load without a second lookup
		switch {
		case errors.Is(err, passportuser.ErrNotLoggedIn):
			return unauthorized("not logged in", err)
		case err != nil:
			return critical("could not load the user", fmt.Errorf("%w: %w", passportuser.ErrDeserialize, err))
		case isNil(u):
			// passport treats a null user from deserializeUser as a logout.
			return unauthorized("not logged in", fmt.Errorf("%w: the deserializer returned no user", passportuser.ErrNotLoggedIn))
		}
		res.User = u
	}
	return res, nil
}

// errNilSession is the cause when a SessionSource's LoadID returns neither
// a session nor an error.
var errNilSession = errors.New("socketauth: the session source returned no session and no error")

// isNil reports whether a deserialized user is nil, or an interface holding
// a nil pointer, map, slice, func or channel.
func isNil(u any) bool {
	if u == nil {
		return true
	}
	switch v := reflect.ValueOf(u); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}
