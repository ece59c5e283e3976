package sessionjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

const base = `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:06:40.000Z","httpOnly":true,"path":"/"},"passport":{"user":12345678901234567890}}`

func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, sessionjson.ErrInvalidJSON},
		{"spaces", `   `, sessionjson.ErrInvalidJSON},
		{"not json", `hello`, sessionjson.ErrInvalidJSON},
		{"truncated", base[:len(base)-3], sessionjson.ErrInvalidJSON},
		{"trailing data", base + `x`, sessionjson.ErrInvalidJSON},
		{"two values", base + base, sessionjson.ErrInvalidJSON},
		{"array", `[1,2]`, sessionjson.ErrNotObject},
		{"string", `"s"`, sessionjson.ErrNotObject},
		{"null", `null`, sessionjson.ErrNotObject},
		{"no cookie", `{"passport":{"user":1}}`, sessionjson.ErrNoCookie},
		{"cookie array", `{"cookie":[]}`, sessionjson.ErrBadCookie},
		{"cookie null", `{"cookie":null}`, sessionjson.ErrBadCookie},
		{"cookie string", `{"cookie":"x"}`, sessionjson.ErrBadCookie},
		{"originalMaxAge string", `{"cookie":{"originalMaxAge":"3600000"}}`, sessionjson.ErrBadCookie},
		{"originalMaxAge fraction", `{"cookie":{"originalMaxAge":1.5}}`, sessionjson.ErrBadCookie},
		{"originalMaxAge bool", `{"cookie":{"originalMaxAge":true}}`, sessionjson.ErrBadCookie},
		{"expires not a date", `{"cookie":{"expires":"tomorrow"}}`, sessionjson.ErrBadCookie},
		{"expires number", `{"cookie":{"expires":1795000000000}}`, sessionjson.ErrBadCookie},
		{"httpOnly string", `{"cookie":{"httpOnly":"yes"}}`, sessionjson.ErrBadCookie},
		{"path number", `{"cookie":{"path":1}}`, sessionjson.ErrBadCookie},
		{"sameSite number", `{"cookie":{"sameSite":1}}`, sessionjson.ErrBadCookie},
		{"duplicate top key", `{"cookie":{},"a":1,"a":2}`, sessionjson.ErrDuplicateKey},
		{"duplicate cookie", `{"cookie":{},"cookie":{}}`, sessionjson.ErrDuplicateKey},
		{"duplicate cookie field", `{"cookie":{"path":"/","path":"/x"}}`, sessionjson.ErrDuplicateKey},
		{"escaped duplicate", `{"cookie":{},"a":1,"\u0061":2}`, sessionjson.ErrDuplicateKey},
		{"deep", `{"cookie":{},"x":` + deep + `}`, sessionjson.ErrTooDeep},
		{"control char", "{\"cookie\":{},\"x\":\"a\x01\"}", sessionjson.ErrInvalidJSON},
		{"bad escape", `{"cookie":{},"x":"\q"}`, sessionjson.ErrInvalidJSON},
		{"bad number", `{"cookie":{},"x":01}`, sessionjson.ErrInvalidJSON},
		{"NaN", `{"cookie":{},"x":NaN}`, sessionjson.ErrInvalidJSON},
		{"single quotes", `{'cookie':{}}`, sessionjson.ErrInvalidJSON},
		{"trailing comma", `{"cookie":{},}`, sessionjson.ErrInvalidJSON},
	}
	for _, c := range cases {
		s, err := sessionjson.Decode([]byte(c.in))
		if !errors.Is(err, c.want) || !errors.Is(err, sessionjson.ErrMalformed) || s != nil {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	big := `{"cookie":{},"x":"` + strings.Repeat("a", sessionjson.DefaultMaxBytes) + `"}`
	if _, err := sessionjson.Decode([]byte(big)); !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := (sessionjson.Decoder{MaxBytes: -1}).Decode([]byte(big)); err != nil {
		t.Errorf("unlimited: %v", err)
	}
	if _, err := (sessionjson.Decoder{MaxDepth: 2}).Decode([]byte(`{"cookie":{},"a":[[1]]}`)); !errors.Is(err, sessionjson.ErrTooDeep) {
		t.Errorf("MaxDepth 2: %v", err)
	}
}

func TestBigIntegersSurvive(t *testing.T) {
	s, err := sessionjson.Decode([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ User json.Number }
	if err := s.Get("passport", &p); err != nil || p.User.String() != "12345678901234567890" {
		t.Fatalf("Get = %v %v", p.User, err)
	}
	var anyv map[string]any
	if err := s.Get("passport", &anyv); err != nil || anyv["user"].(json.Number).String() != "12345678901234567890" {
		t.Fatalf("Get into any lost the integer: %v", anyv)
	}
	if err := s.Set("cart", []int{1}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.Encode()
	if !strings.Contains(string(out), `"user":12345678901234567890`) {
		t.Fatalf("rewrite lost the big integer: %s", out)
	}
}

func TestSetOrderAndEscaping(t *testing.T) {
	s, err := sessionjson.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"b":1,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Set("b", "<&>\u2028\u2029"))                       // existing: keeps its place
	must(s.Set("z", map[string]int{"10": 1, "9": 2, "x": 3})) // map keys in JS order
	must(s.Set("10", true))                                   // array index: first
	must(s.Set("2", false))                                   // before 10
	must(s.Delete("a"))
	must(s.Set("a", nil)) // re-added: last
	out, err := s.Encode()
	must(err)
	want := `{"2":false,"10":true,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"b":"<&>` + "\u2028\u2029" + `","z":{"9":2,"10":1,"x":3},"a":null}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if err := s.Set("cookie", 1); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Fatalf("Set cookie: %v", err)
	}
	if err := s.Set("save", 1); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Fatalf("Set save: %v", err)
	}
	if err := s.Get("missing", new(any)); !errors.Is(err, sessionjson.ErrNoField) {
		t.Fatalf("Get missing: %v", err)
	}
	if err := s.SetRaw("x", json.RawMessage(`{bad`)); err == nil {
		t.Fatal("SetRaw accepted invalid JSON")
	}
}

func TestUnchangedIsByteIdentical(t *testing.T) {
	in := " {\"cookie\" : {\"path\":\"/\"} , \"a\":\"\\u0041\" } "
	s, err := sessionjson.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Modified() {
		t.Fatal("fresh decode reports modified")
	}
	out, _ := s.Encode()
	if string(out) != in {
		t.Fatalf("not byte-identical: %q", out)
	}
	// Changing anything gives Node's compact form, with defaults Node adds.
	s.Touch(time.UnixMilli(0))
	out, _ = s.Encode()
	// Node: a missing originalMaxAge makes expires undefined on touch (fixture cookie-empty-object).
	if want := `{"cookie":{"httpOnly":true,"path":"/"},"a":"A"}`; string(out) != want {
		t.Fatalf("got %s want %s", out, want)
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	c := sessionjson.NewCookie(now, time.Hour)
	if c.Expired(now) || !c.Expired(now.Add(time.Hour)) || c.Expired(now.Add(time.Hour-time.Millisecond)) {
		t.Fatal("expiry boundary wrong: expired when expires <= now")
	}
	if left, ok := c.MaxAge(now); !ok || left != time.Hour {
		t.Fatalf("MaxAge = %v %v", left, ok)
	}
	b := sessionjson.NewCookie(now, 0)
	if b.Expired(now.Add(1000*time.Hour)) || b.OriginalMaxAge != nil || b.Expires != nil {
		t.Fatal("browser-session cookie must never expire by itself")
	}
	// Touch truncates to the millisecond, like Date.now().
	c.Touch(now.Add(1500 * time.Microsecond))
	if got := c.Expires.Format(sessionjson.ExpiresLayout); got != "2026-11-18T13:00:00.001Z" {
		t.Fatalf("touched expires %s", got)
	}
}

func TestSetCookieInvalidOptions(t *testing.T) {
	now := time.Unix(0, 0)
	c := sessionjson.NewCookie(now, 0)
	bad := "bad;domain"
	c.Domain = &bad
	if _, err := c.SetCookie("connect.sid", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Fatalf("domain: %v", err)
	}
	c = sessionjson.NewCookie(now, 0)
	p := "urgent"
	c.Priority = &p
	if _, err := c.SetCookie("connect.sid", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Fatalf("priority: %v", err)
	}
	c = sessionjson.NewCookie(now, 0)
	c.SameSite = &sessionjson.SameSite{Mode: "sometimes"}
	if _, err := c.SetCookie("connect.sid", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Fatalf("sameSite: %v", err)
	}
	if _, err := sessionjson.NewCookie(now, 0).SetCookie("bad name", "v"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Fatalf("name: %v", err)
	}
	if _, err := sessionjson.NewCookie(now, 0).SetCookie("n", "a;b"); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Fatalf("value: %v", err)
	}
}
