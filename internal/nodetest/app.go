package nodetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// App is the live Node harness (testdata/node/app.js): a real Express app
// with express-session, passport and the store picked by STORE.
type App struct {
	URL    string
	tb     testing.TB
	cookie string // cookie name
	stderr *LockedBuffer
}

// LockedBuffer is a buffer safe for concurrent writers and readers (a
// child process's stderr, a logger shared by goroutines).
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Await reports whether substr has been written, waiting up to five
// seconds for it: a child process's stderr pipe is copied by another
// goroutine, so a line the child wrote before answering may arrive after
// the answer.
func (l *LockedBuffer) Await(substr string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if strings.Contains(l.String(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Bytes returns a copy of what was written so far.
func (l *LockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// StartApp starts app.js with env (STORE=..., and the store's settings) on a
// free loopback port and stops it when the test ends.
func StartApp(tb testing.TB, env map[string]string) *App {
	tb.Helper()
	return startApp(tb, "app.js", env, "connect.sid")
}

// startApp starts script, an app with app.js's routes whose session cookie
// is named COOKIE_NAME, or defaultCookie when env does not set it.
func startApp(tb testing.TB, script string, env map[string]string, defaultCookie string) *App {
	tb.Helper()
	name := env["COOKIE_NAME"]
	if name == "" {
		name = defaultCookie
	}
	url, stderr := startScript(tb, script, env)
	return &App{URL: url, tb: tb, cookie: name, stderr: stderr}
}

// startScript starts the harness script testdata/node/<script> with env and
// PORT=0, waits (45s at most) for its "LISTENING <url>" line on stdout and
// returns the URL and the buffer that collects its stderr. When the test
// ends the script gets SIGTERM (and is killed 5s later if it still runs).
func startScript(tb testing.TB, script string, env map[string]string) (url string, stderr *LockedBuffer) {
	tb.Helper()
	RequireNode(tb)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = filepath.Join(Root(tb), "testdata", "node")
	cmd.Env = append(os.Environ(), "PORT=0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stderr = &LockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", script, err)
	}
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				urls <- u
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			tb.Fatalf("%s exited before listening (env %v):\n%s", script, env, stderr.String())
		}
		return u, stderr
	case <-time.After(45 * time.Second):
		tb.Fatalf("%s did not start in 45s (env %v):\n%s", script, env, stderr.String())
	}
	return "", nil
}

// Response is one answer of a harness app.
type Response struct {
	Status int
	Body   []byte
	// SetCookie holds every Set-Cookie header, whole and in order.
	SetCookie []string
}

// Cookie returns the value the response's Set-Cookie headers give the
// cookie name, as sent (the last one, as a browser keeps it, when several
// do), and whether one did.
func (r Response) Cookie(name string) (value string, ok bool) {
	for _, sc := range r.SetCookie {
		if v, found := strings.CutPrefix(sc, name+"="); found {
			value, _, _ = strings.Cut(v, ";")
			ok = true
		}
	}
	return value, ok
}

// requestHeader is a Cookie header (none for "") and the extra headers.
func requestHeader(cookie string, extra map[string]string) http.Header {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	for k, v := range extra {
		h.Set(k, v)
	}
	return h
}

// jsonBody is body as JSON, or no body for nil.
func jsonBody(body any) (io.Reader, error) {
	if body == nil {
		return nil, nil
	}
	b, err := json.Marshal(body)
	return bytes.NewReader(b), err
}

// appClient bounds every request to a Node app, so a stuck app fails the
// test instead of hanging it until the test binary's timeout.
var appClient = &http.Client{Timeout: time.Minute}

// request sends a request to a harness app with header and body as JSON
// (nil for no body; Content-Type is application/json unless header sets
// it), and returns the answer with its body read. A request that gets no
// answer fails the test with the app's stderr.
func request(tb testing.TB, stderr *LockedBuffer, method, url string, header http.Header, body any) Response {
	tb.Helper()
	rd, err := jsonBody(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := appClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", method, url, err, stderr.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: b, SetCookie: resp.Header.Values("Set-Cookie")}
}

// Me is what GET /me answers.
type Me struct {
	LoggedIn bool            `json:"loggedIn"`
	User     json.RawMessage `json:"user"`
	Sid      string          `json:"sid"`
	Session  json.RawMessage `json:"session"`
	Expires  *string         `json:"expires"`
}

// Do sends a request with the given cookie value (as it appears after
// "name=" in a Cookie header; "" for none) and JSON body, and returns the
// status, the body and the new cookie value if Set-Cookie carried one.
func (a *App) Do(method, path, cookie string, body any) (status int, respBody []byte, setCookie string) {
	a.tb.Helper()
	if cookie != "" {
		cookie = a.cookie + "=" + cookie
	}
	r := request(a.tb, a.stderr, method, a.URL+path, requestHeader(cookie, nil), body)
	setCookie, _ = r.Cookie(a.cookie)
	return r.Status, r.Body, setCookie
}

// Login logs in with passport-local and returns the session cookie value.
func (a *App) Login(username, password string) string {
	a.tb.Helper()
	st, body, c := a.Do("POST", "/login", "", map[string]string{"username": username, "password": password})
	if st != 200 || c == "" {
		a.tb.Fatalf("login %s: %d %s (cookie %v)", username, st, body, c != "")
	}
	return c
}

// Me returns GET /me for the cookie.
func (a *App) Me(cookie string) Me {
	a.tb.Helper()
	st, body, _ := a.Do("GET", "/me", cookie, nil)
	if st != 200 {
		a.tb.Fatalf("/me: %d %s", st, body)
	}
	var m Me
	if err := json.Unmarshal(body, &m); err != nil {
		a.tb.Fatalf("/me: %v: %s", err, body)
	}
	return m
}

// SetData sets (and deletes) session keys through POST /data.
func (a *App) SetData(cookie string, set map[string]any, del ...string) {
	a.tb.Helper()
	st, body, _ := a.Do("POST", "/data", cookie, map[string]any{"set": set, "del": del})
	if st != 200 {
		a.tb.Fatalf("/data: %d %s", st, body)
	}
}

// Logout calls POST /logout (passport's req.logout).
func (a *App) Logout(cookie string) {
	a.tb.Helper()
	st, body, _ := a.Do("POST", "/logout", cookie, nil)
	if st != 200 {
		a.tb.Fatalf("/logout: %d %s", st, body)
	}
}

// Stderr returns what the app logged so far.
func (a *App) Stderr() string { return a.stderr.String() }

// StderrHas reports whether the app wrote substr to stderr, waiting for
// the pipe to catch up (see [LockedBuffer.Await]).
func (a *App) StderrHas(substr string) bool { return a.stderr.Await(substr) }

// String describes the app for messages.
func (a *App) String() string { return fmt.Sprintf("node app at %s", a.URL) }
