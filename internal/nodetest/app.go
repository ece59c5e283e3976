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
	RequireNode(tb)
	dir := filepath.Join(Root(tb), "testdata", "node")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "app.js")
	cmd.Dir = dir
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
	stderr := &LockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start app.js: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "LISTENING ") {
				lines <- strings.TrimPrefix(sc.Text(), "LISTENING ")
			}
		}
		close(lines)
	}()
	name := env["COOKIE_NAME"]
	if name == "" {
		name = "connect.sid"
	}
	select {
	case url, ok := <-lines:
		if !ok {
			tb.Fatalf("app.js exited before listening (env %v):\n%s", env, stderr.String())
		}
		return &App{URL: url, tb: tb, cookie: name, stderr: stderr}
	case <-time.After(45 * time.Second):
		tb.Fatalf("app.js did not start in 45s (env %v):\n%s", env, stderr.String())
	}
	return nil
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		a.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", a.cookie+"="+cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.tb.Fatalf("%s %s: %v\n%s", method, path, err, a.stderr.String())
	}
	defer resp.Body.Close()
	respBody, _ = io.ReadAll(resp.Body)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, a.cookie+"="); ok {
			setCookie, _, _ = strings.Cut(v, ";")
		}
	}
	return resp.StatusCode, respBody, setCookie
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

// String describes the app for messages.
func (a *App) String() string { return fmt.Sprintf("node app at %s", a.URL) }
