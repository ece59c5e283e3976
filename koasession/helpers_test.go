package koasession_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
)

// fixedMs is the clock of the tests that compare exact bytes (Go's
// Config.Now, Node's X-Fake-Now).
const fixedMs = 1796247122435

func fixedNow() time.Time { return time.UnixMilli(fixedMs) }

// jar keeps cookies the way a browser would for these tests: a cookie set
// empty or expiring at the epoch is removed.
type jar map[string]string

func (j jar) update(setCookies []string) {
	for _, sc := range setCookies {
		nv, _, _ := strings.Cut(sc, ";")
		name, value, _ := strings.Cut(nv, "=")
		if value == "" || strings.Contains(sc, "expires=Thu, 01 Jan 1970 00:00:00 GMT") {
			delete(j, name)
			continue
		}
		j[name] = value
	}
}

// header is the Cookie header of the jar, in name order.
func (j jar) header() string {
	names := make([]string, 0, len(j))
	for n := range j {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + j[n]
	}
	return strings.Join(parts, "; ")
}

func (j jar) clone() jar {
	c := jar{}
	for k, v := range j {
		c[k] = v
	}
	return c
}

// mustNew is koasession.New failing the test.
func mustNew(t testing.TB, cfg koasession.Config) *koasession.Bridge {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = []string{"koa-key-1"}
	}
	b, err := koasession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve runs one request through h with the Cookie header and returns the
// recorder.
func serve(h http.Handler, method, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// setHandler is a handler that sets the query's k=v pairs (as JSON
// numbers or strings) in the session, and deletes the keys of del=.
func setHandler(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			t.Error("no session in the context")
			return
		}
		for k, vs := range r.URL.Query() {
			if k == "del" {
				for _, d := range vs {
					_ = s.Record.Delete(d)
				}
				continue
			}
			if err := s.Record.SetRaw(k, []byte(vs[0])); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
}

// decodePayload returns the JSON inside a cookie-mode value.
func decodePayload(t testing.TB, v string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("payload is not padded standard base64: %v", err)
	}
	return string(b)
}

// redisClient returns a client of the shared Redis (skipping, or failing
// in CI, when there is none).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// uniquePrefix returns a koa-session prefix no other test uses, and
// deletes its keys when the test ends.
func uniquePrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "koatest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, p+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return p
}

// storeBridge returns a store-mode Bridge on the shared Redis with a
// unique prefix.
func storeBridge(t testing.TB, cfg koasession.Config) (*koasession.Bridge, *redis.Client, string) {
	t.Helper()
	rdb := redisClient(t)
	if cfg.Prefix == "" {
		cfg.Prefix = uniquePrefix(t, rdb)
	}
	cfg.Store = koaredis.New(rdb, koaredis.Options{})
	return mustNew(t, cfg), rdb, cfg.Prefix
}
