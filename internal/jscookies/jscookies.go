// Package jscookies writes Set-Cookie headers exactly as the npm cookies
// package does (the writer of cookie-session and koa-session): lowercase
// attributes in its order, expires as toUTCString, a signed cookie followed
// by its NAME.sig, and overwrite dropping earlier headers of the same name.
// It checks names and options as that package does, within ASCII.
package jscookies

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Attrs are a cookie's attributes as the cookies package takes them. The
// zero Path is "/", as there.
type Attrs struct {
	Path        string
	Expires     time.Time // zero: none (a browser-session cookie)
	Domain      string
	Priority    string // "low", "medium" or "high"
	SameSite    string // "strict", "lax" or "none"; "" for none
	Secure      bool
	HTTPOnly    bool
	Partitioned bool
}

// fieldContent reports whether s is the ASCII part of the cookies
// package's field-content: tabs and printable ASCII (it also takes the
// bytes 0x80-0xff, which Go refuses).
func fieldContent(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// ValidName reports whether the cookies package takes name as a cookie's
// name: field-content without ';' or '=', not empty.
func ValidName(name string) bool {
	return name != "" && fieldContent(name) && !strings.ContainsAny(name, ";=")
}

// ValidAttr reports whether v can be a Path or Domain option, or part of a
// value: field-content without ';' ("" is no attribute). The cookies
// package lets ';' through in Path and Domain, which would inject
// attributes; this refuses it.
func ValidAttr(v string) bool {
	return fieldContent(v) && !strings.Contains(v, ";")
}

// ValidPriority reports whether p, lowercased, is a priority the cookies
// package takes ("low", "medium", "high"), or "" for none.
func ValidPriority(p string) bool {
	switch p {
	case "", "low", "medium", "high":
		return true
	}
	return false
}

// epoch is when a cleared cookie expires.
var epoch = time.UnixMilli(0).UTC()

// Header returns the Set-Cookie header value the cookies package writes
// for name=value. An empty value clears the cookie: it expires at the
// epoch.
func Header(name, value string, a Attrs) string {
	if value == "" {
		a.Expires = epoch
	}
	path := a.Path
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(name) + len(value) + 96)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString("; path=")
	b.WriteString(path)
	if !a.Expires.IsZero() {
		b.WriteString("; expires=")
		b.WriteString(a.Expires.UTC().Format(http.TimeFormat))
	}
	if a.Domain != "" {
		b.WriteString("; domain=")
		b.WriteString(a.Domain)
	}
	if a.Priority != "" {
		b.WriteString("; priority=")
		b.WriteString(strings.ToLower(a.Priority))
	}
	if a.SameSite != "" {
		b.WriteString("; samesite=")
		b.WriteString(strings.ToLower(a.SameSite))
	}
	if a.Secure {
		b.WriteString("; secure")
	}
	if a.HTTPOnly {
		b.WriteString("; httponly")
	}
	if a.Partitioned {
		b.WriteString("; partitioned")
	}
	return b.String()
}

// Set adds the Set-Cookie header of name=value to h, first removing any
// header already set for name (the cookies package's overwrite option).
func Set(h http.Header, name, value string, a Attrs) {
	prefix := name + "="
	old := h.Values("Set-Cookie")
	kept := old[:0:0]
	for _, v := range old {
		if !strings.HasPrefix(v, prefix) {
			kept = append(kept, v)
		}
	}
	kept = append(kept, Header(name, value, a))
	h["Set-Cookie"] = kept
}

// SetSigned sets name=value and its signature cookie NAME.sig, the
// keygrip signature of "name=value" with the same attributes, as cookies'
// set(name, value, {signed: true, overwrite: true}) does.
func SetSigned(h http.Header, kg *cookiesig.Keygrip, name, value string, a Attrs) {
	Set(h, name, value, a)
	Set(h, name+cookiesig.SigSuffix, kg.Sign(name+"="+value), a)
}

// decodeReasons are the sessionjson sentinels a payload can fail with, the
// most specific first.
var decodeReasons = []error{
	sessionjson.ErrTooLarge, sessionjson.ErrTooDeep, sessionjson.ErrDuplicateKey,
	sessionjson.ErrNotObject, sessionjson.ErrInvalidJSON,
}

// DecodeReason reduces an error from decoding a cookie's payload to its
// sentinel, dropping the detail (a key name, an offset) that would put
// bytes of the cookie in an error message. Errors of other kinds are
// returned as they are.
func DecodeReason(err error) error {
	for _, r := range decodeReasons {
		if errors.Is(err, r) {
			return r
		}
	}
	if errors.Is(err, sessionjson.ErrMalformed) {
		return sessionjson.ErrMalformed
	}
	return err
}
