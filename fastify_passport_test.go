package sessionbridge_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// TestFastifyPassportBothWays checks passportuser on @fastify/passport's
// layout (session.passport is the serialized user itself) against the
// real fastify app: Node's login read by Go, Go's login and logout read by
// Node.
func TestFastifyPassportBothWays(t *testing.T) {
	ls := liveRedis(t)
	app := startFastify(t, ls, nil)
	b := fastifyPeer(t, ls, sessionbridge.Config{})
	ctx := context.Background()

	cookie := app.Login("alice", "secret")
	s, err := loadCookie(b, "sessionId="+cookie)
	if err != nil {
		t.Fatal(err)
	}
	u, err := passportuser.Raw(s)
	if err != nil || string(u) != "7" {
		t.Fatalf("Go reads Node's login as %s, %v; want 7", u, err)
	}

	// Go logs a user in inside a request; fastify sees the user and the
	// kept "session" member, and not the anonymous data.
	do := goServer(t, b, func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("session", "kept")
		_ = s.Record.Set("cart", 3)
		if _, err := passportuser.Login(r.Context(), b, s, 7, passportuser.Options{}); err != nil {
			t.Error(err)
		}
	})
	_, set := do(nil)
	goCookie := setCookieValue(t, set, "sessionId")
	m := app.Me(goCookie)
	if !m.LoggedIn || string(m.User) == "null" || sessionMember(t, m, "session") != `"kept"` || sessionMember(t, m, "cart") != "" {
		t.Fatalf("fastify after Go's login: %+v %s", m, m.Session)
	}

	// Go logs out of Node's session: the record is regenerated and the old
	// cookie is no session for either side.
	s, err = loadCookie(b, "sessionId="+cookie)
	if err != nil {
		t.Fatal(err)
	}
	n, err := passportuser.Logout(ctx, b, s, passportuser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if passportuser.LoggedIn(n) || n.Record.Has(passportuser.Key) {
		t.Fatalf("after logout the session still holds passport")
	}
	if m := app.Me(cookie); m.LoggedIn {
		t.Fatalf("fastify still logged in after Go's logout: %+v", m)
	}
	if _, err := loadCookie(b, "sessionId="+cookie); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("the old session survived Go's logout: %v", err)
	}
}
