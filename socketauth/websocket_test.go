package socketauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// TestPlainWebsocketGate puts Middleware in front of a plain gorilla
// websocket server, where any request may upgrade: whatever its query says
// about engine.io sids, a request without a valid, logged-in session never
// reaches the handler, and a logged-in one connects with its Auth.
func TestPlainWebsocketGate(t *testing.T) {
	f := setup(t)
	logs := &nodetest.LockedBuffer{}
	a, err := socketauth.New(socketauth.Config{Source: f.bridge, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reached := make(chan string, 64) // the handler's upgrades, by query
	up := websocket.Upgrader{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := "none"
		if au, ok := socketauth.FromContext(r.Context()); ok {
			user = string(au.StoredUser)
		}
		reached <- r.URL.RawQuery
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello user "+user))
	})
	ts := httptest.NewServer(a.Middleware(handler))
	defer ts.Close()
	wsBase := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?"

	dial := func(query, cookie string) (*websocket.Conn, int, error) {
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", "connect.sid="+cookie)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := websocket.DefaultDialer.DialContext(ctx, wsBase+query, h)
		st := 0
		if resp != nil {
			st = resp.StatusCode
			resp.Body.Close()
		}
		return c, st, err
	}

	queries := []string{"", "sid=", "sid", "sid=x", "sid=abc&sid=def", "sid=&sid=abc", "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA"}
	creds := []struct {
		name, cookie string
		status       int
	}{
		{"no cookie", "", http.StatusUnauthorized},
		{"forged cookie", strings.Replace(f.cookie(f.user), "s%3A", "s%3AX", 1), http.StatusForbidden},
		{"not logged in", f.cookie(f.anon), http.StatusUnauthorized},
	}
	for _, q := range queries {
		for _, c := range creds {
			conn, st, err := dial(q, c.cookie)
			if err == nil {
				conn.Close()
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || st != c.status {
				t.Errorf("?%s with %s: dial error %v, status %d; want refused with %d", q, c.name, err, st, c.status)
			}
		}
	}
	select {
	case q := <-reached:
		t.Fatalf("a refused request reached the websocket handler (?%s)", q)
	default:
	}

	// A logged-in client connects, whatever its query, and the handler sees
	// its user.
	for _, q := range []string{"", "sid=x"} {
		conn, st, err := dial(q, f.cookie(f.user))
		if err != nil {
			t.Fatalf("?%s logged in: %d %v", q, st, err)
		}
		if got := <-reached; got != q {
			t.Fatalf("handler saw ?%s, want ?%s", got, q)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := conn.ReadMessage()
		conn.Close()
		if err != nil || string(msg) != "hello user 7" {
			t.Fatalf("?%s logged in: %q %v", q, msg, err)
		}
	}
	for _, secret := range []string{f.user.ID, f.anon.ID, f.cookie(f.user), "keyboard cat"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log holds an id, a cookie or a secret:\n%s", logs.String())
		}
	}
}
