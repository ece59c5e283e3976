package koasession_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// A Go handler logs a user in exactly as koa-passport's ctx.login would,
// in koa-session's cookie mode, and another reads the user back.
func Example() {
	b, err := koasession.New(koasession.Config{
		Keys:   []string{"koa-key-1"}, // Koa's app.keys
		MaxAge: 24 * time.Hour,        // koa-session's maxAge
		// A fixed clock, for this example's output only.
		Now: func() time.Time { return time.UnixMilli(1796247122435) },
	})
	if err != nil {
		log.Fatal(err)
	}
	login := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context()) // ctx.session
		if _, err := passportuser.Login(r.Context(), b, s, 42, passportuser.Options{}); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	for _, c := range rec.Result().Header.Values("Set-Cookie") {
		fmt.Println(c)
	}

	me := httptest.NewRequest("GET", "/me", nil)
	for _, c := range rec.Result().Cookies() {
		me.AddCookie(c)
	}
	s, err := b.Load(me)
	if err != nil {
		log.Fatal(err)
	}
	user, _ := passportuser.Raw(s)
	fmt.Println("passport.user:", string(user))
	// Output:
	// koa.sess=eyJwYXNzcG9ydCI6eyJ1c2VyIjo0Mn0sIl9leHBpcmUiOjE3OTYzMzM1MjI0MzUsIl9tYXhBZ2UiOjg2NDAwMDAwfQ==; path=/; expires=Thu, 03 Dec 2026 21:32:02 GMT; httponly
	// koa.sess.sig=0eg17bJRoXsKSJcUHeUOzTd3yQ8; path=/; expires=Thu, 03 Dec 2026 21:32:02 GMT; httponly
	// passport.user: 42
}

// External-store mode on Redis, as a Koa app configured with
// session({store: redisStore({url}), prefix: 'sess:', maxAge: 3600000}, app).
func ExampleNew_store() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	b, err := koasession.New(koasession.Config{
		Keys:   []string{os.Getenv("KOA_KEY")},
		MaxAge: time.Hour,
		Prefix: "sess:",
		Store:  koaredis.New(rdb, koaredis.Options{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/api/", b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		if !passportuser.LoggedIn(s) {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		var views int
		_ = s.Record.Get("views", &views)
		_ = s.Record.Set("views", views+1) // saved when the header goes out
	})))
}
