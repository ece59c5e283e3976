package sessionbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// fastifySecret is long enough for @fastify/session's single-secret rule;
// the apps get it as a list.
const fastifySecret = "a secret of at least thirty-two characters"

// liveStore is a fresh namespace in a real store: the env that points
// app.js or fastify-app.js at it, and a Go store on the same data.
type liveStore struct {
	env   map[string]string
	store sessionbridge.Store
}

type liveStoreFunc func(t *testing.T) liveStore

func liveRedis(t *testing.T) liveStore {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("fastify:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	return liveStore{
		env:   map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": prefix},
		store: redisstore.New(rdb, redisstore.Options{Prefix: prefix}),
	}
}

func livePostgres(t *testing.T) liveStore {
	t.Helper()
	url := services.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := fmt.Sprintf("fastify_%d", rand.Uint64()%1e12)
	if _, err := pool.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	st := pgstore.New(pool, pgstore.Options{SchemaName: schema, CreateTableIfMissing: true})
	if err := st.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return liveStore{env: map[string]string{"STORE": "postgres", "PG_URL": url, "PG_SCHEMA": schema}, store: st}
}

func liveMongo(t *testing.T) liveStore {
	t.Helper()
	url, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(url).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	if err := c.Ping(context.Background(), nil); err != nil {
		nodetest.Unavailable(t, "MongoDB at "+url, "make services")
	}
	const dbName = "sessionbridge_test"
	coll := fmt.Sprintf("fastify_%d", rand.Uint64()%1e12)
	db := c.Database(dbName)
	t.Cleanup(func() { _ = db.Collection(coll).Drop(context.Background()) })
	return liveStore{
		env:   map[string]string{"STORE": "mongo", "MONGO_URL": strings.TrimSuffix(url, "/") + "/" + dbName, "MONGO_COLLECTION": coll},
		store: mongostore.New(db, mongostore.Options{Collection: coll}),
	}
}

func liveMemcached(t *testing.T) liveStore {
	t.Helper()
	addr := services.MemcachedAddr(t)
	c := memcache.New(addr)
	t.Cleanup(func() { _ = c.Close() })
	prefix := fmt.Sprintf("fastify:%d:", time.Now().UnixNano())
	return liveStore{
		env:   map[string]string{"STORE": "memcached", "MEMCACHED_ADDR": addr, "MEMCACHED_PREFIX": prefix},
		store: memcachedstore.New(c, memcachedstore.Options{Prefix: prefix}),
	}
}

func liveFile(t *testing.T) liveStore {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(filestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return liveStore{env: map[string]string{"STORE": "file", "FILE_DIR": dir}, store: st}
}

var liveStores = []struct {
	name  string
	start liveStoreFunc
}{
	{"redis", liveRedis},
	{"postgres", livePostgres},
	{"mongo", liveMongo},
	{"memcached", liveMemcached},
	{"file", liveFile},
}

// startFastify starts fastify-app.js on ls with env added (SECRETS, an
// insecure cookie by default).
func startFastify(t *testing.T, ls liveStore, env map[string]string) *nodetest.App {
	t.Helper()
	e := map[string]string{"SECRETS": `["` + fastifySecret + `"]`, "SECURE": "false"}
	for k, v := range ls.env {
		e[k] = v
	}
	for k, v := range env {
		e[k] = v
	}
	return nodetest.StartFastifyApp(t, e)
}

// fastifyPeer is the Go peer of the default fastify app: FastifySession,
// the app's secret and maxAge, its rolling and saveUninitialized defaults.
func fastifyPeer(t *testing.T, ls liveStore, cfg sessionbridge.Config) *sessionbridge.Bridge {
	t.Helper()
	cfg.Format = sessionbridge.FastifySession
	if cfg.Secrets == nil {
		cfg.Secrets = []string{fastifySecret}
	}
	cfg.Store = ls.store
	if cfg.Cookie.MaxAge == 0 {
		cfg.Cookie.MaxAge = time.Hour
	}
	if !cfg.Cookie.Secure {
		cfg.Cookie.Insecure = true
	}
	cfg.Rolling, cfg.SaveUninitialized = true, true
	b, err := sessionbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadCookie is Bridge.Load for a request carrying the Cookie header.
func loadCookie(b *sessionbridge.Bridge, header string) (*sessionbridge.Session, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", header)
	return b.Load(r)
}

// rawRecord is the record the store holds for sid, as stored ("" if none).
func rawRecord(t *testing.T, st sessionbridge.Store, sid string) string {
	t.Helper()
	rec, err := st.Get(context.Background(), sid)
	if errors.Is(err, sessionbridge.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goServer serves LoadAndSave around h and returns a client for it.
func goServer(t *testing.T, b *sessionbridge.Bridge, h http.HandlerFunc) func(header http.Header) (string, []string) {
	t.Helper()
	srv := httptest.NewServer(b.LoadAndSave(h))
	t.Cleanup(srv.Close)
	return func(header http.Header) (string, []string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("Go peer: %d %s", res.StatusCode, body)
		}
		return string(body), res.Header.Values("Set-Cookie")
	}
}

// setCookieValue returns the value the Set-Cookie headers give name.
func setCookieValue(t *testing.T, headers []string, name string) string {
	t.Helper()
	for _, h := range headers {
		if v, ok := strings.CutPrefix(h, name+"="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v
		}
	}
	t.Fatalf("no %s in Set-Cookie %q", name, headers)
	return ""
}

// me is GET /me of either Node app for a cookie value.
func me(t *testing.T, app *nodetest.App, value string) nodetest.Me {
	t.Helper()
	return app.Me(value)
}

// sessionMember returns one member of the session /me shows.
func sessionMember(t *testing.T, m nodetest.Me, key string) string {
	t.Helper()
	var s map[string]json.RawMessage
	if err := json.Unmarshal(m.Session, &s); err != nil {
		t.Fatalf("/me session %s: %v", m.Session, err)
	}
	return string(s[key])
}

// TestFastifyLiveBothWays runs on every store: a @fastify/passport login
// on Node read by Go, Go's changes and Go's new sessions read by Node, a Go
// touch that keeps fastify's record and its expiry rule happy.
func TestFastifyLiveBothWays(t *testing.T) {
	for _, st := range liveStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ls := st.start(t)
			app := startFastify(t, ls, nil)
			b := fastifyPeer(t, ls, sessionbridge.Config{})
			ctx := context.Background()

			// Node logs in; Go reads the user @fastify/passport stored.
			cookie := app.Login("alice", "secret")
			s, err := loadCookie(b, "sessionId="+cookie)
			if err != nil {
				t.Fatalf("Go reads Node's login: %v", err)
			}
			if p, _ := s.Record.Raw("passport"); string(p) != "7" {
				t.Fatalf("passport member %s, want 7 (the serialized user itself)", p)
			}
			if s.Record.Cookie.Layout != sessionjson.FastifyLayout {
				t.Fatalf("record not in fastify's layout: %s", rawRecord(t, ls.store, s.ID))
			}

			// Go changes it; Node reads the change, still logged in.
			if err := b.Update(ctx, s.ID, func(s *sessionbridge.Session) error { return s.Record.Set("fromGo", "yes") }); err != nil {
				t.Fatal(err)
			}
			m := app.Me(cookie)
			if !m.LoggedIn || m.Sid != s.ID || sessionMember(t, m, "fromGo") != `"yes"` {
				t.Fatalf("Node after Go's change: %+v %s", m, m.Session)
			}

			// Go keeps it alive: the record is rewritten as fastify re-saves
			// it, and Node still reads it.
			before := rawRecord(t, ls.store, s.ID)
			time.Sleep(5 * time.Millisecond)
			if err := b.KeepAlive(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			after := rawRecord(t, ls.store, s.ID)
			oldExp := jsonPath(t, before, "cookie", "expires")
			if after == before || jsonPath(t, after, "cookie", "originalExpires") != oldExp || !strings.HasPrefix(after, `{"cookie":{"expires":`) {
				t.Fatalf("keep-alive wrote %s\nafter %s", after, before)
			}
			if m := app.Me(cookie); !m.LoggedIn || m.Sid != s.ID {
				t.Fatalf("Node after Go's keep-alive: %+v", m)
			}

			// Go creates a session (LoadAndSave); Node takes its cookie.
			do := goServer(t, b, func(w http.ResponseWriter, r *http.Request) {
				s, _ := sessionbridge.FromContext(r.Context())
				_ = s.Record.SetRaw("passport", json.RawMessage("7"))
				_ = s.Record.Set("madeBy", "go")
			})
			_, set := do(nil)
			goCookie := setCookieValue(t, set, "sessionId")
			m = app.Me(goCookie)
			if !m.LoggedIn || sessionMember(t, m, "madeBy") != `"go"` || !strings.HasPrefix(goCookie, m.Sid+".") {
				t.Fatalf("Node reads Go's session: %+v %s (cookie %s)", m, m.Session, goCookie)
			}
			// A request of Node's own with it: Node saves it again, and Go
			// reads that back.
			if got, err := loadCookie(b, "sessionId="+goCookie); err != nil || got.ID != m.Sid {
				t.Fatalf("Go reads its session after Node's re-save: %v", err)
			}

			// Node logs out (@fastify/passport regenerates): Go's view of
			// the old cookie is gone.
			app.Logout(cookie)
			if _, err := loadCookie(b, "sessionId="+cookie); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("after Node's logout Go reads %v", err)
			}
		})
	}
}

// jsonPath returns the JSON of obj.k1.k2... ("" if missing).
func jsonPath(t *testing.T, obj string, keys ...string) string {
	t.Helper()
	raw := json.RawMessage(obj)
	for _, k := range keys {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var ok bool
		if raw, ok = m[k]; !ok {
			return ""
		}
	}
	return string(raw)
}

// TestFastifyLivePassportObject: with a serializer that returns an object,
// @fastify/passport stores that object itself as the passport member.
func TestFastifyLivePassportObject(t *testing.T) {
	ls := liveRedis(t)
	app := startFastify(t, ls, map[string]string{"USER_SERIALIZE": "object"})
	b := fastifyPeer(t, ls, sessionbridge.Config{})
	cookie := app.Login("zero", "secret")
	s, err := loadCookie(b, "sessionId="+cookie)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Record.Raw("passport"); string(p) != `{"id":0,"username":"zero","name":"Zero"}` {
		t.Fatalf("passport member %s", p)
	}
}

// plusSlashSession finds a session id whose signature under secret has
// both "+" and "/".
func plusSlashSession(secret string) string {
	for i := 0; ; i++ {
		sid := fmt.Sprintf("plusSlash_%022d", i)
		sig := cookiesig.Sign(sid, secret)
		if strings.Contains(sig, "+") && strings.Contains(sig, "/") {
			return sid
		}
	}
}

// TestFastifyLiveCookieForms: Go's raw Set-Cookie value (with "+", "/" and
// the "s:" prefix) and its percent-encoded form are taken by
// @fastify/session, and @fastify/session's by Go, both ways; the whole
// Set-Cookie header is the same at the same instant.
func TestFastifyLiveCookieForms(t *testing.T) {
	for _, prefix := range []string{"", "s:"} {
		t.Run("prefix "+strconv.Quote(prefix), func(t *testing.T) {
			ls := liveRedis(t)
			app := startFastify(t, ls, map[string]string{"COOKIE_PREFIX": prefix, "FAKE_NOW": "1", "SAME_SITE": "lax"})
			sid := plusSlashSession(fastifySecret)
			b := fastifyPeer(t, ls, sessionbridge.Config{
				CookiePrefix: prefix,
				Cookie:       sessionbridge.CookieOptions{SameSite: http.SameSiteLaxMode},
				GenerateID:   func(*http.Request) (string, error) { return sid, nil },
			})
			do := goServer(t, b, func(w http.ResponseWriter, r *http.Request) {})
			_, set := do(nil)
			raw := setCookieValue(t, set, "sessionId")
			if want := prefix + cookiesig.Sign(sid, fastifySecret); raw != want {
				t.Fatalf("Go sent %q, want the raw %q", raw, want)
			}
			for _, v := range []string{raw, cookiesig.EncodeURIComponent(raw)} {
				if m := app.Me(v); m.Sid != sid {
					t.Fatalf("fastify did not take Go's cookie %q: session %q", v, m.Sid)
				}
			}

			// Logins until @fastify/session's own signature has "+" and "/".
			var nodeRaw string
			for i := 0; i < 60 && !(strings.Contains(nodeRaw, "+") && strings.Contains(nodeRaw, "/")); i++ {
				nodeRaw = app.Login("alice", "secret")
			}
			if !strings.Contains(nodeRaw, "+") || !strings.Contains(nodeRaw, "/") || !strings.HasPrefix(nodeRaw, prefix) {
				t.Fatalf("no Node cookie with + and / in 60 logins: %q", nodeRaw)
			}
			for _, v := range []string{nodeRaw, cookiesig.EncodeURIComponent(nodeRaw)} {
				s, err := loadCookie(b, "sessionId="+v)
				if err != nil || !strings.HasPrefix(nodeRaw, prefix+s.ID+".") {
					t.Fatalf("Go reads Node's cookie %q: %v", v, err)
				}
			}

			// The same session re-sent by both at the same instant.
			nodeSid := strings.TrimPrefix(nodeRaw[:strings.LastIndexByte(nodeRaw, '.')], prefix)
			at := time.Now().Add(time.Minute).Truncate(time.Millisecond)
			res := app.DoHeader("GET", "/me", http.Header{
				"Cookie":     {"sessionId=" + nodeRaw},
				"X-Fake-Now": {strconv.FormatInt(at.UnixMilli(), 10)},
			}, nil)
			if len(res.SetCookie) != 1 {
				t.Fatalf("fastify sent %q", res.SetCookie)
			}
			gb := fastifyPeer(t, ls, sessionbridge.Config{CookiePrefix: prefix, Now: func() time.Time { return at }})
			_, goSet := goServer(t, gb, func(http.ResponseWriter, *http.Request) {})(http.Header{"Cookie": {"sessionId=" + nodeRaw}})
			if len(goSet) != 1 || goSet[0] != res.SetCookie[0] {
				t.Fatalf("Set-Cookie at the same instant:\nGo   %q\nNode %q", goSet, res.SetCookie)
			}
			if !strings.Contains(goSet[0], "; SameSite=Lax") || !strings.Contains(goSet[0], nodeSid) {
				t.Fatalf("Set-Cookie %q", goSet[0])
			}
		})
	}
	t.Run("prefix that needs encoding", func(t *testing.T) {
		ls := liveRedis(t)
		const prefix = "p;é "
		app := startFastify(t, ls, map[string]string{"COOKIE_PREFIX": prefix})
		b := fastifyPeer(t, ls, sessionbridge.Config{CookiePrefix: prefix})
		nodeValue := app.Login("alice", "secret")
		s, err := loadCookie(b, "sessionId="+nodeValue)
		if err != nil {
			t.Fatalf("Go reads %q: %v", nodeValue, err)
		}
		if want := b.Signer().FastifyCookieValue(prefix, s.ID); nodeValue != want {
			t.Fatalf("Node sent %q, Go would send %q", nodeValue, want)
		}
	})
}

// TestFastifyLiveResaveBytes: Go's touch of a record @fastify/session
// wrote is byte for byte what @fastify/session writes when it re-saves the
// same record at the same instant.
func TestFastifyLiveResaveBytes(t *testing.T) {
	for _, st := range liveStores[:2] {
		t.Run(st.name, func(t *testing.T) {
			ls := st.start(t)
			app := startFastify(t, ls, map[string]string{"FAKE_NOW": "1"})
			ctx := context.Background()
			cookie := app.Login("alice", "secret")
			probe, err := loadCookie(fastifyPeer(t, ls, sessionbridge.Config{}), "sessionId="+cookie)
			if err != nil {
				t.Fatal(err)
			}
			sid := probe.ID
			first := rawRecord(t, ls.store, sid)
			at := time.Now().Add(2 * time.Minute).Truncate(time.Millisecond)
			res := app.DoHeader("GET", "/me", http.Header{
				"Cookie":     {"sessionId=" + cookie},
				"X-Fake-Now": {strconv.FormatInt(at.UnixMilli(), 10)},
			}, nil)
			if res.Status != 200 {
				t.Fatalf("/me %d", res.Status)
			}
			node := rawRecord(t, ls.store, sid)
			// Put the first record back and let Go touch it at the same instant.
			rec, err := sessionjson.Decode([]byte(first))
			if err != nil {
				t.Fatal(err)
			}
			if err := ls.store.Set(ctx, sid, rec); err != nil {
				t.Fatal(err)
			}
			b := fastifyPeer(t, ls, sessionbridge.Config{Now: func() time.Time { return at }})
			goServer(t, b, func(http.ResponseWriter, *http.Request) {})(http.Header{"Cookie": {"sessionId=" + cookie}})
			if got := rawRecord(t, ls.store, sid); got != node {
				t.Fatalf("first save %s\nNode re-save %s\nGo touch     %s", first, node, got)
			}
			if jsonPath(t, node, "cookie", "originalExpires") != jsonPath(t, first, "cookie", "expires") {
				t.Fatalf("Node's re-save %s: originalExpires is not the expires it loaded (%s)", node, first)
			}
		})
	}
}

// TestFastifyLiveExpiryBoundary: @fastify/session and Go both take a
// session a millisecond before its stored expires, and neither at it.
func TestFastifyLiveExpiryBoundary(t *testing.T) {
	ls := liveRedis(t)
	app := startFastify(t, ls, map[string]string{"FAKE_NOW": "1", "ROLLING": "0", "SAVE_UNINITIALIZED": "0"})
	created := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	maker := fastifyPeer(t, ls, sessionbridge.Config{Now: func() time.Time { return created }})
	ctx := context.Background()
	mk := func() (*sessionbridge.Session, string) {
		s, err := maker.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Record.Set("u", 1)
		if err := maker.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s, maker.Signer().FastifyCookieValue("", s.ID)
	}
	live, liveCookie := mk()
	dead, deadCookie := mk()
	exp := *live.Record.Cookie.Expires
	ask := func(value string, at time.Time) string {
		res := app.DoHeader("GET", "/me", http.Header{
			"Cookie":     {"sessionId=" + value},
			"X-Fake-Now": {strconv.FormatInt(at.UnixMilli(), 10)},
		}, nil)
		var m nodetest.Me
		if err := json.Unmarshal(res.Body, &m); err != nil {
			t.Fatalf("/me: %d %s", res.Status, res.Body)
		}
		return m.Sid
	}
	if got := ask(liveCookie, exp.Add(-time.Millisecond)); got != live.ID {
		t.Fatalf("Node a millisecond before expires: session %q, want %q", got, live.ID)
	}
	if got := ask(deadCookie, exp); got == dead.ID {
		t.Fatal("Node took the session at its expires")
	}
	for at, wantErr := range map[time.Time]bool{exp.Add(-time.Millisecond): false, exp: true} {
		b := fastifyPeer(t, ls, sessionbridge.Config{Now: func() time.Time { return at }})
		_, err := b.LoadID(ctx, live.ID)
		if wantErr != (err != nil) || wantErr && !errors.Is(err, sessionbridge.ErrExpired) {
			t.Fatalf("Go at %v: %v (want error %v)", at.Sub(exp), err, wantErr)
		}
	}
	// @fastify/session destroyed the expired record when it regenerated.
	if got := rawRecord(t, ls.store, dead.ID); got != "" {
		t.Fatalf("expired record left: %s", got)
	}
}

// TestFastifyLiveRotation: a cookie signed with an old secret is taken by
// both, and both re-issue it signed with the first secret.
func TestFastifyLiveRotation(t *testing.T) {
	ls := liveRedis(t)
	const oldSecret, newSecret = "the old secret of thirty-two characters", "the new secret of thirty-two characters"
	oldApp := startFastify(t, ls, map[string]string{"SECRETS": `["` + oldSecret + `"]`})
	newApp := startFastify(t, ls, map[string]string{"SECRETS": `["` + newSecret + `","` + oldSecret + `"]`})
	b := fastifyPeer(t, ls, sessionbridge.Config{Secrets: []string{newSecret, oldSecret}})
	oldCookie := oldApp.Login("alice", "secret")
	s, err := loadCookie(b, "sessionId="+oldCookie)
	if err != nil {
		t.Fatalf("Go reads the old-secret cookie: %v", err)
	}
	want := cookiesig.Sign(s.ID, newSecret)
	_, _, nodeSet := newApp.Do("GET", "/me", oldCookie, nil)
	if nodeSet != want {
		t.Fatalf("Node re-issued %q, want %q", nodeSet, want)
	}
	_, goSet := goServer(t, b, func(http.ResponseWriter, *http.Request) {})(http.Header{"Cookie": {"sessionId=" + oldCookie}})
	if got := setCookieValue(t, goSet, "sessionId"); got != want {
		t.Fatalf("Go re-issued %q, want %q", got, want)
	}
	if m := newApp.Me(want); !m.LoggedIn || m.Sid != s.ID {
		t.Fatalf("Node with the re-issued cookie: %+v", m)
	}
	// Without the old secret neither takes it.
	only := fastifyPeer(t, ls, sessionbridge.Config{Secrets: []string{newSecret}})
	if _, err := loadCookie(only, "sessionId="+oldCookie); !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Fatalf("Go without the old secret: %v", err)
	}
	onlyApp := startFastify(t, ls, map[string]string{"SECRETS": `["` + newSecret + `"]`})
	if m := onlyApp.Me(oldCookie); m.Sid == s.ID {
		t.Fatal("Node without the old secret took the cookie")
	}
}

// TestFastifyLiveBadCookies: what @fastify/session answers with a new
// session, Go refuses with ErrNoSession and the precise reason.
func TestFastifyLiveBadCookies(t *testing.T) {
	ls := liveRedis(t)
	app := startFastify(t, ls, map[string]string{"COOKIE_PREFIX": "s:"})
	noPrefixApp := startFastify(t, ls, nil)
	b := fastifyPeer(t, ls, sessionbridge.Config{CookiePrefix: "s:"})
	noPrefix := fastifyPeer(t, ls, sessionbridge.Config{})
	good := app.Login("alice", "secret")
	s, err := loadCookie(b, "sessionId="+good)
	if err != nil {
		t.Fatal(err)
	}
	forger, _ := cookiesig.NewSigner("not the secret, but just as long as it")
	for _, c := range []struct {
		name   string
		app    *nodetest.App
		bridge *sessionbridge.Bridge
		header string
		want   error // nil: the session
	}{
		{"good (control)", app, b, "sessionId=" + good, nil},
		{"express form (control)", app, b, "sessionId=" + cookiesig.EncodeURIComponent(good), nil},
		{"bad signature", app, b, "sessionId=" + forger.FastifyCookieValue("s:", s.ID), cookiesig.ErrBadSignature},
		{"missing prefix", app, b, "sessionId=" + strings.TrimPrefix(good, "s:"), cookiesig.ErrNotSigned},
		{"wrong cookie name", app, b, "connect.sid=" + good, cookiesig.ErrNoCookie},
		{"double-quoted", app, b, `sessionId="` + good + `"`, cookiesig.ErrNotSigned},
		{"padded signature", app, b, "sessionId=" + good + "=", cookiesig.ErrBadSignature},
		{"prefix where none is set", noPrefixApp, noPrefix, "sessionId=" + good, cookiesig.ErrBadSignature},
		{"express s%3A form where no prefix is set", noPrefixApp, noPrefix, "sessionId=" + cookiesig.EncodeURIComponent(good), cookiesig.ErrBadSignature},
	} {
		res := c.app.DoHeader("GET", "/me", http.Header{"Cookie": {c.header}}, nil)
		var m nodetest.Me
		if err := json.Unmarshal(res.Body, &m); err != nil {
			t.Fatalf("%s: /me %d %s", c.name, res.Status, res.Body)
		}
		_, err := loadCookie(c.bridge, c.header)
		if c.want == nil {
			if m.Sid != s.ID || !m.LoggedIn || err != nil {
				t.Errorf("%s: Node session %q (logged in %v), Go %v", c.name, m.Sid, m.LoggedIn, err)
			}
			continue
		}
		if m.Sid == s.ID || m.LoggedIn {
			t.Errorf("%s: Node took it", c.name)
		}
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, c.want) {
			t.Errorf("%s: Go %v, want ErrNoSession and %v", c.name, err, c.want)
		}
	}
}

// TestFastifyLiveSecureDefault: with @fastify/session's default secure
// cookie, neither Node nor Go sends a cookie or stores a session over plain
// HTTP; over HTTPS (behind a trusted proxy) both do, with Secure.
func TestFastifyLiveSecureDefault(t *testing.T) {
	ls := liveRedis(t)
	app := startFastify(t, ls, map[string]string{"SECURE": "", "TRUST_PROXY": "1"})
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	count := func() int {
		keys, err := rdb.Keys(context.Background(), ls.env["REDIS_PREFIX"]+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	b, err := sessionbridge.New(sessionbridge.Config{
		Format: sessionbridge.FastifySession, Secrets: []string{fastifySecret}, Store: ls.store,
		Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}, Rolling: true, SaveUninitialized: true, TrustProxy: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	do := goServer(t, b, func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("n", 1)
	})
	res := app.DoHeader("POST", "/data", nil, map[string]any{"set": map[string]any{"n": 1}})
	_, goSet := do(nil)
	if len(res.SetCookie) != 0 || len(goSet) != 0 || count() != 0 {
		t.Fatalf("over HTTP: Node %q, Go %q, %d records", res.SetCookie, goSet, count())
	}
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	res = app.DoHeader("POST", "/data", https, map[string]any{"set": map[string]any{"n": 1}})
	_, goSet = do(https)
	if len(res.SetCookie) != 1 || len(goSet) != 1 || count() != 2 {
		t.Fatalf("over HTTPS: Node %q, Go %q, %d records", res.SetCookie, goSet, count())
	}
	for _, h := range []string{res.SetCookie[0], goSet[0]} {
		if !strings.HasSuffix(h, "; HttpOnly; Secure") {
			t.Errorf("Set-Cookie %q", h)
		}
	}
	// Each reads the other's session, whose record says secure true.
	nodeValue, _ := nodetest.FastifyResponse{SetCookie: res.SetCookie}.Cookie("sessionId")
	s, err := loadCookie(b, "sessionId="+nodeValue)
	if err != nil || s.Record.Cookie.Secure == nil || !*s.Record.Cookie.Secure {
		t.Fatalf("Go reads Node's secure session: %v", err)
	}
	goValue := setCookieValue(t, goSet, "sessionId")
	res = app.DoHeader("GET", "/me", http.Header{"Cookie": {"sessionId=" + goValue}, "X-Forwarded-Proto": {"https"}}, nil)
	if !strings.Contains(string(res.Body), `"sid":"`+goValue[:strings.LastIndexByte(goValue, '.')]+`"`) {
		t.Fatalf("Node reads Go's secure session: %s", res.Body)
	}
}
