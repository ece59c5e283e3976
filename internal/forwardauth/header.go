package forwardauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ErrInvalidJSON means a value given to the header encoder is not one JSON
// text.
var ErrInvalidJSON = errors.New("forwardauth: not a JSON value")

// ErrBadHeader means an identity header's configuration is unusable: a
// name that is not an HTTP token or that HTTP reserves, a name given twice,
// or an empty field path.
var ErrBadHeader = errors.New("forwardauth: bad identity header")

// appendASCIIJSON appends src, one JSON text, compacted (no insignificant
// whitespace) and kept to printable ASCII: every character of a string
// outside 0x20-0x7e is written as \uXXXX (a pair of them above U+FFFF),
// byte sequences that are not UTF-8 as \ufffd, and an escape the source
// wrote (\u00e9, \n, \/) is written in the same canonical way. Numbers,
// literals and the order of members stay exactly as written, so an id
// above 2^53 arrives intact and a JSON decoder gets the same value from the
// output as from src. The output can never hold CR, LF or any other
// control byte, so it is always a valid HTTP header value.
func appendASCIIJSON(dst, src []byte) ([]byte, error) {
	if !json.Valid(src) {
		return dst, ErrInvalidJSON
	}
	for i := 0; i < len(src); {
		switch c := src[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end := stringEnd(src, i)
			dst = append(dst, '"')
			dst = appendStringContent(dst, src[i+1:end-1])
			dst = append(dst, '"')
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst, nil
}

// stringEnd returns the index just past the string token that starts at
// src[i] (a '"' in valid JSON).
func stringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

const hexDigits = "0123456789abcdef"

// appendUnit appends the UTF-16 code unit u as \uXXXX.
func appendUnit(dst []byte, u uint16) []byte {
	return append(dst, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
}

// appendCodeUnit appends one UTF-16 code unit of a string's content: as
// itself when it is printable ASCII (with '"' and '\' escaped), as \uXXXX
// otherwise.
func appendCodeUnit(dst []byte, u uint16) []byte {
	switch {
	case u == '"' || u == '\\':
		return append(dst, '\\', byte(u))
	case u >= 0x20 && u < 0x7f:
		return append(dst, byte(u))
	}
	return appendUnit(dst, u)
}

// appendStringContent appends the content of a JSON string token (s is
// what lies between its quotes, escapes as written) re-escaped to
// printable ASCII, without the quotes.
func appendStringContent(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			e := s[i+1]
			i += 2
			switch e {
			case 'b':
				dst = appendUnit(dst, '\b')
			case 'f':
				dst = appendUnit(dst, '\f')
			case 'n':
				dst = appendUnit(dst, '\n')
			case 'r':
				dst = appendUnit(dst, '\r')
			case 't':
				dst = appendUnit(dst, '\t')
			case 'u':
				u, ok := hex4(s[i:])
				if !ok {
					// Not reachable for valid JSON; keep the output valid.
					dst = appendUnit(dst, utf8.RuneError)
					continue
				}
				i += 4
				dst = appendCodeUnit(dst, u)
			default: // '"', '\\', '/'
				dst = appendCodeUnit(dst, uint16(e))
			}
		case c < utf8.RuneSelf:
			dst = appendCodeUnit(dst, uint16(c))
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			i += size
			if r == utf8.RuneError && size == 1 {
				dst = appendUnit(dst, utf8.RuneError)
				continue
			}
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				dst = appendUnit(appendUnit(dst, uint16(hi)), uint16(lo))
				continue
			}
			dst = appendUnit(dst, uint16(r))
		}
	}
	return dst
}

// hex4 decodes the four hexadecimal digits at the start of b.
func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var u uint16
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(d)
	}
	return u, true
}

// UserValue returns the header value of a stored passport user (the JSON
// serializeUser produced, as stored): the JSON kept to printable ASCII (see
// the package documentation), e.g. 7, "abc" (with the quotes) or
// {"id":7,"name":"Zo\u00eb"}.
func UserValue(user []byte) (string, error) {
	b, err := appendASCIIJSON(outBuf(user), user)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// A Header is an identity header filled from a field of an object user:
// --header NAME=FIELD.
type Header struct {
	// Name is the header's name, as sent.
	Name string
	// Path is the field's path in the user object: ["email"], or
	// ["profile", "email"] for profile.email.
	Path []string
}

// ParseHeader parses NAME=FIELD, FIELD a member name or a dotted path
// (a.b is member b of member a). It returns an error wrapping ErrBadHeader.
func ParseHeader(s string) (Header, error) {
	name, field, ok := strings.Cut(s, "=")
	if !ok {
		return Header{}, fmt.Errorf("%w: want NAME=FIELD", ErrBadHeader)
	}
	if err := CheckHeaderName(name); err != nil {
		return Header{}, err
	}
	path := strings.Split(field, ".")
	for _, p := range path {
		if p == "" {
			return Header{}, fmt.Errorf("%w: %s: the field must be a member name or a dotted path such as profile.email", ErrBadHeader, name)
		}
	}
	return Header{Name: name, Path: path}, nil
}

// reservedHeaders are names an identity header must not take: HTTP and
// the proxies give them their own meaning.
var reservedHeaders = map[string]bool{
	"cookie": true, "set-cookie": true, "host": true, "connection": true, "content-length": true,
	"content-type": true, "transfer-encoding": true, "te": true, "trailer": true, "upgrade": true,
	"location": true, "keep-alive": true, "proxy-connection": true, "proxy-authorization": true,
	"proxy-authenticate": true, "authorization": true, "www-authenticate": true, "cache-control": true,
	"x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true, "x-forwarded-uri": true,
	"x-forwarded-method": true, "x-original-uri": true, "x-original-url": true, "x-requested-with": true,
	"forwarded": true, "accept": true,
}

// CheckHeaderName refuses, with an error wrapping ErrBadHeader, a header
// name that is not an HTTP token or that HTTP or the proxies reserve
// (Cookie, Host, Location, Connection and the other hop-by-hop headers,
// X-Forwarded-*, ...), in any case and with "_" for "-".
func CheckHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty header name", ErrBadHeader)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%w: %q is not a header name", ErrBadHeader, name)
		}
	}
	// Compared as spoofs are found: X_Forwarded_Uri would otherwise pass
	// here and then have the proxy's X-Forwarded-Uri deleted as a spoof.
	if reservedHeaders[normName(name)] {
		return fmt.Errorf("%w: %s is not available as an identity header", ErrBadHeader, name)
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// normName is the form two header names are compared in to find a spoof:
// case folded and "_" taken as "-", since CGI-style servers (and some
// proxies) turn both into the same variable.
func normName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// FieldValue returns the value of header h for a stored user: "" when the
// user is not an object, or the field is missing or null; a string's
// content without its quotes, escaped to printable ASCII as UserValue
// escapes it; any other value as its ASCII JSON.
func (h Header) FieldValue(user []byte) string {
	v := user
	for _, key := range h.Path {
		v = trimSpace(v)
		m, ok := sessionjson.Member(v, key)
		if !ok {
			return ""
		}
		v = m
	}
	v = trimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return ""
	case v[0] == '"':
		return string(appendStringContent(outBuf(v), v[1:len(v)-1]))
	}
	b, err := appendASCIIJSON(outBuf(v), v)
	if err != nil {
		return ""
	}
	return string(b)
}

// outBuf is the buffer a value of src is encoded into: room for src as it
// is, which is the whole output for an ASCII user, so that the common case
// allocates once (a user with escapes grows it as append does).
func outBuf(src []byte) []byte { return make([]byte, 0, len(src)) }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
