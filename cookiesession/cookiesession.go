// Package cookiesession is the Go peer of the npm cookie-session package
// (2.1.1, with cookies 0.9 and keygrip 1.1): the whole session lives in the
// browser, in two cookies Node and Go both read and write.
//
//	session=<standard base64 of JSON.stringify(session), with padding>
//	session.sig=<keygrip signature of "session=<value>">
//
// The signature is HMAC(keys[0], "NAME=VALUE") (SHA-1 by default) in
// URL-safe base64 without padding; every key verifies, so keys rotate as in
// Node. [Bridge.LoadAndSave] does per request what cookie-session does:
// it loads the session, clears NAME.sig when the signature is bad,
// re-issues only NAME.sig when an older key verified it, and writes both
// cookies (expires now+MaxAge, no Max-Age attribute) only when the
// serialized session changed; a new session nobody put anything in is
// never written. [Bridge.Unset] is req.session = null.
//
// There is no server-side record: the "session id" of [sessionbridge.Session]
// and of the [sessionbridge.SessionSource] methods is the verified cookie
// value itself, and loading it decodes it, without I/O. A stolen pair of
// cookies therefore stays valid for as long as the key that signed it is
// listed; Config.ExpiryMember makes Go (and, with a few lines of middleware,
// Node) refuse payloads past an expiry written into them.
//
// passport 0.7 calls req.session.regenerate and req.session.save, which
// cookie-session lacks; Node apps add no-op shims (not enumerable, or every
// anonymous visitor gets a session=e30= cookie):
//
//	app.use((req, res, next) => {
//	  for (const m of ['regenerate', 'save']) {
//	    if (req.session && typeof req.session[m] !== 'function') {
//	      Object.defineProperty(req.session, m, { value: (cb) => cb(), enumerable: false, configurable: true, writable: true });
//	    }
//	  }
//	  next();
//	});
//
// A *Bridge is a passportuser.Manager with the same no-ops, so
// passportuser.Login and Logout work as req.login and req.logout do there:
// a login keeps the anonymous session's data, and with no id to replace
// there is no session-fixation guard, in Node as in Go.
//
// # Expiry inside the payload
//
// With Config.ExpiryMember "_expires", Go writes the session's expiry into
// the payload and refuses payloads without one or past it. For Node to do
// the same, add this after cookieSession and before passport (on-headers is
// the module cookie-session itself uses; a listener added later runs
// first):
//
//	const onHeaders = require('on-headers');
//	const EXPIRY = '_expires', MAX_AGE = 24 * 60 * 60 * 1000; // cookieSession's maxAge
//	app.use((req, res, next) => {
//	  const s = req.session;
//	  if (s && !s.isNew && !(typeof s[EXPIRY] === 'number' && s[EXPIRY] > Date.now())) {
//	    req.session = {}; // no expiry, or past it: a new, empty session
//	  }
//	  onHeaders(res, () => {
//	    const cur = req.session;
//	    if (cur && cur.isChanged && (!cur.isNew || cur.isPopulated)) cur[EXPIRY] = Date.now() + MAX_AGE;
//	  });
//	  next();
//	});
package cookiesession

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/bridgekit"
	"github.com/sessionbridge/sessionbridge/internal/jscookies"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// MaxCookieBytes is the longest session cookie (name, "=" and value) Go
// writes: what browsers keep. A longer one would be dropped by the browser
// without a word, so Go refuses it ([ErrCookieTooLarge]); Node writes it.
const MaxCookieBytes = 4096

// ErrCookieTooLarge means the session does not fit in a cookie a browser
// keeps (see [MaxCookieBytes]); it is not written.
var ErrCookieTooLarge = errors.New("cookiesession: session too large for a cookie")

// Config configures [Bridge]. Keys is required; the zero value of every
// other field is cookie-session's default. Configure it as the Node app
// configures cookieSession({...}).
type Config struct {
	// Name is the cookie's name (cookie-session's name); the signature
	// travels in Name+".sig". Default "session".
	Name string
	// Keys are cookie-session's keys: the first signs, every one verifies
	// (rotation). At least one is required and none may be empty. There is
	// no unsigned mode.
	Keys []string
	// Algorithm is the keygrip hash, as the Node app passes
	// new Keygrip(keys, algorithm) as keys: "sha1" (keygrip's default, used
	// when empty), "sha224", "sha256", "sha384" or "sha512".
	Algorithm string
	// MaxAge is cookie-session's maxAge: a written cookie expires MaxAge
	// after the response (an Expires attribute, never Max-Age). Zero: a
	// browser-session cookie.
	MaxAge time.Duration
	// Path is the cookie's path; default "/".
	Path string
	// Domain is the cookie's domain; default none.
	Domain string
	// SameSite is cookie-session's sameSite: http.SameSiteLaxMode,
	// SameSiteStrictMode or SameSiteNoneMode. Zero (or
	// SameSiteDefaultMode): no SameSite attribute.
	SameSite http.SameSite
	// Secure is cookie-session's secure: true. The cookies then carry the
	// Secure attribute and are never written over plain HTTP (Node throws
	// there and writes nothing). With the default, false, the attribute is
	// sent exactly when the request came over HTTPS, as cookie-session
	// decides when secure is left out.
	Secure bool
	// TrustProxy makes X-Forwarded-Proto count when deciding whether a
	// request came over HTTPS (express's trust proxy).
	TrustProxy bool
	// DisableHTTPOnly is cookie-session's httpOnly: false. Default false:
	// the HttpOnly attribute is sent.
	DisableHTTPOnly bool
	// Priority is the Priority attribute: "low", "medium" or "high" (any
	// case). Default none.
	Priority string
	// Partitioned adds the Partitioned attribute.
	Partitioned bool

	// ExpiryMember, when set, is the name of a payload member holding the
	// session's expiry in milliseconds since the epoch. Go writes now+MaxAge
	// into it whenever it writes the session (so it matches the cookie's
	// Expires) and refuses a payload without it, with a value that is not a
	// finite number, or with one that has passed (an error wrapping
	// [sessionbridge.ErrExpired]): a stolen cookie then stops working when
	// the session would have expired in the browser. Node must do the same:
	// see "Expiry inside the payload" in the package documentation. It
	// requires MaxAge. Default "": off, as cookie-session.
	ExpiryMember string

	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxHeaderBytes caps the Cookie header (and a value presented outside
	// one) that is read; default cookiesig.DefaultMaxHeaderBytes, negative
	// for no limit. The payload's JSON may nest sessionjson.DefaultMaxDepth
	// levels.
	MaxHeaderBytes int
	// Logger receives what the middleware could not write (never a cookie,
	// a payload or a key); default slog.Default().
	Logger *slog.Logger
}

// A Bridge reads and writes cookie-session sessions. It is safe for
// concurrent use. It is a sessionbridge.SessionSource and a
// passportuser.Manager.
type Bridge struct {
	name     string
	kg       *cookiesig.Keygrip
	maxAge   time.Duration
	attrs    jscookies.Attrs // Path, Domain, Priority, SameSite, HTTPOnly, Partitioned
	secure   bool
	trust    bool
	expiry   string
	now      func() time.Time
	maxHdr   int
	dec      sessionjson.Decoder
	log      *slog.Logger
	requests sync.Map // *sessionbridge.Session -> *request, under LoadAndSave
}

var _ sessionbridge.SessionSource = (*Bridge)(nil)

// New returns a Bridge for cfg. It refuses a configuration cookie-session
// would refuse or that could never write a cookie: no keys, an empty key,
// an unknown algorithm, a cookie name, path, domain, priority or SameSite
// value the cookies package rejects, a negative MaxAge, or an ExpiryMember
// without MaxAge.
func New(cfg Config) (*Bridge, error) {
	kg, err := cookiesig.NewKeygrip(cfg.Algorithm, cfg.Keys...)
	if err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	m := &Bridge{
		name:   cfg.Name,
		kg:     kg,
		maxAge: cfg.MaxAge,
		secure: cfg.Secure,
		trust:  cfg.TrustProxy,
		expiry: cfg.ExpiryMember,
		now:    cfg.Now,
		maxHdr: cfg.MaxHeaderBytes,
		log:    cfg.Logger,
		attrs: jscookies.Attrs{
			Path:        cfg.Path,
			Domain:      cfg.Domain,
			Priority:    strings.ToLower(cfg.Priority),
			HTTPOnly:    !cfg.DisableHTTPOnly,
			Partitioned: cfg.Partitioned,
		},
	}
	if m.name == "" {
		m.name = "session"
	}
	if m.attrs.Path == "" {
		m.attrs.Path = "/"
	}
	bridgekit.Defaults(&m.now, &m.log, &m.maxHdr)
	m.dec = sessionjson.Decoder{MaxBytes: m.maxHdr}
	if !isToken(m.name) {
		return nil, errors.New("cookiesession: Config.Name must be printable ASCII without spaces, ';' or '='")
	}
	for what, v := range map[string]string{"Path": m.attrs.Path, "Domain": m.attrs.Domain} {
		if !isAttrValue(v) {
			return nil, fmt.Errorf("cookiesession: Config.%s must be printable ASCII without ';'", what)
		}
	}
	if !jscookies.ValidPriority(m.attrs.Priority) {
		return nil, errors.New(`cookiesession: Config.Priority must be "low", "medium" or "high"`)
	}
	var ok bool
	if m.attrs.SameSite, ok = bridgekit.SameSite(cfg.SameSite); !ok {
		return nil, fmt.Errorf("cookiesession: unknown Config.SameSite %d", cfg.SameSite)
	}
	if m.maxAge < 0 {
		return nil, errors.New("cookiesession: Config.MaxAge is negative")
	}
	if m.expiry != "" {
		if m.maxAge < time.Millisecond {
			return nil, errors.New("cookiesession: Config.ExpiryMember needs a MaxAge of at least 1ms")
		}
		if isHidden(m.expiry) {
			return nil, fmt.Errorf("cookiesession: Config.ExpiryMember %q is a name cookie-session drops", m.expiry)
		}
	}
	return m, nil
}

// isToken reports whether name is a cookie name both sides handle alike:
// one the cookies package takes, without spaces or tabs.
func isToken(name string) bool {
	return jscookies.ValidName(name) && !strings.ContainsAny(name, " \t")
}

// isAttrValue reports whether v can be a Path or Domain attribute: what
// jscookies.ValidAttr allows, without tabs.
func isAttrValue(v string) bool {
	return jscookies.ValidAttr(v) && !strings.Contains(v, "\t")
}

// noSession wraps reason as a request without a valid session.
func noSession(reason error) error {
	return fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, reason)
}

// SessionID returns the verified value of r's session cookie: the payload,
// which stands in for a session id. Errors wrap
// [sessionbridge.ErrNoSession] and the reason: cookiesig.ErrNoCookie (no
// cookie, or an empty one), ErrNotSigned (NAME.sig missing or empty),
// ErrBadSignature (no key verifies it) or ErrMalformed (a Cookie header over
// Config.MaxHeaderBytes).
func (m *Bridge) SessionID(r *http.Request) (string, error) {
	v, _, err := m.get(r)
	return v, err
}

// get is SessionID with the index of the key that verified the value.
func (m *Bridge) get(r *http.Request) (string, int, error) {
	v, i, err := m.kg.Get(bridgekit.CookieHeader(r), m.name, m.maxHdr)
	if err != nil {
		return "", -1, noSession(err)
	}
	if v == "" {
		// cookie-session: `if (!str) return undefined`.
		return "", -1, noSession(cookiesig.ErrNoCookie)
	}
	return v, i, nil
}

// SessionIDFromValue verifies the two cookies presented outside a Cookie
// header (a socket.io auth payload, a query parameter) in one string,
// "<value>.<signature>": the session cookie's value, a dot, and the
// NAME.sig cookie's value. It returns the value, the session's id. A
// base64 payload has no '.', and neither has a keygrip signature. Errors
// wrap [sessionbridge.ErrNoSession] and cookiesig.ErrNotSigned (no dot or
// no signature), ErrMalformed (no value, or longer than
// Config.MaxHeaderBytes) or ErrBadSignature.
func (m *Bridge) SessionIDFromValue(value string) (string, error) {
	v, err := bridgekit.SignedValue(m.kg, m.name, value, m.maxHdr)
	if err != nil {
		return "", noSession(err)
	}
	return v, nil
}

// LoadID decodes the session of a verified value (from SessionID or
// SessionIDFromValue; never a value a client sent unverified) as
// cookie-session does: base64 as leniently as Node's Buffer.from(v,
// 'base64'), UTF-8 with invalid bytes as U+FFFD, then JSON. There is no
// I/O, and ctx is not used. Errors wrap [sessionbridge.ErrNoSession] and
// the reason: sessionjson.ErrInvalidJSON (cookie-session then starts a new,
// empty session), ErrNotObject, ErrDuplicateKey, ErrTooDeep (all wrapping
// sessionjson.ErrMalformed), cookiesig.ErrMalformed for an empty or too
// long value, or [sessionbridge.ErrExpired] under Config.ExpiryMember.
func (m *Bridge) LoadID(_ context.Context, sid string) (*sessionbridge.Session, error) {
	rec, err := m.decode(sid)
	if err != nil {
		return nil, noSession(err)
	}
	return &sessionbridge.Session{ID: sid, Record: rec}, nil
}

// Load returns the session of r's cookies: SessionID, then LoadID. It
// writes nothing (a bad signature is not cleared); see
// [Bridge.LoadAndSave] for that.
func (m *Bridge) Load(r *http.Request) (*sessionbridge.Session, error) {
	sid, err := m.SessionID(r)
	if err != nil {
		return nil, err
	}
	return m.LoadID(r.Context(), sid)
}

// decode turns a verified cookie value into its record.
func (m *Bridge) decode(value string) (*sessionjson.Session, error) {
	if value == "" {
		return nil, fmt.Errorf("%w: empty value", cookiesig.ErrMalformed)
	}
	if m.maxHdr > 0 && len(value) > m.maxHdr {
		return nil, fmt.Errorf("%w: value of %d bytes, limit %d", cookiesig.ErrMalformed, len(value), m.maxHdr)
	}
	rec, err := m.dec.DecodeData(decodePayload(value), isHidden)
	if err != nil {
		return nil, jscookies.DecodeReason(err)
	}
	if m.expiry != "" {
		if err := m.checkExpiry(rec); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// checkExpiry enforces Config.ExpiryMember.
func (m *Bridge) checkExpiry(rec *sessionjson.Session) error {
	raw, ok := rec.Raw(m.expiry)
	if !ok {
		return fmt.Errorf("%w: the payload has no expiry", sessionbridge.ErrExpired)
	}
	exp, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(exp, 0) {
		return fmt.Errorf("%w: the payload's expiry is not a finite number", sessionbridge.ErrExpired)
	}
	if !(exp > float64(m.now().UnixMilli())) {
		return fmt.Errorf("%w: the payload's expiry has passed", sessionbridge.ErrExpired)
	}
	return nil
}

// NewSession returns a new, empty session, as cookie-session creates one:
// its ID is empty, its Record has no members. It is passportuser.Manager's
// NewSession.
func (m *Bridge) NewSession() (*sessionbridge.Session, error) {
	return &sessionbridge.Session{Record: sessionjson.NewData(isHidden)}, nil
}

// Regenerate does nothing, as the no-op req.session.regenerate shim Node
// apps add for passport 0.7 on cookie-session: the data stays (passport's
// login then keeps the anonymous session's data, as in Node), and there is
// no id to replace, so no session-fixation guard. It fails, like passport
// without a session, for a session [Bridge.Unset] removed.
func (m *Bridge) Regenerate(_ context.Context, s *sessionbridge.Session) error {
	return m.check(s)
}

// Save is the req.session.save shim: it writes nothing (under
// [Bridge.LoadAndSave] the cookies are written with the response; elsewhere
// use [Bridge.WriteCookie]) but reports what would keep the session from
// being written: an error wrapping [ErrCookieTooLarge], or one wrapping
// sessionbridge.ErrNoSession for a session [Bridge.Unset] removed.
func (m *Bridge) Save(_ context.Context, s *sessionbridge.Session) error {
	if err := m.check(s); err != nil {
		return err
	}
	rec := s.Record
	if m.expiry != "" {
		rec = rec.Clone()
		if err := m.stamp(rec, m.now()); err != nil {
			return err
		}
	}
	_, err := m.value(rec)
	return err
}

// check refuses a session that is missing or that the request unset.
func (m *Bridge) check(s *sessionbridge.Session) error {
	if s == nil || s.Record == nil {
		return noSession(errors.New("cookiesession: no session"))
	}
	if st, ok := m.requests.Load(s); ok && st.(*request).isUnset() {
		return noSession(errors.New("cookiesession: the session was unset"))
	}
	return nil
}

// Unset is cookie-session's req.session = null, under
// [Bridge.LoadAndSave]: the response clears the cookie (NAME= and a
// NAME.sig over the empty value, both expiring in 1970), whatever the
// handler does with s afterwards; Save, Regenerate and so passport's login
// and logout then fail. Outside LoadAndSave it does nothing; clear the
// cookies yourself.
func (m *Bridge) Unset(s *sessionbridge.Session) {
	if st, ok := m.requests.Load(s); ok {
		st.(*request).setUnset()
	}
}

// WriteCookie adds to w the two Set-Cookie headers cookie-session writes for
// s (replacing any already set for them), for code outside
// [Bridge.LoadAndSave], which needs no call. With Config.ExpiryMember it
// first writes the expiry into s. Like cookie-session it writes nothing
// for a Secure cookie over plain HTTP. A session too large for a cookie
// gives an error wrapping [ErrCookieTooLarge], and nothing is written.
func (m *Bridge) WriteCookie(w http.ResponseWriter, r *http.Request, s *sessionbridge.Session) error {
	if err := m.check(s); err != nil {
		return err
	}
	if m.secure && !m.isSecure(r) {
		return nil
	}
	now := m.now()
	if m.expiry != "" {
		if err := m.stamp(s.Record, now); err != nil {
			return err
		}
	}
	v, err := m.value(s.Record)
	if err != nil {
		return err
	}
	jscookies.SetSigned(w.Header(), m.kg, m.name, v, m.attrsFor(r, m.expires(now)))
	return nil
}

// stamp writes the expiry member.
func (m *Bridge) stamp(rec *sessionjson.Session, now time.Time) error {
	return rec.SetRaw(m.expiry, strconv.AppendInt(nil, now.UnixMilli()+m.maxAge.Milliseconds(), 10))
}

// value returns the cookie value of rec: standard base64, with padding, of
// the record as JSON.stringify writes it.
func (m *Bridge) value(rec *sessionjson.Session) (string, error) {
	enc, err := encodeNode(rec)
	if err != nil {
		return "", err
	}
	v := base64.StdEncoding.EncodeToString(enc)
	if len(m.name)+1+len(v) > MaxCookieBytes {
		return "", fmt.Errorf("%w: %d bytes, browsers keep %d", ErrCookieTooLarge, len(m.name)+1+len(v), MaxCookieBytes)
	}
	return v, nil
}

// expires is when a cookie written at now expires: Date.now() + maxAge,
// or none.
func (m *Bridge) expires(now time.Time) time.Time {
	if m.maxAge <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(now.UnixMilli() + m.maxAge.Milliseconds())
}

// attrsFor returns the cookies' attributes for a response to r.
func (m *Bridge) attrsFor(r *http.Request, expires time.Time) jscookies.Attrs {
	a := m.attrs
	a.Expires = expires
	a.Secure = m.secure || m.isSecure(r)
	return a
}

// isSecure is express's req.secure: TLS, or X-Forwarded-Proto https with
// TrustProxy.
func (m *Bridge) isSecure(r *http.Request) bool { return bridgekit.ExpressSecure(r, m.trust) }
