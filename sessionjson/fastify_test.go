package sessionjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Records as @fastify/session 11 writes them (first save, re-save, no
// maxAge) and as express-session 1.19 writes them.
const (
	fastifyFirst  = `{"cookie":{"expires":"2026-12-01T22:32:03.054Z","originalMaxAge":3600000,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`
	fastifyResave = `{"cookie":{"expires":"2026-12-01T22:32:03.059Z","originalMaxAge":3600000,"originalExpires":"2026-12-01T22:32:03.054Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`
	fastifyNoMax  = `{"cookie":{"expires":null,"originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"u":1}`
	expressRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T22:32:03.054Z","httpOnly":true,"path":"/"},"passport":{"user":7}}`
)

func mustDecode(t testing.TB, rec string) *sessionjson.Session {
	t.Helper()
	s, err := sessionjson.Decode([]byte(rec))
	if err != nil {
		t.Fatalf("decode %s: %v", rec, err)
	}
	return s
}

func mustEncode(t testing.TB, s *sessionjson.Session) string {
	t.Helper()
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFastifyLayoutDetected: a record keeps the layout of whoever wrote it.
func TestFastifyLayoutDetected(t *testing.T) {
	for rec, want := range map[string]sessionjson.Layout{
		fastifyFirst:  sessionjson.FastifyLayout,
		fastifyResave: sessionjson.FastifyLayout,
		fastifyNoMax:  sessionjson.FastifyLayout,
		expressRecord: sessionjson.ExpressLayout,
		`{"cookie":{"originalMaxAge":null,"expires":null,"secure":false,"httpOnly":true,"domain":null,"path":"/","sameSite":null}}`: sessionjson.ExpressLayout,
		`{"cookie":{"expires":"2026-12-01T22:32:03.054Z","httpOnly":true}}`:                                                         sessionjson.ExpressLayout, // no originalMaxAge: not fastify's
		`{"cookie":{}}`: sessionjson.ExpressLayout,
	} {
		s := mustDecode(t, rec)
		if s.Cookie.Layout != want {
			t.Errorf("%s: layout %d, want %d", rec, s.Cookie.Layout, want)
		}
		if got := mustEncode(t, s); got != rec {
			t.Errorf("unchanged record re-encoded:\n%s\n%s", got, rec)
		}
	}
}

// TestFastifyResaveLayout: a touched fastify record is written as
// @fastify/session re-saves it (new expires, originalExpires = the expires
// loaded, nulls kept); an express record stays express's.
func TestFastifyResaveLayout(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 40, 0, 123e6, time.UTC)
	for _, c := range []struct{ in, want string }{
		{fastifyFirst, `{"cookie":{"expires":"2026-12-01T23:40:00.123Z","originalMaxAge":3600000,"originalExpires":"2026-12-01T22:32:03.054Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`},
		// The originalExpires stored is not kept: fastify's loaded cookie
		// has the stored expires there.
		{fastifyResave, `{"cookie":{"expires":"2026-12-01T23:40:00.123Z","originalMaxAge":3600000,"originalExpires":"2026-12-01T22:32:03.059Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`},
		{expressRecord, `{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T23:40:00.123Z","httpOnly":true,"path":"/"},"passport":{"user":7}}`},
	} {
		s := mustDecode(t, c.in)
		s.Touch(now)
		if got := mustEncode(t, s); got != c.want {
			t.Errorf("touched %s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	// A data change alone leaves the cookie's bytes as stored.
	s := mustDecode(t, fastifyResave)
	if err := s.Set("cart", []int{1}); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(fastifyResave, "}") + `,"cart":[1]}`
	if got := mustEncode(t, s); got != want {
		t.Errorf("data change:\n got %s\nwant %s", got, want)
	}
	// Without originalMaxAge @fastify/session's touch changes nothing.
	for _, rec := range []string{fastifyNoMax, `{"cookie":{"expires":"2026-12-01T22:32:03.054Z","originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null}}`} {
		s := mustDecode(t, rec)
		s.Touch(now)
		if s.Modified() {
			t.Errorf("touch changed %s to %s", rec, mustEncode(t, s))
		}
	}
}

// TestFastifyCookieNormalized: a changed fastify cookie is written as
// @fastify/session's constructor leaves it: path "/" for none, null for an
// unset sameSite (false too), secure or domain (or ""), httpOnly null kept,
// no priority, partitioned only when the record had it.
func TestFastifyCookieNormalized(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 40, 0, 0, time.UTC)
	for _, c := range []struct{ in, want string }{
		{
			`{"cookie":{"expires":"2026-12-01T22:32:03Z","originalMaxAge":1000,"path":null,"httpOnly":null,"sameSite":false,"domain":"","priority":"high","foo":1}}`,
			`{"cookie":{"expires":"2026-12-01T22:40:01.000Z","originalMaxAge":1000,"originalExpires":"2026-12-01T22:32:03.000Z","sameSite":null,"secure":null,"path":"/","httpOnly":null,"domain":null}}`,
		},
		{
			`{"cookie":{"expires":null,"originalMaxAge":1000,"sameSite":"lax","secure":true,"path":"/app","httpOnly":false,"domain":"example.com","partitioned":true}}`,
			`{"cookie":{"expires":"2026-12-01T22:40:01.000Z","originalMaxAge":1000,"sameSite":"lax","secure":true,"path":"/app","httpOnly":false,"domain":"example.com","partitioned":true}}`,
		},
		{
			`{"cookie":{"expires":null,"originalMaxAge":1000,"sameSite":true,"secure":false,"path":"/","httpOnly":true,"domain":null,"partitioned":null}}`,
			`{"cookie":{"expires":"2026-12-01T22:40:01.000Z","originalMaxAge":1000,"sameSite":true,"secure":false,"path":"/","httpOnly":true,"domain":null,"partitioned":null}}`,
		},
	} {
		s := mustDecode(t, c.in)
		s.Touch(now)
		if got := mustEncode(t, s); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// TestFastifyNewCookie: a cookie made for @fastify/session is written as
// its first save.
func TestFastifyNewCookie(t *testing.T) {
	now := time.Date(2026, 12, 1, 21, 32, 3, 54e6, time.UTC)
	c := sessionjson.NewCookie(now, time.Hour)
	c.Layout = sessionjson.FastifyLayout
	f := false
	c.Secure = &f
	s := sessionjson.New(c)
	if err := s.SetRaw("passport", json.RawMessage("7")); err != nil {
		t.Fatal(err)
	}
	if got := mustEncode(t, s); got != fastifyFirst {
		t.Fatalf("got  %s\nwant %s", got, fastifyFirst)
	}
	c = sessionjson.NewCookie(now, 0)
	c.Layout = sessionjson.FastifyLayout
	c.Secure = &f
	s = sessionjson.New(c)
	if err := s.SetRaw("u", json.RawMessage("1")); err != nil {
		t.Fatal(err)
	}
	if got := mustEncode(t, s); got != fastifyNoMax {
		t.Fatalf("got  %s\nwant %s", got, fastifyNoMax)
	}
}

// TestFastifyExpiredRule: @fastify/session's rule on a load is the stored
// expires, at the millisecond: expired when it is not after now.
func TestFastifyExpiredRule(t *testing.T) {
	s := mustDecode(t, fastifyResave)
	exp := time.Date(2026, 12, 1, 22, 32, 3, 59e6, time.UTC)
	if s.Expired(exp.Add(-time.Millisecond)) {
		t.Fatal("expired a millisecond early")
	}
	if !s.Expired(exp) {
		t.Fatal("not expired at expires")
	}
	if mustDecode(t, fastifyNoMax).Expired(exp.Add(1000 * time.Hour)) {
		t.Fatal("a session without expires expired")
	}
}

// TestFastifySetCookie: @fastify/session's Set-Cookie (npm cookie 2):
// Path always, no Priority, cookie 2's name rule and year range.
func TestFastifySetCookie(t *testing.T) {
	s := mustDecode(t, fastifyFirst)
	got, err := s.Cookie.SetCookie("sessionId", "abc.d+e/f")
	if want := "sessionId=abc.d+e/f; Path=/; Expires=Tue, 01 Dec 2026 22:32:03 GMT; HttpOnly"; err != nil || got != want {
		t.Fatalf("got %q %v\nwant %q", got, err, want)
	}
	c := s.Cookie
	c.Path = nil
	p, d := "high", "example.com"
	c.Priority, c.Domain = &p, &d
	c.SameSite = &sessionjson.SameSite{Mode: "Lax"}
	tr := true
	c.Secure, c.Partitioned = &tr, &tr
	got, err = c.SetCookie("a:b", "v")
	if want := "a:b=v; Domain=example.com; Path=/; Expires=Tue, 01 Dec 2026 22:32:03 GMT; HttpOnly; Secure; Partitioned; SameSite=Lax"; err != nil || got != want {
		t.Fatalf("got %q %v\nwant %q", got, err, want)
	}
	for name, mutate := range map[string]func(*sessionjson.Cookie){
		"year 10000": func(c *sessionjson.Cookie) {
			t := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			c.Expires = &t
		},
		"year 1600": func(c *sessionjson.Cookie) {
			t := time.Date(1600, 12, 31, 0, 0, 0, 0, time.UTC)
			c.Expires = &t
		},
		"sameSite": func(c *sessionjson.Cookie) { c.SameSite = &sessionjson.SameSite{Mode: "sometimes"} },
		"domain":   func(c *sessionjson.Cookie) { d := "a b"; c.Domain = &d },
		"path":     func(c *sessionjson.Cookie) { p := "/;x"; c.Path = &p },
	} {
		c := mustDecode(t, fastifyFirst).Cookie
		mutate(&c)
		if _, err := c.SetCookie("sessionId", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
			t.Errorf("%s: %v, want ErrInvalidCookieOption", name, err)
		}
	}
	for _, name := range []string{"a=b", "a;b", "", "a b"} {
		if _, err := s.Cookie.SetCookie(name, "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := s.Cookie.SetCookie("sessionId", "a;b"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Errorf("value with ';': %v", err)
	}
	// The same cookie in express's layout keeps cookie 0.7's rules.
	e := mustDecode(t, expressRecord).Cookie
	if _, err := e.SetCookie("a:b", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Errorf("express layout took cookie 2's name rule: %v", err)
	}
	// Without a path cookie 0.7 sends none; @fastify/session sends "/".
	e.Path = nil
	if h, err := e.SetCookie("connect.sid", "v"); err != nil || strings.Contains(h, "Path") {
		t.Errorf("express Set-Cookie without a path: %q %v", h, err)
	}
	f := mustDecode(t, fastifyFirst).Cookie
	f.Path = nil
	if h, err := f.SetCookie("sessionId", "v"); err != nil || !strings.Contains(h, "; Path=/;") {
		t.Errorf("fastify Set-Cookie without a path: %q %v", h, err)
	}
}

// TestFastifyCookieEqual: layout and originalExpires count in Equal, so a
// change of either is written.
func TestFastifyCookieEqual(t *testing.T) {
	a := mustDecode(t, fastifyFirst).Cookie
	b := mustDecode(t, fastifyFirst).Cookie
	if !a.Equal(b) {
		t.Fatal("same cookie not equal")
	}
	b.Layout = sessionjson.ExpressLayout
	if a.Equal(b) {
		t.Fatal("layout ignored")
	}
	c := mustDecode(t, strings.Replace(fastifyFirst, "03.054Z", "03.055Z", 1)).Cookie
	c.Expires = a.Expires
	if a.Equal(c) {
		t.Fatal("originalExpires ignored")
	}
	s := mustDecode(t, fastifyFirst)
	s.Cookie.Layout = sessionjson.ExpressLayout
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T22:32:03.054Z","secure":false,"httpOnly":true,"domain":null,"path":"/","sameSite":null},"passport":7}`
	if got := mustEncode(t, s); got != want {
		t.Fatalf("converted to express's layout:\n got %s\nwant %s", got, want)
	}
}

// FuzzFastifyCookie decodes arbitrary cookie objects: no panic; a record in
// fastify's layout stays in it through a touch and a re-decode, with the
// expires it was loaded with as originalExpires.
func FuzzFastifyCookie(f *testing.F) {
	for _, rec := range []string{fastifyFirst, fastifyResave, fastifyNoMax, expressRecord,
		`{"cookie":{"expires":"+275760-09-13T00:00:00.000Z","originalMaxAge":1}}`,
		`{"cookie":{"expires":"2026-12-01T22:32:03Z","originalMaxAge":-5,"httpOnly":null,"path":null,"partitioned":null}}`} {
		f.Add([]byte(rec))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sessionjson.Decode(data)
		if err != nil {
			if !errors.Is(err, sessionjson.ErrMalformed) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		layout := s.Cookie.Layout
		loaded := s.Cookie.Expires
		s.Touch(time.UnixMilli(1795000000000))
		out, err := s.Encode()
		if err != nil || !json.Valid(out) {
			t.Fatalf("%q: %q %v", data, out, err)
		}
		again, err := sessionjson.Decode(out)
		if err != nil {
			t.Fatalf("cannot decode own output %q: %v", out, err)
		}
		if again.Cookie.Layout != layout {
			t.Fatalf("layout %d became %d: %q", layout, again.Cookie.Layout, out)
		}
		if layout != sessionjson.FastifyLayout || !s.Modified() {
			return
		}
		var raw struct {
			Cookie map[string]json.RawMessage `json:"cookie"`
		}
		if err := json.Unmarshal(out, &raw); err != nil {
			t.Fatal(err)
		}
		oe, has := raw.Cookie["originalExpires"]
		if (loaded != nil) != has {
			t.Fatalf("originalExpires %s for loaded expires %v: %q", oe, loaded, out)
		}
		for _, k := range []string{"expires", "originalMaxAge", "sameSite", "secure", "path", "httpOnly", "domain"} {
			if _, ok := raw.Cookie[k]; !ok {
				t.Fatalf("no %s in %q", k, out)
			}
		}
		if !bytes.HasPrefix(out, []byte(`{"cookie":{"expires":`)) && !bytes.Contains(out, []byte(`"cookie":{"expires":`)) {
			t.Fatalf("expires not first: %q", out)
		}
	})
}

func ExampleLayout() {
	// A record @fastify/session wrote: Go keeps its layout when it changes it.
	s, _ := sessionjson.Decode([]byte(`{"cookie":{"expires":"2026-12-01T22:32:03.054Z","originalMaxAge":3600000,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`))
	fmt.Println(s.Cookie.Layout == sessionjson.FastifyLayout)
	s.Touch(time.Date(2026, 12, 1, 22, 40, 0, 0, time.UTC))
	out, _ := s.Encode()
	fmt.Println(string(out))
	// Output:
	// true
	// {"cookie":{"expires":"2026-12-01T23:40:00.000Z","originalMaxAge":3600000,"originalExpires":"2026-12-01T22:32:03.054Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}
}
