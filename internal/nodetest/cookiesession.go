package nodetest

import "testing"

// CookieSessionApp is the live cookie-session harness
// (testdata/node/cookie-session-app.js): express 5, cookie-session 2.1.1,
// passport 0.7 with the no-op regenerate/save shims.
type CookieSessionApp struct {
	URL    string
	tb     testing.TB
	stderr *LockedBuffer
}

// CookieSessionResponse is one answer of the app: status, body and every
// Set-Cookie header in order.
type CookieSessionResponse = Response

// StartCookieSessionApp starts cookie-session-app.js with env (KEYS,
// ALGORITHM, COOKIE_NAME, MAX_AGE_MS, OPTIONS, FAKE_NOW, EXPIRY_MEMBER,
// TRUST_PROXY) on a free loopback port and stops it when the test ends.
func StartCookieSessionApp(tb testing.TB, env map[string]string) *CookieSessionApp {
	tb.Helper()
	url, stderr := startScript(tb, "cookie-session-app.js", env)
	return &CookieSessionApp{URL: url, tb: tb, stderr: stderr}
}

// Do sends a request with the raw Cookie header cookie ("" for none), a
// JSON body (nil for none) and extra headers. A 5xx answer fails the test.
func (a *CookieSessionApp) Do(method, path, cookie string, body any, header map[string]string) CookieSessionResponse {
	a.tb.Helper()
	r := request(a.tb, a.stderr, method, a.URL+path, requestHeader(cookie, header), body)
	if r.Status >= 500 {
		a.tb.Fatalf("%s %s: %d %s\n%s", method, path, r.Status, r.Body, a.stderr.String())
	}
	return r
}

// Stderr returns what the app logged so far.
func (a *CookieSessionApp) Stderr() string { return a.stderr.String() }
