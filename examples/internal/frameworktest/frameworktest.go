// Package frameworktest checks a framework example against the real Node
// app (testdata/node/app.js with express-session, passport and
// session-file-store): a user logged in on Node is the user the example
// answers, a request without a session or with a forged cookie gets 401,
// and a store outage gets 503.
package frameworktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

const secret = "framework example secret"

// Run tests the GET /api/me of the handler newHandler builds. Without Node
// (or testdata/node's packages) it skips, and fails when CI is set.
func Run(t *testing.T, newHandler func(*sessionbridge.Bridge) http.Handler) {
	dir := t.TempDir()
	app := nodetest.StartApp(t, map[string]string{
		"STORE":          "file",
		"FILE_DIR":       dir,
		"SECRETS":        `["` + secret + `"]`,
		"USER_SERIALIZE": "object", // passport.user is {id, username, name}
	})
	ctx := context.Background()
	store, closer, err := storeurl.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	srv := httptest.NewServer(newHandler(newBridge(t, store)))
	t.Cleanup(srv.Close)

	cookie := app.Login("alice", "secret")
	me := app.Me(cookie)
	if !me.LoggedIn {
		t.Fatalf("Node does not see its own login: %+v", me)
	}

	t.Run("logged in on Node", func(t *testing.T) {
		status, body := get(t, srv.URL, cookie)
		if status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", status, body)
		}
		if got, want := decode(t, body), decode(t, me.User); !reflect.DeepEqual(got, want) {
			t.Fatalf("Go answered user %s, Node's req.user is %s", body, me.User)
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		if status, body := get(t, srv.URL, ""); status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", status, body)
		}
	})
	t.Run("forged cookies", func(t *testing.T) {
		signed, ok := cookiesig.DecodeURIComponent(cookie)
		if !ok || len(signed) < 2 || signed[:2] != "s:" {
			t.Fatalf("Node's cookie %q is not a signed express-session cookie", cookie)
		}
		sid, err := cookiesig.Unsign(signed[2:], secret)
		if err != nil {
			t.Fatal(err)
		}
		sig := signed[len("s:"+sid+"."):]
		// One character of the signature changed (to 'x', or to 'y' where it
		// already is 'x', so the damage is never a no-op).
		mid, repl := len(sig)/2, "x"
		if sig[mid] == 'x' {
			repl = "y"
		}
		damaged := sig[:mid] + repl + sig[mid+1:]
		other, err := sessionbridge.NewID()
		if err != nil {
			t.Fatal(err)
		}
		for name, forged := range map[string]string{
			"signed with a guessed secret":     "s:" + cookiesig.Sign(sid, "keyboard cat"),
			"unsigned id":                      sid,
			"another id with this signature":   "s:" + other + "." + sig,
			"this id with a damaged signature": "s:" + sid + "." + damaged,
		} {
			if status, body := get(t, srv.URL, cookiesig.EncodeURIComponent(forged)); status != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401: %s", name, status, body)
			}
		}
	})
	t.Run("store outage", func(t *testing.T) {
		// A Redis store on a port where nothing listens: the session cannot
		// be read, which must not look like "logged out".
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		redis.SetLogger(quiet{}) // the refused dials are the point here
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = rdb.Close() })
		down := httptest.NewServer(newHandler(newBridge(t, redisstore.New(rdb, redisstore.Options{}))))
		defer down.Close()
		if status, body := get(t, down.URL, cookie); status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", status, body)
		}
	})
	t.Run("logged out on Node", func(t *testing.T) {
		app.Logout(cookie)
		if status, body := get(t, srv.URL, cookie); status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", status, body)
		}
	})
}

// quiet drops go-redis's log lines.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func newBridge(t *testing.T, store sessionbridge.Store) *sessionbridge.Bridge {
	t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{secret},
		Store:   store,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get sends GET /api/me with the connect.sid cookie value ("" for none).
func get(t *testing.T, base, cookie string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", sessionbridge.DefaultCookieName+"="+cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return v
}
