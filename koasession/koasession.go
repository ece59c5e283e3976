// Package koasession is the Go peer of koa-session 7 (Koa 3): it reads and
// writes the sessions of a Koa app byte for byte, in both of koa-session's
// modes, so that a Go service shares its logins.
//
// Cookie mode (no Store): the session travels in the cookie. koa.sess is
// base64 (standard alphabet, padded) of the JSON of the session's data plus
// "_expire" (milliseconds since the epoch) and "_maxAge" (milliseconds), or
// plus "_session":true for maxAge "session"; koa.sess.sig is the keygrip
// signature of "koa.sess=<value>" with the first of Koa's app.keys
// (HMAC-SHA1 by default, URL-safe base64 without padding). Whoever holds a
// copy of the two cookies can replay them until _expire: the server keeps
// nothing it could revoke. A payload without a numeric _expire is accepted
// forever, as koa-session accepts it.
//
// External-store mode (Config.Store, e.g. koaredis): the cookie holds only
// the session's key, crypto.randomUUID() (lowercase, version 4), after
// koa-session's prefix option if set, signed the same way; the record (the
// same JSON, _expire and _maxAge included) lives in the store under that
// key. Deleting the record ends the session at once.
//
// Reading follows koa-session: the signature (cookiesig.Keygrip.Get, the
// cookies package's get), then the _expire check (typeof _expire ===
// 'number' && _expire < Date.now() means expired), then _maxAge (or
// _session), which becomes the session's maxAge. Keys starting with "_",
// and the names koa-session's Session class owns (isNew, length,
// populated, externalKey, maxAge, toJSON, save, regenerate, commit,
// manuallyCommit), are never part of the data: decoding drops them and
// Record.Set refuses them.
//
// [Bridge.LoadAndSave] is koa-session's middleware: it saves the session
// when koa-session would (the CRC-32 of the data's JSON changed, rolling,
// or renew with less than half of maxAge left) and sends the cookies as
// the cookies package writes them. [Bridge] also implements
// passportuser.Manager (koa-passport's ctx.login and ctx.logout with
// passportuser.Login and Logout) and sessionbridge.SessionSource (for
// socketauth and the CLI).
//
// Bridge is not a sessionbridge.SessionKeeper: koa-redis has no touch, so
// extending a session outside a request would mean rewriting its whole
// record, which could undo a change Node made meanwhile; and koa-session
// itself extends a session only when a request saves it.
//
// In a session, Record is the data (a record without express-session's
// cookie member: "cookie" is an ordinary key) and Record.Cookie, which is
// not part of the data, holds what koa-session keeps beside it:
// OriginalMaxAge is the session's maxAge in milliseconds (ctx.session.maxAge:
// 0 when the option is left out, nil for "session"; set it to change the
// session's lifetime, which forces a save as koa-session's maxAge setter
// does) and Expires its _expire, as loaded or last saved.
package koasession

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/bridgekit"
	"github.com/sessionbridge/sessionbridge/internal/jscookies"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// DefaultKey is koa-session's default cookie name (its key option).
const DefaultKey = "koa.sess"

// MaxAgeSession is koa-session's maxAge: 'session' as a Config.MaxAge: the
// payload holds "_session":true instead of _expire, and the cookie is a
// browser-session cookie. It is a cookie-mode option: koa-redis fails every
// save of such a session.
const MaxAgeSession time.Duration = math.MinInt64

// oneDay is koa-session's ONE_DAY, the lifetime of a session whose maxAge
// is left out (or 0), in milliseconds.
const oneDay = 24 * 60 * 60 * 1000

// storeMargin is what koa-session adds to maxAge for the store's lifetime
// ("ensure store expired after cookie"), in milliseconds.
const storeMargin = 10000

// maxDateMs is the largest distance from the epoch of a JavaScript Date.
const maxDateMs = 8.64e15

// Errors about a session a request presents. Each comes wrapped with
// sessionbridge.ErrNoSession: the request is not logged in.
var (
	// ErrInvalidPayload means the session's data (the cookie's payload in
	// cookie mode, the stored record in store mode) is not base64 of a
	// JSON object within the Decoder's limits. koa-session starts a new
	// session then (JSON.parse's SyntaxError in cookie mode, koa-redis's
	// swallowed parse error in store mode). The sessionjson cause is
	// wrapped too.
	ErrInvalidPayload = errors.New("koasession: session data is not a JSON object")
	// ErrInvalidKey means a signed store-mode cookie holds something other
	// than what koa-session makes: the configured prefix and a lowercase
	// version-4 UUID. It is never used as a store key.
	ErrInvalidKey = errors.New("koasession: session key is not prefix + UUID")
)

var (
	// ErrResponseStarted is returned by Save, Regenerate and Destroy under
	// LoadAndSave once the response's header is written: the cookie they
	// would send can no longer be sent (in store mode the store was
	// changed all the same).
	ErrResponseStarted = errors.New("koasession: the response has started; the session cookie cannot be sent")
	// ErrInsecureRequest means a cookie configured Secure (SecureAlways)
	// was to be sent on a request that is not HTTPS: the cookies package
	// throws "Cannot send secure cookie over unencrypted connection" there
	// and Koa answers 500; LoadAndSave answers with Config.ErrorHandler.
	ErrInsecureRequest = errors.New("koasession: cannot send a secure cookie over an unencrypted connection")
)

// A Store holds the records of koa-session's external-store mode (its
// store option: get, set, destroy). koaredis.Store is koa-redis's.
//
// Get returns the record stored under key, the JSON text of the session's
// data with _expire and _maxAge, or an error wrapping
// sessionbridge.ErrNotFound when there is none; an error wrapping
// sessionjson.ErrMalformed is a record that cannot be read (the session is
// then missed, as koa-redis misses a record JSON.parse refuses); any other
// error is a store failure. Set stores record under key for ttl
// (koa-session passes maxAge plus 10 seconds). Destroy removes key;
// removing a missing key is not an error. All methods must be safe for
// concurrent use, honour ctx, and keep keys out of their errors.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, record []byte, ttl time.Duration) error
	Destroy(ctx context.Context, key string) error
}

// SecureMode is koa-session's secure option, which it hands to the cookies
// package.
type SecureMode int

const (
	// SecureAuto leaves secure out: the cookies are Secure exactly when the
	// request is HTTPS (TLS, or X-Forwarded-Proto https with
	// Config.TrustProxy), as Koa's ctx.cookies decides.
	SecureAuto SecureMode = iota
	// SecureAlways is secure: true. A request that is not HTTPS cannot
	// get the cookies (see ErrInsecureRequest).
	SecureAlways
	// SecureNever is secure: false: never the Secure attribute.
	SecureNever
)

// Config configures a Bridge as the Koa app configures koa-session (its
// options) and Koa (app.keys, app.proxy). Keys is required; the zero value
// of every other field is koa-session's default.
type Config struct {
	// Keys are Koa's app.keys: the first signs, every one verifies (key
	// rotation). None may be empty.
	Keys []string
	// Algorithm is the keygrip hash when app.keys is a Keygrip built with
	// one ("sha256", ...); default keygrip's "sha1".
	Algorithm string
	// Key is koa-session's key option, the cookie name; default "koa.sess".
	// The signature travels in Key + ".sig".
	Key string
	// MaxAge is koa-session's maxAge, whole milliseconds. Zero is the
	// option left out: _expire is one day ahead, yet the first cookie is
	// a browser-session cookie (no expires); a session loaded back carries
	// _maxAge, so its later cookies expire in a day. MaxAgeSession is
	// 'session'. Other negative values are refused.
	MaxAge time.Duration
	// Rolling is koa-session's rolling: save (and send the cookie) on every
	// request with a session.
	Rolling bool
	// Renew is koa-session's renew: save when less than half of maxAge is
	// left before _expire.
	Renew bool
	// Store switches to external-store mode: the cookie carries a key and
	// the data lives in the store. Nil is cookie mode.
	Store Store
	// Prefix is koa-session's prefix (store mode): new keys are Prefix +
	// a UUID, and a cookie whose key does not have that shape is refused
	// (ErrInvalidKey). Printable ASCII other than ";".
	Prefix string

	// Path is the cookies' path; default "/".
	Path string
	// Domain is the cookies' domain; default none.
	Domain string
	// DisableHTTPOnly is httpOnly: false.
	DisableHTTPOnly bool
	// Secure is the secure option; default SecureAuto (left out).
	Secure SecureMode
	// SameSite is the sameSite option: http.SameSiteLaxMode,
	// SameSiteStrictMode or SameSiteNoneMode; 0 or SameSiteDefaultMode
	// leaves it out.
	SameSite http.SameSite
	// Priority is the cookies package's priority option ("low", "medium",
	// "high"); default none.
	Priority string
	// Partitioned is the cookies package's partitioned option.
	Partitioned bool
	// DisableOverwrite is overwrite: false: a cookie set twice in one
	// response is sent twice instead of replacing the earlier header.
	DisableOverwrite bool
	// TrustProxy is Koa's app.proxy: X-Forwarded-Proto decides whether a
	// request is HTTPS.
	TrustProxy bool

	// Now is the clock (Date.now); default time.Now.
	Now func() time.Time
	// Logger receives failures (never keys, cookies or secrets); default
	// slog.Default().
	Logger *slog.Logger
	// MaxHeaderBytes caps the Cookie header read; default
	// cookiesig.DefaultMaxHeaderBytes (16 KiB), which also bounds a
	// cookie-mode payload.
	MaxHeaderBytes int
	// Decoder limits the session JSON accepted (from the cookie or the
	// store); default sessionjson's (4 MiB, depth 1000).
	Decoder sessionjson.Decoder
	// ErrorHandler answers a request LoadAndSave cannot serve: a store
	// failure (an error wrapping sessionbridge.ErrStore; default 503) or
	// a cookie that cannot be sent (default 500).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Bridge reads and writes koa-session sessions for Go handlers. It is safe
// for concurrent use.
type Bridge struct {
	kg         *cookiesig.Keygrip
	name       string
	maxAge     int64 // ms; 0: left out
	sessionAge bool  // MaxAgeSession
	rolling    bool
	renew      bool
	store      Store
	prefix     string

	cattrs    jscookies.Attrs // path, domain, httpOnly, sameSite, priority, partitioned
	secure    SecureMode
	overwrite bool
	trust     bool

	now     func() time.Time
	log     *slog.Logger
	maxHdr  int
	dec     sessionjson.Decoder
	onError func(http.ResponseWriter, *http.Request, error)
}

var (
	_ sessionbridge.SessionSource = (*Bridge)(nil)
	_ passportuser.Manager        = (*Bridge)(nil)
)

// New returns a Bridge for cfg. Keys are required (an error wrapping
// cookiesig.ErrNoSecret), Algorithm must be one keygrip offers
// (cookiesig.ErrUnknownAlgorithm); a cookie name, prefix, maxAge or
// cookie attribute the cookies package would refuse, or MaxAgeSession with
// a Store, gives an error wrapping sessionjson.ErrInvalidCookieOption.
func New(cfg Config) (*Bridge, error) {
	kg, err := cookiesig.NewKeygrip(cfg.Algorithm, cfg.Keys...)
	if err != nil {
		return nil, fmt.Errorf("koasession: %w", err)
	}
	b := &Bridge{
		kg:        kg,
		name:      cfg.Key,
		rolling:   cfg.Rolling,
		renew:     cfg.Renew,
		store:     cfg.Store,
		prefix:    cfg.Prefix,
		secure:    cfg.Secure,
		overwrite: !cfg.DisableOverwrite,
		trust:     cfg.TrustProxy,
		now:       cfg.Now,
		log:       cfg.Logger,
		maxHdr:    cfg.MaxHeaderBytes,
		dec:       cfg.Decoder,
		onError:   cfg.ErrorHandler,
		cattrs: jscookies.Attrs{
			Path:        cfg.Path,
			Domain:      cfg.Domain,
			Priority:    strings.ToLower(cfg.Priority),
			HTTPOnly:    !cfg.DisableHTTPOnly,
			Partitioned: cfg.Partitioned,
		},
	}
	if b.name == "" {
		b.name = DefaultKey
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("koasession: %w: "+format, append([]any{sessionjson.ErrInvalidCookieOption}, args...)...)
	}
	if !jscookies.ValidName(b.name) {
		return nil, bad("the cookie name must be printable ASCII without ';' or '='")
	}
	switch {
	case cfg.MaxAge == MaxAgeSession:
		if cfg.Store != nil {
			return nil, bad("maxAge 'session' in store mode: koa-redis fails every save of such a session")
		}
		b.sessionAge = true
	case cfg.MaxAge < 0:
		return nil, bad("negative MaxAge")
	case cfg.MaxAge > 0 && cfg.MaxAge < time.Millisecond:
		return nil, bad("MaxAge below one millisecond")
	default:
		b.maxAge = cfg.MaxAge.Milliseconds()
	}
	if !jscookies.ValidAttr(b.prefix) {
		return nil, bad("the prefix must be printable ASCII without ';'")
	}
	if !jscookies.ValidAttr(b.cattrs.Path) {
		return nil, bad("invalid path")
	}
	if !jscookies.ValidAttr(b.cattrs.Domain) {
		return nil, bad("invalid domain")
	}
	if !jscookies.ValidPriority(b.cattrs.Priority) {
		return nil, bad("priority must be low, medium or high")
	}
	var ok bool
	if b.cattrs.SameSite, ok = bridgekit.SameSite(cfg.SameSite); !ok {
		return nil, bad("unknown SameSite %d", cfg.SameSite)
	}
	switch cfg.Secure {
	case SecureAuto, SecureAlways, SecureNever:
	default:
		return nil, bad("unknown SecureMode %d", cfg.Secure)
	}
	bridgekit.Defaults(&b.now, &b.log, &b.maxHdr)
	if b.onError == nil {
		b.onError = defaultErrorHandler
	}
	return b, nil
}

func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, sessionbridge.ErrStore) {
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "session error", http.StatusInternalServerError)
}

// CookieName returns the session cookie's name (koa-session's key); the
// signature's cookie is CookieName() + ".sig".
func (b *Bridge) CookieName() string { return b.name }

// nowMs is Date.now().
func (b *Bridge) nowMs() int64 { return b.now().UnixMilli() }

// NewSession returns a new, empty session as koa-session creates one: in
// store mode with a fresh key (the configured prefix and a random UUID),
// in cookie mode with an empty ID until it is saved. It is not stored
// until Save.
func (b *Bridge) NewSession() (*sessionbridge.Session, error) {
	s := &sessionbridge.Session{Record: sessionjson.NewData(isHidden)}
	b.setConfiguredMaxAge(s.Record)
	if b.store != nil {
		key, err := b.newKey()
		if err != nil {
			return nil, err
		}
		s.ID = key
	}
	return s, nil
}

// setConfiguredMaxAge gives rec the configured maxAge, as a new
// ContextSession starts from opts.maxAge.
func (b *Bridge) setConfiguredMaxAge(rec *sessionjson.Session) {
	if b.sessionAge {
		rec.Cookie.OriginalMaxAge = nil
		return
	}
	ms := b.maxAge
	rec.Cookie.OriginalMaxAge = &ms
}

// newKey returns prefix + crypto.randomUUID().
func (b *Bridge) newKey() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("koasession: generating a session key: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hexdig = "0123456789abcdef"
	buf := make([]byte, 0, len(b.prefix)+36)
	buf = append(buf, b.prefix...)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexdig[c>>4], hexdig[c&15])
	}
	return string(buf), nil
}

// validKey reports whether key is what koa-session's default genid makes
// with the configured prefix: prefix + a lowercase version-4 UUID.
func (b *Bridge) validKey(key string) bool {
	u, ok := strings.CutPrefix(key, b.prefix)
	if !ok || len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14:
			if c != '4' {
				return false
			}
		case 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
