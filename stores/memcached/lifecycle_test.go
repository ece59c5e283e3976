package memcachedstore_test

import (
	"maps"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// TestLifecycleWithNode: Go behind Bridge.LoadAndSave and Node's
// connect-memcached on one memcached, as express-session peers.
func TestLifecycleWithNode(t *testing.T) {
	// connect-memcached keeps whole seconds, truncated: a 2 s maxAge lives
	// 1 s, less memcached's clock tick, in Node as in Go.
	storetest.Lifecycle(t, 4*time.Second, func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store) {
		p := prefix(t)
		e := nodeEnv(t, p)
		maps.Copy(e, env)
		return nodetest.StartApp(t, e), memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	})
}
