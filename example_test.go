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
