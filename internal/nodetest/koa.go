package nodetest

import (
	"encoding/json"
	"testing"
)

// KoaApp is the live koa-session harness (testdata/node/koa-app.js): a real
// Koa app with koa-session, koa-passport and, with STORE=redis, koa-redis.
type KoaApp struct {
	URL    string
	tb     testing.TB
	stderr *LockedBuffer
}

// StartKoa starts koa-app.js with env (KEYS, KEY, MAX_AGE_MS, STORE,
// PREFIX, ...; see the script) on a free loopback port and stops it when
// the test ends.
func StartKoa(tb testing.TB, env map[string]string) *KoaApp {
	tb.Helper()
	url, stderr := startScript(tb, "koa-app.js", env)
	return &KoaApp{URL: url, tb: tb, stderr: stderr}
}

// KoaResponse is one answer of the Koa app.
type KoaResponse = Response

// KoaState is what the app's routes answer about the session.
type KoaState struct {
	OK       bool            `json:"ok"`
	LoggedIn bool            `json:"loggedIn"`
	User     json.RawMessage `json:"user"`
	Session  json.RawMessage `json:"session"`
	IsNew    *bool           `json:"isNew"`
	MaxAge   json.RawMessage `json:"maxAge"`
}

// Do sends a request with cookieHeader as its Cookie header ("" for none),
// body as JSON (nil for none) and the extra headers.
func (a *KoaApp) Do(method, path, cookieHeader string, body any, headers map[string]string) KoaResponse {
	a.tb.Helper()
	return request(a.tb, a.stderr, method, a.URL+path, requestHeader(cookieHeader, headers), body)
}

// State decodes a response body of /login, /me, /set, /logout or
// /regenerate, failing the test unless the status is 200.
func (a *KoaApp) State(r KoaResponse) KoaState {
	a.tb.Helper()
	if r.Status != 200 {
		a.tb.Fatalf("status %d: %s\n%s", r.Status, r.Body, a.stderr.String())
	}
	var s KoaState
	if err := json.Unmarshal(r.Body, &s); err != nil {
		a.tb.Fatalf("%v: %s", err, r.Body)
	}
	return s
}

// Stderr returns what the app logged so far.
func (a *KoaApp) Stderr() string { return a.stderr.String() }

// StderrHas reports whether the app wrote substr to stderr, waiting for
// the pipe to catch up (see [LockedBuffer.Await]).
func (a *KoaApp) StderrHas(substr string) bool { return a.stderr.Await(substr) }
