package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// BenchmarkGet is one Get of a typical logged-in session (about 150 bytes)
// from the local Redis: the round trip, the read and the decode.
func BenchmarkGet(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: services.RedisAddr(b)})
	defer c.Close()
	ctx := context.Background()
	st := redisstore.New(c, redisstore.Options{Prefix: "sbbench:get:"})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "id", s); err != nil {
		b.Fatal(err)
	}
	defer st.Destroy(ctx, "id")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetVersion is GetVersion of the same session as BenchmarkGet:
// GETRANGE and PTTL pipelined in one round trip, the decode, and the Tag.
func BenchmarkGetVersion(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: services.RedisAddr(b)})
	defer c.Close()
	ctx := context.Background()
	st := redisstore.New(c, redisstore.Options{Prefix: "sbbench:getversion:"})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "id", s); err != nil {
		b.Fatal(err)
	}
	defer st.Destroy(ctx, "id")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.GetVersion(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}
