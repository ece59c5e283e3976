package sessionbridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// DefaultCookieName is express-session's default cookie name.
const DefaultCookieName = "connect.sid"

// Errors from loading a session. A request without a valid session gets an
// error wrapping ErrNoSession and the precise reason (a cookiesig sentinel,
// ErrNotFound or ErrExpired); a store that failed gets ErrStore. Neither
// error string contains the cookie, the session id or a secret.
var (
	// ErrNoSession means the request carries no valid session: no cookie,
	// an unsigned or forged one, or one whose session is gone or expired.
	// It is the "not logged in" answer, never a failure.
	ErrNoSession = errors.New("sessionbridge: no valid session")
	// ErrExpired means the store returned a session whose cookie.expires
	// has passed (a store without TTL keeps such records; Node would revive
	// them, Go does not).
	ErrExpired = errors.New("sessionbridge: session expired")
	// ErrStore means the store failed or returned a record that is not a
	// valid express-session record. Treat it as an outage, not as a logout.
	ErrStore = errors.New("sessionbridge: session store error")
)

// CookieOptions are express-session's cookie options (its cookie.*
// settings), used for the sessions Go creates. Every field is a plain value
// whose zero value is express-session's default, so the zero CookieOptions
// is express-session's default cookie: a browser-session cookie with path
// "/" and HttpOnly. [New] applies the defaults.
type CookieOptions struct {
	// MaxAge is express-session's cookie.maxAge: the session lifetime.
	// Default is 0: a browser-session cookie (originalMaxAge null), which
	// stores keep for their default ttl.
	MaxAge time.Duration
	// Path is express-session's cookie.path. Default is "/".
	Path string
	// Domain is express-session's cookie.domain. Default is "": no Domain
	// attribute.
	Domain string
	// DisableHTTPOnly is express-session's httpOnly: false: the cookie is
	// readable by scripts. Default is false: httpOnly true, the HttpOnly
	// attribute is sent.
	DisableHTTPOnly bool
	// Secure is express-session's cookie.secure: the cookie is only sent
	// over HTTPS (see Config.TrustProxy). Default is false.
	Secure bool
	// SameSite is express-session's cookie.sameSite:
	// http.SameSiteLaxMode, http.SameSiteStrictMode and
	// http.SameSiteNoneMode are stored as "lax", "strict" and "none".
	// Default is 0 (or http.SameSiteDefaultMode): no sameSite, no SameSite
	// attribute.
	SameSite http.SameSite
	// Partitioned is express-session's cookie.partitioned: the Partitioned
	// attribute. Default is false.
	Partitioned bool
	// Priority is express-session's cookie.priority: "low", "medium" or
	// "high". Default is "": no Priority attribute.
	Priority string
}

// sameSiteModes maps CookieOptions.SameSite to the string express-session
// stores in cookie.sameSite.
var sameSiteModes = map[http.SameSite]string{
	http.SameSiteLaxMode:    "lax",
	http.SameSiteStrictMode: "strict",
	http.SameSiteNoneMode:   "none",
}

// Config configures a [Bridge]. Secrets and Store are required.
type Config struct {
	// CookieName is the session cookie's name; default "connect.sid".
	CookieName string
	// Secrets are express-session's secret list: the first signs new
	// cookies, every one verifies (rotation). None may be empty.
	Secrets []string
	// Store holds the sessions, shared with Node.
	Store Store
	// Cookie are the options for sessions Go creates.
	Cookie CookieOptions
	// TrustProxy makes X-Forwarded-Proto count when deciding whether a
	// request is HTTPS (express-session's proxy option).
	TrustProxy bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives store failures (never ids, cookies or secrets);
	// default slog.Default().
	Logger *slog.Logger
	// MaxHeaderBytes caps the Cookie header accepted; default
	// cookiesig.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// ErrorHandler answers requests whose session could not be loaded
	// because of a store failure. Default: 503 Service Unavailable.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Bridge loads and writes express-session sessions for Go handlers. It is
// safe for concurrent use.
type Bridge struct {
	name    string
	signer  *cookiesig.Signer
	store   Store
	cookie  CookieOptions
	trust   bool
	now     func() time.Time
	log     *slog.Logger
	maxHdr  int
	onError func(http.ResponseWriter, *http.Request, error)

	storeExpires bool // the store enforces expiry (ExpiryEnforcer)
}

// Session is a loaded or new session: its id and its record. Change the
// record in memory (Record.Set, Record.Cookie, ...) and persist it with the
// Bridge ([Bridge.Save], [Bridge.Touch]).
type Session struct {
	// ID is the session id (the store key), never shown in errors or logs.
	ID string
	// Record is the express-session record: the data and the cookie.
	Record *sessionjson.Session
}

// New returns a Bridge for cfg. A cookie name or CookieOptions that
// express-session's cookie serializer refuses gives an error wrapping
// [sessionjson.ErrInvalidCookieOption].
func New(cfg Config) (*Bridge, error) {
	signer, err := cookiesig.NewSigner(cfg.Secrets...)
	if err != nil {
		return nil, fmt.Errorf("sessionbridge: %w", err)
	}
	if cfg.Store == nil {
		return nil, errors.New("sessionbridge: a Store is required")
	}
	b := &Bridge{
		name:    cfg.CookieName,
		signer:  signer,
		store:   cfg.Store,
		cookie:  cfg.Cookie,
		trust:   cfg.TrustProxy,
		now:     cfg.Now,
		log:     cfg.Logger,
		maxHdr:  cfg.MaxHeaderBytes,
		onError: cfg.ErrorHandler,
	}
	if e, ok := cfg.Store.(ExpiryEnforcer); ok {
		b.storeExpires = e.EnforcesExpiry()
	}
	if b.name == "" {
		b.name = DefaultCookieName
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.maxHdr == 0 {
		b.maxHdr = cookiesig.DefaultMaxHeaderBytes
	}
	if b.onError == nil {
		b.onError = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		}
	}
	if b.cookie.Path == "" {
		b.cookie.Path = "/"
	}
	if ss := b.cookie.SameSite; ss != 0 && ss != http.SameSiteDefaultMode && sameSiteModes[ss] == "" {
		return nil, fmt.Errorf("sessionbridge: %w: CookieOptions.SameSite %d", sessionjson.ErrInvalidCookieOption, ss)
	}
	// Refuse here, once, the options (and cookie name) that would make
	// every WriteCookie fail: a bad Domain, Path or Priority.
	if _, err := b.newCookie().SetCookie(b.name, "v"); err != nil {
		return nil, fmt.Errorf("sessionbridge: %w", err)
	}
	return b, nil
}

// CookieName returns the session cookie's name.
func (b *Bridge) CookieName() string { return b.name }

// Signer returns the bridge's signer (the configured secrets).
func (b *Bridge) Signer() *cookiesig.Signer { return b.signer }

// Store returns the bridge's store.
func (b *Bridge) Store() Store { return b.store }

// SessionID returns the verified session id carried by r's Cookie header,
// or an error wrapping ErrNoSession and the cookiesig reason.
func (b *Bridge) SessionID(r *http.Request) (string, error) {
	return b.SessionIDFromHeader(cookieHeader(r))
}

// SessionIDFromHeader is SessionID for a raw Cookie header.
func (b *Bridge) SessionIDFromHeader(header string) (string, error) {
	sid, err := b.signer.SessionIDLimit(header, b.name, b.maxHdr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return sid, nil
}

// SessionIDFromValue returns the verified session id of a session cookie's
// value presented outside the Cookie header, URL-decoded ("s:<id>.<sig>",
// as express-session sets it), or an error wrapping ErrNoSession and the
// cookiesig reason (ErrNotSigned, ErrBadSignature, ErrMalformed). It is the
// Bridge's [SessionSource] method for credentials sent in a socket.io auth
// payload or a query parameter.
func (b *Bridge) SessionIDFromValue(value string) (string, error) {
	sid, err := b.signer.UnsignCookie(value)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return sid, nil
}

// cookieHeader joins a request's Cookie header lines the way Node does.
func cookieHeader(r *http.Request) string {
	lines := r.Header["Cookie"]
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	return strings.Join(lines, "; ")
}

// Load returns the session of the request: cookie, signature, store, expiry.
// Errors wrap ErrNoSession (with the reason: a cookiesig sentinel,
// ErrNotFound or ErrExpired) or ErrStore. The request's context bounds the
// load (see [Bridge.LoadID]).
func (b *Bridge) Load(r *http.Request) (*Session, error) {
	sid, err := b.SessionID(r)
	if err != nil {
		return nil, err
	}
	return b.LoadID(r.Context(), sid)
}

// LoadID loads a session by an id that was already verified (from a signed
// cookie). Never pass an id a client sent unsigned.
//
// Expiry: a store that expires sessions itself ([ExpiryEnforcer]) is
// trusted, as Node trusts it; for any other store a session whose
// cookie.expires has passed is refused with ErrExpired, even though the
// store returned it and Node would revive it.
//
// ctx bounds the whole load, reading and decoding the record included (a
// [Store] honours ctx in both; see
// [sessionjson.Decoder.DecodeOwnedContext]): when ctx is done before the
// store is asked, or by the time it answers, LoadID returns an error
// wrapping ErrStore and ctx.Err(), never a session, and never
// ErrNoSession.
func (b *Bridge) LoadID(ctx context.Context, sid string) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	rec, err := b.store.Get(ctx, sid)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	case rec == nil:
		return nil, fmt.Errorf("%w: store returned no session and no error", ErrStore)
	}
	if err := ctx.Err(); err != nil {
		// The store answered too late (or ignored ctx while decoding).
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if !b.storeExpires && rec.Expired(b.now()) {
		return nil, fmt.Errorf("%w: %w", ErrNoSession, ErrExpired)
	}
	return &Session{ID: sid, Record: rec}, nil
}

// NewSession creates a session the way express-session's generate() does: a
// fresh id (uid-safe: 24 random bytes, base64url, 32 characters) and a
// cookie from the configured options. It is not stored until Save.
func (b *Bridge) NewSession() (*Session, error) {
	sid, err := NewID()
	if err != nil {
		return nil, err
	}
	return &Session{ID: sid, Record: sessionjson.New(b.newCookie())}, nil
}

// NewID returns a session id as uid-safe's sync(24) makes it.
func NewID() (string, error) {
	var buf [24]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", fmt.Errorf("sessionbridge: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf[:]), nil
}

func (b *Bridge) newCookie() sessionjson.Cookie {
	o := b.cookie
	c := sessionjson.NewCookie(b.now(), o.MaxAge)
	path := o.Path
	c.Path = &path
	if o.DisableHTTPOnly {
		f := false
		c.HTTPOnly = &f
	}
	if o.Domain != "" {
		d := o.Domain
		c.Domain = &d
	}
	if o.Secure {
		t := true
		c.Secure = &t
	}
	if mode := sameSiteModes[o.SameSite]; mode != "" {
		c.SameSite = &sessionjson.SameSite{Mode: mode}
	}
	if o.Partitioned {
		t := true
		c.Partitioned = &t
	}
	if o.Priority != "" {
		p := o.Priority
		c.Priority = &p
	}
	return c
}

// Save writes the session to the store (express-session's save).
func (b *Bridge) Save(ctx context.Context, s *Session) error {
	if err := b.store.Set(ctx, s.ID, s.Record); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Touch resets the session's expiry from now and tells the store, as
// express-session does for an unmodified session with resave off.
func (b *Bridge) Touch(ctx context.Context, s *Session) error {
	s.Record.Touch(b.now())
	if err := b.store.Touch(ctx, s.ID, s.Record); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)
		}
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Destroy removes the session from the store. Like express-session, it does
// not clear the browser's cookie; the cookie then points at nothing.
func (b *Bridge) Destroy(ctx context.Context, s *Session) error {
	if err := b.store.Destroy(ctx, s.ID); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Regenerate destroys s in the store and returns a new, empty, unsaved
// session with a fresh id and cookie (express-session's regenerate).
func (b *Bridge) Regenerate(ctx context.Context, s *Session) (*Session, error) {
	if err := b.Destroy(ctx, s); err != nil {
		return nil, err
	}
	return b.NewSession()
}

// WriteCookie adds the Set-Cookie header express-session sends for the
// session to w: name=s%3A<signed id>; Path=/; Expires=...; HttpOnly ...
// (see [sessionjson.Cookie.SetCookie]). Like express-session, it sends
// nothing for a Secure cookie on a request that is not HTTPS (r.TLS set, or
// X-Forwarded-Proto https with TrustProxy).
func (b *Bridge) WriteCookie(w http.ResponseWriter, r *http.Request, s *Session) error {
	c := &s.Record.Cookie
	if c.Secure != nil && *c.Secure && !b.isSecure(r) {
		return nil
	}
	h, err := c.SetCookie(b.name, b.signer.CookieValue(s.ID))
	if err != nil {
		return err
	}
	w.Header().Add("Set-Cookie", h)
	return nil
}

func (b *Bridge) isSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !b.trust {
		return false
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = proto[:i]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

type ctxKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the session the middleware put in ctx, if any.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok && s != nil
}

// Middleware loads the request's session and puts it in the request context
// ([FromContext]). A request without a valid session goes on without one; a
// store failure is answered by Config.ErrorHandler (503 by default) and
// logged, so an outage is never served as "logged out".
func (b *Bridge) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := b.Load(r)
		switch {
		case err == nil:
			r = r.WithContext(NewContext(r.Context(), s))
		case errors.Is(err, ErrNoSession):
		default:
			level, msg := slog.LevelError, "session store failed"
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				// The client went away during the load: no outage to report.
				level, msg = slog.LevelDebug, "request canceled during the session load"
			}
			b.log.LogAttrs(r.Context(), level, msg,
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
			b.onError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireSession is like Middleware but answers 401 Unauthorized to a
// request without a valid session.
func (b *Bridge) RequireSession(next http.Handler) http.Handler {
	return b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			http.Error(w, "no valid session", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}))
}
