package jsjson

import (
	"testing"
	"time"
)

func TestAppendISO(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string // "" when out of range
	}{
		{time.UnixMilli(1795000000123).Add(999 * time.Microsecond), "2026-11-18T11:06:40.123Z"},
		{time.UnixMilli(MaxDateMs), "+275760-09-13T00:00:00.000Z"},
		{time.UnixMilli(-MaxDateMs), "-271821-04-20T00:00:00.000Z"},
		{time.UnixMilli(MaxDateMs + 1), ""},
		{time.UnixMilli(-MaxDateMs - 1), ""},
		// t.UnixMilli wraps to 384 here: still out of range.
		{time.Unix(18446744073709552, 0), ""},
		{time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), ""},
	} {
		got, ok := AppendISO(nil, c.t)
		if string(got) != c.want || ok != (c.want != "") {
			t.Errorf("AppendISO(%v) = %q, %v; want %q", c.t, got, ok, c.want)
		}
	}
}
