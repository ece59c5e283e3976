package redisstore_test

import (
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestLifecycleWithNode: Go behind Bridge.LoadAndSave and Node's
// connect-redis on one Redis, as express-session peers.
func TestLifecycleWithNode(t *testing.T) {
	c := single(t)
	storetest.Lifecycle(t, 0, func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store) {
		p := prefix(t)
		env["STORE"] = "redis"
		env["REDIS_URL"] = "redis://" + services.RedisAddr(t)
		env["REDIS_PREFIX"] = p
		return nodetest.StartApp(t, env), redisstore.New(c, redisstore.Options{Prefix: p})
	})
}
