package socketauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// tokenSource is a session format other than express-session's: the
// credential is an opaque token (header X-Session, or the same token in the
// auth payload or query), mapped to a session id, and sessions are loaded
// from a Bridge's store.
type tokenSource struct {
	tokens map[string]string // token -> session id
	load   *sessionbridge.Bridge
}

func (s *tokenSource) SessionID(r *http.Request) (string, error) {
	tok := r.Header.Get("X-Session")
	if tok == "" {
		return "", fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, cookiesig.ErrNoCookie)
	}
	return s.SessionIDFromValue(tok)
}

func (s *tokenSource) SessionIDFromValue(v string) (string, error) {
	sid, ok := s.tokens[v]
	if !ok {
		return "", fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, cookiesig.ErrBadSignature)
	}
	return sid, nil
}

func (s *tokenSource) LoadID(ctx context.Context, sid string) (*sessionbridge.Session, error) {
	return s.load.LoadID(ctx, sid)
}

// TestSessionSource: the Authorizer and the Tracker work from any
// SessionSource, not only a Bridge: its credentials, its verification, its
// loads.
func TestSessionSource(t *testing.T) {
	f := setup(t)
	src := &tokenSource{tokens: map[string]string{"tok-user": f.user.ID, "tok-anon": f.anon.ID}, load: f.bridge}
	a, err := socketauth.New(socketauth.Config{Source: src, AuthField: "token", QueryParam: "token"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Source() != sessionbridge.SessionSource(src) {
		t.Fatal("Source() is not the configured source")
	}
	req := func(header, query string) *http.Request {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling"+query, nil)
		if header != "" {
			r.Header.Set("X-Session", header)
		}
		return r
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		r    *http.Request
		auth map[string]any
		want error // nil: logged in as 7
	}{
		{"header", req("tok-user", ""), nil, nil},
		{"auth payload", req("", ""), map[string]any{"token": "tok-user"}, nil},
		{"query", req("", "&token=tok-user"), nil, nil},
		{"no credential", req("", ""), nil, cookiesig.ErrNoCookie},
		{"unknown token", req("tok-forged", ""), nil, cookiesig.ErrBadSignature},
		{"two sessions", req("tok-user", "&token=tok-anon"), nil, socketauth.ErrConflict},
		{"not logged in", req("tok-anon", ""), nil, socketauth.ErrUnauthorized},
		// A session id where the source expects a token is no credential.
		{"raw id", req(f.user.ID, ""), nil, cookiesig.ErrBadSignature},
	} {
		res, err := a.Authorize(ctx, c.r, c.auth)
		switch {
		case c.want == nil && (err != nil || string(res.StoredUser) != "7"):
			t.Errorf("%s: %v, want user 7", c.name, err)
		case c.want != nil && (!errors.Is(err, c.want) || !errors.Is(err, socketauth.ErrUnauthorized)):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// The Tracker re-validates through the same source.
	res, err := a.Authorize(ctx, req("tok-user", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{})
	revoked := make(chan string, 1)
	tr.Track(res, func(reason string) { revoked <- reason })
	if err := f.bridge.Destroy(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Check(ctx, f.user.ID); n != 1 || err != nil {
		t.Fatalf("Check after destroy: %d, %v", n, err)
	}
	if got := <-revoked; got != socketauth.ReasonSessionEnded {
		t.Fatalf("revoked with %q", got)
	}
}

// TestNewNeedsSource: no source, or a nil Bridge, is refused at once with
// ErrNoSource.
func TestNewNeedsSource(t *testing.T) {
	var nilBridge *sessionbridge.Bridge
	for name, cfg := range map[string]socketauth.Config{"none": {}, "nil bridge": {Source: nilBridge}} {
		if a, err := socketauth.New(cfg); a != nil || !errors.Is(err, socketauth.ErrNoSource) {
			t.Errorf("%s: %v, %v; want ErrNoSource", name, a, err)
		}
	}
}
