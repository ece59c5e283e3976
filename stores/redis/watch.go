package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
)

// ErrNotificationsOff means Redis does not publish the keyspace events a
// Feed needs (notify-keyspace-events lacks K, g, $ or x).
var ErrNotificationsOff = errors.New("redisstore: keyspace notifications are off (notify-keyspace-events needs K, g, $ and x, e.g. \"Kg$x\")")

// errConfigUnavailable means CONFIG GET failed, so the notification
// setting could not be checked.
var errConfigUnavailable = errors.New("redisstore: CONFIG GET failed")

// FeedOptions configure a Feed. The zero value is usable.
type FeedOptions struct {
	// Client subscribes to the notifications; default the store's client.
	// A subscription holds a connection of its own either way.
	Client redis.UniversalClient
	// Configure turns the needed notifications on with CONFIG SET (adding
	// K, g, $ and x to what is set) instead of failing when they are off.
	Configure bool
	// Logger receives the warning that the setting could not be checked;
	// default slog.Default().
	Logger *slog.Logger
}

// Feed reports the changes to a Store's sessions from Redis keyspace
// notifications: a sessionbridge.SessionFeed, for
// socketauth.Tracker.Watch. A deleted, expired or evicted key is an ended
// session; a key written with SET (a Node logout first writes
// "passport":{}) is a changed one. Keys of other prefixes are ignored;
// EXPIRE (a touch) is no change.
//
// Redis publishes these events only with notify-keyspace-events including
// K (keyspace channels), g (DEL, EXPIRE, ...), $ (SET) and x (expiry), for
// example `CONFIG SET notify-keyspace-events Kg$x` or the redis.conf line
// `notify-keyspace-events Kg$x`. Watch checks the setting on every master
// first: when it is off, Watch returns ErrNotificationsOff (unless
// FeedOptions.Configure). If CONFIG is not allowed (some managed
// services), the setting cannot be checked; Watch then logs a warning and
// subscribes anyway.
type Feed struct {
	client    redis.UniversalClient
	prefix    string // the store's key prefix
	pattern   string // PSUBSCRIBE pattern of the store's keyspace channels
	configure bool
	log       *slog.Logger
}

var _ sessionbridge.SessionFeed = (*Feed)(nil)

// Feed returns the keyspace-notification feed of the store's keys.
func (s *Store) Feed(opts FeedOptions) *Feed {
	f := &Feed{
		client:    opts.Client,
		prefix:    s.Key(""),
		pattern:   "__keyspace@*__:" + s.KeyPattern(),
		configure: opts.Configure,
		log:       opts.Logger,
	}
	if f.client == nil {
		f.client = s.client
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	return f
}

// Watch subscribes to the store's keyspace channels, on every master of a
// Cluster, and calls notify for each change until ctx ends; it then
// returns nil. It returns ErrNotificationsOff when the notifications are
// off (see Feed), and an error wrapping the client's when the setting
// cannot be changed or the Cluster's masters cannot be listed. On a
// Cluster, notify is called from one goroutine per master.
//
// Keyspace notifications are fire-and-forget: events published while the
// subscription reconnects are lost, and a master added to a Cluster after
// Watch started is not watched. Run Tracker.Run beside a feed, which
// re-validates every tracked session at its interval and catches both.
func (f *Feed) Watch(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
	if err := checkNotifications(ctx, f.client, f.configure); err != nil {
		if !errors.Is(err, errConfigUnavailable) {
			return err
		}
		f.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: cannot read notify-keyspace-events; subscribing anyway", slog.Any("error", err))
	}
	if cc, ok := f.client.(*redis.ClusterClient); ok {
		var wg sync.WaitGroup
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			wg.Add(1)
			go func() { defer wg.Done(); f.watch(ctx, c, notify) }()
			return nil
		})
		if err != nil {
			return fmt.Errorf("redisstore: watch: %w", err)
		}
		<-ctx.Done()
		wg.Wait()
		return nil
	}
	f.watch(ctx, f.client, notify)
	return nil
}

// watch follows the keyspace channels of one node until ctx ends.
func (f *Feed) watch(ctx context.Context, c redis.UniversalClient, notify func(sessionbridge.SessionEvent)) {
	sub := c.PSubscribe(ctx, f.pattern)
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
			if ev, ok := f.event(msg.Channel, msg.Payload); ok {
				notify(ev)
			}
		}
	}
}

// event turns a keyspace notification (channel "__keyspace@<db>__:<key>",
// payload the event name) into a SessionEvent, or reports false for a key
// of another prefix or an event that changes nothing.
func (f *Feed) event(channel, payload string) (sessionbridge.SessionEvent, bool) {
	_, key, found := strings.Cut(channel, "__:")
	if !found || !strings.HasPrefix(key, f.prefix) || len(key) == len(f.prefix) {
		return sessionbridge.SessionEvent{}, false
	}
	sid := key[len(f.prefix):]
	switch payload {
	case "del", "expired", "evicted":
		return sessionbridge.SessionEvent{ID: sid, Ended: true}, true
	case "set":
		return sessionbridge.SessionEvent{ID: sid}, true
	}
	return sessionbridge.SessionEvent{}, false
}

// checkNotifications checks, and with configure turns on, the keyspace
// notifications on client (every master of a Cluster).
func checkNotifications(ctx context.Context, client redis.UniversalClient, configure bool) error {
	// check runs once per master, concurrently on a Cluster: it shares
	// nothing between nodes.
	check := func(c redis.UniversalClient) error {
		v, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return fmt.Errorf("%w: %w", errConfigUnavailable, err)
		}
		cur := v["notify-keyspace-events"]
		switch {
		case enough(cur):
			return nil
		case configure:
			if err := c.ConfigSet(ctx, "notify-keyspace-events", cur+"Kg$x").Err(); err != nil {
				return fmt.Errorf("redisstore: turn keyspace notifications on: %w", err)
			}
			return nil
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
