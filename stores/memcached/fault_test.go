package memcachedstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// TestStoreOutage runs faulttest.StoreOutage on a private memcached,
// killed with SIGKILL. memcached keeps nothing across a restart, so the
// session is written again through the same store once it is back
// (LosesData); until then "no session" is the truthful answer.
func TestStoreOutage(t *testing.T) {
	faulttest.StoreOutage{Start: faulttest.StartMemcached, LosesData: true, Connect: func(tb testing.TB, srv *faulttest.Server) sessionbridge.Store {
		c := memcache.New(srv.Addr)
		tb.Cleanup(func() { _ = c.Close() })
		return memcachedstore.New(c, memcachedstore.Options{Prefix: "sess:"})
	}}.Run(t)
}

// TestHungServerContext: gomemcache has no context support, so against a
// hung server (SIGSTOP) a call would wait for the client's Timeout, here
// 5 s. The store must return the context's error at its deadline instead,
// and the client must work again once the server answers.
func TestHungServerContext(t *testing.T) {
	srv := faulttest.StartMemcached(t)
	c := memcache.New(srv.Addr)
	c.Timeout = 5 * time.Second
	t.Cleanup(func() { _ = c.Close() })
	st := memcachedstore.New(c, memcachedstore.Options{})
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	if err := st.Set(context.Background(), "hung", sess); err != nil {
		t.Fatal(err)
	}
	srv.Freeze()
	const deadline = 200 * time.Millisecond
	for name, op := range map[string]func(context.Context) error{
		"Get":     func(ctx context.Context) error { _, err := st.Get(ctx, "hung"); return err },
		"Set":     func(ctx context.Context) error { return st.Set(ctx, "hung", sess) },
		"Touch":   func(ctx context.Context) error { return st.Touch(ctx, "hung", sess) },
		"Destroy": func(ctx context.Context) error { return st.Destroy(ctx, "other") },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := op(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hung server: %v, want context.DeadlineExceeded", name, err)
		}
		if took > deadline+time.Second {
			t.Errorf("%s on a hung server took %v with a %v deadline (client Timeout %v)", name, took, deadline, c.Timeout)
		}
	}
	srv.Thaw()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.Get(ctx, "hung"); err != nil {
		t.Fatalf("Get after the server answers again: %v", err)
	}
}
