package socketauth_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/socketauth"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestWatchRevokesOnNodeLogout: a connection authorized from a real Node
// login is revoked as soon as Node logs the user out, through the Redis
// store's feed of keyspace notifications (turned on by the test with
// Configure).
func TestWatchRevokesOnNodeLogout(t *testing.T) {
	addr := services.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	watcherName := fmt.Sprintf("sbwatch-%d", time.Now().UnixNano())
	wc := redis.NewClient(&redis.Options{Addr: addr, ClientName: watcherName})
	t.Cleanup(func() { wc.Close() })
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("sbwatch:%d:", time.Now().UnixNano())
	st := redisstore.New(c, redisstore.Options{Prefix: prefix})
	app := nodetest.StartApp(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": prefix})
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
	a, _ := socketauth.New(socketauth.Config{Source: b})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan error, 1)
	go func() { watching <- tr.Watch(ctx, st.Feed(redisstore.FeedOptions{Client: wc, Configure: true})) }()
	services.WaitPSubscribed(t, c, watcherName)

	revoked := make(chan string, 4)
	for _, user := range []string{"alice", "zero"} {
		cookie := app.Login(user, "secret")
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		r.Header.Set("Cookie", "connect.sid="+cookie)
		res, err := a.Authorize(context.Background(), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr.Track(res, func(reason string) { revoked <- user + ": " + reason })
		if user == "alice" {
			start := time.Now()
			app.Logout(cookie)
			select {
			case got := <-revoked:
				t.Logf("revoked %q %v after Node's logout", got, time.Since(start).Round(time.Millisecond))
			case err := <-watching:
				t.Fatalf("Watch stopped: %v", err)
			case <-time.After(3 * time.Second):
				t.Fatal("not revoked within 3s of Node's logout")
			}
		}
	}
	select {
	case got := <-revoked:
		t.Fatalf("a live session was revoked: %s", got)
	case <-time.After(300 * time.Millisecond):
	}
	if s, _ := tr.Len(); s != 1 {
		t.Fatalf("tracked sessions %d, want zero's only", s)
	}
}
