package jsdate

import (
	"math"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func TestMillis(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.UnixMilli(1795000000123).Add(999 * time.Microsecond), 1795000000123}, // floored
		{time.UnixMilli(-1).Add(-time.Microsecond), -2},                            // floored, as Date does
		{time.UnixMilli(MaxMillis), MaxMillis},
		{time.UnixMilli(MaxMillis).Add(time.Millisecond), MaxMillis},
		{time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), MaxMillis}, // UnixMilli wraps here
		{time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), -MaxMillis},
		{time.Unix(math.MaxInt64/2, 0), MaxMillis},
	} {
		if got := Millis(c.t); got != c.want {
			t.Errorf("Millis(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	if got := Until(time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC)); got != 2*MaxMillis {
		t.Errorf("Until across the whole range = %d", got)
	}
	if got := Time(math.MaxInt64); !got.Equal(time.UnixMilli(MaxMillis)) {
		t.Errorf("Time(MaxInt64) = %v", got)
	}
}

func TestSeconds(t *testing.T) {
	for _, c := range []struct{ ms, ceil, trunc int64 }{
		{90500, 91, 90}, {90000, 90, 90}, {1, 1, 0}, {0, 0, 0},
		{-1, 0, 0}, {-999, 0, 0}, {-1000, -1, -1}, {-1500, -1, -1},
		{2 * MaxMillis, 2 * MaxMillis / 1000, 2 * MaxMillis / 1000},
	} {
		if got := CeilSeconds(c.ms); got != c.ceil {
			t.Errorf("CeilSeconds(%d) = %d, want %d (Math.ceil)", c.ms, got, c.ceil)
		}
		if got := TruncSeconds(c.ms); got != c.trunc {
			t.Errorf("TruncSeconds(%d) = %d, want %d", c.ms, got, c.trunc)
		}
	}
}

func TestDuration(t *testing.T) {
	maxD := time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	for secs, want := range map[int64]time.Duration{
		90:                90 * time.Second,
		-90:               -90 * time.Second,
		31_536_000_000:    maxD, // 1000 years: time.Duration(secs)*time.Second wraps negative
		1e12:              maxD,
		math.MaxInt64:     maxD,
		-31_536_000_000:   -maxD,
		math.MinInt64 + 1: -maxD,
	} {
		if got := Duration(secs); got != want {
			t.Errorf("Duration(%d) = %v, want %v", secs, got, want)
		}
	}
}

func TestTouched(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000).UTC()
	hour := int64(time.Hour / time.Millisecond)
	withMaxAge := sessionjson.NewCookie(now, time.Hour)
	browser := sessionjson.NewCookie(now, 0)
	noMaxAge := withMaxAge
	noMaxAge.OriginalMaxAge = nil
	for _, tc := range []struct {
		name    string
		c       sessionjson.Cookie
		expires int64
		want    time.Time
	}{
		{"maxAge: expiry minus originalMaxAge", withMaxAge, now.UnixMilli() + hour - 60_000, now.Add(-time.Minute)},
		{"browser-session: expiry minus ttl", browser, now.UnixMilli() + 2*hour - 1, now.Add(-time.Millisecond)},
		{"never after now", withMaxAge, now.UnixMilli() + 5*hour, now},
		{"beyond the Date range: clamped, no overflow", withMaxAge, math.MinInt64, Time(-MaxMillis - hour)},
		{"lifetime unknown", noMaxAge, now.UnixMilli(), time.Time{}},
	} {
		if got := Touched(tc.c, tc.expires, 2*time.Hour, now); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
