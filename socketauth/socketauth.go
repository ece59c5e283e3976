// Package socketauth authorizes socket.io (engine.io) handshakes from the
// Express session a Node app shares with Go: the Go successor of the npm
// package passport.socketio, for socket.io v4.
//
// An Authorizer takes the handshake's *http.Request (and, for socket.io,
// the CONNECT packet's auth payload), finds the signed session cookie,
// loads the session through a sessionbridge.Bridge, checks that passport
// holds a user, optionally deserializes it, and answers with an Auth or a
// typed failure. Use it
//   - with any Go engine.io/websocket server through Middleware (net/http);
//   - with github.com/zishang520/socket.io through the socketauth/socketio
//     package (namespace middleware, per-socket user, filters by user).
//
// What it fixes from passport.socketio:
//   - only a signed session id is accepted, from anywhere: the Cookie header
//     by default, and, if enabled, the auth payload or a query parameter,
//     which must carry the same signed cookie value ("s:..."); an unsigned
//     id is refused, and every credential presented must verify;
//   - expiry is enforced (see sessionbridge.Bridge.LoadID);
//   - "not logged in" is never critical; a store or deserializer failure
//     always is, and is never accepted, whatever the Fail hook answers;
//   - logged_in and the user are kept beside the user, never written into
//     the application's user object;
//   - open connections are revoked when their session is destroyed, expires
//     or logs out (Tracker, Tracker.WatchRedis).
package socketauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

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

// Config configures an Authorizer. Bridge is required.
type Config struct {
	// Bridge gives the cookie name, the secrets and the store
	// (passport.socketio's key, secret and store).
	Bridge *sessionbridge.Bridge
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
	// Cookie header is capped by the Bridge's MaxHeaderBytes.)
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

// New returns an Authorizer.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Bridge == nil {
		return nil, errors.New("socketauth: a Bridge is required")
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

// Bridge returns the configured bridge.
func (a *Authorizer) Bridge() *sessionbridge.Bridge { return a.cfg.Bridge }

// credentials returns the verified session id from every enabled source.
func (a *Authorizer) sessionID(r *http.Request, auth map[string]any) (string, error) {
	b := a.cfg.Bridge
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
	id, err := b.SessionID(r)
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
		id, err := b.Signer().UnsignCookie(v)
		if err != nil {
			return fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, err)
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
	s, err := a.cfg.Bridge.LoadID(ctx, sid)
	switch {
	case errors.Is(err, sessionbridge.ErrNoSession):
		return unauthorized("session not found or expired", err)
	case err != nil:
		return critical("session store unavailable", err)
	}
	stored, err := passportuser.Raw(s.Session)
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
		}
		res.User = u
	}
	return res, nil
}

// IsHandshake reports whether r is an engine.io handshake request: one
// without a sid query parameter (socket.io's onlyForHandshake).
func IsHandshake(r *http.Request) bool {
	_, ok := r.URL.Query()["sid"]
	return !ok
}

type ctxKey struct{}

// FromContext returns the Auth Middleware stored for the request.
func FromContext(ctx context.Context) (*Auth, bool) {
	a, ok := ctx.Value(ctxKey{}).(*Auth)
	return a, ok
}

// Middleware authorizes engine.io handshake requests in front of any Go
// websocket or engine.io server: a request without a sid query parameter
// must come from a logged-in session (401 when there is none, 403 when the
// presented cookie is invalid, 503 when the store failed), and the Auth is
// put in the request context. Other requests belong to an established
// connection and pass untouched.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsHandshake(r) {
			next.ServeHTTP(w, r)
			return
		}
		res, err := a.Authorize(r.Context(), r, nil)
		if err != nil {
			var f *Failure
			errors.As(err, &f)
			status := http.StatusUnauthorized
			switch {
			case f != nil && f.Critical:
				status = http.StatusServiceUnavailable
			case errors.Is(err, cookiesig.ErrBadSignature), errors.Is(err, cookiesig.ErrNotSigned),
				errors.Is(err, cookiesig.ErrMalformed), errors.Is(err, ErrConflict):
				status = http.StatusForbidden
			}
			http.Error(w, err.Error(), status)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res)))
	})
}
