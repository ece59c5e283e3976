package socketio_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesession"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// cookiePairs turns Set-Cookie headers into the Cookie header a browser
// would send back (cleared cookies left out).
func cookiePairs(setCookie []string) string {
	var pairs []string
	for _, h := range setCookie {
		pair, _, _ := strings.Cut(h, ";")
		if name, value, _ := strings.Cut(pair, "="); value != "" {
			pairs = append(pairs, name+"="+value)
		}
	}
	return strings.Join(pairs, "; ")
}

// formatCase is a Node session format with a real Node login: the Go
// source for it, and the Cookie header the login gave the browser.
type formatCase struct {
	name   string
	src    sessionbridge.SessionSource
	cookie string
}

// storedUser is the passport user the source finds for cookie.
func (c formatCase) storedUser(t *testing.T) string {
	t.Helper()
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", c.cookie)
	sid, err := c.src.SessionID(r)
	if err != nil {
		t.Fatalf("%s: the login's cookie: %v", c.name, err)
	}
	s, err := c.src.LoadID(context.Background(), sid)
	if err != nil {
		t.Fatalf("%s: load: %v", c.name, err)
	}
	u, err := passportuser.Raw(s)
	if err != nil {
		t.Fatalf("%s: Node's login holds no user: %v", c.name, err)
	}
	return string(u)
}

func login(t *testing.T, do func() []string) string {
	t.Helper()
	c := cookiePairs(do())
	if c == "" {
		t.Fatal("the Node login set no cookie")
	}
	return c
}

// TestOtherFormatsSocketIO authorizes socket.io handshakes (the real
// socket.io-client, both transports) from logins of the other Node session
// formats, through their SessionSource: cookie-session, koa-session in
// cookie and in store mode, @fastify/session. A forged signature, swapped
// cookies and a missing signature cookie are refused.
func TestOtherFormatsSocketIO(t *testing.T) {
	requireClient(t)
	creds := map[string]string{"username": "alice", "password": "secret"}
	var cases []formatCase

	cs := nodetest.StartCookieSessionApp(t, map[string]string{"KEYS": `["new-key","old-key"]`})
	csb, err := cookiesession.New(cookiesession.Config{Keys: []string{"new-key", "old-key"}})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, formatCase{"cookie-session", csb, login(t, func() []string {
		return cs.Do("POST", "/login", "", creds, nil).SetCookie
	})})

	koa := nodetest.StartKoa(t, map[string]string{"KEYS": `["koa-key-1"]`, "MAX_AGE_MS": "3600000"})
	kb, err := koasession.New(koasession.Config{Keys: []string{"koa-key-1"}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, formatCase{"koa-session cookie mode", kb, login(t, func() []string {
		return koa.Do("POST", "/login", "", creds, nil).SetCookie
	})})

	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "sio-koa:" + hex.EncodeToString(rnd[:]) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	koaStore := nodetest.StartKoa(t, map[string]string{"KEYS": `["koa-key-1"]`, "MAX_AGE_MS": "3600000", "STORE": "redis", "PREFIX": prefix})
	ksb, err := koasession.New(koasession.Config{Keys: []string{"koa-key-1"}, MaxAge: time.Hour, Prefix: prefix, Store: koaredis.New(rdb, koaredis.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, formatCase{"koa-session store mode", ksb, login(t, func() []string {
		return koaStore.Do("POST", "/login", "", creds, nil).SetCookie
	})})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user := c.storedUser(t)
			a := newAuthorizer(t, socketauth.Config{Source: c.src})
			srv := startServer(t, socketio.Middleware(a, socketio.Options{}), nil)
			// The two cookies the format needs, each in turn forged, swapped
			// or left out.
			parts := strings.Split(c.cookie, "; ")
			if len(parts) != 2 {
				t.Fatalf("want a value and a .sig cookie, got %q", c.cookie)
			}
			value, sig := parts[0], parts[1]
			if strings.HasSuffix(strings.SplitN(value, "=", 2)[0], ".sig") {
				value, sig = sig, value
			}
			name, v, _ := strings.Cut(value, "=")
			_, s, _ := strings.Cut(sig, "=")
			forged := []byte(s)
			forged[0] ^= 1
			bad := []string{
				value, // no signature cookie
				value + "; " + name + ".sig=" + string(forged), // forged signature
				name + "=" + s + "; " + name + ".sig=" + v,     // swapped values
				"other=" + v + "; other.sig=" + s,              // another cookie's pair
			}
			checkHandshakes(t, srv, c.cookie, user, bad)
		})
	}

	// @fastify/session: one cookie, no s: prefix, the signature raw.
	t.Run("@fastify/session", func(t *testing.T) {
		const secret = "a secret of at least thirty-two characters"
		prefix := "sio-fastify:" + hex.EncodeToString(rnd[:]) + ":"
		t.Cleanup(func() {
			keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		app := nodetest.StartFastifyApp(t, map[string]string{
			"SECRETS": `["` + secret + `"]`, "SECURE": "false",
			"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": prefix,
		})
		b, err := sessionbridge.New(sessionbridge.Config{
			Format: sessionbridge.FastifySession, Secrets: []string{secret},
			Store: redisstore.New(rdb, redisstore.Options{Prefix: prefix}),
		})
		if err != nil {
			t.Fatal(err)
		}
		c := formatCase{"@fastify/session", b, "sessionId=" + app.Login("alice", "secret")}
		user := c.storedUser(t)
		a := newAuthorizer(t, socketauth.Config{Source: b})
		srv := startServer(t, socketio.Middleware(a, socketio.Options{}), nil)
		v := strings.TrimPrefix(c.cookie, "sessionId=")
		forged := []byte(v)
		forged[len(forged)-1] ^= 1
		checkHandshakes(t, srv, c.cookie, user, []string{
			"sessionId=" + string(forged),
			"sessionId=s:" + v,                               // express-session's prefix where fastify has none
			"connect.sid=" + v,                               // another cookie name
			"sessionId=" + v[:strings.LastIndexByte(v, '.')], // no signature
		})
	})
}

// checkHandshakes connects with good over both transports (it must reach
// the connection handler as user) and with each of bad (refused as
// unauthorized, never connected).
func checkHandshakes(t *testing.T, srv *server, good, user string, bad []string) {
	t.Helper()
	var sps []spec
	for _, tr := range clientTransports {
		sps = append(sps, spec{URL: srv.url, Cookie: &good, Transports: tr, WaitMs: untilHello, Until: "hello"})
	}
	for i := range bad {
		sps = append(sps, spec{URL: srv.url, Cookie: &bad[i], WaitMs: 1500})
	}
	rs := runClients(t, sps)
	n := len(clientTransports)
	for _, r := range rs[:n] {
		wantHello(t, r, user, "")
	}
	for i, r := range rs[n:] {
		if r.Connected || r.Error == nil || r.Error.Data["code"] != socketio.CodeUnauthorized {
			t.Errorf("bad cookie %d connected or failed otherwise: %s", i, r.raw)
		}
	}
}
