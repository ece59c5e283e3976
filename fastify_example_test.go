package sessionbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionbridge/sessionbridge"
)

// Go as the peer of a fastify app that registers
//
//	fastify.register(fastifySession, {secret: [...], cookie: {secure: false}})
//
// (@fastify/session's defaults otherwise: cookieName 'sessionId',
// cookiePrefix "", rolling and saveUninitialized true). Set CookieName
// "connect.sid" and CookiePrefix "s:" for an app set up to share
// express-session's cookie.
func ExampleFormat() {
	store := sessionbridge.NewMemoryStore() // the connect-* store the fastify app uses
	bridge, err := sessionbridge.New(sessionbridge.Config{
		Format:            sessionbridge.FastifySession,
		Secrets:           []string{"a secret of at least thirty-two characters"},
		Store:             store,
		Cookie:            sessionbridge.CookieOptions{Insecure: true}, // cookie.secure: false
		Rolling:           true,
		SaveUninitialized: true,
		GenerateID:        func(*http.Request) (string, error) { return "oCP7bccWG448TYFLaAp7qQHnAu5z0004", nil },
	})
	if err != nil {
		panic(err)
	}
	h := bridge.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.SetRaw("passport", json.RawMessage("7")) // what @fastify/passport stores
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Header().Get("Set-Cookie"))

	rec, _ := store.Get(context.Background(), "oCP7bccWG448TYFLaAp7qQHnAu5z0004")
	stored, _ := rec.Encode()
	fmt.Println(string(stored))

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", w.Header().Get("Set-Cookie"))
	sess, err := bridge.Load(r)
	fmt.Println(sess.ID, err)
	// Output:
	// sessionId=oCP7bccWG448TYFLaAp7qQHnAu5z0004.kzWSKMGdcDiaWqFL3nywPawjsfEPJ86+S/SVE6VpKiw; Path=/; HttpOnly
	// {"cookie":{"expires":null,"originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}
	// oCP7bccWG448TYFLaAp7qQHnAu5z0004 <nil>
}
