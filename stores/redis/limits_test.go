package redisstore_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// ttlSeconds is TTL key in seconds, read as an integer: go-redis's TTL
// returns a time.Duration, which cannot hold more than 292 years.
func ttlSeconds(t *testing.T, c redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := c.Do(context.Background(), "ttl", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHugeLifetimes: Node (connect-redis) writes sessions whose cookie
// lives 1000 years and 10^15 ms; Go reads, touches and saves them. Each
// write must leave the key with connect-redis's TTL,
// Math.ceil((expires - now)/1000) seconds, and Node must stay logged in. A
// lifetime computed in time.Duration wraps: the 1000-year touch sent a
// negative EXPIRE and Redis deleted the session.
func TestHugeLifetimes(t *testing.T) {
	c := single(t)
	for _, maxAge := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
		t.Run(strconv.FormatInt(maxAge, 10), func(t *testing.T) {
			p := prefix(t)
			app := nodetest.StartApp(t, map[string]string{
				"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": p,
				"MAX_AGE_MS": strconv.FormatInt(maxAge, 10),
			})
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
			if err != nil {
				t.Fatal(err)
			}
			cookie := app.Login("alice", "secret")
			peer := storetest.Peer{App: app, Bridge: b}
			peer.LongLived(t, cookie, func(t *testing.T, s *sessionbridge.Session) {
				t.Helper()
				want := (s.Record.Cookie.Expires.UnixMilli() - time.Now().UnixMilli() + 999) / 1000
				got := ttlSeconds(t, c, st.Key(s.ID))
				if got < want-5 || got > want+1 {
					t.Fatalf("Redis TTL %d s, want about %d s (cookie.expires %s)", got, want, s.Record.Cookie.Expires.Format(time.RFC3339))
				}
			})
			if d := st.Lifetime(mustLoad(t, b, cookie).Record); d <= 0 {
				t.Fatalf("TTL() = %v for a live session; it must saturate, not wrap", d)
			}
		})
	}
}

func mustLoad(t *testing.T, b *sessionbridge.Bridge, cookie string) *sessionbridge.Session {
	t.Helper()
	s, err := b.Load(reqWith(b, cookie))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTTLSaturates: a cookie.expires beyond the JavaScript Date range
// (which only Go can hold) gets the longest TTL a JavaScript Date allows,
// which Redis accepts, where the TTL Redis refuses is near 2^63 ms.
func TestTTLSaturates(t *testing.T) {
	c := single(t)
	ctx := context.Background()
	p := prefix(t)
	now := time.Now()
	st := redisstore.New(c, redisstore.Options{Prefix: p, Now: func() time.Time { return now }})
	maxTTL := (redisstore.MaxMillis - now.UnixMilli() + 999) / 1000
	for name, exp := range map[string]time.Time{
		"year 999999":    time.Date(999999, 1, 1, 0, 0, 0, 0, time.UTC),
		"year 3e8":       time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), // beyond UnixMilli's range
		"JavaScript max": time.UnixMilli(redisstore.MaxMillis),
	} {
		s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
		s.Cookie.Expires = &exp
		if err := st.Set(ctx, "x", s); err != nil {
			t.Fatalf("%s: Set: %v", name, err)
		}
		if got := ttlSeconds(t, c, p+"x"); got < maxTTL-2 || got > maxTTL {
			t.Fatalf("%s: TTL %d, want %d", name, got, maxTTL)
		}
		if err := st.Touch(ctx, "x", s); err != nil {
			t.Fatalf("%s: Touch: %v", name, err)
		}
		if got := ttlSeconds(t, c, p+"x"); got < maxTTL-2 {
			t.Fatalf("%s: TTL after touch %d, want %d", name, got, maxTTL)
		}
		if d := st.Lifetime(s); d != time.Duration(math.MaxInt64/int64(time.Second))*time.Second {
			t.Fatalf("%s: TTL() = %v, want the largest whole-second Duration", name, d)
		}
	}
	// Redis's own limit, for the record: EXPIRE refuses seconds whose
	// milliseconds overflow once added to its clock.
	err := c.Do(ctx, "expire", p+"x", int64(math.MaxInt64/1000)).Err()
	if err == nil || !strings.Contains(err.Error(), "invalid expire time") {
		t.Fatalf("EXPIRE key %d: %v, want Redis's invalid expire time", int64(math.MaxInt64/1000), err)
	}
	t.Logf("longest TTL sent: %d s (end of the JavaScript Date range); Redis refuses %d s: %v", maxTTL, int64(math.MaxInt64/1000), err)
	// An expired cookie still deletes, as connect-redis does.
	old := sessionjson.New(sessionjson.NewCookie(now.Add(-2*time.Hour), time.Hour))
	if err := st.Set(ctx, "x", old); err != nil || c.Exists(ctx, p+"x").Val() != 0 {
		t.Fatalf("expired cookie: %v, key still there: %v", err, c.Exists(ctx, p+"x").Val())
	}
}

// TestSizeLimit: records just under and over the Decoder's limit, below
// and above the first read's window, and a 64 MiB value, on a single node
// and on the Cluster. The 64 MiB value must be refused having read almost
// none of it: the old GET allocated the whole 64 MiB.
func TestSizeLimit(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) redis.UniversalClient{"single": single, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			ctx := context.Background()
			p := prefix(t)
			put := func(sid string, rec []byte) {
				if err := c.Set(ctx, p+sid, rec, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for _, limit := range []int{1000, 100 << 10, sessionjson.DefaultMaxBytes} {
				max := limit
				if limit == sessionjson.DefaultMaxBytes {
					max = 0 // the default
				}
				st := redisstore.New(c, redisstore.Options{Prefix: p, Decoder: sessionjson.Decoder{MaxBytes: max}})
				storetest.SizeLimit(t, st, limit, put)
			}
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			// A record past the first window but within the limit is read whole.
			put("mid", storetest.Record(200<<10, time.Now().Add(time.Hour)))
			if _, err := st.Get(ctx, "mid"); err != nil {
				t.Fatalf("200 KiB record: %v", err)
			}

			// 64 MiB, made by Redis itself so the test does not allocate it,
			// beside a small record, under a prefix of their own.
			p = prefix(t)
			st = redisstore.New(c, redisstore.Options{Prefix: p})
			const huge = 64 << 20
			if err := c.SetRange(ctx, p+"huge", huge-1, "x").Err(); err != nil {
				t.Fatal(err)
			}
			c.Expire(ctx, p+"huge", time.Minute)
			t.Cleanup(func() { c.Del(context.Background(), p+"huge") })
			put("small", storetest.Record(500, time.Now().Add(time.Hour)))
			var err error
			alloc := storetest.Allocated(func() { _, err = st.Get(ctx, "huge") })
			if !errors.Is(err, sessionjson.ErrTooLarge) {
				t.Fatalf("64 MiB record: %v, want ErrTooLarge", err)
			}
			if alloc > 1<<20 {
				t.Fatalf("refusing a 64 MiB record allocated %d bytes; it must not read it", alloc)
			}
			t.Logf("64 MiB record refused (%v) after allocating %d bytes", err, alloc)
			// All skips nothing and reads nothing of it either.
			alloc = storetest.Allocated(func() { _, err = st.All(ctx) })
			if !errors.Is(err, sessionjson.ErrTooLarge) || alloc > 1<<20 {
				t.Fatalf("All over a 64 MiB record: %v after %d bytes, want ErrTooLarge without reading it", err, alloc)
			}
			// An empty value is no session, as for connect-redis.
			put("empty", nil)
			if _, err := st.Get(ctx, "empty"); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("empty value: %v, want ErrNotFound", err)
			}
		})
	}
}
