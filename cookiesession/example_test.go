package cookiesession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesession"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// A Go handler reading the user a Node app (express, cookie-session,
// passport) logged in.
func ExampleBridge_LoadAndSave() {
	sessions, err := cookiesession.New(cookiesession.Config{
		Keys:   []string{"new-key", "old-key"}, // as cookieSession({keys: [...]})
		MaxAge: 24 * time.Hour,                 // as cookieSession({maxAge: 86400000})
	})
	if err != nil {
		panic(err)
	}
	h := sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context()) // always a session under LoadAndSave
		var u struct {
			ID   int
			Name string
		}
		if err := passportuser.Decode(s, &u); err != nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s (%d)", u.Name, u.ID)
	}))

	// The cookies cookie-session set after the Node login.
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Cookie", "session=eyJwYXNzcG9ydCI6eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn19fQ==; session.sig=lBtbUG13VRajZMjfB9P5Cdehbps")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Body.String())
	fmt.Println(len(w.Result().Header.Values("Set-Cookie")), "cookies set: the session did not change")
	// Output:
	// hello alice (42)
	// 0 cookies set: the session did not change
}

// A Go login Node's cookie-session and passport accept.
func ExampleBridge_WriteCookie() {
	sessions, err := cookiesession.New(cookiesession.Config{
		Keys:   []string{"new-key", "old-key"},
		MaxAge: 24 * time.Hour,
		Now:    func() time.Time { return time.Date(2026, 12, 1, 21, 32, 1, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("POST", "/login", nil)
	user := map[string]any{"id": 42, "name": "alice"} // what passport.serializeUser stores
	s, err := passportuser.Login(r.Context(), sessions, nil, user, passportuser.Options{})
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	if err := sessions.WriteCookie(w, r, s); err != nil { // under LoadAndSave, not needed
		panic(err)
	}
	for _, c := range w.Result().Header.Values("Set-Cookie") {
		fmt.Println(c)
	}
	// Output:
	// session=eyJwYXNzcG9ydCI6eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn19fQ==; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly
	// session.sig=lBtbUG13VRajZMjfB9P5Cdehbps; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly
}
