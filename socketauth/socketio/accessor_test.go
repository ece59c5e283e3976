package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// TestUserWithoutDeserializer: without a deserializer User gives the stored
// passport user as json.RawMessage; an anonymous socket the Fail hook
// accepted has an Auth but no user.
func TestUserWithoutDeserializer(t *testing.T) {
	bridge, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: sessionbridge.NewMemoryStore()})
	auth, err := socketauth.New(socketauth.Config{Source: bridge, Fail: func(context.Context, *socketauth.Failure) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := socket.NewServer(nil, nil)
	srv.Use(socketio.Middleware(auth, socketio.Options{}))
	report := func(args ...any) {
		s := args[0].(*socket.Socket)
		raw, rawOK := socketio.User[json.RawMessage](s)
		_, anyOK := socketio.User[any](s)
		_, intOK := socketio.User[int](s)
		a, authOK := socketio.Auth(s)
		_ = s.Emit("hello", fmt.Sprintf("raw %s %v, any %v, int %v, auth %v logged in %v", raw, rawOK, anyOK, intOK, authOK, authOK && a.LoggedIn))
	}
	srv.On("connection", report)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close(nil)

	sess, _ := passportuser.Login(context.Background(), bridge, nil, 7, passportuser.Options{})
	for name, c := range map[string]struct{ cookie, want string }{
		"logged in": {bridge.CookieName() + "=" + bridge.Signer().CookieValue(sess.ID), "event [hello raw 7 true, any true, int false, auth true logged in true]"},
		"anonymous": {"", "event [hello raw  false, any false, int false, auth true logged in false]"},
	} {
		got, hangUp := connect(ts.URL, c.cookie)
		hangUp()
		if got != c.want {
			t.Errorf("%s: %s\nwant %s", name, got, c.want)
		}
	}
}
