package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Start starts the live Node app on a store, with env added to the store's
// own settings, and returns it with a Go store on the same data.
type Start func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store)

// DefaultLifecycleMaxAge is the cookie maxAge of the lifecycle checks:
// short, so that three lifetimes pass quickly, and whole seconds, since
// some stores keep expiries in seconds.
const DefaultLifecycleMaxAge = 2 * time.Second

// goPeer is a Go service beside the Node app: LoadAndSave in front of a
// handler that shows the session (GET /me) and changes it (POST
// /data?key=value, calling during before it changes anything).
type goPeer struct {
	srv    *httptest.Server
	bridge *sessionbridge.Bridge
	during func()
}

func startGo(t *testing.T, store sessionbridge.Store, maxAge time.Duration, cfg sessionbridge.Config) *goPeer {
	t.Helper()
	cfg.Secrets = []string{"keyboard cat"}
	cfg.Store = store
	cfg.Cookie.MaxAge = maxAge
	b, err := sessionbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &goPeer{bridge: b}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"loggedIn":%t}`, s.Record.Has("passport"))
	})
	mux.HandleFunc("POST /data", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		if p.during != nil {
			p.during()
		}
		for k, v := range r.URL.Query() {
			if err := s.Record.Set(k, v[0]); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	p.srv = httptest.NewServer(b.LoadAndSave(mux))
	t.Cleanup(p.srv.Close)
	return p
}

// do sends a request with the session cookie value and returns the status,
// the body and the Set-Cookie headers.
func (p *goPeer) do(t *testing.T, method, path, cookie string) (int, string, []string) {
	t.Helper()
	return send(t, method, p.srv.URL+path, p.bridge.CookieName()+"="+cookie)
}

func send(t *testing.T, method, url, cookieHeader string) (int, string, []string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookieHeader)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body), res.Header.Values("Set-Cookie")
}

// Lifecycle runs, against the live Node app on the store, the checks that
// a Go service behind Bridge.LoadAndSave is an express-session peer:
//   - a user active only on the Go side for three times maxAge is still
//     logged in on Node, with and without TouchAfter; idle for one maxAge
//     afterwards, they are logged out (so the check can fail);
//   - a change a Go handler makes is seen by Node with no save call;
//   - Node changing one key while a Go handler changes another: both
//     survive, where ConflictOverwrite (express-session's behaviour) loses
//     Node's;
//   - with rolling, Go's Set-Cookie is express-session's.
//
// maxAge is the session lifetime of the expiry checks; 0 means
// DefaultLifecycleMaxAge. A store that keeps lifetimes in whole seconds
// and truncates them as its Node package does (connect-memcached) needs a
// longer one. The subtests run in parallel; the whole takes about five
// maxAges.
func Lifecycle(t *testing.T, maxAge time.Duration, start Start) {
	if maxAge == 0 {
		maxAge = DefaultLifecycleMaxAge
	}
	t.Run("ActiveOnGoKeepsNodeLogin", func(t *testing.T) {
		t.Parallel()
		activeOnGo(t, start, maxAge, 0)
	})
	t.Run("ActiveOnGoKeepsNodeLoginTouchAfter", func(t *testing.T) {
		t.Parallel()
		activeOnGo(t, start, maxAge, maxAge/4)
	})
	t.Run("GoChangeSeenByNode", func(t *testing.T) {
		t.Parallel()
		app, store := start(t, map[string]string{"MAX_AGE_MS": fmt.Sprint(maxAge.Milliseconds())})
		g := startGo(t, store, maxAge, sessionbridge.Config{})
		cookie := app.Login("alice", "secret")
		if code, _, _ := g.do(t, "POST", "/data?fromGo=seen", cookie); code != http.StatusNoContent {
			t.Fatalf("Go /data: %d", code)
		}
		if v := sessionValue(t, app.Me(cookie), "fromGo"); v != "seen" {
			t.Fatalf("Node sees fromGo %q after a Go handler set it, want \"seen\"", v)
		}
	})
	t.Run("ConcurrentChangesSurvive", func(t *testing.T) {
		t.Parallel()
		concurrentChanges(t, start, sessionbridge.ConflictMerge)
	})
	t.Run("ConcurrentChangesOverwrite", func(t *testing.T) {
		t.Parallel()
		concurrentChanges(t, start, sessionbridge.ConflictOverwrite)
	})
	t.Run("RollingCookieIsNodes", func(t *testing.T) {
		t.Parallel()
		rollingCookie(t, start)
	})
}

// activeOnGo: a Node login used only through Go for three maxAges stays
// alive on Node, then ends after a maxAge without use.
func activeOnGo(t *testing.T, start Start, maxAge, touchAfter time.Duration) {
	app, store := start(t, map[string]string{"MAX_AGE_MS": fmt.Sprint(maxAge.Milliseconds())})
	g := startGo(t, store, maxAge, sessionbridge.Config{TouchAfter: touchAfter})
	cookie := app.Login("alice", "secret")
	requests := 0
	for end := time.Now().Add(3 * maxAge); time.Now().Before(end); requests++ {
		if code, body, _ := g.do(t, "GET", "/me", cookie); code != 200 || body != `{"loggedIn":true}` {
			t.Fatalf("Go request %d after %v: %d %s", requests, 3*maxAge-time.Until(end), code, body)
		}
		time.Sleep(maxAge / 5)
	}
	if me := app.Me(cookie); !me.LoggedIn {
		t.Fatalf("Node logged the user out after %d Go requests over %v (maxAge %v):\n%s",
			requests, 3*maxAge, maxAge, app.Stderr())
	}
	// Node's /me touched the session too; now nobody uses it.
	time.Sleep(maxAge + 1500*time.Millisecond)
	if me := app.Me(cookie); me.LoggedIn {
		t.Fatal("the session outlived maxAge without use: the check above proves nothing")
	}
	t.Logf("logged in on Node after %d Go-only requests over 3 maxAges (TouchAfter %v); logged out after maxAge idle", requests, touchAfter)
}

// concurrentChanges: during each Go request, between Go's load and its
// save, Node changes another key of the same session (through the real
// store). With ConflictMerge both keys end at their last values; with
// ConflictOverwrite Node's change is lost, as in express-session.
func concurrentChanges(t *testing.T, start Start, policy sessionbridge.ConflictPolicy) {
	app, store := start(t, map[string]string{"MAX_AGE_MS": "3600000"})
	g := startGo(t, store, time.Hour, sessionbridge.Config{Conflict: policy})
	cookie := app.Login("alice", "secret")
	rounds := int64(100)
	if policy == sessionbridge.ConflictOverwrite {
		rounds = 10 // the control: one lost change is enough
	}
	var round atomic.Int64 // read by the Go server's handler
	g.during = func() { app.SetData(cookie, map[string]any{"nodeKey": fmt.Sprint(round.Load())}) }
	for i := int64(1); i <= rounds; i++ {
		round.Store(i)
		if code, _, _ := g.do(t, "POST", fmt.Sprintf("/data?goKey=%d", i), cookie); code != http.StatusNoContent {
			t.Fatalf("round %d: Go /data %d\n%s", i, code, app.Stderr())
		}
	}
	me := app.Me(cookie)
	goKey, nodeKey := sessionValue(t, me, "goKey"), sessionValue(t, me, "nodeKey")
	if goKey != fmt.Sprint(rounds) || !me.LoggedIn {
		t.Fatalf("Go's change lost: goKey %q loggedIn %t", goKey, me.LoggedIn)
	}
	switch policy {
	case sessionbridge.ConflictMerge:
		if nodeKey != fmt.Sprint(rounds) {
			t.Fatalf("Node's concurrent change lost: nodeKey %q after %d rounds", nodeKey, rounds)
		}
		t.Logf("%d rounds of Node writing between Go's load and save: both changes survived every time", rounds)
	case sessionbridge.ConflictOverwrite:
		if nodeKey != "" {
			t.Fatalf("with ConflictOverwrite Node's change survived (nodeKey %q): the merge check proves nothing", nodeKey)
		}
	}
}

// rollingCookie: with rolling on both sides, an unchanged session gets the
// same Set-Cookie from Go as from Node (Expires to within the seconds the
// two requests are apart), and Go's Expires is rolled from Go's request:
// the Go request comes a pause after the login, so an Expires carried
// over from the stored cookie fails the check.
func rollingCookie(t *testing.T, start Start) {
	const pause = 1500 * time.Millisecond // more than Expires' one-second resolution
	app, store := start(t, map[string]string{"MAX_AGE_MS": "3600000", "ROLLING": "1"})
	g := startGo(t, store, time.Hour, sessionbridge.Config{Rolling: true})
	cookie := app.Login("alice", "secret")
	_, _, fromNode := send(t, "GET", app.URL+"/me", "connect.sid="+cookie)
	time.Sleep(pause)
	before := time.Now()
	_, _, fromGo := g.do(t, "GET", "/me", cookie)
	after := time.Now()
	if len(fromNode) != 1 || len(fromGo) != 1 {
		t.Fatalf("Set-Cookie from Node %q, from Go %q: want one each", fromNode, fromGo)
	}
	n, nodeExp := splitExpires(t, fromNode[0])
	o, goExp := splitExpires(t, fromGo[0])
	if n != o || goExp.Sub(nodeExp).Abs() > pause+2*time.Second {
		t.Fatalf("rolling Set-Cookie differs:\nNode %s\nGo   %s", fromNode[0], fromGo[0])
	}
	// Expires is written in whole seconds, truncated.
	if lo, hi := before.Add(time.Hour-time.Second), after.Add(time.Hour); goExp.Before(lo) || goExp.After(hi) {
		t.Fatalf("Go's rolling Expires %v is not its request time plus maxAge (%v..%v): not rolled", goExp, lo, hi)
	}
}

// splitExpires returns a Set-Cookie header with its Expires value blanked,
// and that value.
func splitExpires(t *testing.T, h string) (string, time.Time) {
	t.Helper()
	i := strings.Index(h, "; Expires=")
	if i < 0 {
		t.Fatalf("no Expires in %q", h)
	}
	rest := h[i+len("; Expires="):]
	end := strings.Index(rest, ";")
	if end < 0 {
		end = len(rest)
	}
	exp, err := time.Parse(http.TimeFormat, rest[:end])
	if err != nil {
		t.Fatalf("Expires in %q: %v", h, err)
	}
	return h[:i] + "; Expires=*" + rest[end:], exp
}

// sessionValue returns the string value of key in the session Node's /me
// showed, "" when absent.
func sessionValue(t *testing.T, me nodetest.Me, key string) string {
	t.Helper()
	var sess map[string]json.RawMessage
	if err := json.Unmarshal(me.Session, &sess); err != nil {
		t.Fatalf("Node's /me session %s: %v", me.Session, err)
	}
	var v string
	if raw, ok := sess[key]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s = %s", key, raw)
		}
	}
	return v
}
