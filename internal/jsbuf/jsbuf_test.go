package jsbuf

import (
	"bytes"
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// TestBase64 pins Buffer.from(s, 'base64') and, with WellFormed,
// buf.toString('utf8') of the result; TestNodeBase64 checks both against
// Node itself.
func TestBase64(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"e30=":        "{}",
		"e30":         "{}",
		"e3 0=":       "{}",
		"e3\t0\n":     "{}",
		"e30=e30=":    "{}",
		"QQ":          "A",
		"Q":           "",
		"QQ=QQ":       "A",
		"=QQ":         "",
		"QUJD":        "ABC",
		"QUJDRA":      "ABCD",
		"QUJDREU":     "ABCDE",
		"QU.JD!R%EU=": "ABCDE",
		"é":           "",
		"YQéQ":        "a\x04", // U+00E9's low byte is not base64
		"ĽQQ":         "",      // U+013D's low byte is '=': decoding stops
		"ŁŁ":          "\x00",  // U+0141's low byte is 'A'
		"QUŁB":        "A@\x01",
		"Q😀Q":         "", // U+1F600 is D83D DE00: 0x3D is "="
		"Q\xffUJD":    "ABC",
		"-_-_":        "\ufffd\ufffd\ufffd",
		"+/+/":        "\ufffd\ufffd\ufffd",
		"4pyT":        "✓",
		"4py":         "\ufffd",
	} {
		if got := string(WellFormed(Base64(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	// Every standard and URL-safe encoding, padded or not, round-trips.
	for n := 0; n < 70; n++ {
		b := bytes.Repeat([]byte{0xfb, 0xff, 0x7e}, n)[:n*3/2]
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if got := Base64(enc.EncodeToString(b)); !bytes.Equal(got, b) {
				t.Fatalf("%d bytes: %x, want %x", len(b), got, b)
			}
		}
	}
}

func TestBase64Value(t *testing.T) {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	n := 0
	for c := 0; c < 256; c++ {
		v, ok := Base64Value(byte(c))
		if !ok {
			continue
		}
		n++
		switch byte(c) {
		case '-':
			ok = v == 62
		case '_':
			ok = v == 63
		default:
			ok = int(v) < len(std) && std[v] == byte(c)
		}
		if !ok {
			t.Errorf("%q: %d", byte(c), v)
		}
	}
	if n != 66 {
		t.Errorf("%d bytes have a value, want 66", n)
	}
}

// TestLossyUTF8 covers the WHATWG decoder's cases; TestNodeLossyUTF8
// checks it against Node itself.
func TestLossyUTF8(t *testing.T) {
	const r = "\uFFFD"
	for in, want := range map[string]string{
		"":                 "",
		"abc":              "abc",
		"é😀":               "é😀",
		"\uFEFF{}":         "\uFEFF{}",
		"\uFFFD":           r,
		"\xff":             r,
		"\xe2\x82":         r,
		"\xe2\x82A":        r + "A",
		"\xe2\x82\xff":     r + r,
		"\xc0\xaf":         r + r,
		"\xc2":             r,
		"\xed\xa0\x80":     r + r + r,
		"\xf0\x90\x80":     r,
		"\xf1\x80\x80":     r,
		"\xf4\x90\x80\x80": r + r + r + r,
		"\xf0\x9f\x98\x80": "😀",
		"\xf0\x9f\x98\"":   r + `"`,
		"\xe0\x80\x80":     r + r + r,
		"\xe0\x9f\x80":     r + r + r,
	} {
		if got := string(AppendLossyUTF8([]byte("x"), []byte(in))); got != "x"+want {
			t.Errorf("AppendLossyUTF8(%q) = %q, want %q", in, got[1:], want)
		}
		if got := string(WellFormed([]byte(in))); got != want {
			t.Errorf("WellFormed(%q) = %q, want %q", in, got, want)
		}
	}
	// A valid slice comes back as it is, not copied.
	b := []byte("ok é")
	if got := WellFormed(b); &got[0] != &b[0] {
		t.Error("WellFormed copied a valid slice")
	}
	if !utf8.Valid(WellFormed([]byte("\xed\xa0\x80\xf4\x90"))) {
		t.Error("invalid output")
	}
}
