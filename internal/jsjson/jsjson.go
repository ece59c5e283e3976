// Package jsjson writes JSON strings and dates exactly as JavaScript's
// JSON.stringify and Date.prototype.toISOString do. sessionjson, the stores
// that build JSON from other formats (BSON), passportuser and the CLI share
// it; it imports nothing of this module.
package jsjson

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// ISOLayout is the time layout of Date.prototype.toISOString for years
// 0000-9999: UTC, exactly three decimals.
const ISOLayout = "2006-01-02T15:04:05.000Z"

// MaxDateMs is the largest time value of a JavaScript Date (±100,000,000
// days from the epoch).
const MaxDateMs = 8.64e15

const hexDigits = "0123456789abcdef"

// AppendISO appends t as JavaScript's Date.prototype.toISOString writes it:
// UTC, three decimals, and the expanded ±YYYYYY year outside 0000-9999.
// It reports false for a time outside the range of a JavaScript Date.
func AppendISO(b []byte, t time.Time) ([]byte, bool) {
	// Bound the seconds first: t.UnixMilli wraps beyond about 292 million
	// years, possibly back into range.
	if s := t.Unix(); s > MaxDateMs/1000 || s < -MaxDateMs/1000 {
		return b, false
	}
	ms := t.UnixMilli()
	if ms > MaxDateMs || ms < -MaxDateMs {
		return b, false
	}
	t = time.UnixMilli(ms).UTC()
	y := t.Year()
	if y >= 0 && y <= 9999 {
		return t.AppendFormat(b, ISOLayout), true
	}
	sign := byte('+')
	if y < 0 {
		sign, y = '-', -y
	}
	b = append(b, sign)
	b = append(b, fmt.Sprintf("%06d", y)...)
	return t.AppendFormat(b, "-01-02T15:04:05.000Z"), true
}

// AppendString appends s as a JSON string exactly as JavaScript's
// JSON.stringify writes it: only '"', '\\' and control characters escaped,
// no HTML escaping, U+2028 and U+2029 raw; invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = AppendCodeUnit(b, r) // RuneError for invalid bytes is U+FFFD
		i += size
	}
	return append(b, '"')
}

// AppendCodeUnit appends one UTF-16 code unit that is not part of a pair as
// JSON.stringify writes it inside a string: '"', '\\' and control
// characters escaped, a lone surrogate as \udxxx, anything else raw.
func AppendCodeUnit(dst []byte, u rune) []byte {
	switch {
	case u == '"':
		return append(dst, '\\', '"')
	case u == '\\':
		return append(dst, '\\', '\\')
	case u == '\b':
		return append(dst, '\\', 'b')
	case u == '\f':
		return append(dst, '\\', 'f')
	case u == '\n':
		return append(dst, '\\', 'n')
	case u == '\r':
		return append(dst, '\\', 'r')
	case u == '\t':
		return append(dst, '\\', 't')
	case u < 0x20, 0xD800 <= u && u < 0xE000:
		return append(dst, '\\', 'u', hexDigits[u>>12&15], hexDigits[u>>8&15], hexDigits[u>>4&15], hexDigits[u&15])
	}
	return utf8.AppendRune(dst, u)
}
