package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestStoreOutage runs faulttest.StoreOutage on a private redis-server
// (append-only file, fsync always), killed with SIGKILL.
//
// The client needs ContextTimeoutEnabled: without it go-redis ignores
// context deadlines on the socket and a call to a hung server waits for
// ReadTimeout (3 s by default) or until the server answers, whatever the
// caller's deadline (this test then fails with "it hung").
func TestStoreOutage(t *testing.T) {
	faulttest.StoreOutage{Start: faulttest.StartRedis, Connect: func(tb testing.TB, srv *faulttest.Server) sessionbridge.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		tb.Cleanup(func() { c.Close() })
		// go-redis logs every failed dial to stderr: thousands of lines here.
		logging.Disable()
		tb.Cleanup(logging.Enable)
		return redisstore.New(c, redisstore.Options{})
	}}.Run(t)
}
