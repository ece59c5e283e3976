package cookiesig_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

func TestSignKnownVector(t *testing.T) {
	// The vector from cookie-signature's own tests.
	const want = "abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU"
	if got := cookiesig.Sign("abc", "keyboard cat"); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if v, err := cookiesig.Unsign(want, "keyboard cat"); err != nil || v != "abc" {
		t.Fatalf("Unsign = %q, %v", v, err)
	}
	if _, err := cookiesig.Unsign(want, "other"); !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Fatalf("Unsign with other secret: %v", err)
	}
	if _, err := cookiesig.Unsign(want, ""); !errors.Is(err, cookiesig.ErrNoSecret) {
		t.Fatalf("Unsign with empty secret: %v", err)
	}
}

func TestNewSignerRejectsEmpty(t *testing.T) {
	for _, secrets := range [][]string{nil, {}, {""}, {"ok", ""}} {
		if _, err := cookiesig.NewSigner(secrets...); !errors.Is(err, cookiesig.ErrNoSecret) {
			t.Errorf("NewSigner(%q) = %v, want ErrNoSecret", secrets, err)
		}
	}
}

func TestRotation(t *testing.T) {
	old, _ := cookiesig.NewSigner("old")
	cur, _ := cookiesig.NewSigner("new", "old")
	signedOld := old.Sign("sid")
	v, idx, err := cur.UnsignIndex(signedOld)
	if err != nil || v != "sid" || idx != 1 {
		t.Fatalf("UnsignIndex(old-signed) = %q, %d, %v", v, idx, err)
	}
	if got := cur.Sign("sid"); got != cookiesig.Sign("sid", "new") {
		t.Fatalf("rotation signs with %q, want first secret", got)
	}
	dropped, _ := cookiesig.NewSigner("new")
	if _, err := dropped.Unsign(signedOld); !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Fatalf("retired secret still verifies: %v", err)
	}
}

func TestUnsignErrors(t *testing.T) {
	s, _ := cookiesig.NewSigner("keyboard cat")
	good := s.Sign("wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G")
	cases := []struct {
		in   string
		want error
	}{
		{"", cookiesig.ErrMalformed},
		{"nodot", cookiesig.ErrMalformed},
		{"abc.", cookiesig.ErrBadSignature},
		{good[:len(good)-1], cookiesig.ErrBadSignature},
		{good + "=", cookiesig.ErrBadSignature},
		{good + "x", cookiesig.ErrBadSignature},
		{"other" + good[strings.LastIndexByte(good, '.'):], cookiesig.ErrBadSignature},
		{strings.ReplaceAll(good, "/", "_"), cookiesig.ErrBadSignature},
	}
	for _, c := range cases {
		if c.in == strings.ReplaceAll(good, "/", "_") && !strings.Contains(good, "/") {
			continue
		}
		_, err := s.Unsign(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("Unsign(%q) = %v, want %v", c.in, err, c.want)
		}
	}
}

func TestSessionIDErrors(t *testing.T) {
	s, _ := cookiesig.NewSigner("keyboard cat")
	val := s.CookieValue("sid1")
	cases := []struct {
		header string
		want   error
	}{
		{"", cookiesig.ErrNoCookie},
		{"other=1", cookiesig.ErrNoCookie},
		{"connect.sid=", cookiesig.ErrNoCookie},
		{"connect.sid=sid1", cookiesig.ErrNotSigned},
		{"connect.sid=s%3Asid1", cookiesig.ErrMalformed},
		{"connect.sid=" + val[:len(val)-2], cookiesig.ErrBadSignature},
		{"connect.sid=" + s.CookieValue(""), cookiesig.ErrMalformed},
		{"connect.sid=" + val + "; pad=" + strings.Repeat("x", cookiesig.DefaultMaxHeaderBytes), cookiesig.ErrMalformed},
	}
	for _, c := range cases {
		_, err := s.SessionID(c.header, "connect.sid")
		if !errors.Is(err, c.want) {
			t.Errorf("SessionID(%.40q) = %v, want %v", c.header, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "sid1") {
			t.Errorf("error leaks the id: %v", err)
		}
	}
	if sid, err := s.SessionID("a=b; connect.sid="+val, "connect.sid"); err != nil || sid != "sid1" {
		t.Fatalf("SessionID = %q, %v", sid, err)
	}
	if _, err := s.SessionIDLimit("connect.sid="+val+"; pad="+strings.Repeat("x", 1<<17), "connect.sid", 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

func TestEncodeURIComponent(t *testing.T) {
	cases := map[string]string{
		"s:abc.x+y/z=":  "s%3Aabc.x%2By%2Fz%3D",
		"-_.!~*'()":     "-_.!~*'()",
		"a b;c,d\"e\\f": "a%20b%3Bc%2Cd%22e%5Cf",
		"é😀":            "%C3%A9%F0%9F%98%80",
		"":              "",
	}
	for in, want := range cases {
		if got := cookiesig.EncodeURIComponent(in); got != want {
			t.Errorf("EncodeURIComponent(%q) = %q, want %q", in, got, want)
		}
		if got, ok := cookiesig.DecodeURIComponent(want); !ok || got != in {
			t.Errorf("DecodeURIComponent(%q) = %q, %v", want, got, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%zz", "%E0%A4%A", "%C3", "%C3%28", "%ED%A0%80", "%C0%AF", "%F8%88%80%80%80", "%80"} {
		if got, ok := cookiesig.DecodeURIComponent(bad); ok {
			t.Errorf("DecodeURIComponent(%q) = %q, want a URIError", bad, got)
		}
	}
	if got, ok := cookiesig.DecodeURIComponent("a+b%2B"); !ok || got != "a+b+" {
		t.Errorf("'+' must stay '+': %q", got)
	}
}

func TestCookieValueParsing(t *testing.T) {
	cases := []struct {
		header, name, want string
		found              bool
	}{
		{`a=1; b=2`, "b", "2", true},
		{`a=1; a=2`, "a", "1", true},
		{`a="q"`, "a", "q", true},
		{`a="`, "a", "", true},
		{`a=%zz`, "a", "%zz", true},
		{`a=%41`, "a", "A", true},
		{`  a  =  v  `, "a", "v", true},
		{`noeq; a=1`, "a", "1", true},
		{`a`, "a", "", false},
		{`ab=1`, "a", "", false},
		{`x=1;;a=2`, "a", "2", true},
		{`a=b=c`, "a", "b=c", true},
	}
	for _, c := range cases {
		got, found := cookiesig.CookieValue(c.header, c.name)
		if got != c.want || found != c.found {
			t.Errorf("CookieValue(%q, %q) = %q, %v; want %q, %v", c.header, c.name, got, found, c.want, c.found)
		}
	}
}

func TestJSONCookie(t *testing.T) {
	var v struct{ ID json64 }
	if err := cookiesig.ParseJSONCookie(`j:{"ID":12345678901234567890}`, &v); err != nil {
		t.Fatal(err)
	}
	var big any
	if err := cookiesig.ParseJSONCookie(`j:12345678901234567890`, &big); err != nil || big.(interface{ String() string }).String() != "12345678901234567890" {
		t.Fatalf("big integer lost: %v %v", big, err)
	}
	for _, bad := range []string{"", "j", "j:", "J:1", "j:{", "s:abc"} {
		if err := cookiesig.ParseJSONCookie(bad, &big); !errors.Is(err, cookiesig.ErrNotJSONCookie) {
			t.Errorf("ParseJSONCookie(%q) = %v", bad, err)
		}
	}
}

type json64 = uint64

// TestSignUnsignRandom checks Sign and Unsign agree on random values and
// secrets, and that any single-character change is refused.
func TestSignUnsignRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		secret := randString(r, 1+r.IntN(100))
		value := randString(r, r.IntN(64))
		s, err := cookiesig.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		signed := s.Sign(value)
		if len(signed) != len(value)+1+cookiesig.SignatureLen {
			t.Fatalf("signature length %d", len(signed)-len(value)-1)
		}
		if got, err := s.Unsign(signed); err != nil || got != value {
			t.Fatalf("round trip %q: %q %v", value, got, err)
		}
		b := []byte(signed)
		pos := len(value) + 1 + r.IntN(cookiesig.SignatureLen)
		b[pos] ^= 1
		if _, err := s.Unsign(string(b)); err == nil {
			t.Fatalf("flipped signature accepted: %q", b)
		}
	}
}

func randString(r *rand.Rand, n int) string {
	const alphabet = "abcXYZ019-_.+/:%é€😀 "
	runes := []rune(alphabet)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}
