// Package condtest holds the helpers the stores' conditional-write tests
// share. The checks every store must pass are sessionbridgetest's; these
// only shorten the store-specific tests around them.
package condtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// NewSession returns a session with a cookie set at now for maxAge (0: a
// browser-session cookie) and the members kv, key then value.
func NewSession(t testing.TB, now time.Time, maxAge time.Duration, kv ...any) *sessionjson.Session {
	t.Helper()
	s := sessionjson.New(sessionjson.NewCookie(now, maxAge))
	for i := 0; i+1 < len(kv); i += 2 {
		if err := s.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// GetVersion returns sid's session and Version, failing the test on an
// error or an empty Tag.
func GetVersion(t testing.TB, st sessionbridge.ConditionalStore, sid string) (*sessionjson.Session, sessionbridge.Version) {
	t.Helper()
	s, v, err := st.GetVersion(t.Context(), sid)
	if err != nil {
		t.Fatalf("GetVersion: %v", err)
	}
	if v.Tag == "" {
		t.Fatal("GetVersion returned an empty Tag")
	}
	return s, v
}

// WantConflict fails the test unless err wraps sessionbridge.ErrConflict.
func WantConflict(t testing.TB, err error, when string) {
	t.Helper()
	if !errors.Is(err, sessionbridge.ErrConflict) {
		t.Fatalf("SetIf %s: %v, want an error wrapping ErrConflict", when, err)
	}
}

// NotNamed fails the test when err names secret (a session id or key).
func NotNamed(t testing.TB, err error, secret string) {
	t.Helper()
	if strings.Contains(fmt.Sprint(err), secret) {
		t.Fatalf("the error names %q: %v", secret, err)
	}
}

// Member returns the raw JSON of key in s, "" when absent.
func Member(s *sessionjson.Session, key string) string {
	raw, _ := s.Raw(key)
	return string(raw)
}

// SessionID is the session id of a cookie value the Node harness set
// (signed with its default secret, "keyboard cat"), verified as the
// Bridge verifies it.
func SessionID(t testing.TB, cookie string) string {
	t.Helper()
	signer, err := cookiesig.NewSigner("keyboard cat")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := signer.SessionID("connect.sid="+cookie, "connect.sid")
	if err != nil {
		t.Fatalf("the Node cookie does not verify: %v", err)
	}
	return sid
}
