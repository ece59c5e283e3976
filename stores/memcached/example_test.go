package memcachedstore_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// Share sessions with a Node app configured as
//
//	app.use(session({ secret: 'keyboard cat', store: new MemcachedStore({ hosts: ['127.0.0.1:11211'], prefix: 'sess:' }) }))
//
// (It needs a memcached server, so it has no Output and only compiles.)
func ExampleNew() {
	store := memcachedstore.New(memcache.New("127.0.0.1:11211"), memcachedstore.Options{Prefix: "sess:"})
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		panic(err)
	}
	http.Handle("/api/", bridge.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionbridge.FromContext(r.Context())
		var p struct{ User int }
		_ = sess.Record.Get("passport", &p)
		fmt.Fprintf(w, "hello user %d\n", p.User)
	})))
}

// Share the sessions a Node app encrypts with connect-memcached's secret
// option:
//
//	new MemcachedStore({ hosts: ['127.0.0.1:11211'], secret: process.env.SESSION_SECRET })
//
// Printing the options never shows the secret.
func ExampleCryptoOptions() {
	opts := memcachedstore.Options{Crypto: &memcachedstore.CryptoOptions{Secret: "Sq!rrel#42AB"}}
	store := memcachedstore.New(memcache.New("127.0.0.1:11211"), opts)
	_ = store
	fmt.Println(*opts.Crypto)
	// Output: memcachedstore.CryptoOptions{Secret: xxxxx}
}

// Share sessions with a Node app that lists several memcached servers,
// and follow the npm memcached client's rules when one fails:
//
//	new MemcachedStore({ hosts: ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'],
//	  prefix: 'sess:', retries: 0, failures: 2, retry: 5000, remove: true })
//
// NewRing does no I/O; the events feed a metric.
func ExampleNewRing() {
	var removed atomic.Int64
	store, err := memcachedstore.NewRing([]string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}, memcachedstore.Options{
		Prefix: "sess:",
		Ring: memcachedstore.RingOptions{
			Retries:  -1, // retries: 0
			Failures: 2,
			Retry:    5 * time.Second,
			Remove:   true,
			OnEvent: func(ev memcachedstore.RingEvent) {
				if ev.Kind == memcachedstore.RingRemoved {
					removed.Add(1)
				}
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		panic(err)
	}
	fmt.Println(bridge.CookieName(), removed.Load())
	// Output: connect.sid 0
}
