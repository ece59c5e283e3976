package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
)

// ErrNotificationsOff means Redis does not publish the keyspace events a
// Feed needs (notify-keyspace-events lacks K, g, $ or x).
var ErrNotificationsOff = errors.New("redisstore: keyspace notifications are off (notify-keyspace-events needs K, g, $ and x, e.g. \"Kg$x\")")

// errConfigUnavailable means CONFIG GET failed, so the notification
// setting could not be checked.
var errConfigUnavailable = errors.New("redisstore: CONFIG GET failed")

// DefaultFeedRefresh is how often a Feed looks at the master(s) again by
// default (FeedOptions.Refresh).
const DefaultFeedRefresh = time.Second

// recheckTimeout bounds a check of the notification setting after Watch
// started (after a reconnection, at the Refresh interval).
const recheckTimeout = 5 * time.Second

// FeedOptions configure a Feed. The zero value is usable.
type FeedOptions struct {
	// Client subscribes to the notifications; default the store's client.
	// A subscription holds a connection of its own either way.
	Client redis.UniversalClient
	// Configure turns the needed notifications on with CONFIG SET (adding
	// K, g, $ and x to what is set) instead of failing when they are off:
	// on every master when Watch starts, and again on the server a
	// subscription reconnects to (a promoted replica, a restarted master).
	Configure bool
	// Logger receives what goes wrong once Watch has started (the setting
	// cannot be checked, or is off on a new master; a Cluster's masters
	// cannot be listed) and the subscriptions made again after a master
	// changed; default slog.Default(). No session id is ever logged.
	Logger *slog.Logger
	// Refresh is how often Watch checks the notification setting again
	// on the master of a single node or Sentinel setup (a replica a
	// failover promoted may lack it, and the subscription may have reached
	// it before the promotion), and lists the masters of a Redis Cluster
	// again, to subscribe to a replica a failover promoted (or a master
	// added since) and drop a node that is no longer a master; default one
	// second (DefaultFeedRefresh).
	Refresh time.Duration
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
// `notify-keyspace-events Kg$x`, on every node that may become a master:
// the setting is not replicated, and a promoted replica without it
// publishes nothing. Watch checks the setting on every master first: when
// it is off, Watch returns ErrNotificationsOff (unless
// FeedOptions.Configure). If CONFIG is not allowed (some managed
// services), the setting cannot be checked; Watch then logs a warning and
// subscribes anyway.
//
// Failovers: the subscription of a single node or a Sentinel setup
// (redis.NewFailoverClient) reconnects with the client, to the new master
// after a failover, and the setting is checked on the client's master
// again after each reconnection and every FeedOptions.Refresh (turned on
// with Configure, logged at error level when it is off); when that check
// finds another master than the subscription started with (an old master
// that stayed up keeps its subscribers), Watch subscribes again. On a Redis
// Cluster, Watch lists the masters every FeedOptions.Refresh and follows
// the slots: a replica promoted by a failover is checked and subscribed
// to, a master turned replica is dropped.
type Feed struct {
	client    redis.UniversalClient
	prefix    string // the store's key prefix
	pattern   string // PSUBSCRIBE pattern of the store's keyspace channels
	configure bool
	refresh   time.Duration
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
		refresh:   opts.Refresh,
		log:       opts.Logger,
	}
	if f.client == nil {
		f.client = s.client
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.refresh <= 0 {
		f.refresh = DefaultFeedRefresh
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
// subscription reconnects, or before it reaches a promoted replica, are
// lost, and around a failover a change may be reported twice (replicas
// publish the writes they receive too). Run Tracker.Run beside a feed,
// which re-validates every tracked session at its interval and catches
// what the feed missed.
func (f *Feed) Watch(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
	if cc, ok := f.client.(*redis.ClusterClient); ok {
		return f.watchCluster(ctx, cc, notify)
	}
	if err := f.check(ctx, f.client); err != nil {
		return err
	}
	f.watch(ctx, f.client, notify, true)
	return nil
}

// check checks, and with Configure turns on, the notifications of one
// node (for a failover client, of its master) when Watch starts. A
// setting that cannot be read is logged, not returned.
func (f *Feed) check(ctx context.Context, c redis.UniversalClient) error {
	err := checkNotifications(ctx, c, f.configure)
	if errors.Is(err, errConfigUnavailable) {
		f.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: cannot read notify-keyspace-events; subscribing anyway", slog.Any("error", err))
		return nil
	}
	return err
}

// setting is the outcome of the last check of the notification setting,
// so that a check that keeps failing is logged once.
type setting int

const (
	settingOK setting = iota
	settingOff
	settingUnknown
)

// recheck is check after a subscription reconnected, maybe to another
// server, or at the Refresh interval: nothing is returned but the run id
// of the server checked (INFO server; "" when it cannot be read), and
// what is wrong is logged when it differs from last.
func (f *Feed) recheck(ctx context.Context, c redis.UniversalClient, last *setting) string {
	ctx, cancel := context.WithTimeout(ctx, recheckTimeout)
	defer cancel()
	err := checkNotifications(ctx, c, f.configure)
	now := settingOK
	switch {
	case err == nil:
	case errors.Is(err, ErrNotificationsOff):
		now = settingOff
	default:
		now = settingUnknown
	}
	if now != *last && ctx.Err() == nil {
		*last = now
		switch now {
		case settingOff:
			f.log.LogAttrs(ctx, slog.LevelError, "redisstore: keyspace notifications are off on the master (a promoted replica?): no session change is reported until notify-keyspace-events has K, g, $ and x there", slog.Any("error", err))
		case settingUnknown:
			f.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: cannot check notify-keyspace-events on the master", slog.Any("error", err))
		}
	}
	return masterID(ctx, c)
}

// masterID returns the run id of c's server (for a failover client, of its
// master): INFO server's run_id, which changes when the master does, or
// "" when it cannot be read.
func masterID(ctx context.Context, c redis.UniversalClient) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "run_id:"); ok {
			return v
		}
	}
	return ""
}

// watchCluster follows the keyspace channels of every master of a
// Cluster, listing the masters again every refresh, until ctx ends.
func (f *Feed) watchCluster(ctx context.Context, cc *redis.ClusterClient, notify func(sessionbridge.SessionEvent)) error {
	var wg sync.WaitGroup
	watching := map[string]context.CancelFunc{} // by master address
	defer func() {
		for _, cancel := range watching {
			cancel()
		}
		wg.Wait()
	}()
	// follow subscribes to the masters not yet followed and drops the
	// nodes that are no longer masters. When Watch starts (first), a
	// master whose setting is off is an error; later it is logged.
	follow := func(first bool) error {
		var mu sync.Mutex
		masters := map[string]*redis.Client{}
		err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			masters[c.Options().Addr] = c
			mu.Unlock()
			return nil
		})
		if err != nil {
			return fmt.Errorf("redisstore: watch: %w", err)
		}
		for addr, cancel := range watching {
			if masters[addr] == nil {
				cancel()
				delete(watching, addr)
			}
		}
		for addr, c := range masters {
			if watching[addr] != nil {
				continue
			}
			if first {
				if err := f.check(ctx, c); err != nil {
					return err
				}
			} else {
				last := settingOK
				_ = f.recheck(ctx, c, &last)
			}
			wctx, cancel := context.WithCancel(ctx)
			watching[addr] = cancel
			wg.Add(1)
			go func() { defer wg.Done(); f.watch(wctx, c, notify, false) }()
		}
		return nil
	}
	if err := follow(true); err != nil {
		return err
	}
	tick := time.NewTicker(f.refresh)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		err := follow(false)
		if err != nil && !failing && ctx.Err() == nil {
			f.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: cannot list the Cluster's masters; the feed keeps the subscriptions it has", slog.Any("error", err))
		}
		failing = err != nil
	}
}

// watch follows the keyspace channels of one node (a failover client's
// master) until ctx ends; with follow, it subscribes again when the
// client's master changes (subscribe).
func (f *Feed) watch(ctx context.Context, c redis.UniversalClient, notify func(sessionbridge.SessionEvent), follow bool) {
	for f.subscribe(ctx, c, notify, follow) {
		f.log.LogAttrs(ctx, slog.LevelInfo, "redisstore: the master changed; the feed subscribes again")
	}
}

// subscribe follows the keyspace channels through one subscription until
// ctx ends (false) or, with follow, the client's master is another server
// than when the subscription started (true). Each subscription after the
// first is a reconnection, maybe to a promoted replica or a restarted
// server that lost a CONFIG SET: the setting is checked again there. With
// follow it is also checked every Refresh, on the client's master, whose
// run id tells when the master changed. A failover client's subscription
// reconnects by itself only when its connection breaks, and an old master
// that stays up (on the wrong side of a network split, say) keeps it until
// the sentinels turn it into a replica.
func (f *Feed) subscribe(ctx context.Context, c redis.UniversalClient, notify func(sessionbridge.SessionEvent), follow bool) bool {
	sub := c.PSubscribe(ctx, f.pattern)
	defer sub.Close()
	ch := sub.ChannelWithSubscriptions()
	var tick <-chan time.Time
	if follow {
		t := time.NewTicker(f.refresh)
		defer t.Stop()
		tick = t.C
	}
	subscribed := false
	master := "" // the run id of the client's master when it subscribed
	last := settingOK
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			id := f.recheck(ctx, c, &last)
			if master == "" {
				master = id // it could not be read when the subscription started
			} else if id != "" && id != master {
				return ctx.Err() == nil
			}
		case m, ok := <-ch:
			if !ok {
				return false
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind != "psubscribe" {
					break
				}
				if subscribed {
					master = f.recheck(ctx, c, &last)
				} else if follow {
					master = masterID(ctx, c)
				}
				subscribed = true
			case *redis.Message:
				if ev, ok := f.event(m.Channel, m.Payload); ok {
					notify(ev)
				}
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
// notifications on one node (for a failover client, its master).
func checkNotifications(ctx context.Context, c redis.UniversalClient, configure bool) error {
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

// enough reports whether a notify-keyspace-events value publishes keyspace
// events for generic commands, string commands and expirations.
func enough(v string) bool {
	has := func(c string) bool { return strings.Contains(v, c) }
	return has("K") && (has("A") || (has("g") && has("$") && has("x")))
}
