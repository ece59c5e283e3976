package sessionbridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// A session as the Node app stored it (here in memory; in production one of
// the stores/... packages pointing at Node's Redis, PostgreSQL, ...): user 7
// logged in with a browser-session cookie.
func exampleStore() (*sessionbridge.MemoryStore, string) {
	store := sessionbridge.NewMemoryStore()
	sid := "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	sess, err := sessionjson.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"passport":{"user":7}}`))
	if err != nil {
		panic(err)
	}
	if err := store.Set(context.Background(), sid, sess); err != nil {
		panic(err)
	}
	return store, sid
}

func ExampleBridge_Load() {
	store, _ := exampleStore()
	bridge, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"}, // express-session's secret
		Store:   store,
		Now:     func() time.Time { return time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Cookie", "connect.sid=s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg")

	sess, err := bridge.Load(r)
	switch {
	case errors.Is(err, sessionbridge.ErrNoSession):
		fmt.Println("not logged in")
	case err != nil:
		fmt.Println("store down:", err)
	default:
		var p struct{ User int }
		_ = sess.Record.Get("passport", &p)
		fmt.Println("user", p.User)
	}
	// Output: user 7
}

func ExampleBridge_Middleware() {
	store, _ := exampleStore()
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   store,
		Now:     func() time.Time { return time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC) },
	})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		passport, _ := sess.Record.Raw("passport")
		fmt.Fprintf(w, "%s", passport)
	})
	srv := httptest.NewServer(bridge.Middleware(api))
	defer srv.Close()

	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
	req.Header.Set("Cookie", "connect.sid=s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 {"user":7}
}

func ExampleBridge_NewSession() {
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
		Cookie:  sessionbridge.CookieOptions{MaxAge: 24 * time.Hour, SameSite: http.SameSiteLaxMode},
	})
	http.HandleFunc("/go-login", func(w http.ResponseWriter, r *http.Request) {
		sess, err := bridge.NewSession() // a fresh id: never one the client chose
		if err != nil {
			http.Error(w, "error", 500)
			return
		}
		_ = sess.Record.Set("passport", map[string]any{"user": 7})
		if err := bridge.Save(r.Context(), sess); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_ = bridge.WriteCookie(w, r, sess) // the Node app now sees user 7
	})
}

// LoadAndSave is express-session in Go: the handler changes the session and
// returns; the session is saved and its cookie sent as express-session
// would (here: a new session that was changed gets a cookie and is stored).
func ExampleBridge_LoadAndSave() {
	store := sessionbridge.NewMemoryStore()
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   store,
		Cookie:  sessionbridge.CookieOptions{MaxAge: time.Hour},
		// As the Node app's session({resave: false, saveUninitialized: false}).
		Resave:            false,
		SaveUninitialized: false,
	})
	views := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionbridge.FromContext(r.Context()) // always set under LoadAndSave
		var n int
		_ = sess.Record.Get("views", &n)
		_ = sess.Record.Set("views", n+1)
		fmt.Fprintf(w, "views %d", n+1)
	})
	srv := httptest.NewServer(bridge.LoadAndSave(views))
	defer srv.Close()

	cookie := ""
	for range 3 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c := resp.Cookies(); len(c) == 1 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		fmt.Println(string(body))
	}
	// Output:
	// views 1
	// views 2
	// views 3
}

// Update changes a session outside an HTTP request (a socket handler, a
// job) without losing what Node wrote meanwhile.
func ExampleBridge_Update() {
	store := sessionbridge.NewMemoryStore()
	bridge, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	sess, _ := bridge.NewSession()
	_ = bridge.Save(context.Background(), sess)

	err := bridge.Update(context.Background(), sess.ID, func(s *sessionbridge.Session) error {
		return s.Record.Set("theme", "dark")
	})
	fresh, _ := bridge.LoadID(context.Background(), sess.ID)
	theme, _ := fresh.Record.Raw("theme")
	fmt.Println(err, string(theme))
	// Output: <nil> "dark"
}
