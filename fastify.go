package sessionbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Format is the Node session middleware a [Bridge] is the peer of: whose
// cookie it reads and writes, how it lays out the records it creates, and
// which expiry rule it applies on a load. Records already in the store keep
// the layout of whoever wrote them, whatever the Format: both formats read
// and change records of either.
type Format int

const (
	// ExpressSession is express-session: the cookie "connect.sid" holds
	// "s:" + the signed id, always percent-encoded ("s%3A..."), read as npm
	// cookie 0.7 parses it; records in express-session's layout; a session
	// is expired when its cookie.expires has passed, unless the store
	// enforces expiry itself ([ExpiryEnforcer]), which is then trusted.
	ExpressSession Format = iota
	// FastifySession is @fastify/session with @fastify/cookie: the cookie
	// "sessionId" holds Config.CookiePrefix ("" unless set) + the signed
	// id, sent raw unless it holds a character outside cookie-octet (npm
	// cookie 2), read as npm cookie 2 parses it (double quotes kept);
	// records in @fastify/session's layout; the cookie is Secure unless
	// CookieOptions.Insecure; and a session whose stored cookie.expires has
	// passed is expired whatever the store says, as @fastify/session
	// checks it on every load. Since that expiry lives in the record, a
	// touch rewrites the record's cookie (conditionally, merging what
	// another writer stored meanwhile) instead of the store's touch, and a
	// Secure session on a plain HTTP request is neither saved nor touched
	// at the end of a [Bridge.LoadAndSave] request, as @fastify/session
	// neither saves nor sends it. LoadAndSave otherwise keeps
	// express-session's decisions: configure Rolling and SaveUninitialized
	// as the Node app does; @fastify/session's defaults for both are true.
	FastifySession
)

// fastifyCookieName is @fastify/session's default cookieName.
const fastifyCookieName = "sessionId"

// checkFormat refuses format settings that cannot work and fills in the
// format's defaults.
func (b *Bridge) checkFormat() error {
	switch b.format {
	case ExpressSession:
		if b.prefix != "" {
			return errors.New("sessionbridge: Config.CookiePrefix is @fastify/session's cookiePrefix; express-session's prefix is always \"s:\"")
		}
		if b.name == "" {
			b.name = DefaultCookieName
		}
	case FastifySession:
		if !utf8.ValidString(b.prefix) {
			return errors.New("sessionbridge: Config.CookiePrefix is not valid UTF-8")
		}
		if b.cookie.Priority != "" {
			return fmt.Errorf("sessionbridge: %w: @fastify/session has no cookie priority", sessionjson.ErrInvalidCookieOption)
		}
		if b.name == "" {
			b.name = fastifyCookieName
		}
	default:
		return fmt.Errorf("sessionbridge: unknown Config.Format %d", b.format)
	}
	if b.cookie.Secure && b.cookie.Insecure {
		return fmt.Errorf("sessionbridge: %w: CookieOptions.Secure and Insecure together", sessionjson.ErrInvalidCookieOption)
	}
	return nil
}

// sessionIDFromHeader verifies the session cookie of a Cookie header.
func (b *Bridge) sessionIDFromHeader(header string) (string, error) {
	if b.format == FastifySession {
		return b.signer.FastifySessionID(header, b.name, b.prefix, b.maxHdr)
	}
	return b.signer.SessionIDLimit(header, b.name, b.maxHdr)
}

// unsignValue verifies a session cookie value presented outside the Cookie
// header, already URL-decoded.
func (b *Bridge) unsignValue(value string) (string, error) {
	if b.format == FastifySession {
		return b.signer.UnsignFastify(value, b.prefix)
	}
	return b.signer.UnsignCookie(value)
}

// cookieValue is the session cookie's value for sid, as the format sends it.
func (b *Bridge) cookieValue(sid string) string {
	if b.format == FastifySession {
		return b.signer.FastifyCookieValue(b.prefix, sid)
	}
	return b.signer.CookieValue(sid)
}

// secureDefault is the cookie's secure flag for sessions Go creates: nil
// for express-session's default (none), else the flag.
func (b *Bridge) secureDefault() *bool {
	o := b.cookie
	var v bool
	switch {
	case o.Secure:
		v = true
	case o.Insecure:
		v = false
	case b.format == FastifySession:
		v = true // @fastify/session's default
	default:
		return nil
	}
	return &v
}

// insecureRequest reports whether s has a Secure cookie and r is not HTTPS.
func (b *Bridge) insecureRequest(r *http.Request, s *Session) bool {
	c := s.Record.Cookie
	return c.Secure != nil && *c.Secure && !b.isSecure(r)
}

// fastifyPathMatch is @fastify/session's verifyPath: the request path is
// the cookie path, or below it.
func fastifyPathMatch(path, cookiePath string) bool {
	if path == cookiePath {
		return true
	}
	if len(path) <= len(cookiePath) || !strings.HasPrefix(path, cookiePath) {
		return false
	}
	return path[len(cookiePath)] == '/' || cookiePath != "" && cookiePath[len(cookiePath)-1] == '/'
}

// touchRecord is the touch of a format whose expiry the record carries
// (FastifySession): rec, as read with version v, is written back with its
// cookie's expiry reset, conditionally: data another writer stored since
// the read survives, and a session removed meanwhile stays removed (an
// error wrapping ErrNoSession and ErrNotFound).
func (b *Bridge) touchRecord(ctx context.Context, sid string, rec *sessionjson.Session, v Version) error {
	st := &lifecycle{b: b, base: rec.Clone(), version: v}
	rec.Touch(b.now())
	if !rec.Modified() {
		return nil // no originalMaxAge: nothing to extend
	}
	return b.commitAs(ctx, &Session{ID: sid, Record: rec, lc: st}, st, ConflictMerge)
}

// touchFresh reads the session sid and touches it with touchRecord.
func (b *Bridge) touchFresh(ctx context.Context, sid string) error {
	rec, v, err := b.getVersion(ctx, sid)
	if err != nil {
		return err
	}
	return b.touchRecord(ctx, sid, rec, v)
}
