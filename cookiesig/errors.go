package cookiesig

import "errors"

// Errors returned while reading a cookie. They never carry the cookie value.
var (
	// ErrNoCookie means the request has no (non-empty) cookie of that name.
	ErrNoCookie = errors.New("cookiesig: no cookie of that name")
	// ErrNotSigned means the cookie exists but carries no signature the
	// format looks for: no "s:" prefix (express-session), not the
	// configured cookiePrefix (@fastify/session), or no NAME.sig cookie
	// (keygrip: cookie-session, koa-session). Node ignores such a cookie
	// and starts a new session.
	ErrNotSigned = errors.New("cookiesig: cookie is not signed")
	// ErrBadSignature means the signature does not match any secret: the
	// cookie was forged, truncated or signed with a secret no longer listed.
	ErrBadSignature = errors.New("cookiesig: signature does not match")
	// ErrMalformed means the cookie is not shaped like a signed value at all:
	// no dot, an empty value, a header over the size limit.
	ErrMalformed = errors.New("cookiesig: malformed cookie")
	// ErrNotJSONCookie means a value is not a cookie-parser JSON cookie:
	// it lacks the "j:" prefix or the rest is not valid JSON.
	ErrNotJSONCookie = errors.New("cookiesig: not a JSON cookie")
)

// ErrNoSecret is a usage error: a signer needs at least one non-empty secret.
var ErrNoSecret = errors.New("cookiesig: a non-empty secret is required")
