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
	var current []string
	collect := func(c *redis.Client) error {
		v, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return fmt.Errorf("%w: %v", errConfigUnavailable, err)
		}
		current = append(current, v["notify-keyspace-events"])
		if configure && !enough(v["notify-keyspace-events"]) {
			return c.ConfigSet(ctx, "notify-keyspace-events", v["notify-keyspace-events"]+"Kg$x").Err()
		}
		return nil
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return collect(n) })
	case *redis.Client:
		err = collect(c)
	default:
		v, gerr := client.ConfigGet(ctx, "notify-keyspace-events").Result()
		if gerr != nil {
			return fmt.Errorf("%w: %v", errConfigUnavailable, gerr)
		}
		current = append(current, v["notify-keyspace-events"])
	}
	if err != nil {
		return err
	}
	if configure {
		return nil
	}
	for _, v := range current {
		if !enough(v) {
			return ErrNotificationsOff
		}
	}
	return nil
}

// enough reports whether a notify-keyspace-events value publishes keyspace
// events for generic commands, string commands and expirations.
func enough(v string) bool {
	has := func(c string) bool { return strings.Contains(v, c) }
	return has("K") && (has("A") || (has("g") && has("$") && has("x")))
}
