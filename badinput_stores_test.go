package sessionbridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestBadInputMatrixRedis is the store layer of the bad-input matrix, on a
// real Redis: what a store must refuse or keep whatever a record holds. Each
// store's own tests cover the others (TestSizeLimit, TestHugeLifetimes).
func TestBadInputMatrixRedis(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("badinput:%d:", time.Now().UnixNano())
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, store.KeyPattern()).Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	put := func(id string, v []byte) {
		if err := rdb.Set(ctx, prefix+id, v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, maxAge := range []int64{31_536_000_000_000, 1_000_000_000_000_000} { // 1000 years, 10^15 ms
		id := fmt.Sprintf("long%d", maxAge)
		expires := jsISOString(time.UnixMilli(time.Now().UnixMilli() + maxAge))
		put(id, fmt.Appendf(nil, `{"cookie":{"originalMaxAge":%d,"expires":%q},"passport":{"user":7}}`, maxAge, expires))
		t.Run(fmt.Sprintf("maxAge %d ms, touched", maxAge), func(t *testing.T) {
			s, err := b.LoadID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Touch(ctx, s); err != nil {
				t.Fatalf("touch: %v", err)
			}
			ttl, err := rdb.Do(ctx, "ttl", prefix+id).Int64() // seconds: a Duration would wrap
			if err != nil || ttl < 100*365*86400 {
				t.Fatalf("after the touch the TTL is %d s (%v), want at least a century", ttl, err)
			}
			if _, err := b.LoadID(ctx, id); err != nil {
				t.Fatalf("live session gone after a touch: %v", err)
			}
		})
	}
	huge := append(append([]byte(`{"cookie":{},"blob":"`), bytes.Repeat([]byte("a"), 64<<20)...), `"}`...)
	put("huge", huge)
	t.Run("64 MiB record", func(t *testing.T) {
		_, err := b.LoadID(ctx, "huge")
		if !errors.Is(err, sessionjson.ErrTooLarge) || !errors.Is(err, sessionbridge.ErrStore) || errors.Is(err, sessionbridge.ErrNoSession) {
			t.Fatalf("got %v, want ErrStore wrapping ErrTooLarge", err)
		}
		if strings.Contains(err.Error(), "huge") {
			t.Fatalf("the error names the session id: %v", err)
		}
	})
}

// jsISOString is Date.prototype.toISOString: years past 9999 are written
// with a sign and six digits.
func jsISOString(t time.Time) string {
	t = t.UTC()
	if y := t.Year(); y > 9999 {
		return fmt.Sprintf("+%06d", y) + t.Format("-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}
