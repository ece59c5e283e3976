package socketauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// ErrNotificationsOff means Redis does not publish the keyspace events
// WatchRedis needs (notify-keyspace-events lacks K, g, $ or x).
var ErrNotificationsOff = errors.New("socketauth: redis keyspace notifications are off (notify-keyspace-events needs K, g, $ and x, e.g. \"Kg$x\")")

// RedisWatchOptions configure WatchRedis.
type RedisWatchOptions struct {
	// Configure turns the needed notifications on with CONFIG SET (adding
	// K, g, $ and x to what is set) instead of failing when they are off.
	Configure bool
}

// WatchRedis follows Redis keyspace notifications for the keys of a
// connect-redis store and acts on tracked sessions at once: a deleted,
// expired or evicted key revokes its connections (ReasonSessionEnded); a
// rewritten key is re-validated (a Node logout, for instance, first writes
// "passport":{}). It subscribes on every master of a Cluster and blocks
// until ctx ends.
//
// Redis publishes these events only with notify-keyspace-events including
// K (keyspace channels), g (DEL, EXPIRE, ...), $ (SET) and x (expiry), for
// example `CONFIG SET notify-keyspace-events Kg$x` or the redis.conf line
// `notify-keyspace-events Kg$x`. When they are off, WatchRedis returns
// ErrNotificationsOff (unless opts.Configure) and nothing is revoked early;
// Tracker.Run's periodic re-validation still catches every ended session
// within its interval. If CONFIG is not allowed (some managed services), the
// setting cannot be checked; WatchRedis then logs a warning and subscribes
// anyway.
func (t *Tracker) WatchRedis(ctx context.Context, client redis.UniversalClient, store *redisstore.Store, opts RedisWatchOptions) error {
	if err := checkNotifications(ctx, client, opts.Configure); err != nil {
		if !errors.Is(err, errConfigUnavailable) {
			return err
		}
		t.a.log.LogAttrs(ctx, slog.LevelWarn, "socketauth: cannot read notify-keyspace-events; subscribing anyway", slog.Any("error", err))
	}
	prefix := store.Key("")
	pattern := "__keyspace@*__:" + store.KeyPattern()
	watch := func(ctx context.Context, c redis.UniversalClient) {
		sub := c.PSubscribe(ctx, pattern)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return
				}
				_, key, found := strings.Cut(msg.Channel, "__:")
				if !found || !strings.HasPrefix(key, prefix) {
					continue
				}
				sid := key[len(prefix):]
				switch msg.Payload {
				case "del", "expired", "evicted":
					t.Revoke(sid, ReasonSessionEnded)
				case "set":
					if !t.tracked(sid) {
						continue
					}
					go func() {
						if _, err := t.Check(ctx, sid); err != nil {
							t.a.log.LogAttrs(ctx, slog.LevelWarn, "socketauth: re-validation after a session write failed", slog.Any("error", err))
						}
					}()
				}
			}
		}
	}
	if cc, ok := client.(*redis.ClusterClient); ok {
		var wg sync.WaitGroup
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			wg.Add(1)
			go func() { defer wg.Done(); watch(ctx, c) }()
			return nil
		})
		if err != nil {
			return fmt.Errorf("socketauth: watch redis: %w", err)
		}
		<-ctx.Done()
		wg.Wait()
		return nil
	}
	watch(ctx, client)
	return nil
}

var errConfigUnavailable = errors.New("socketauth: CONFIG GET failed")

func checkNotifications(ctx context.Context, client redis.UniversalClient, configure bool) error {
	// check runs once per master, concurrently on a Cluster: it shares
	// nothing between nodes.
	check := func(c redis.UniversalClient) error {
		v, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return fmt.Errorf("%w: %v", errConfigUnavailable, err)
		}
		cur := v["notify-keyspace-events"]
		switch {
		case enough(cur):
			return nil
		case configure:
			return c.ConfigSet(ctx, "notify-keyspace-events", cur+"Kg$x").Err()
		}
		return ErrNotificationsOff
	}
	if c, ok := client.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return check(n) })
	}
	return check(client)
}

// enough reports whether a notify-keyspace-events value publishes keyspace
// events for generic commands, string commands and expirations.
func enough(v string) bool {
	has := func(c string) bool { return strings.Contains(v, c) }
	return has("K") && (has("A") || (has("g") && has("$") && has("x")))
}
