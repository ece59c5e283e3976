package sessionjson_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// TestCloneIndependent changes a clone and the original in every way a
// handler can (Set over a member and a new one, SetRaw, Delete, Clear,
// Touch) and checks that neither sees the other's changes, with few
// members and with enough to be indexed.
func TestCloneIndependent(t *testing.T) {
	for _, n := range []int{2, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString(`{` + scaleCookie)
			for i := range n {
				fmt.Fprintf(&b, `,"k%d":{"v":%d}`, i, i)
			}
			b.WriteString(`}`)
			data := []byte(b.String())
			orig, err := sessionjson.Decode(bytes.Clone(data))
			if err != nil {
				t.Fatal(err)
			}
			unchanged := func(s *sessionjson.Session, what string) {
				t.Helper()
				if s.Modified() {
					t.Fatalf("%s: Modified after the other copy changed", what)
				}
				if got, _ := s.Encode(); !bytes.Equal(got, data) {
					t.Fatalf("%s: Encode changed after the other copy changed:\n%s", what, got)
				}
			}
			change := func(s *sessionjson.Session) {
				t.Helper()
				for _, err := range []error{
					s.Set("k0", "changed"), s.Set("new", 1),
					s.SetRaw("k1", []byte(`[1]`)), s.Delete("k1"),
				} {
					if err != nil {
						t.Fatal(err)
					}
				}
				s.Touch(time.UnixMilli(1795000000000))
				if !s.Modified() {
					t.Fatal("changed copy not Modified")
				}
			}

			c := orig.Clone()
			change(c)
			unchanged(orig, "original")
			c.Clear()
			unchanged(orig, "original after Clear of the clone")

			c = orig.Clone()
			change(orig)
			unchanged(c, "clone")
		})
	}
}

// TestCloneAtSizeLimit: a clone shares the members' JSON, so cloning a
// record of DefaultMaxBytes in one member allocates member headers, not
// the record.
func TestCloneAtSizeLimit(t *testing.T) {
	const frame = `{` + scaleCookie + `,"big":""}`
	data := []byte(`{` + scaleCookie + `,"big":"` + strings.Repeat("x", sessionjson.DefaultMaxBytes-len(frame)) + `"}`)
	s, err := sessionjson.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	const clones = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range clones {
		if c := s.Clone(); !c.Has("big") {
			t.Fatal("clone lost a member")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / clones; per > 64<<10 {
		t.Fatalf("Clone of a %d-byte record allocates %d bytes: it copies the record", len(data), per)
	}
}

// TestCookieEqual: Equal tells apart every field, an explicit null from
// an absent field, and ignores what the store cannot hold (expires below
// the millisecond).
func TestCookieEqual(t *testing.T) {
	cookieOf := func(c string) sessionjson.Cookie {
		t.Helper()
		s, err := sessionjson.Decode([]byte(`{"cookie":` + c + `}`))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		return s.Cookie
	}
	const base = `{"originalMaxAge":1000,"expires":"2026-11-19T11:06:57.007Z","secure":false,"httpOnly":true,"domain":"a.example","path":"/","sameSite":"lax","priority":"high","partitioned":false}`
	a := cookieOf(base)
	if !a.Equal(cookieOf(base)) {
		t.Fatal("equal cookies compare unequal")
	}
	sub := a // Expires replaced below, not changed in place
	e := a.Expires.Add(999 * time.Microsecond)
	sub.Expires = &e
	if !a.Equal(sub) {
		t.Fatal("expires differing below the millisecond compare unequal")
	}
	for _, other := range []string{
		strings.Replace(base, `1000`, `1001`, 1),
		strings.Replace(base, `57.007Z`, `57.008Z`, 1),
		strings.Replace(base, `"secure":false`, `"secure":true`, 1),
		strings.Replace(base, `"httpOnly":true`, `"httpOnly":false`, 1),
		strings.Replace(base, `a.example`, `b.example`, 1),
		strings.Replace(base, `"path":"/"`, `"path":"/x"`, 1),
		strings.Replace(base, `"lax"`, `true`, 1),
		strings.Replace(base, `"high"`, `"low"`, 1),
		strings.Replace(base, `"partitioned":false`, `"partitioned":true`, 1),
		strings.Replace(base, `"domain":"a.example"`, `"domain":null`, 1),
		strings.Replace(base, `"domain":"a.example",`, ``, 1),
	} {
		if a.Equal(cookieOf(other)) {
			t.Errorf("%s\nequals\n%s", base, other)
		}
	}
	null := strings.Replace(base, `"domain":"a.example"`, `"domain":null`, 1)
	absent := strings.Replace(base, `"domain":"a.example",`, ``, 1)
	if cookieOf(null).Equal(cookieOf(absent)) {
		t.Error("an explicit null domain equals an absent one")
	}
}
