package cookiesig

import (
	"fmt"
	"strings"
)

// The session cookie of @fastify/session, which @fastify/cookie reads and
// writes with npm cookie 2: the value is cookiePrefix + Sign(sid), the
// prefix "" unless the app sets one ("s:" to share express-session's
// cookie), and it goes on the wire as it is unless it holds a character
// outside cookie-octet (then the whole value is percent-encoded), so a
// signature's "+" and "/" are sent raw.

// FastifySessionID extracts and verifies the session id from a Cookie
// header the way @fastify/session reads its cookie with cookiePrefix
// prefix: the first cookie called name, as npm cookie 2 parses it (spaces
// and tabs trimmed, double quotes kept, percent-decoded only when the value
// holds a "%", the raw value kept when that decoding fails), which must
// start with prefix; the rest is verified as [Signer.UnsignFastify] does.
// The header is read as Node reads header bytes (latin1, see
// [CookieValue]). It returns:
//   - [ErrNoCookie] when there is no cookie called name, or it is empty;
//   - [ErrNotSigned] when the value does not start with prefix;
//   - [ErrBadSignature] when no secret verifies the signature;
//   - [ErrMalformed] when nothing follows the prefix, the value has no
//     signature at all, the id is empty, or the header is longer than
//     maxHeaderBytes (0 or less means no limit).
func (s *Signer) FastifySessionID(header, name, prefix string, maxHeaderBytes int) (string, error) {
	if maxHeaderBytes > 0 && len(header) > maxHeaderBytes {
		return "", fmt.Errorf("%w: cookie header of %d bytes exceeds the limit of %d", ErrMalformed, len(header), maxHeaderBytes)
	}
	v, ok := fastifyCookieValue(header, name)
	if !ok || v == "" {
		return "", ErrNoCookie
	}
	return s.UnsignFastify(v, prefix)
}

// UnsignFastify verifies a decoded @fastify/session cookie value,
// prefix + id + "." + signature, as @fastify/session and @fastify/cookie's
// Signer do: the value must start with prefix, it is split at its last
// ".", and the signature must be that of one of the secrets (compared in
// constant time). It returns the id, which must not be empty. The value is
// taken as the UTF-8 encoding of the JavaScript string, as
// [Signer.Unsign] takes it. Errors are FastifySessionID's, except that an
// empty value is ErrNotSigned (prefix not empty) or ErrMalformed.
func (s *Signer) UnsignFastify(cookieValue, prefix string) (string, error) {
	rest, ok := strings.CutPrefix(cookieValue, prefix)
	if !ok {
		return "", ErrNotSigned
	}
	if rest == "" {
		return "", fmt.Errorf("%w: nothing after the prefix", ErrMalformed)
	}
	v, _, err := s.UnsignIndex(rest)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("%w: empty value", ErrMalformed)
	}
	return v, nil
}

// FastifyCookieValue returns the cookie value @fastify/session sends for
// sid with cookiePrefix prefix: prefix + Sign(sid), as npm cookie 2's
// stringifySetCookie writes it: unchanged when every byte is a
// cookie-octet other than "%", otherwise encodeURIComponent of the whole
// value. The result fits a Set-Cookie header or a Cookie request header.
func (s *Signer) FastifyCookieValue(prefix, sid string) string {
	v := prefix + s.Sign(sid)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c >= 0x7F || c == '"' || c == ',' || c == ';' || c == '\\' || c == '%' {
			return EncodeURIComponent(v)
		}
	}
	return v
}

// fastifyCookieValue returns the value of the first cookie called name in
// a Cookie header as npm cookie 2's parseCookie gives it to @fastify/cookie:
// like [CookieValue] but with the double quotes around a value kept.
func fastifyCookieValue(header, name string) (value string, found bool) {
	return cookieValue(header, name, rawCookie2Value)
}

// rawCookie2Value is npm cookie 2's parseCookie for one name, without the
// decoding: pairs split at ";" and the first "=", a pair without "="
// skipped back to the last ";" before the next "=", name and value trimmed
// of spaces and tabs, the first pair of that name kept. Each byte is looked
// at a bounded number of times.
func rawCookie2Value(header, name string) (string, bool) {
	n := len(header)
	if n < 2 {
		return "", false
	}
	for index := 0; index < n; {
		eq := strings.IndexByte(header[index:], '=')
		if eq < 0 {
			break
		}
		eq += index
		end := strings.IndexByte(header[index:], ';')
		if end < 0 {
			end = n
		} else if end += index; eq > end {
			// backtrack on prior semicolon
			index = strings.LastIndexByte(header[:eq], ';') + 1
			continue
		}
		if trimSpaceTab(header[index:eq]) == name {
			return trimSpaceTab(header[eq+1 : end]), true
		}
		index = end + 1
	}
	return "", false
}

// trimSpaceTab is npm cookie 2's valueSlice: spaces and tabs removed from
// both ends.
func trimSpaceTab(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}
