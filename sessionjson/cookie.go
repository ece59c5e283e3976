package sessionjson

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
)

// ExpiresLayout is how JavaScript's Date.prototype.toISOString, and so
// express-session, writes cookie.expires: UTC, exactly three decimals.
const ExpiresLayout = jsjson.ISOLayout

// SameSite is the cookie's sameSite option as express-session stores it:
// a boolean or a string, exactly as the Node app was configured. The
// values express-session accepts are SameSite{Mode: "lax"},
// SameSite{Mode: "strict"}, SameSite{Mode: "none"} (what Go writes),
// SameSite{Bool: true} (Strict) and SameSite{Bool: false} (no attribute).
type SameSite struct {
	// Mode is the string form ("lax", "strict", "none", in any case), or ""
	// when the option is a boolean.
	Mode string
	// Bool is the boolean form, used when Mode is "".
	Bool bool
}

// Cookie is the "cookie" member of an express-session record, the data of
// express-session's Cookie class. A nil pointer is a field Node leaves out
// (undefined), except OriginalMaxAge and Expires, for which nil is null: a
// browser-session cookie. When Go changes a cookie it is written back with
// exactly the keys and key order of Cookie.prototype.toJSON:
// originalMaxAge, partitioned, priority, expires, secure, httpOnly, domain,
// path, sameSite.
type Cookie struct {
	// OriginalMaxAge is the cookie's lifetime in milliseconds, or nil for a
	// browser-session cookie.
	OriginalMaxAge *int64
	// Expires is when the session expires, or nil for a browser-session
	// cookie (the store's default lifetime applies).
	Expires     *time.Time
	Partitioned *bool
	Priority    *string
	Secure      *bool
	HTTPOnly    *bool
	Domain      *string
	Path        *string
	SameSite    *SameSite

	// nulls marks optional fields stored as an explicit JSON null;
	// absent marks originalMaxAge and expires missing altogether.
	nulls, absent uint16
}

// Field bits, in toJSON order.
const (
	fOriginalMaxAge = 1 << iota
	fPartitioned
	fPriority
	fExpires
	fSecure
	fHTTPOnly
	fDomain
	fPath
	fSameSite
)

var cookieKeys = [...]string{"originalMaxAge", "partitioned", "priority", "expires", "secure", "httpOnly", "domain", "path", "sameSite"}

// NewCookie returns the cookie express-session creates from its default
// options at time now: path "/", httpOnly true, and, when maxAge is
// positive, originalMaxAge = maxAge and expires = now + maxAge; otherwise a
// browser-session cookie (both null). Set the other fields as needed.
func NewCookie(now time.Time, maxAge time.Duration) Cookie {
	path, httpOnly := "/", true
	c := Cookie{Path: &path, HTTPOnly: &httpOnly}
	if maxAge > 0 {
		ms := maxAge.Milliseconds()
		c.OriginalMaxAge = &ms
		c.Touch(now)
	}
	return c
}

// Touch does what express-session does to every session it answers:
// expires = now + originalMaxAge, truncated to the millisecond. A
// browser-session cookie (OriginalMaxAge nil) keeps expires null.
func (c *Cookie) Touch(now time.Time) {
	if c.OriginalMaxAge == nil {
		// maxAge = originalMaxAge: null keeps expires null; a missing
		// originalMaxAge (undefined) makes expires undefined too.
		c.Expires = nil
		if c.absent&fOriginalMaxAge != 0 {
			c.absent |= fExpires
		}
		return
	}
	ms := now.UnixMilli() + *c.OriginalMaxAge
	if ms > jsjson.MaxDateMs || ms < -jsjson.MaxDateMs {
		// new Date(now + maxAge) is an Invalid Date: Node then writes
		// expires null and originalMaxAge null (NaN).
		c.Expires, c.OriginalMaxAge = nil, nil
		c.absent &^= fExpires | fOriginalMaxAge
		return
	}
	t := time.UnixMilli(ms).UTC()
	c.Expires = &t
	c.absent &^= fExpires
}

// Expired reports whether the session has expired at now: expires is set and
// not after now (MemoryStore's rule, expires <= now).
func (c Cookie) Expired(now time.Time) bool {
	return c.Expires != nil && !now.Before(*c.Expires)
}

// MaxAge returns the time left until expires, and false for a
// browser-session cookie.
func (c Cookie) MaxAge(now time.Time) (time.Duration, bool) {
	if c.Expires == nil {
		return 0, false
	}
	return c.Expires.Sub(now), true
}

func (c *Cookie) equal(d *Cookie) bool {
	return eqPtr(c.OriginalMaxAge, d.OriginalMaxAge) &&
		eqTime(c.Expires, d.Expires) &&
		eqPtr(c.Partitioned, d.Partitioned) && eqPtr(c.Priority, d.Priority) &&
		eqPtr(c.Secure, d.Secure) && eqPtr(c.HTTPOnly, d.HTTPOnly) &&
		eqPtr(c.Domain, d.Domain) && eqPtr(c.Path, d.Path) &&
		eqPtr(c.SameSite, d.SameSite) && c.nulls == d.nulls && c.absent == d.absent
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UnixMilli() == b.UnixMilli()
}

// clone returns a deep copy (one allocation), so a decoded cookie can be
// compared with the caller's (possibly changed) copy.
func (c Cookie) clone() Cookie {
	d := c
	v := new(cookieValues)
	if c.OriginalMaxAge != nil {
		v.originalMaxAge = *c.OriginalMaxAge
		d.OriginalMaxAge = &v.originalMaxAge
	}
	if c.Expires != nil {
		v.expires = *c.Expires
		d.Expires = &v.expires
	}
	if c.Partitioned != nil {
		v.partitioned = *c.Partitioned
		d.Partitioned = &v.partitioned
	}
	if c.Priority != nil {
		v.priority = *c.Priority
		d.Priority = &v.priority
	}
	if c.Secure != nil {
		v.secure = *c.Secure
		d.Secure = &v.secure
	}
	if c.HTTPOnly != nil {
		v.httpOnly = *c.HTTPOnly
		d.HTTPOnly = &v.httpOnly
	}
	if c.Domain != nil {
		v.domain = *c.Domain
		d.Domain = &v.domain
	}
	if c.Path != nil {
		v.path = *c.Path
		d.Path = &v.path
	}
	if c.SameSite != nil {
		v.sameSite = *c.SameSite
		d.SameSite = &v.sameSite
	}
	return d
}

// appendJSON writes the cookie as Cookie.prototype.toJSON + JSON.stringify.
func (c *Cookie) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := 0
	field := func(name string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	optional := func(bit uint16, set bool, write func()) {
		switch {
		case set:
			field(cookieKeys[bitIndex(bit)])
			write()
		case c.nulls&bit != 0:
			field(cookieKeys[bitIndex(bit)])
			b = append(b, "null"...)
		}
	}
	if c.OriginalMaxAge != nil || c.absent&fOriginalMaxAge == 0 {
		field("originalMaxAge")
		if c.OriginalMaxAge == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *c.OriginalMaxAge, 10)
		}
	}
	optional(fPartitioned, c.Partitioned != nil, func() { b = strconv.AppendBool(b, *c.Partitioned) })
	optional(fPriority, c.Priority != nil, func() { b = jsjson.AppendString(b, *c.Priority) })
	if c.Expires != nil || c.absent&fExpires == 0 {
		field("expires")
		if c.Expires == nil {
			b = append(b, "null"...)
		} else if iso, ok := jsjson.AppendISO(append(b, '"'), *c.Expires); ok {
			b = append(iso, '"')
		} else {
			b = append(b, "null"...) // an Invalid Date's toJSON
		}
	}
	optional(fSecure, c.Secure != nil, func() { b = strconv.AppendBool(b, *c.Secure) })
	optional(fHTTPOnly, c.HTTPOnly != nil, func() { b = strconv.AppendBool(b, *c.HTTPOnly) })
	optional(fDomain, c.Domain != nil, func() { b = jsjson.AppendString(b, *c.Domain) })
	optional(fPath, c.Path != nil, func() { b = jsjson.AppendString(b, *c.Path) })
	optional(fSameSite, c.SameSite != nil, func() {
		if c.SameSite.Mode != "" {
			b = jsjson.AppendString(b, c.SameSite.Mode)
		} else {
			b = strconv.AppendBool(b, c.SameSite.Bool)
		}
	})
	return append(b, '}')
}

func bitIndex(bit uint16) int {
	i := 0
	for bit > 1 {
		bit >>= 1
		i++
	}
	return i
}

// cookieValues backs a decoded Cookie's pointers with one allocation.
type cookieValues struct {
	originalMaxAge                int64
	expires                       time.Time
	partitioned, secure, httpOnly bool
	priority, domain, path        string
	sameSite                      SameSite
}

// decodeCookie reads the validated cookie object data.
func decodeCookie(data []byte) (Cookie, error) {
	// new Cookie(sess.cookie) starts from path "/", httpOnly true and
	// expires null, then copies what the record holds; a missing
	// originalMaxAge stays undefined.
	var c Cookie
	c.absent = fOriginalMaxAge
	vals := new(cookieValues)
	seen := uint16(0)
	for it := newMembers(data); ; {
		key, v, ok := it.next()
		if !ok {
			break
		}
		bit := cookieFieldBit(key)
		if bit == 0 {
			continue // unknown key: Node drops it when it rewrites the cookie
		}
		if seen&bit != 0 {
			return c, fmt.Errorf("%w: cookie.%s", ErrDuplicateKey, key)
		}
		seen |= bit
		c.absent &^= bit
		if string(v) == "null" {
			if bit != fOriginalMaxAge && bit != fExpires {
				c.nulls |= bit
			}
			continue
		}
		if want := c.setField(vals, bit, v); want != "" {
			return c, fmt.Errorf("%w: cookie.%s is not %s", ErrBadCookie, key, want)
		}
	}
	c.setDefaults(vals, seen)
	return c, nil
}

// cookieFieldBit returns the field bit of cookie key, or 0 for a key that
// is not one of Cookie's.
func cookieFieldBit(key string) uint16 {
	for i, k := range cookieKeys {
		if k == key {
			return 1 << i
		}
	}
	return 0
}

// setField sets the field bit of c from its non-null JSON value v, storing
// the value in vals. It returns what the value should be when it is not
// valid, and "" when it is.
func (c *Cookie) setField(vals *cookieValues, bit uint16, v []byte) (want string) {
	switch bit {
	case fOriginalMaxAge:
		n, ok := parseMillis(v)
		if !ok {
			return "an integer number of milliseconds or null"
		}
		vals.originalMaxAge = n
		c.OriginalMaxAge = &vals.originalMaxAge
	case fExpires:
		if v[0] != '"' {
			return "a date string or null"
		}
		t, err := parseDate(unquote(v, bytes.IndexByte(v, '\\') >= 0))
		if err != nil {
			return "a date string or null"
		}
		vals.expires = t
		c.Expires = &vals.expires
	case fPartitioned, fSecure, fHTTPOnly:
		bv, ok := parseBool(v)
		if !ok {
			return "a boolean"
		}
		c.setBool(vals, bit, bv)
	case fPriority, fDomain, fPath:
		if v[0] != '"' {
			return "a string"
		}
		c.setString(vals, bit, unquote(v, bytes.IndexByte(v, '\\') >= 0))
	case fSameSite:
		if bv, ok := parseBool(v); ok {
			vals.sameSite = SameSite{Bool: bv}
		} else if v[0] == '"' {
			vals.sameSite = SameSite{Mode: unquote(v, bytes.IndexByte(v, '\\') >= 0)}
		} else {
			return "a boolean or a string"
		}
		c.SameSite = &vals.sameSite
	}
	return ""
}

// parseMillis parses originalMaxAge: an integer, or a number with no
// fraction (1e3) within ±2^62.
func parseMillis(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err == nil {
		return n, true
	}
	f, ferr := strconv.ParseFloat(string(v), 64)
	if ferr != nil || v[0] == '"' || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// setBool sets the boolean field bit (partitioned, secure or httpOnly).
func (c *Cookie) setBool(vals *cookieValues, bit uint16, bv bool) {
	switch bit {
	case fPartitioned:
		vals.partitioned = bv
		c.Partitioned = &vals.partitioned
	case fSecure:
		vals.secure = bv
		c.Secure = &vals.secure
	default:
		vals.httpOnly = bv
		c.HTTPOnly = &vals.httpOnly
	}
}

// setString sets the string field bit (priority, domain or path).
func (c *Cookie) setString(vals *cookieValues, bit uint16, str string) {
	switch bit {
	case fPriority:
		vals.priority = str
		c.Priority = &vals.priority
	case fDomain:
		vals.domain = str
		c.Domain = &vals.domain
	default:
		vals.path = str
		c.Path = &vals.path
	}
}

// setDefaults gives path and httpOnly the values of new Cookie() when the
// record has neither a value nor null for them (seen lacks their bits).
func (c *Cookie) setDefaults(vals *cookieValues, seen uint16) {
	if seen&fPath == 0 {
		vals.path = "/"
		c.Path = &vals.path
	}
	if seen&fHTTPOnly == 0 {
		vals.httpOnly = true
		c.HTTPOnly = &vals.httpOnly
	}
}

func parseBool(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// parseDate accepts the forms JavaScript's Date parses that a session store
// plausibly holds: ISO 8601 (toISOString and RFC 3339 with any offset or
// fraction), a date alone (UTC midnight), and toUTCString's form.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if m := expandedISO.FindStringSubmatch(s); m != nil {
		// toISOString's expanded years: +010582-11-03T11:06:40.000Z
		y, _ := strconv.Atoi(m[1])
		rest, err := time.Parse("2006-01-02T15:04:05.999999999Z", "2000"+m[2])
		if err != nil {
			return time.Time{}, err
		}
		t := time.Date(y, rest.Month(), rest.Day(), rest.Hour(), rest.Minute(), rest.Second(), rest.Nanosecond(), time.UTC)
		if t.Day() != rest.Day() { // Feb 29 of a non-leap year
			return time.Time{}, fmt.Errorf("invalid date %q", s)
		}
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04Z07:00", s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(http.TimeFormat, s)
	return t.UTC(), err
}

var expandedISO = regexp.MustCompile(`^([+-]\d{6})(-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)$`)

var (
	cookieNameRe   = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	domainValueRe  = regexp.MustCompile(`(?i)^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	pathValueRe    = regexp.MustCompile(`^[\x20-\x3A\x3D-\x7E]*$`)
	priorityValues = map[string]string{"low": "Low", "medium": "Medium", "high": "High"}
)

// SetCookie returns the Set-Cookie header value express-session sends for
// this cookie: npm cookie 0.7's serialize(name, value, cookie.data), with
// attributes in its order (Domain, Path, Expires, HttpOnly, Secure,
// Partitioned, Priority, SameSite), Expires in toUTCString form and never a
// Max-Age. encodedValue must already be URL-encoded (see
// cookiesig.Signer.CookieValue). It returns [ErrInvalidCookieOption] where
// serialize throws.
func (c Cookie) SetCookie(name, encodedValue string) (string, error) {
	if !cookieNameRe.MatchString(name) {
		return "", fmt.Errorf("%w: cookie name", ErrInvalidCookieOption)
	}
	if !validCookieValue(encodedValue) {
		return "", fmt.Errorf("%w: cookie value", ErrInvalidCookieOption)
	}
	var b strings.Builder
	b.Grow(len(name) + len(encodedValue) + 96)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(encodedValue)
	if c.Domain != nil && *c.Domain != "" {
		if !domainValueRe.MatchString(*c.Domain) {
			return "", fmt.Errorf("%w: domain", ErrInvalidCookieOption)
		}
		b.WriteString("; Domain=")
		b.WriteString(*c.Domain)
	}
	if c.Path != nil && *c.Path != "" {
		if !pathValueRe.MatchString(*c.Path) {
			return "", fmt.Errorf("%w: path", ErrInvalidCookieOption)
		}
		b.WriteString("; Path=")
		b.WriteString(*c.Path)
	}
	if c.Expires != nil {
		b.WriteString("; Expires=")
		b.WriteString(c.Expires.UTC().Format(http.TimeFormat))
	}
	if c.HTTPOnly != nil && *c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure != nil && *c.Secure {
		b.WriteString("; Secure")
	}
	if c.Partitioned != nil && *c.Partitioned {
		b.WriteString("; Partitioned")
	}
	if c.Priority != nil && *c.Priority != "" {
		p, ok := priorityValues[strings.ToLower(*c.Priority)]
		if !ok {
			return "", fmt.Errorf("%w: priority", ErrInvalidCookieOption)
		}
		b.WriteString("; Priority=")
		b.WriteString(p)
	}
	if s := c.SameSite; s != nil && (s.Mode != "" || s.Bool) {
		switch strings.ToLower(s.Mode) {
		case "":
			b.WriteString("; SameSite=Strict") // true
		case "lax":
			b.WriteString("; SameSite=Lax")
		case "strict":
			b.WriteString("; SameSite=Strict")
		case "none":
			b.WriteString("; SameSite=None")
		default:
			return "", fmt.Errorf("%w: sameSite", ErrInvalidCookieOption)
		}
	}
	return b.String(), nil
}

// validCookieValue is cookie 0.7's cookieValueRegExp,
// /^("?)[\u0021\u0023-\u002B\u002D-\u003A\u003C-\u005B\u005D-\u007E]*\1$/.
func validCookieValue(v string) bool {
	if strings.HasPrefix(v, `"`) {
		if len(v) < 2 || !strings.HasSuffix(v, `"`) {
			return false
		}
		v = v[1 : len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7E || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// Equal reports whether c and d would be stored alike: the same fields
// with the same values (expires to the millisecond), the same explicit
// nulls, and the same fields absent.
func (c Cookie) Equal(d Cookie) bool { return c.equal(&d) }
