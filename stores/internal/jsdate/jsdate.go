// Package jsdate does the Node session stores' lifetime arithmetic on Go
// times the way JavaScript does it, in integer milliseconds and seconds,
// without ever overflowing: values beyond what a JavaScript Date can hold
// saturate at its limits instead of wrapping.
//
// time.Duration cannot hold these lifetimes: it ends after about 292 years,
// while a cookie's originalMaxAge may be 1000 years or 10^15 ms, and an
// overflowed Duration wraps to a negative lifetime, which the stores read as
// "delete the session".
package jsdate

import (
	"math"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// MaxMillis is the largest time value of a JavaScript Date: 8.64e15 ms from
// the epoch, +275760-09-13T00:00:00.000Z. -MaxMillis is the smallest.
const MaxMillis int64 = jsjson.MaxDateMs

// Millis returns t as JavaScript's Number(date) would: milliseconds since the
// epoch, floored to the millisecond, clamped to ±MaxMillis. It never
// overflows, whatever t is (t.UnixMilli wraps beyond about 292 million
// years).
func Millis(t time.Time) int64 {
	s := t.Unix()
	switch {
	case s > MaxMillis/1000:
		return MaxMillis
	case s < -MaxMillis/1000:
		return -MaxMillis
	}
	ms := s*1000 + int64(t.Nanosecond())/int64(time.Millisecond)
	return max(-MaxMillis, min(ms, MaxMillis))
}

// Time returns the instant of ms (clamped to ±MaxMillis) as a UTC time.
func Time(ms int64) time.Time {
	return time.UnixMilli(max(-MaxMillis, min(ms, MaxMillis))).UTC()
}

// Until returns Millis(t) - Millis(now): the milliseconds from now to t as
// JavaScript computes them (date - Date.now()). Both operands are within
// ±MaxMillis, so the difference cannot overflow.
func Until(t, now time.Time) int64 { return Millis(t) - Millis(now) }

// CeilSeconds is JavaScript's Math.ceil(ms / 1000) for an integer ms.
func CeilSeconds(ms int64) int64 {
	s := ms / 1000
	if ms%1000 > 0 {
		s++
	}
	return s
}

// TruncSeconds is ms / 1000 truncated toward zero: JavaScript's
// (ms / 1000) | 0 without its wrap to 32 bits.
func TruncSeconds(ms int64) int64 { return ms / 1000 }

// Duration returns secs seconds as a time.Duration, saturated at the
// largest (or smallest) whole number of seconds a Duration holds (about
// 292 years) instead of wrapping.
func Duration(secs int64) time.Duration {
	const maxSecs = int64(math.MaxInt64 / int64(time.Second))
	return time.Duration(max(-maxSecs, min(secs, maxSecs))) * time.Second
}

// Touched is when a store expiry of expiresMs (epoch milliseconds) was set
// for a session with cookie c: expiresMs minus the lifetime the store gives
// c (c's originalMaxAge when c has expires, ttl for a browser-session
// cookie), never after now. It is the zero time when that lifetime is
// unknown (expires without an originalMaxAge, or a negative one).
func Touched(c sessionjson.Cookie, expiresMs int64, ttl time.Duration, now time.Time) time.Time {
	life := ttl.Milliseconds()
	if c.Expires != nil {
		if c.OriginalMaxAge == nil || *c.OriginalMaxAge < 0 {
			return time.Time{}
		}
		life = *c.OriginalMaxAge
	}
	// Both within twice the Date range: the difference cannot overflow.
	t := Time(max(-MaxMillis, min(expiresMs, MaxMillis)) - min(life, 2*MaxMillis))
	if t.After(now) {
		return now
	}
	return t
}
