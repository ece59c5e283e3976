package koaredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func client(t *testing.T) (*redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t), ContextTimeoutEnabled: true})
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "koaredistest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// TestFormat checks what Set writes (the bytes as given, SETEX with
// Math.ceil(ttl/1000), SET without expiry for 0) and what Get and Destroy
// do.
func TestFormat(t *testing.T) {
	rdb, p := client(t)
	s := koaredis.New(rdb, koaredis.Options{})
	ctx := context.Background()
	rec := []byte(`{"passport":{"user":7},"_expire":1796250722435,"_maxAge":3600000}`)
	for _, c := range []struct {
		ttl  time.Duration
		want time.Duration // Redis TTL, -1 for none
	}{
		{3610 * time.Second, 3610 * time.Second},
		{86410 * time.Second, 86410 * time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{time.Millisecond, time.Second},
		{0, -1},
		{-time.Millisecond, -1}, // Math.ceil(-0.001) is 0: SET
	} {
		key := p + c.ttl.String()
		if err := s.Set(ctx, key, rec, c.ttl); err != nil {
			t.Fatalf("%v: %v", c.ttl, err)
		}
		if got, _ := rdb.Get(ctx, key).Result(); got != string(rec) {
			t.Fatalf("%v: stored %s", c.ttl, got)
		}
		if got := rdb.TTL(ctx, key).Val(); got != c.want {
			t.Errorf("%v: TTL %v, want %v", c.ttl, got, c.want)
		}
		b, err := s.Get(ctx, key)
		if err != nil || string(b) != string(rec) {
			t.Fatalf("%v: get %s %v", c.ttl, b, err)
		}
		if err := s.Destroy(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("after destroy: %v", err)
		}
	}
	// A negative TTL of a second or more reaches Redis, which refuses it,
	// as it refuses koa-redis's SETEX.
	if err := s.Set(ctx, p+"neg", rec, -2*time.Second); err == nil {
		t.Error("negative TTL accepted")
	}
	if err := s.Destroy(ctx, p+"missing"); err != nil {
		t.Errorf("destroying a missing key: %v", err)
	}
	rdb.Set(ctx, p+"empty", "", time.Minute)
	if _, err := s.Get(ctx, p+"empty"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Errorf("empty value: %v", err)
	}
	rdb.RPush(ctx, p+"list", "x")
	if _, err := s.Get(ctx, p+"list"); !errors.Is(err, koaredis.ErrWrongType) || errors.Is(err, sessionjson.ErrMalformed) {
		t.Errorf("wrong type: %v", err)
	}
}

// TestMaxBytes reads a record at the limit and refuses one over it.
func TestMaxBytes(t *testing.T) {
	rdb, p := client(t)
	ctx := context.Background()
	s := koaredis.New(rdb, koaredis.Options{MaxBytes: 64})
	rdb.Set(ctx, p+"at", strings.Repeat("x", 64), time.Minute)
	rdb.Set(ctx, p+"over", strings.Repeat("x", 65), time.Minute)
	if b, err := s.Get(ctx, p+"at"); err != nil || len(b) != 64 {
		t.Errorf("at the limit: %d %v", len(b), err)
	}
	if _, err := s.Get(ctx, p+"over"); !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Errorf("one over: %v", err)
	}
	if b, err := koaredis.New(rdb, koaredis.Options{MaxBytes: -1}).Get(ctx, p+"over"); err != nil || len(b) != 65 {
		t.Errorf("no limit: %d %v", len(b), err)
	}
}

// TestUnreachable: a Redis nobody answers on is a failure, never "not
// found".
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s := koaredis.New(rdb, koaredis.Options{})
	ctx := context.Background()
	if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, sessionbridge.ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if err := s.Set(ctx, "k", []byte("{}"), time.Second); err == nil {
		t.Error("set succeeded")
	}
	if err := s.Destroy(ctx, "k"); err == nil {
		t.Error("destroy succeeded")
	}
}
