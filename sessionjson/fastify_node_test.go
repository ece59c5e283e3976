package sessionjson_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// TestFastifyResaveMatchesNode puts cookies of every shape into Redis, lets
// the real @fastify/session (connect-redis, rolling: every request saves)
// load and re-save each at a fixed clock, and requires Go's touch of the
// same record at the same instant to write exactly the bytes Node wrote.
// Cookies without originalMaxAge, which @fastify/session's touch leaves
// alone, must come back from Go unchanged, and from Node with only
// originalExpires added. (A key the record lacks Node takes from the app's
// cookie options, which a record does not carry; @fastify/session itself
// never leaves one out, so every cookie here has them all.)
func TestFastifyResaveMatchesNode(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("sjfastify:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	const secret = "a secret of at least thirty-two characters"
	app := nodetest.StartFastifyApp(t, map[string]string{
		"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": prefix,
		"SECRETS": `["` + secret + `"]`, "MAX_AGE_MS": "null", "FAKE_NOW": "1", "TRUST_PROXY": "1",
	})
	signer, _ := cookiesig.NewSigner(secret)

	loadAt := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	exp := loadAt.Add(90 * time.Minute)
	iso := exp.Format(sessionjson.ExpiresLayout)
	isoSec := exp.Truncate(time.Second).Format(time.RFC3339)
	touched := []string{
		`{"expires":"` + iso + `","originalMaxAge":3600000,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null}`,
		`{"expires":"` + iso + `","originalMaxAge":3600000,"originalExpires":"2020-01-01T00:00:00.000Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null}`,
		`{"expires":"` + isoSec + `","originalMaxAge":1000,"path":null,"httpOnly":null,"sameSite":false,"secure":null,"domain":"","priority":"high","foo":1}`,
		`{"expires":null,"originalMaxAge":1000,"sameSite":"lax","secure":true,"path":"/app","httpOnly":false,"domain":"example.com","partitioned":true}`,
		`{"expires":"` + iso + `","originalMaxAge":1e3,"sameSite":true,"secure":null,"path":"/","httpOnly":true,"domain":null,"partitioned":null}`,
		`{"expires":"` + iso + `","originalMaxAge":5,"sameSite":"Strict","secure":false,"path":"/","httpOnly":true,"domain":"a.example.com"}`,
		`{"expires":"` + iso + `","originalMaxAge":86400000,"sameSite":"none","secure":true,"path":"/","httpOnly":true,"domain":null}`,
	}
	untouched := []string{
		`{"expires":"` + iso + `","originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null}`,
		`{"expires":null,"originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null}`,
	}
	i := 0
	resave := func(cookie string) (record, node string) {
		t.Helper()
		i++
		sid := fmt.Sprintf("sjfastify%023d", i)
		record = `{"cookie":` + cookie + `,"u":1,"cart":{"items":[1,2]}}`
		if err := rdb.Set(ctx, prefix+sid, record, 2*time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		resp := app.DoHeader("GET", "/me", http.Header{
			"Cookie":            {"sessionId=" + signer.FastifyCookieValue("", sid)},
			"X-Fake-Now":        {strconv.FormatInt(loadAt.UnixMilli(), 10)},
			"X-Forwarded-Proto": {"https"},
		}, nil)
		if resp.Status != 200 || !bytes.Contains(resp.Body, []byte(`"sid":"`+sid+`"`)) {
			t.Fatalf("fastify did not restore %s: %d %s", record, resp.Status, resp.Body)
		}
		got, err := rdb.Get(ctx, prefix+sid).Result()
		if err != nil {
			t.Fatalf("record %s after Node's re-save: %v (%s)", record, err, app.Stderr())
		}
		return record, got
	}
	for _, c := range touched {
		record, node := resave(c)
		s := mustDecode(t, record)
		if s.Cookie.Layout != sessionjson.FastifyLayout {
			t.Fatalf("%s: not read as fastify's", record)
		}
		s.Touch(loadAt)
		if got := mustEncode(t, s); got != node {
			t.Errorf("stored %s\nNode re-saved %s\n   Go writes %s", record, node, got)
		}
	}
	for _, c := range untouched {
		record, node := resave(c)
		s := mustDecode(t, record)
		s.Touch(loadAt)
		if got := mustEncode(t, s); got != record {
			t.Errorf("Go touch changed %s to %s", record, got)
		}
		// Node's re-save differs only by originalExpires (which no load
		// reads), when the record had an expires.
		want := record
		if c == untouched[0] {
			want = `{"cookie":{"expires":"` + iso + `","originalMaxAge":null,"originalExpires":"` + iso + `","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"u":1,"cart":{"items":[1,2]}}`
		}
		if node != want {
			t.Errorf("Node re-saved %s as %s, want %s", record, node, want)
		}
	}
}
