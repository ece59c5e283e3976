package sessionbridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/bridgekit"
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
// settings; @fastify/session's are the same), used for the sessions Go
// creates. Every field is a plain value whose zero value is the Node
// package's default, so the zero CookieOptions is express-session's
// default cookie: a browser-session cookie with path "/" and HttpOnly (and
// with FastifySession @fastify/session's, which is also Secure). [New]
// applies the defaults.
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
	// over HTTPS (see Config.TrustProxy). Default is false, except with
	// FastifySession, whose default is true (see Insecure).
	Secure bool
	// Insecure is cookie.secure: false given explicitly: the cookie is
	// sent over plain HTTP too, and the record stores secure false, as the
	// Node package stores an explicit false. It is how to turn off
	// FastifySession's default Secure cookie; with ExpressSession, whose
	// default is no secure at all, it only adds secure false to the
	// records Go creates. New refuses Secure and Insecure together.
	Insecure bool
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

// Config configures a [Bridge]. Secrets and Store are required.
type Config struct {
	// Format is the Node session middleware Go is the peer of:
	// ExpressSession (the default) or FastifySession. See [Format].
	Format Format
	// CookieName is the session cookie's name (express-session's name,
	// @fastify/session's cookieName); default "connect.sid", or
	// "sessionId" with FastifySession.
	CookieName string
	// CookiePrefix is @fastify/session's cookiePrefix, with
	// FastifySession only: the text before the signed id in the cookie;
	// a cookie without it is no session. Default "" (its default); "s:"
	// with CookieName "connect.sid" shares express-session's cookie.
	CookiePrefix string
	// Secrets are express-session's (or @fastify/session's) secret list:
	// the first signs new cookies, every one verifies (rotation). None may
	// be empty.
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

	// The request lifecycle of [Bridge.LoadAndSave], with express-session's
	// option names and meaning. Configure them as the Node app configures
	// express-session. The zero values are what express-session's
	// documentation recommends (resave: false, saveUninitialized: false,
	// rolling: false, unset: 'keep'); express-session's own defaults when
	// an option is left undefined are resave: true and saveUninitialized:
	// true, so set them here if the Node app leaves them out. With
	// FastifySession set Rolling and SaveUninitialized as the Node app
	// sets @fastify/session's options of those names; it defaults both to
	// true, so set both here if the app leaves them out. Resave and Unset
	// have no @fastify/session counterpart: leave them at their zero
	// values.

	// Resave is express-session's resave: save the session at the end of
	// every request, even when the request did not change it.
	Resave bool
	// SaveUninitialized is express-session's saveUninitialized: save (and
	// send the cookie of) a new session the request did not change.
	SaveUninitialized bool
	// Rolling is express-session's rolling: send the cookie on every
	// response, its expiry reset.
	Rolling bool
	// Unset is express-session's unset: what happens to the stored session
	// when a handler unsets it ([Bridge.Unset]): UnsetKeep (the default)
	// or UnsetDestroy.
	Unset Unset
	// GenerateID is express-session's genid: the id of a new session.
	// Default [NewID], as uid-safe makes them. Only ids a client cannot
	// guess are safe.
	GenerateID func(r *http.Request) (string, error)

	// Beyond express-session.

	// TouchAfter skips the store touch of an unchanged session whose
	// expiry the store set less than TouchAfter ago (connect-mongo's
	// touchAfter, for every store): fewer store writes, at the price of
	// an idle session ending up to TouchAfter earlier than with a touch on
	// every request. It must be shorter than Cookie.MaxAge (New refuses it
	// otherwise) and should be a small part of it. Zero touches on every
	// request, as express-session does.
	TouchAfter time.Duration
	// Conflict decides what a save does when the stored session changed
	// since this request loaded it (Node or another Go instance wrote it
	// in between): ConflictMerge (the default), ConflictOverwrite
	// (express-session's behaviour) or ConflictFail. It needs a
	// [ConditionalStore]; with another Store every save overwrites.
	Conflict ConflictPolicy
	// MaxConflictRetries bounds the re-reads of a ConflictMerge save;
	// default 5. A save that still conflicts fails with ErrConflict.
	MaxConflictRetries int
}

// Unset is express-session's unset option.
type Unset int

const (
	// UnsetKeep keeps the stored session when a handler unsets it; only
	// this response leaves it alone (express-session's unset: 'keep').
	UnsetKeep Unset = iota
	// UnsetDestroy destroys the stored session at the end of a request
	// whose handler unset it (express-session's unset: 'destroy').
	UnsetDestroy
)

// ConflictPolicy is what a save does when the stored session changed since
// it was loaded. See Config.Conflict.
type ConflictPolicy int

const (
	// ConflictMerge re-reads the session, applies to it only the top-level
	// keys this request changed (and its cookie, if the request changed
	// the cookie), and writes again; the other writer's changes survive.
	ConflictMerge ConflictPolicy = iota
	// ConflictOverwrite writes this request's session over the stored one,
	// as express-session does: the last writer wins.
	ConflictOverwrite
	// ConflictFail fails the save with an error wrapping ErrConflict.
	ConflictFail
)

// Bridge loads and writes express-session (or @fastify/session) sessions
// for Go handlers. It is safe for concurrent use.
type Bridge struct {
	format  Format
	prefix  string
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

	resave, saveUninit, rolling bool
	unset                       Unset
	genid                       func(*http.Request) (string, error)
	touchAfter                  time.Duration
	conflict                    ConflictPolicy
	retries                     int
}

// Session is a loaded or new session: its id and its record. Change the
// record in memory (Record.Set, Record.Cookie, ...) and persist it with the
// Bridge ([Bridge.Save], [Bridge.Touch]).
type Session struct {
	// ID is the session id (the store key), never shown in errors or logs.
	ID string
	// Record is the express-session record: the data and the cookie.
	Record *sessionjson.Session

	lc *lifecycle // the request's lifecycle under LoadAndSave or Update
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
		format:  cfg.Format,
		prefix:  cfg.CookiePrefix,
		name:    cfg.CookieName,
		signer:  signer,
		store:   cfg.Store,
		cookie:  cfg.Cookie,
		trust:   cfg.TrustProxy,
		now:     cfg.Now,
		log:     cfg.Logger,
		maxHdr:  cfg.MaxHeaderBytes,
		onError: cfg.ErrorHandler,

		resave:     cfg.Resave,
		saveUninit: cfg.SaveUninitialized,
		rolling:    cfg.Rolling,
		unset:      cfg.Unset,
		genid:      cfg.GenerateID,
		touchAfter: cfg.TouchAfter,
		conflict:   cfg.Conflict,
		retries:    cfg.MaxConflictRetries,
	}
	if err := b.checkLifecycle(); err != nil {
		return nil, err
	}
	if err := b.checkFormat(); err != nil {
		return nil, err
	}
	if e, ok := cfg.Store.(ExpiryEnforcer); ok {
		b.storeExpires = e.EnforcesExpiry()
	}
	bridgekit.Defaults(&b.now, &b.log, &b.maxHdr)
	if b.onError == nil {
		b.onError = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		}
	}
	if b.cookie.Path == "" {
		b.cookie.Path = "/"
	}
	if _, ok := bridgekit.SameSite(b.cookie.SameSite); !ok {
		return nil, fmt.Errorf("sessionbridge: %w: CookieOptions.SameSite %d", sessionjson.ErrInvalidCookieOption, b.cookie.SameSite)
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
	return b.SessionIDFromHeader(bridgekit.CookieHeader(r))
}

// SessionIDFromHeader is SessionID for a raw Cookie header.
func (b *Bridge) SessionIDFromHeader(header string) (string, error) {
	sid, err := b.sessionIDFromHeader(header)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return sid, nil
}

// SessionIDFromValue returns the verified session id of a session cookie's
// value presented outside the Cookie header, URL-decoded ("s:<id>.<sig>",
// as express-session sets it; with FastifySession CookiePrefix +
// "<id>.<sig>"), or an error wrapping ErrNoSession and the cookiesig reason
// (ErrNotSigned, ErrBadSignature, ErrMalformed). It is the Bridge's
// [SessionSource] method for credentials sent in a socket.io auth payload
// or a query parameter.
func (b *Bridge) SessionIDFromValue(value string) (string, error) {
	sid, err := b.unsignValue(value)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return sid, nil
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
// trusted, as express-session trusts it; for any other store a session
// whose cookie.expires has passed is refused with ErrExpired, even though
// the store returned it and Node would revive it. With FastifySession a
// session whose stored cookie.expires has passed is refused with
// ErrExpired whatever the store, as @fastify/session refuses it.
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
	if err := b.checkLoaded(ctx, rec, err); err != nil {
		return nil, err
	}
	return &Session{ID: sid, Record: rec}, nil
}

// NewSession creates a session the way express-session's generate() does: a
// fresh id (uid-safe: 24 random bytes, base64url, 32 characters, as
// @fastify/session makes them too) and a cookie from the configured
// options, in the layout of the Bridge's Format. It is not stored until
// Save.
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
	c.Secure = b.secureDefault()
	if b.format == FastifySession {
		c.Layout = sessionjson.FastifyLayout
	}
	if mode, _ := bridgekit.SameSite(o.SameSite); mode != "" {
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

// Save writes the session to the store (express-session's
// req.session.save). Under [Bridge.LoadAndSave] and in [Bridge.Update] a
// session that was loaded from the store is written conditionally (see
// Config.Conflict), and s.Record then holds what was stored: the request's
// changes merged into the stored session. Otherwise it is the store's Set.
func (b *Bridge) Save(ctx context.Context, s *Session) error {
	if s.lc != nil {
		sn := takeSnapshot(s.Record)
		s.lc.saved = &sn
	}
	err := b.commit(ctx, s, s.lc)
	if err == nil && s.lc != nil {
		sn := takeSnapshot(s.Record) // the merge may have added Node's changes
		s.lc.saved = &sn
	}
	return err
}

// Touch resets the session's expiry from now and tells the store, as
// express-session does for an unmodified session with resave off. Under
// [Bridge.LoadAndSave] there is no need: the middleware touches. With
// FastifySession the store's record is rewritten with its expiry reset
// (see [FastifySession]); s.Record's data is not written.
func (b *Bridge) Touch(ctx context.Context, s *Session) error {
	s.Record.Touch(b.now())
	if b.format == FastifySession {
		return b.touchFresh(ctx, s.ID)
	}
	if err := b.store.Touch(ctx, s.ID, s.Record); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)
		}
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Destroy removes the session from the store (express-session's
// req.session.destroy). Under [Bridge.LoadAndSave] the request then has no
// session: no cookie is sent and nothing is saved at the end. Like
// express-session, it does not clear the browser's cookie; the cookie then
// points at nothing.
func (b *Bridge) Destroy(ctx context.Context, s *Session) error {
	if err := b.destroyStored(ctx, s.ID); err != nil {
		return err
	}
	if s.lc != nil {
		s.lc.destroyed = true
	}
	return nil
}

// Unset is express-session's req.session = null, under
// [Bridge.LoadAndSave]: the response sends no cookie and saves nothing, and
// with Config.Unset UnsetDestroy the stored session is destroyed at the end
// of the request. [Bridge.Regenerate] gives the request a session again.
// Outside LoadAndSave it does nothing.
func (b *Bridge) Unset(s *Session) {
	if s.lc != nil {
		s.lc.unset = true
	}
}

// Regenerate destroys the session in the store and gives s a new id and a
// new, empty record (express-session's req.session.regenerate), in place.
// Under [Bridge.LoadAndSave] the new session is saved and its cookie sent
// at the end of the request; elsewhere call Save and WriteCookie.
func (b *Bridge) Regenerate(ctx context.Context, s *Session) error {
	if err := b.destroyStored(ctx, s.ID); err != nil {
		return err
	}
	var r *http.Request
	if s.lc != nil {
		r = s.lc.r
	}
	if err := b.generate(r, s); err != nil {
		return err
	}
	if st := s.lc; st != nil {
		st.base, st.version = nil, Version{}
		st.unset, st.destroyed = false, false
	}
	return nil
}

// Reload replaces s.Record with the session as the store holds it now
// (express-session's req.session.reload). A session the store no longer
// holds gives an error wrapping ErrNoSession.
func (b *Bridge) Reload(ctx context.Context, s *Session) error {
	rec, v, err := b.getVersion(ctx, s.ID)
	if err != nil {
		return err
	}
	s.Record = rec
	if s.lc != nil {
		s.lc.base, s.lc.version = rec.Clone(), v
	}
	return nil
}

// Update loads the session sid (an id from a verified cookie), lets fn
// change it, and saves it if fn changed it, with the same rule as
// [Bridge.LoadAndSave]: a change made by Node or another Go instance since
// the load is merged, not overwritten (Config.Conflict). It is for code
// that changes a session outside an HTTP request, such as a socket handler.
// It does not touch the session; see [Bridge.KeepAlive].
//
// An error from fn is returned as is, and nothing is saved. A session that
// is missing or expired gives an error wrapping ErrNoSession, also when it
// ends between the load and the save; a store failure wraps ErrStore; a
// merge that still conflicts, or any conflict with ConflictFail, wraps
// ErrConflict.
func (b *Bridge) Update(ctx context.Context, sid string, fn func(*Session) error) error {
	rec, v, err := b.getVersion(ctx, sid)
	if err != nil {
		return err
	}
	st := &lifecycle{b: b, base: rec.Clone(), version: v}
	s := &Session{ID: sid, Record: rec, lc: st}
	before := takeSnapshot(rec)
	if err := fn(s); err != nil {
		return err
	}
	if s.ID != sid {
		// fn regenerated: save the new session as LoadAndSave would.
		return b.commit(ctx, s, st)
	}
	if st.gone() || before.matches(s.Record) && s.Record.Cookie.Equal(st.base.Cookie) {
		return nil
	}
	return b.commit(ctx, s, st)
}

// KeepAlive extends the session's life as a request would with
// [Bridge.LoadAndSave] (the store's touch, skipped under Config.TouchAfter
// when the store's expiry is recent enough), without changing its data. It
// is for connections that keep a session in use without HTTP requests,
// such as sockets. A missing or expired session gives an error wrapping
// ErrNoSession; a store failure wraps ErrStore.
func (b *Bridge) KeepAlive(ctx context.Context, sid string) error {
	rec, v, err := b.getVersion(ctx, sid)
	if err != nil {
		return err
	}
	s := &Session{ID: sid, Record: rec}
	// Judge TouchAfter by the record as read, then reset its expiry.
	if b.touchAfter > 0 && b.recentlyTouched(rec, v) {
		return nil
	}
	if b.format == FastifySession {
		return b.touchRecord(ctx, sid, rec, v)
	}
	rec.Touch(b.now())
	if err := b.store.Touch(ctx, sid, s.Record); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)
		}
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// checkLifecycle refuses lifecycle options that cannot work.
func (b *Bridge) checkLifecycle() error {
	if b.unset != UnsetKeep && b.unset != UnsetDestroy {
		return fmt.Errorf("sessionbridge: unknown Config.Unset %d", b.unset)
	}
	if b.conflict < ConflictMerge || b.conflict > ConflictFail {
		return fmt.Errorf("sessionbridge: unknown Config.Conflict %d", b.conflict)
	}
	if b.touchAfter < 0 || b.touchAfter > 0 && b.cookie.MaxAge > 0 && b.touchAfter >= b.cookie.MaxAge {
		return fmt.Errorf("sessionbridge: Config.TouchAfter %v must be at least 0 and shorter than Cookie.MaxAge %v", b.touchAfter, b.cookie.MaxAge)
	}
	if b.retries < 0 {
		return fmt.Errorf("sessionbridge: Config.MaxConflictRetries %d is negative", b.retries)
	}
	if b.retries == 0 {
		b.retries = defaultConflictRetries
	}
	return nil
}

// WriteCookie adds the Set-Cookie header express-session sends for the
// session to w: name=s%3A<signed id>; Path=/; Expires=...; HttpOnly ...
// (see [sessionjson.Cookie.SetCookie]), or with FastifySession the one
// @fastify/session sends: name=<prefix><signed id>, raw. Like both, it
// sends nothing for a Secure cookie on a request that is not HTTPS (r.TLS
// set, or X-Forwarded-Proto https with TrustProxy).
func (b *Bridge) WriteCookie(w http.ResponseWriter, r *http.Request, s *Session) error {
	if b.insecureRequest(r, s) {
		return nil
	}
	h, err := s.Record.Cookie.SetCookie(b.name, b.cookieValue(s.ID))
	if err != nil {
		return err
	}
	w.Header().Add("Set-Cookie", h)
	return nil
}

// isSecure is express-session's issecure: TLS, or with TrustProxy
// X-Forwarded-Proto https.
func (b *Bridge) isSecure(r *http.Request) bool { return bridgekit.ExpressSecure(r, b.trust) }

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
			b.storeFailed(w, r, err)
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
