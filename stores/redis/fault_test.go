package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestStoreOutage freezes, then SIGKILLs a private redis-server (append-only
// file, fsync always) under a steady load of session loads and socket
// authorizations, and restarts it on the same port and directory: every call
// while it is frozen or down must fail as a store error within its deadline,
// none may be accepted, and the same client must serve the surviving
// session again after the restart.
//
// The client needs ContextTimeoutEnabled: without it go-redis ignores
// context deadlines on the socket and a call to a hung server waits for
// ReadTimeout (3 s by default) or until the server answers, whatever the
// caller's deadline (this test then fails with "it hung").
func TestStoreOutage(t *testing.T) {
	srv := faulttest.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	// go-redis logs every failed dial to stderr: thousands of lines here.
	logging.Disable()
	t.Cleanup(logging.Enable)
	faulttest.RunOutage(t, faulttest.Outage{Server: srv, Store: redisstore.New(c, redisstore.Options{})})
}
