package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
)

// mintedPair is mint's output for a format with two cookies.
type mintedPair struct {
	Sid       *string  `json:"sid"`
	Cookie    string   `json:"cookie"`
	SetCookie []string `json:"setCookie"`
}

func decodeMintPair(t *testing.T, r result) mintedPair {
	t.Helper()
	var m mintedPair
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Cookie == "" || len(m.SetCookie) != 2 {
		t.Fatalf("mint output %q: %v", r.stdout, err)
	}
	return m
}

// pairsOf is the Cookie header for Set-Cookie headers.
func pairsOf(setCookie []string) string {
	var pairs []string
	for _, h := range setCookie {
		pair, _, _ := strings.Cut(h, ";")
		if _, v, _ := strings.Cut(pair, "="); v != "" {
			pairs = append(pairs, pair)
		}
	}
	return strings.Join(pairs, "; ")
}

// TestFormatsCookieSession: inspect reads a real cookie-session login, mint
// makes cookies the real cookie-session accepts, and forged or unsigned
// cookies get exit 2.
func TestFormatsCookieSession(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"KEYS": `["new-key","old-key"]`})
	creds := map[string]string{"username": "alice", "password": "secret"}
	cookie := pairsOf(app.Do("POST", "/login", "", creds, nil).SetCookie)
	flags := []string{"--format", "cookie-session", "--keys", "new-key", "--keys", "old-key"}

	in := decodeInspect(t, sb(t, append(append([]string{"inspect"}, flags...), cookie)...).want(t, 0))
	if !in.LoggedIn || string(in.User) == "null" || in.Sid != "" {
		t.Fatalf("inspect of Node's login: %+v", in)
	}
	// The value.signature form.
	_, value, _ := strings.Cut(strings.Split(cookie, "; ")[0], "=")
	_, sig, _ := strings.Cut(strings.Split(cookie, "; ")[1], "=")
	in2 := decodeInspect(t, sb(t, append(append([]string{"inspect"}, flags...), value+"."+sig)...).want(t, 0))
	if string(in2.User) != string(in.User) {
		t.Fatalf("value.sig form read %s, header %s", in2.User, in.User)
	}
	// Forged, missing signature, wrong key.
	sb(t, append(append([]string{"inspect"}, flags...), "session="+value+"; session.sig=x"+sig[1:])...).want(t, 2)
	r := sb(t, append(append([]string{"inspect"}, flags...), "session="+value)...).want(t, 2)
	if strings.Contains(r.stderr, value) || strings.Contains(r.stderr, "new-key") {
		t.Fatalf("stderr echoes the cookie or a key: %s", r.stderr)
	}
	sb(t, "inspect", "--format", "cookie-session", "--keys", "stranger", cookie).want(t, 2)
	// cookie-session keeps no store: --store is a usage error.
	sb(t, append(append([]string{"inspect", "--store", "redis://127.0.0.1:1"}, flags...), cookie)...).want(t, 1)

	m := decodeMintPair(t, sb(t, append(append([]string{"mint"}, flags...), "--user", `{"id":42}`, "--data", `{"cookie":"data here"}`, "--max-age", "60000")...).want(t, 0))
	if m.Sid != nil || !strings.Contains(m.SetCookie[0], "; expires=") {
		t.Fatalf("mint: %+v", m)
	}
	me := app.Do("GET", "/me", m.Cookie, nil, nil)
	if me.Status != 200 || !strings.Contains(string(me.Body), `"user":{"id":42}`) || !strings.Contains(string(me.Body), `data here`) {
		t.Fatalf("Node on the minted cookie: %d %s", me.Status, me.Body)
	}
}

// TestFormatsKoaSession: both koa-session modes, inspect and mint against
// the real koa app.
func TestFormatsKoaSession(t *testing.T) {
	creds := map[string]string{"username": "alice", "password": "secret"}
	addr := services.RedisAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	prefix := uniq("sbkoa:") + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	for _, mode := range []struct {
		name  string
		env   map[string]string
		flags []string
	}{
		{"cookie", map[string]string{"KEYS": `["koa-key-1"]`, "MAX_AGE_MS": "3600000"}, nil},
		{"redis", map[string]string{"KEYS": `["koa-key-1"]`, "MAX_AGE_MS": "3600000", "STORE": "redis", "REDIS_URL": "redis://" + addr, "PREFIX": prefix},
			[]string{"--store", "redis://" + addr, "--prefix", prefix}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			app := nodetest.StartKoa(t, mode.env)
			flags := append([]string{"--format", "koa-session", "--keys", "koa-key-1"}, mode.flags...)
			cookie := pairsOf(app.Do("POST", "/login", "", creds, nil).SetCookie)
			in := decodeInspect(t, sb(t, append(append([]string{"inspect"}, flags...), cookie)...).want(t, 0))
			if !in.LoggedIn || in.Expires == nil || (in.Sid != "") != (mode.name == "redis") {
				t.Fatalf("inspect of Node's login: %+v", in)
			}
			if mode.name == "redis" && !strings.HasPrefix(in.Sid, prefix) {
				t.Fatalf("store key %q lacks the prefix", in.Sid)
			}
			sb(t, append(append([]string{"inspect"}, flags...), strings.Replace(cookie, ".sig=", ".sig=A", 1))...).want(t, 2)
			sb(t, "inspect", "--format", "koa-session", "--secret", "koa-key-1", cookie).want(t, 1)

			m := decodeMintPair(t, sb(t, append(append([]string{"mint"}, flags...), "--user", "7", "--max-age", "3600000")...).want(t, 0))
			if (m.Sid != nil) != (mode.name == "redis") {
				t.Fatalf("mint sid %v in %s mode", m.Sid, mode.name)
			}
			st := app.State(app.Do("GET", "/me", m.Cookie, nil, nil))
			if !st.LoggedIn || !strings.Contains(string(st.Session), `"passport":{"user":7}`) {
				t.Fatalf("Node on the minted cookie: %+v", st)
			}
		})
	}
}

// TestFormatsFastify: inspect and mint for @fastify/session on Redis.
func TestFormatsFastify(t *testing.T) {
	const secret = "a secret of at least thirty-two characters"
	addr := services.RedisAddr(t)
	prefix := uniq("sbfastify:") + ":"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
		rdb.Close()
	})
	app := nodetest.StartFastifyApp(t, map[string]string{
		"SECRETS": `["` + secret + `"]`, "SECURE": "false",
		"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": prefix,
	})
	flags := []string{"--format", "@fastify/session", "--secret", secret, "--store", "redis://" + addr + "?prefix=" + prefix}
	cookie := app.Login("alice", "secret")
	in := decodeInspect(t, sb(t, append(append([]string{"inspect"}, flags...), cookie)...).want(t, 0))
	if !in.LoggedIn || string(in.User) != "7" || !strings.HasPrefix(cookie, in.Sid+".") {
		t.Fatalf("inspect of fastify's login: %+v", in)
	}
	// express-session's form of the same id is no fastify cookie.
	sb(t, append(append([]string{"inspect"}, flags...), "sessionId=s:"+cookie)...).want(t, 2)

	m := decodeMint(t, sb(t, append(append([]string{"mint"}, flags...), "--user", "7", "--max-age", "3600000")...).want(t, 0))
	if !strings.HasPrefix(m.SetCookie, "sessionId="+m.Cookie+";") || !strings.Contains(m.SetCookie, "Secure") {
		t.Fatalf("mint: %+v (fastify's cookies are Secure by default)", m)
	}
	if me := app.Me(m.Cookie); !me.LoggedIn || me.Sid != m.Sid {
		t.Fatalf("fastify on the minted cookie: %+v", me)
	}
}

// TestFormatsMongoCrypto: connect-mongo's crypto through
// --store-secret-file, both ways, and a wrong secret refused.
func TestFormatsMongoCrypto(t *testing.T) {
	base, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatal(err)
	}
	const dbName = "sessionbridge_cli_test"
	coll := uniq("crypt_")
	t.Cleanup(func() {
		_ = c.Database(dbName).Collection(coll).Drop(context.Background())
		_ = c.Disconnect(context.Background())
	})
	const storeSecret = "Squirrel-Acorn-42!"
	app := nodetest.StartApp(t, map[string]string{"STORE": "mongo", "MONGO_URL": strings.TrimSuffix(base, "/") + "/" + dbName, "MONGO_COLLECTION": coll, "MONGO_CRYPTO_SECRET": storeSecret})
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(storeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrongFile, []byte("not-the-secret"), 0o600)
	u := strings.TrimSuffix(base, "/") + "/" + dbName + "?collectionName=" + coll
	flags := []string{"--store", u, "--secret", "keyboard cat"}

	cookie := app.Login("alice", "secret")
	in := decodeInspect(t, sb(t, append(append([]string{"inspect", "--store-secret-file", secretFile}, flags...), cookie)...).want(t, 0))
	if !in.LoggedIn {
		t.Fatalf("inspect of an encrypted session: %+v", in)
	}
	r := sb(t, append(append([]string{"inspect", "--store-secret-file", wrongFile}, flags...), cookie)...).want(t, 1)
	if strings.Contains(r.stderr, "not-the-secret") || strings.Contains(r.stderr, storeSecret) {
		t.Fatalf("stderr shows a secret: %s", r.stderr)
	}
	sb(t, append(append([]string{"inspect"}, flags...), cookie)...).want(t, 1) // no secret: the record is encrypted

	m := decodeMint(t, sb(t, append(append([]string{"mint", "--store-secret-file", secretFile}, flags...), "--user", "7")...).want(t, 0))
	if me := app.Me(m.Cookie); !me.LoggedIn || me.Sid != m.Sid {
		t.Fatalf("Node on an encrypted minted session: %+v", me)
	}
}
