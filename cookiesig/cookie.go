package cookiesig

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SessionPrefix marks a signed cookie value, as express-session and
// cookie-parser write it.
const SessionPrefix = "s:"

// JSONPrefix marks a cookie-parser JSON cookie (Express res.cookie with an
// object value).
const JSONPrefix = "j:"

// DefaultMaxHeaderBytes is the default limit on a Cookie header that
// [Signer.SessionID] accepts: Node's default for all request headers together.
const DefaultMaxHeaderBytes = 16 << 10

// CookieValue returns the value of the first cookie called name in a Cookie
// header, exactly as npm cookie 0.7 parse() gives it to express-session:
// spaces and tabs around names and values trimmed, one pair of surrounding
// double quotes stripped, and the value passed through decodeURIComponent
// only when it contains "%" (the raw value is kept when decoding fails).
// found is false when there is no such cookie.
//
// Node reads header bytes as latin1, one character per byte, so the header
// is taken that way too: a byte 0x80-0xFF is the character U+0080-U+00FF,
// and the value returned is the UTF-8 encoding of the JavaScript string
// Node gets (the raw byte 0xE9 comes back as "é", C3 A9). name is text: it
// matches the cookie whose name is its latin1 encoding, and a name with a
// character above U+00FF (or invalid UTF-8) matches nothing.
func CookieValue(header, name string) (value string, found bool) {
	return cookieValue(header, name, rawCookieValue)
}

// cookieValue is CookieValue with raw, npm cookie 0.7's or 2's, finding
// the raw value of the cookie whose name is key.
func cookieValue(header, name string, raw func(header, key string) (string, bool)) (string, bool) {
	key, ok := latin1Name(name)
	if !ok {
		return "", false
	}
	v, found := raw(header, key)
	if !found {
		return "", false
	}
	return decodeIfEncoded(latin1ToUTF8(v)), true
}

// latin1Name returns the bytes a Cookie header holds for a cookie called
// name, as Node compares names: the latin1 encoding of the JavaScript
// string. ok is false when no header can hold it.
func latin1Name(name string) (key string, ok bool) {
	if !hasNonASCII(name) {
		return name, true
	}
	b := make([]byte, 0, len(name))
	for _, r := range name {
		if r > 0xFF { // invalid UTF-8 too: it decodes as U+FFFD
			return "", false
		}
		b = append(b, byte(r))
	}
	return string(b), true
}

// latin1ToUTF8 returns the UTF-8 encoding of the JavaScript string Node
// makes of header bytes (each byte one character, U+0000-U+00FF). An ASCII
// string is returned as is, without allocating.
func latin1ToUTF8(s string) string {
	if !hasNonASCII(s) {
		return s
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 {
			b = append(b, c)
		} else {
			b = append(b, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return string(b)
}

// hasNonASCII reports whether s has a byte of 0x80 or more, eight bytes at
// a time.
func hasNonASCII(s string) bool {
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if w&0x8080808080808080 != 0 {
			return true
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// rawCookieValue is CookieValue without the decoding: npm cookie 0.7's
// parse for one name, which walks the header as cookie 2's does
// (rawCookie2Value) and then removes one pair of double quotes around the
// value.
func rawCookieValue(header, name string) (value string, found bool) {
	v, found := rawCookie2Value(header, name)
	if len(v) > 0 && v[0] == '"' && v[len(v)-1] == '"' {
		if len(v) == 1 { // a lone `"`: JavaScript's slice gives ""
			return "", true
		}
		v = v[1 : len(v)-1]
	}
	return v, found
}

func decodeIfEncoded(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	if d, ok := DecodeURIComponent(v); ok {
		return d
	}
	return v
}

// SessionID extracts and verifies the session id from a Cookie header the
// way express-session's getcookie does. It returns:
//   - [ErrNoCookie] when there is no cookie called name, or it is empty;
//   - [ErrNotSigned] when the value lacks the "s:" prefix;
//   - [ErrBadSignature] when no secret verifies the signature;
//   - [ErrMalformed] when the value has no signature at all, the id is
//     empty, or the header is longer than [DefaultMaxHeaderBytes].
//
// The header is the bytes the request carried, read as Node reads them
// (latin1, see [CookieValue]): the signature is checked over the UTF-8
// encoding of the resulting JavaScript string, as cookie-signature does, and
// the id returned is that encoding too, which is the key Node's stores use
// (a raw byte 0xE9 in the id comes back as "é", C3 A9).
func (s *Signer) SessionID(header, name string) (string, error) {
	return s.SessionIDLimit(header, name, DefaultMaxHeaderBytes)
}

// SessionIDLimit is SessionID with a custom limit on the header length
// (0 or less means no limit).
func (s *Signer) SessionIDLimit(header, name string, maxHeaderBytes int) (string, error) {
	if maxHeaderBytes > 0 && len(header) > maxHeaderBytes {
		return "", fmt.Errorf("%w: cookie header of %d bytes exceeds the limit of %d", ErrMalformed, len(header), maxHeaderBytes)
	}
	key, ok := latin1Name(name)
	if !ok {
		return "", ErrNoCookie
	}
	raw, ok := rawCookieValue(header, key)
	if !ok || raw == "" {
		return "", ErrNoCookie
	}
	if v, ok := s.unsignEncoded(raw); ok {
		return v, nil
	}
	return s.UnsignCookie(decodeIfEncoded(latin1ToUTF8(raw)))
}

// unsignEncoded is the allocation-free path for the cookie express-session
// writes, "s%3A" + id + "." + encodeURIComponent(signature), where the id
// needs no decoding (uid-safe ids never do) and is ASCII, so that its header
// bytes are its UTF-8: it decodes only the signature, on the stack, and
// returns the id as a substring of the header. ok is false when the value
// has another shape or does not verify; the caller then takes the general
// path, which reads the bytes as latin1 and gives the precise error. (A
// byte of 0x80 or more in the signature never equals base64.)
func (s *Signer) unsignEncoded(raw string) (string, bool) {
	rest, ok := strings.CutPrefix(raw, "s%3A")
	if !ok {
		return "", false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 || strings.IndexByte(rest[:dot], '%') >= 0 || hasNonASCII(rest[:dot]) {
		return "", false
	}
	value, enc := rest[:dot], rest[dot+1:]
	var sig [SignatureLen]byte
	n := 0
	for i := 0; i < len(enc); {
		if n == SignatureLen {
			return "", false
		}
		c := enc[i]
		if c == '%' {
			d, ok := hexByte(enc, i)
			if !ok || d >= 0x80 || d == '.' {
				return "", false
			}
			c = d
			i += 3
		} else {
			i++
		}
		sig[n] = c
		n++
	}
	if n != SignatureLen {
		return "", false
	}
	for _, k := range s.keys {
		if k.verifyBytes(value, &sig) {
			return value, true
		}
	}
	return "", false
}

// UnsignCookie verifies a cookie value that is already decoded (as
// [CookieValue] returns it): "s:" + value + "." + signature. It returns the
// value, which must not be empty. Like [Signer.Unsign] it takes the value as
// the UTF-8 encoding of a JavaScript string; pass a value from a Cookie
// header through [CookieValue], which decodes the header bytes as Node does.
func (s *Signer) UnsignCookie(cookieValue string) (string, error) {
	if !strings.HasPrefix(cookieValue, SessionPrefix) {
		return "", ErrNotSigned
	}
	v, err := s.Unsign(cookieValue[len(SessionPrefix):])
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("%w: empty value", ErrMalformed)
	}
	return v, nil
}

// CookieValue returns the encoded cookie value express-session writes for a
// session id: encodeURIComponent("s:" + Sign(sid)), ready for a Set-Cookie
// header or a Cookie request header.
func (s *Signer) CookieValue(sid string) string {
	return EncodeURIComponent(SessionPrefix + s.Sign(sid))
}

// EncodeURIComponent escapes s exactly like JavaScript's encodeURIComponent:
// every byte except A-Z a-z 0-9 - _ . ! ~ * ' ( ) becomes %XX with uppercase
// hex digits (UTF-8 bytes for non-ASCII characters).
func EncodeURIComponent(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}

// DecodeURIComponent decodes s like JavaScript's decodeURIComponent. ok is
// false where JavaScript throws a URIError: a "%" not followed by two hex
// digits, or escapes that do not form valid UTF-8 (overlong forms and
// surrogates included). "+" is not a space.
func DecodeURIComponent(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			i++
			continue
		}
		first, ok := hexByte(s, i)
		if !ok {
			return "", false
		}
		i += 3
		if first < 0x80 {
			b = append(b, first)
			continue
		}
		var need int
		switch {
		case first&0xE0 == 0xC0:
			need = 1
		case first&0xF0 == 0xE0:
			need = 2
		case first&0xF8 == 0xF0:
			need = 3
		default:
			return "", false
		}
		var seq [4]byte
		seq[0] = first
		for j := 1; j <= need; j++ {
			if i >= len(s) || s[i] != '%' {
				return "", false
			}
			c, ok := hexByte(s, i)
			if !ok || c&0xC0 != 0x80 {
				return "", false
			}
			seq[j] = c
			i += 3
		}
		// One whole character, not overlong, no surrogate, at most
		// U+10FFFF: what decodeURIComponent accepts. (U+FFFD itself, which
		// DecodeRune also reports as RuneError, is a valid character.)
		if !utf8.Valid(seq[:need+1]) {
			return "", false
		}
		b = append(b, seq[:need+1]...)
	}
	return string(b), true
}

func hexByte(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseJSONCookie decodes a cookie-parser JSON cookie ("j:" + JSON, as
// Express res.cookie writes an object) into v. It returns [ErrNotJSONCookie]
// where cookie-parser's JSONCookie returns undefined: no "j:" prefix, or text
// that is not valid JSON. Numbers decode with [json.Decoder.UseNumber] when v
// is an interface, so large integers stay exact. value is the UTF-8 encoding
// of the JavaScript string JSON.parse would see, as [CookieValue] returns it
// (it reads a header's bytes as Node does); raw header bytes 0x80-0xFF are
// not, and would decode as U+FFFD instead of the latin1 characters Node sees.
func ParseJSONCookie(value string, v any) error {
	raw, err := JSONCookie(value)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cookiesig: JSON cookie does not fit %T: %w", v, err)
	}
	return nil
}

// JSONCookie returns the JSON text of a cookie-parser JSON cookie, or
// [ErrNotJSONCookie].
func JSONCookie(value string) (json.RawMessage, error) {
	if !strings.HasPrefix(value, JSONPrefix) {
		return nil, fmt.Errorf("%w: no %q prefix", ErrNotJSONCookie, JSONPrefix)
	}
	raw := []byte(value[len(JSONPrefix):])
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: invalid JSON", ErrNotJSONCookie)
	}
	return raw, nil
}
