// Package bridgekit holds what the session bridges (the express-session
// one of the root package, cookiesession and koasession) do alike: their
// defaults, the Cookie header as Node hands it on, express's req.secure,
// the names of the SameSite modes and a keygrip-signed cookie presented
// outside a Cookie header.
package bridgekit

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// Defaults fills in the settings left zero: the clock (time.Now), the
// logger (slog.Default()) and the Cookie header limit
// (cookiesig.DefaultMaxHeaderBytes).
func Defaults(now *func() time.Time, log **slog.Logger, maxHeaderBytes *int) {
	if *now == nil {
		*now = time.Now
	}
	if *log == nil {
		*log = slog.Default()
	}
	if *maxHeaderBytes == 0 {
		*maxHeaderBytes = cookiesig.DefaultMaxHeaderBytes
	}
}

// CookieHeader returns r's Cookie header as Node hands it to the
// middleware: several header lines joined with "; ".
func CookieHeader(r *http.Request) string {
	lines := r.Header["Cookie"]
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	return strings.Join(lines, "; ")
}

// ExpressSecure reports whether r is secure as express sees it for the
// session middleware: TLS or, when the proxy is trusted, "https" (in any
// case, trimmed) as the first value of the first X-Forwarded-Proto line.
func ExpressSecure(r *http.Request, trustProxy bool) bool {
	if r.TLS != nil {
		return true
	}
	if !trustProxy {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// SameSite returns the name the Node middleware give mode: "" for none (0
// or http.SameSiteDefaultMode), "lax", "strict" or "none". It reports
// false for any other value.
func SameSite(mode http.SameSite) (string, bool) {
	switch mode {
	case 0, http.SameSiteDefaultMode:
		return "", true
	case http.SameSiteLaxMode:
		return "lax", true
	case http.SameSiteStrictMode:
		return "strict", true
	case http.SameSiteNoneMode:
		return "none", true
	}
	return "", false
}

// SignedValue verifies a keygrip-signed cookie presented outside a Cookie
// header (a socket.io auth payload, a query parameter) as one string,
// "<value>.<signature>": the value of the cookie name, a dot and the value
// of name.sig. The signature, URL-safe base64, never holds a dot, so the
// last dot separates them. It returns the value. Errors:
// cookiesig.ErrMalformed (longer than maxBytes, when that is positive, or
// an empty value), ErrNotSigned (no dot, or no signature) or
// ErrBadSignature.
func SignedValue(kg *cookiesig.Keygrip, name, signed string, maxBytes int) (string, error) {
	if maxBytes > 0 && len(signed) > maxBytes {
		return "", fmt.Errorf("%w: value of %d bytes, limit %d", cookiesig.ErrMalformed, len(signed), maxBytes)
	}
	i := strings.LastIndexByte(signed, '.')
	if i < 0 || i == len(signed)-1 {
		return "", cookiesig.ErrNotSigned
	}
	value, sig := signed[:i], signed[i+1:]
	if value == "" {
		return "", fmt.Errorf("%w: empty value", cookiesig.ErrMalformed)
	}
	if kg.Index(name+"="+value, sig) < 0 {
		return "", cookiesig.ErrBadSignature
	}
	return value, nil
}
