package sessionbridge_test

import (
	"errors"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// TestSessionIDFromValue: a signed cookie value presented outside the
// Cookie header verifies like the cookie itself; anything else is "no
// session", with the cookiesig reason.
func TestSessionIDFromValue(t *testing.T) {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"new", "keyboard cat"}, Store: sessionbridge.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(s *cookiesig.Signer, id string) string { return cookiesig.SessionPrefix + s.Sign(id) } // URL-decoded
	old, _ := cookiesig.NewSigner("keyboard cat")
	other, _ := cookiesig.NewSigner("another secret")
	if id, err := b.SessionIDFromValue(signed(b.Signer(), "abc")); err != nil || id != "abc" {
		t.Fatalf("signed value: %q, %v", id, err)
	}
	if id, err := b.SessionIDFromValue(signed(old, "abc")); err != nil || id != "abc" {
		t.Fatalf("value signed with an older secret: %q, %v", id, err)
	}
	for value, reason := range map[string]error{
		"":                              cookiesig.ErrNotSigned,
		"abc":                           cookiesig.ErrNotSigned,
		signed(other, "abc"):            cookiesig.ErrBadSignature,
		signed(b.Signer(), "abc") + "x": cookiesig.ErrBadSignature,
		b.Signer().CookieValue("abc"):   cookiesig.ErrNotSigned, // still URL-encoded
	} {
		id, err := b.SessionIDFromValue(value)
		if id != "" || !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, reason) {
			t.Errorf("SessionIDFromValue(%q) = %q, %v; want ErrNoSession and %v", value, id, err, reason)
		}
	}
}
