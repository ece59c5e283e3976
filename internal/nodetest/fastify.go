package nodetest

import (
	"net/http"
	"testing"
)

// StartFastifyApp starts fastify-app.js (fastify with @fastify/cookie,
// @fastify/session and @fastify/passport, the store picked by STORE) with
// env on a free loopback port and stops it when the test ends. It has
// app.js's routes, so the App's methods drive it alike; COOKIE_NAME
// defaults to @fastify/session's "sessionId".
func StartFastifyApp(tb testing.TB, env map[string]string) *App {
	tb.Helper()
	return startApp(tb, "fastify-app.js", env, "sessionId")
}

// FastifyResponse is what DoHeader returns.
type FastifyResponse = Response

// DoHeader sends a request with the given headers (a whole Cookie header,
// X-Fake-Now, X-Forwarded-Proto, ...) and JSON body (nil for none).
func (a *App) DoHeader(method, path string, header http.Header, body any) FastifyResponse {
	a.tb.Helper()
	return request(a.tb, a.stderr, method, a.URL+path, header, body)
}

// CookieName returns the name of the app's session cookie.
func (a *App) CookieName() string { return a.cookie }
