package cookiesig_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

const benchSid = "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"

func BenchmarkUnsign(b *testing.B) {
	s, _ := cookiesig.NewSigner("keyboard cat")
	signed := s.Sign(benchSid)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Unsign(signed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnsignRotated verifies with the second of two secrets.
func BenchmarkUnsignRotated(b *testing.B) {
	s, _ := cookiesig.NewSigner("new secret", "keyboard cat")
	signed := cookiesig.Sign(benchSid, "keyboard cat")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Unsign(signed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionIDHeader is the whole cookie step of a request: parse the
// Cookie header, decode, unsign.
func BenchmarkSessionIDHeader(b *testing.B) {
	s, _ := cookiesig.NewSigner("keyboard cat")
	header := "_ga=GA1.1.123; connect.sid=" + s.CookieValue(benchSid) + "; theme=dark"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SessionID(header, "connect.sid"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACLimit is the floor: HMAC-SHA256 of the id with a reused
// (precomputed) key state, no encoding, no comparison.
func BenchmarkHMACLimit(b *testing.B) {
	m := hmac.New(sha256.New, []byte("keyboard cat"))
	msg := []byte(benchSid)
	var sum [32]byte
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.Write(msg)
		m.Sum(sum[:0])
	}
}

func BenchmarkSign(b *testing.B) {
	s, _ := cookiesig.NewSigner("keyboard cat")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign(benchSid)
	}
}
