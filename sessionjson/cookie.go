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

// Layout is the way a record's cookie is serialized: that of
// express-session or of @fastify/session. Both read either, and both
// packages' stores hold either; each writes its own.
type Layout uint8

const (
	// ExpressLayout is express-session's Cookie.prototype.toJSON:
	// originalMaxAge, partitioned, priority, expires, secure, httpOnly,
	// domain, path, sameSite, each only when defined.
	ExpressLayout Layout = iota
	// FastifyLayout is @fastify/session's Cookie.prototype.toJSON:
	// expires, originalMaxAge, originalExpires, sameSite, secure, path,
	// httpOnly, domain, partitioned, with null where sameSite, secure or
	// domain is unset, originalExpires only on a re-save (the expires the
	// record held when it was loaded), and no priority.
	FastifyLayout
)

// Cookie is the "cookie" member of a session record, the data of
// express-session's (or @fastify/session's) Cookie class. A nil pointer is
// a field Node leaves out (undefined), except OriginalMaxAge and Expires,
// for which nil is null: a browser-session cookie. When Go changes a
// cookie it is written back in its Layout, with exactly the keys and key
// order of that package's Cookie.prototype.toJSON: for express-session
// originalMaxAge, partitioned, priority, expires, secure, httpOnly,
// domain, path, sameSite.
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

	// Layout is how the cookie is written: a decoded cookie keeps the
	// layout of whoever wrote the record (FastifyLayout when its expires
	// comes before its originalMaxAge, as only @fastify/session writes
	// them), a new one that of the middleware it is made for. Default
	// ExpressLayout.
	Layout Layout

	// nulls marks optional fields stored as an explicit JSON null;
	// absent marks originalMaxAge and expires missing altogether.
	nulls, absent uint16
	// originalExpires is @fastify/session's cookie.originalExpires as it
	// is once a record is loaded: the expires the record held (only for
	// FastifyLayout, and only when that was not null).
	originalExpires    time.Time
	hasOriginalExpires bool
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
//
// A FastifyLayout cookie is touched as @fastify/session's touch() does it:
// without an originalMaxAge (null or 0) nothing changes, and a maxAge too
// large for a JavaScript date gives expires null but keeps originalMaxAge.
func (c *Cookie) Touch(now time.Time) {
	if c.Layout == FastifyLayout {
		c.touchFastify(now)
		return
	}
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

// touchFastify is @fastify/session's touch(): expires = now +
// originalMaxAge when originalMaxAge is set and not 0.
func (c *Cookie) touchFastify(now time.Time) {
	if c.OriginalMaxAge == nil || *c.OriginalMaxAge == 0 {
		return
	}
	ms := now.UnixMilli() + *c.OriginalMaxAge
	if ms > jsjson.MaxDateMs || ms < -jsjson.MaxDateMs {
		c.Expires = nil // an Invalid Date, which toJSON writes as null
		return
	}
	t := time.UnixMilli(ms).UTC()
	c.Expires = &t
}

// Expired reports whether the session has expired at now: expires is set and
// not after now (MemoryStore's rule, expires <= now). It is also
// @fastify/session's rule on a load, which compares the cookie's
// originalExpires, there the expires the record held, with now.
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
		eqPtr(c.SameSite, d.SameSite) && c.nulls == d.nulls && c.absent == d.absent &&
		c.Layout == d.Layout && c.hasOriginalExpires == d.hasOriginalExpires &&
		(!c.hasOriginalExpires || c.originalExpires.UnixMilli() == d.originalExpires.UnixMilli())
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

// appendJSON writes the cookie as Cookie.prototype.toJSON + JSON.stringify
// of its layout.
func (c *Cookie) appendJSON(b []byte) []byte {
	if c.Layout == FastifyLayout {
		return c.appendFastifyJSON(b)
	}
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

// appendFastifyJSON writes the cookie as @fastify/session's
// Cookie.prototype.toJSON + JSON.stringify of the cookie as it is after a
// load: its constructor turns an unset path into "/", an unset sameSite or
// domain (or sameSite false, or domain "") into null, an undefined secure
// into null and an undefined httpOnly into true.
func (c *Cookie) appendFastifyJSON(b []byte) []byte {
	b = append(b, `{"expires":`...)
	b = appendDate(b, c.Expires)
	b = append(b, `,"originalMaxAge":`...)
	if c.OriginalMaxAge == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *c.OriginalMaxAge, 10)
	}
	if c.hasOriginalExpires {
		b = append(b, `,"originalExpires":`...)
		b = appendDate(b, &c.originalExpires)
	}
	b = append(b, `,"sameSite":`...)
	switch s := c.SameSite; {
	case s == nil || s.Mode == "" && !s.Bool:
		b = append(b, "null"...)
	case s.Mode == "":
		b = append(b, "true"...)
	default:
		b = jsjson.AppendString(b, s.Mode)
	}
	b = append(b, `,"secure":`...)
	if c.Secure == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *c.Secure)
	}
	b = append(b, `,"path":`...)
	b = jsjson.AppendString(b, c.fastifyPath())
	b = append(b, `,"httpOnly":`...)
	switch {
	case c.HTTPOnly != nil:
		b = strconv.AppendBool(b, *c.HTTPOnly)
	case c.nulls&fHTTPOnly != 0:
		b = append(b, "null"...)
	default:
		b = append(b, "true"...)
	}
	b = append(b, `,"domain":`...)
	if c.Domain == nil || *c.Domain == "" {
		b = append(b, "null"...)
	} else {
		b = jsjson.AppendString(b, *c.Domain)
	}
	switch {
	case c.Partitioned != nil:
		b = append(b, `,"partitioned":`...)
		b = strconv.AppendBool(b, *c.Partitioned)
	case c.nulls&fPartitioned != 0:
		b = append(b, `,"partitioned":null`...)
	}
	return append(b, '}')
}

// fastifyPath is @fastify/session's cookie.path || '/'.
func (c *Cookie) fastifyPath() string {
	if c.Path == nil || *c.Path == "" {
		return "/"
	}
	return *c.Path
}

// appendDate writes a Date as JSON.stringify does: its ISO string, or null
// for none or an Invalid Date.
func appendDate(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	if iso, ok := jsjson.AppendISO(append(b, '"'), *t); ok {
		return append(iso, '"')
	}
	return append(b, "null"...)
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
	expiresFirst := false // expires came before originalMaxAge
	for it := newMembers(data); ; {
		key, v, ok := it.next()
		if !ok {
			break
		}
		bit := cookieFieldBit(key)
		if bit == 0 {
			continue // unknown key: Node drops it when it rewrites the cookie
		}
		if bit == fOriginalMaxAge && seen&fExpires != 0 && seen&fOriginalMaxAge == 0 {
			expiresFirst = true
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
	if expiresFirst {
		// Only @fastify/session writes expires before originalMaxAge.
		// Loading the record, it keeps that expires as originalExpires.
		c.Layout = FastifyLayout
		if c.Expires != nil {
			c.originalExpires, c.hasOriginalExpires = *c.Expires, true
		}
	}
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
//
// For a FastifyLayout cookie it is the header @fastify/session sends:
// npm cookie 2's stringifySetCookie of its cookie's toJSON, in the same
// attribute order, with Path "/" when unset, no Priority, the cookie name
// allowed any character cookie 2 allows, and an Expires outside the years
// 1601-9999 refused, as cookie 2 refuses it. encodedValue is then the
// value as cookie 2 encodes it (see cookiesig.Signer.FastifyCookieValue).
func (c Cookie) SetCookie(name, encodedValue string) (string, error) {
	if c.Layout == FastifyLayout {
		return c.fastifySetCookie(name, encodedValue)
	}
	var b strings.Builder
	if err := c.startSetCookie(&b, cookieNameRe, name, encodedValue); err != nil {
		return "", err
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
	c.writeFlags(&b)
	if c.Priority != nil && *c.Priority != "" {
		p, ok := priorityValues[strings.ToLower(*c.Priority)]
		if !ok {
			return "", fmt.Errorf("%w: priority", ErrInvalidCookieOption)
		}
		b.WriteString("; Priority=")
		b.WriteString(p)
	}
	if err := c.writeSameSite(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// startSetCookie begins a Set-Cookie header as both npm cookie versions
// do: the name checked against nameRe, the value checked (cookie 2 encodes
// every value that needs it; one that was not is refused), then name=value
// and the Domain attribute.
func (c *Cookie) startSetCookie(b *strings.Builder, nameRe *regexp.Regexp, name, encodedValue string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: cookie name", ErrInvalidCookieOption)
	}
	if !validCookieValue(encodedValue) {
		return fmt.Errorf("%w: cookie value", ErrInvalidCookieOption)
	}
	b.Grow(len(name) + len(encodedValue) + 96)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(encodedValue)
	if c.Domain != nil && *c.Domain != "" {
		if !domainValueRe.MatchString(*c.Domain) {
			return fmt.Errorf("%w: domain", ErrInvalidCookieOption)
		}
		b.WriteString("; Domain=")
		b.WriteString(*c.Domain)
	}
	return nil
}

// writeFlags writes the HttpOnly, Secure and Partitioned attributes.
func (c *Cookie) writeFlags(b *strings.Builder) {
	if c.HTTPOnly != nil && *c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure != nil && *c.Secure {
		b.WriteString("; Secure")
	}
	if c.Partitioned != nil && *c.Partitioned {
		b.WriteString("; Partitioned")
	}
}

// writeSameSite writes the SameSite attribute, the same in npm cookie 0.7
// and 2.
func (c *Cookie) writeSameSite(b *strings.Builder) error {
	s := c.SameSite
	if s == nil || s.Mode == "" && !s.Bool {
		return nil
	}
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
		return fmt.Errorf("%w: sameSite", ErrInvalidCookieOption)
	}
	return nil
}

// cookie2NameRe is npm cookie 2's cookieNameRegExp.
var cookie2NameRe = regexp.MustCompile(`^[\x21-\x3A\x3C\x3E-\x7E]+$`)

// fastifySetCookie is SetCookie for a FastifyLayout cookie.
func (c Cookie) fastifySetCookie(name, encodedValue string) (string, error) {
	var b strings.Builder
	if err := c.startSetCookie(&b, cookie2NameRe, name, encodedValue); err != nil {
		return "", err
	}
	path := c.fastifyPath()
	if !pathValueRe.MatchString(path) {
		return "", fmt.Errorf("%w: path", ErrInvalidCookieOption)
	}
	b.WriteString("; Path=")
	b.WriteString(path)
	if c.Expires != nil {
		if y := c.Expires.UTC().Year(); y < 1601 || y > 9999 {
			return "", fmt.Errorf("%w: expires", ErrInvalidCookieOption)
		}
		b.WriteString("; Expires=")
		b.WriteString(c.Expires.UTC().Format(http.TimeFormat))
	}
	c.writeFlags(&b)
	if err := c.writeSameSite(&b); err != nil {
		return "", err
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
