// Package redisstore reads and writes express-session records in Redis
// exactly as connect-redis (7.x to 10.x) does, so a Go service and a Node app
// share one session store.
//
//	import redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
//
// Layout and rules, from connect-redis's source and checked against it:
//   - key = prefix + session id (prefix "sess:" by default), value = the
//     session JSON (connect-redis's default JSON serializer);
//   - get: GET key (as a bounded GETRANGE, see below); an empty value is
//     no session (connect-redis: if (!data));
//   - set: SET key json EX ttl, where ttl is the seconds left until
//     cookie.expires rounded up, or the TTL option (default one day) for a
//     browser-session cookie; a ttl of zero or less deletes the key;
//   - touch: EXPIRE key ttl (skipped with DisableTouch or DisableTTL);
//   - destroy: DEL key;
//   - IDs, Len, All and Clear walk the keys with SCAN, on every master of
//     a Redis Cluster.
//
// The client is a redis.UniversalClient, so a single node, a Sentinel
// failover client and a Cluster client all work. Build it with
// ContextTimeoutEnabled: true: without it go-redis ignores context
// deadlines on the socket, so a hung Redis blocks each call for the full
// ReadTimeout (3 s by default) instead of the caller's deadline.
//
// Expiry: Redis drops a key when its TTL runs out, and a touch (EXPIRE)
// moves the TTL without rewriting the record, so the record's
// cookie.expires lags behind a session kept alive by touches; the TTL is
// the expiry, for Node and for Go. A record without a TTL (written by
// connect-redis with disableTTL, or by hand with a plain SET) never expires
// in Redis, so Get refuses it (sessionbridge.ErrNotFound) once its
// cookie.expires has passed: only then does Get ask for the key's TTL, so
// the common read stays one command. With Options.DisableTTL, Get returns
// records as stored, expired or not, and the Bridge refuses the expired
// ones (EnforcesExpiry reports false).
//
// Conditional writes (sessionbridge.ConditionalStore): the Version of a
// record is its bytes as read. SetIf runs one Lua script (EVALSHA, falling
// back to EVAL) that compares the key's value with those bytes and only
// then writes, with the same SET, TTL and delete rules as Set; it names one
// key, so it works on a Redis Cluster. GetVersion reads the record and its
// PTTL in one round trip (a pipeline).
//
// Lifetimes are whole seconds computed in integers, as connect-redis does,
// so a cookie that lives 1000 years (or 10^15 ms, as far as a JavaScript
// Date goes) gets its exact TTL; nothing wraps around into a negative TTL,
// which would delete a live session. Redis refuses (ERR invalid expire time)
// only a TTL whose milliseconds, added to its clock, overflow 64 bits, some
// 9.2e15 seconds; the longest TTL Go sends is about 8.64e12 s, the end of
// the JavaScript Date range, where cookie.expires saturates.
//
// Get never reads more than a bounded prefix of a record bigger than the
// Decoder's MaxBytes: it asks for the first 64 KiB (GETRANGE); only a record
// at least that long costs a STRLEN, and it is then refused with
// sessionjson.ErrTooLarge without being read, or read whole, and atomically,
// with GETRANGE capped at the limit. Every command names one key, so this
// works unchanged on a Redis Cluster, and needs no script.
//
// Failover: on a Sentinel setup (redis.NewFailoverClient) or a Redis
// Cluster with replicas, a failover shows as errors (the Bridge's
// sessionbridge.ErrStore, a 503, never "no session") for as long as no
// master serves the session's key, and then the same client serves again
// by itself. Replication is asynchronous: a write the old master
// acknowledged but had not yet passed to its replica is lost with it. With
// Options.WaitReplicas, Set, SetIf and Destroy also wait for replicas to
// acknowledge the write (Redis WAIT) and fail with ErrNotReplicated when
// too few did; docs/failover.md has what the fault tests measured.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

// Defaults, as connect-redis sets them (DefaultWaitTimeout is the Go
// store's own).
const (
	DefaultPrefix      = "sess:"
	DefaultTTL         = 86400 * time.Second
	DefaultScanCount   = 100
	DefaultWaitTimeout = time.Second
)

// ErrWrongType means the session's key holds a Redis type other than a
// string. It wraps sessionjson.ErrMalformed.
var ErrWrongType = fmt.Errorf("%w: redis key is not a string", sessionjson.ErrMalformed)

// ErrNotReplicated means a write made with Options.WaitReplicas reached
// the master, but fewer replicas than asked acknowledged it within
// Options.WaitTimeout: the master holds it, and a failover may lose it.
var ErrNotReplicated = errors.New("redisstore: the write was not acknowledged by enough replicas")

// Options mirror connect-redis's options. The zero value is its defaults.
type Options struct {
	// Prefix of every key; default "sess:". (connect-redis: prefix)
	Prefix string
	// NoPrefix stores keys as the bare session id, like connect-redis
	// with prefix: '' (an empty Prefix means the default).
	NoPrefix bool
	// TTL is connect-redis's ttl: the key's lifetime for a session whose
	// cookie has no expires (a browser-session cookie); default one day
	// (DefaultTTL), whole seconds. A session with cookie.expires lives
	// until then, whatever TTL says. (connect-redis: ttl)
	TTL time.Duration
	// DisableTTL stores keys without expiry and makes Touch a no-op.
	// Expired sessions then stay in Redis; the Bridge still refuses them.
	DisableTTL bool
	// DisableTouch makes Touch a no-op.
	DisableTouch bool
	// ScanCount is the COUNT hint for SCAN; default 100.
	ScanCount int
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock used for TTLs; default time.Now.
	Now func() time.Time
	// WaitReplicas makes Set, SetIf and Destroy wait, after writing,
	// until that many replicas have acknowledged the write (Redis WAIT,
	// sent after the write on the same connection to the key's master),
	// for at most WaitTimeout. A write fewer replicas acknowledged in time
	// returns an error wrapping ErrNotReplicated: the master has it, a
	// failover may lose it. Touch never waits: a lost touch only leaves
	// the session with the expiry the replica had. Default 0: no waiting,
	// as connect-redis writes. (The Go store's own option.)
	WaitReplicas int
	// WaitTimeout bounds each wait of WaitReplicas; default one second
	// (DefaultWaitTimeout). A shorter context deadline bounds it too.
	WaitTimeout time.Duration
}

// Store is a connect-redis compatible sessionbridge.Store.
type Store struct {
	client redis.UniversalClient
	opts   Options
	limit  int // the Decoder's MaxBytes, or -1 for none
	first  int // bytes the first GETRANGE asks for: firstRead(limit)
	end    any // its last offset, first-1, boxed once
}

var (
	_ sessionbridge.ConditionalStore = (*Store)(nil)
	_ sessionbridge.ExpiryEnforcer   = (*Store)(nil)
)

// New returns a store on client.
func New(client redis.UniversalClient, opts Options) *Store {
	switch {
	case opts.NoPrefix:
		opts.Prefix = ""
	case opts.Prefix == "":
		opts.Prefix = DefaultPrefix
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.ScanCount <= 0 {
		opts.ScanCount = DefaultScanCount
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	s := &Store{client: client, opts: opts, limit: reclimit.Of(opts.Decoder)}
	s.first = firstRead(s.limit)
	s.end = int64(s.first - 1)
	return s
}

// Key returns the Redis key of a session id.
func (s *Store) Key(sid string) string { return s.opts.Prefix + sid }

// Get implements sessionbridge.Store: GET (bounded, see the package
// documentation) and decode. A record longer than the Decoder's MaxBytes is
// an error wrapping sessionjson.ErrTooLarge; a missing key or an empty
// value is sessionbridge.ErrNotFound, and so is a record without a TTL
// whose cookie.expires has passed (unless Options.DisableTTL; see the
// package documentation).
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	key := s.Key(sid)
	b, err := s.read(ctx, key)
	if err != nil {
		return nil, err
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, b) // the reply is a fresh buffer
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	if sess.Cookie.Expires != nil && s.lapsed(sess, s.opts.Now()) {
		// The record says it has expired; that is the truth only when no
		// TTL keeps the key alive (a touch moves the TTL, not the record).
		cmd := redis.NewIntCmd(ctx, "pttl", key)
		_ = s.client.Process(ctx, cmd)
		ms, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: get: %w", err)
		}
		if ms < 0 { // -1: no TTL, so expired; -2: gone since the read
			return nil, sessionbridge.ErrNotFound
		}
	}
	return sess, nil
}

// lapsed reports whether the record's cookie.expires has passed at now
// while the store relies on Redis TTLs (not DisableTTL): whether its TTL
// alone decides if it is alive.
func (s *Store) lapsed(sess *sessionjson.Session, now time.Time) bool {
	e := sess.Cookie.Expires
	return e != nil && !s.opts.DisableTTL && !now.Before(*e)
}

// GetVersion implements sessionbridge.ConditionalStore: Get, and the
// record's Version. Tag is the record's bytes as read. GET (bounded, as in
// Get) and PTTL go in one round trip, and Touched is when the key's TTL was
// last set, now + PTTL - the lifetime Set or Touch gives the session
// (cookie.originalMaxAge, or Options.TTL for a browser-session cookie), no
// later than now; Touched plus that lifetime is then never later than the
// key's expiry. Touched is zero when that lifetime is unknown (a cookie
// with expires but no originalMaxAge), the key has no TTL, or with
// DisableTTL. A record without a TTL whose cookie.expires has passed is
// sessionbridge.ErrNotFound, as in Get.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	key := s.Key(sid)
	now := s.opts.Now() // before the read: Touched errs early, never late
	var (
		b   []byte
		ms  int64 = -1
		err error
	)
	if s.opts.DisableTTL {
		b, err = s.read(ctx, key)
	} else {
		b, ms, err = s.readTTL(ctx, key)
	}
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	tag := string(b) // a copy: the decoder keeps b
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, b)
	if err != nil {
		return nil, sessionbridge.Version{}, fmt.Errorf("redisstore: %w", err)
	}
	if ms < 0 && s.lapsed(sess, now) {
		return nil, sessionbridge.Version{}, sessionbridge.ErrNotFound
	}
	return sess, sessionbridge.Version{Tag: tag, Touched: s.touched(sess, now, ms)}, nil
}

// readTTL is read and PTTL key, pipelined: the value and the key's
// remaining lifetime in milliseconds (-1 for none, -2 when the key vanished
// between the two).
func (s *Store) readTTL(ctx context.Context, key string) ([]byte, int64, error) {
	var get *redis.StringCmd
	if s.limit < 0 {
		get = redis.NewStringCmd(ctx, "get", key)
	} else {
		get = redis.NewStringCmd(ctx, "getrange", key, 0, s.end)
	}
	pttl := redis.NewIntCmd(ctx, "pttl", key)
	pipe := s.client.Pipeline()
	_ = pipe.Process(ctx, get)
	_ = pipe.Process(ctx, pttl)
	_, _ = pipe.Exec(ctx) // each command carries its own error
	b, err := value(get.Bytes())
	if err != nil {
		return nil, 0, err
	}
	if s.limit >= 0 && len(b) >= s.first {
		if b, err = s.readRest(ctx, s.client, key); err != nil {
			return nil, 0, err
		}
	}
	ms, err := pttl.Result()
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: get: %w", err)
	}
	return b, ms, nil
}

// touched is when the key's TTL was set, given that at now it had ms
// milliseconds left (see jsdate.Touched: the lifetime is the cookie's
// originalMaxAge, or the whole-second TTL for a browser-session cookie).
// It is zero when ms is negative (no TTL) or with DisableTTL.
func (s *Store) touched(sess *sessionjson.Session, now time.Time, ms int64) time.Time {
	if ms < 0 || s.opts.DisableTTL {
		return time.Time{}
	}
	return jsdate.Touched(sess.Cookie, now.UnixMilli()+ms, s.opts.TTL.Truncate(time.Second), now)
}

// window is how much of a record the first read asks for. Sessions are
// almost always far smaller, so one GETRANGE reads them whole, at the cost
// of a GET; a longer record costs a STRLEN and a second read.
const window = 64 << 10

// read returns the value of key, refusing one longer than the limit
// without reading more than firstRead(limit) bytes of it.
func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	if s.limit < 0 {
		return value(s.client.Get(ctx, key).Bytes())
	}
	cmd := redis.NewStringCmd(ctx, "getrange", key, 0, s.end)
	_ = s.client.Process(ctx, cmd)
	b, err := value(cmd.Bytes())
	if err != nil || len(b) < s.first {
		return b, err
	}
	return s.readRest(ctx, s.client, key)
}

// firstRead is how many bytes the first GETRANGE asks for: one more than
// the limit (to tell a record over it), or the window.
func firstRead(limit int) int {
	if limit < window {
		return limit + 1
	}
	return window
}

// readRest finishes read for a value whose first GETRANGE came back full.
func (s *Store) readRest(ctx context.Context, c redis.Cmdable, key string) ([]byte, error) {
	limit := s.limit
	if limit < window { // the first read held one byte past the limit
		return nil, reclimit.Error("redisstore", -1, limit)
	}
	n, err := c.StrLen(ctx, key).Result()
	switch {
	case isWrongType(err):
		return nil, ErrWrongType
	case err != nil:
		return nil, fmt.Errorf("redisstore: get: %w", err)
	case n > int64(limit):
		return nil, reclimit.Error("redisstore", n, limit)
	}
	// One GETRANGE reads the value atomically; capped at limit+1 bytes, it
	// stays bounded should the value have grown since STRLEN.
	b, err := value(c.GetRange(ctx, key, 0, int64(limit)).Bytes())
	if err == nil && len(b) > limit {
		return nil, reclimit.Error("redisstore", -1, limit)
	}
	return b, err
}

// value maps a GET or GETRANGE reply to the store's errors: no key, or an
// empty value (connect-redis's if (!data)), is ErrNotFound.
func value(b []byte, err error) ([]byte, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return nil, sessionbridge.ErrNotFound
	case isWrongType(err):
		return nil, ErrWrongType
	case err != nil:
		return nil, fmt.Errorf("redisstore: get: %w", err)
	case len(b) == 0:
		return nil, sessionbridge.ErrNotFound
	}
	return b, nil
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// ttlSeconds is the lifetime connect-redis gives a session, its getTTL, in
// integer seconds (zero or negative for an expired cookie):
// Math.ceil((cookie.expires - Date.now()) / 1000), or the TTL option. It
// never overflows: cookie.expires and now saturate at the JavaScript Date
// range, so it is at most about 1.7e13 in size, far inside what Redis
// accepts.
func (s *Store) ttlSeconds(sess *sessionjson.Session) int64 {
	return s.ttlAt(sess, s.opts.Now())
}

// ttlAt is ttlSeconds by the clock reading now.
func (s *Store) ttlAt(sess *sessionjson.Session, now time.Time) int64 {
	if sess.Cookie.Expires == nil {
		return int64(s.opts.TTL / time.Second)
	}
	return jsdate.CeilSeconds(jsdate.Until(*sess.Cookie.Expires, now))
}

// Set implements sessionbridge.Store: SET key json EX ttl, or DEL when the
// ttl is not positive.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	ttl := s.ttlSeconds(sess)
	if ttl <= 0 {
		return s.Destroy(ctx, sid)
	}
	val, err := sess.Encode()
	if err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	key := s.Key(sid)
	args := []any{"set", key, val}
	if !s.opts.DisableTTL {
		args = append(args, "ex", ttl)
	}
	if err := s.write(ctx, key, redis.NewStatusCmd(ctx, args...)); err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// write runs cmd, a write of key, and with Options.WaitReplicas waits for
// the replicas (replicated).
func (s *Store) write(ctx context.Context, key string, cmd redis.Cmder) error {
	if s.opts.WaitReplicas <= 0 {
		return s.client.Process(ctx, cmd)
	}
	return s.replicated(ctx, key, cmd)
}

// replicated sends cmd, a write of key, and WAIT in one pipeline to the
// key's master (one connection, so that WAIT counts the replicas that
// have cmd's write). It returns cmd's error, else WAIT's, else an error
// wrapping ErrNotReplicated when fewer than Options.WaitReplicas replicas
// acknowledged the write.
//
// On a Cluster the pipeline goes to the node the client knows as the key's
// master. When that node answers MOVED (its slots moved, by a failover
// say), the client's slot map is reloaded and the write tried once more;
// after any other failure the client is asked to reload it, so that the
// next write finds the new master.
func (s *Store) replicated(ctx context.Context, key string, cmd redis.Cmder) error {
	cc, cluster := s.client.(*redis.ClusterClient)
	if !cluster {
		return s.replicatedOn(ctx, s.client, cmd)
	}
	for try := 0; ; try++ {
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		err = s.replicatedOn(ctx, m, cmd)
		if err == nil || cmd.Err() == nil {
			return err
		}
		if try > 0 || !redis.HasErrorPrefix(cmd.Err(), "MOVED") {
			if !redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
				cc.ReloadState(ctx)
			}
			return err
		}
		// ForEachMaster reloads the slot map before it calls back.
		if rerr := cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil }); rerr != nil {
			return err
		}
		cmd.SetErr(nil)
	}
}

// replicatedOn is replicated on one node (or a failover client's master).
func (s *Store) replicatedOn(ctx context.Context, node redis.Cmdable, cmd redis.Cmder) error {
	timeout := s.opts.WaitTimeout
	if d, ok := ctx.Deadline(); ok {
		// WAIT answers its count before the caller gives up, with room
		// for the round trip.
		left := time.Until(d)
		timeout = min(timeout, left-max(left/4, 25*time.Millisecond))
	}
	ms := max(timeout.Milliseconds(), 1) // WAIT 0 would wait forever
	wait := redis.NewIntCmd(ctx, "wait", s.opts.WaitReplicas, ms)
	p := node.Pipeline()
	_ = p.Process(ctx, cmd)
	_ = p.Process(ctx, wait)
	_, _ = p.Exec(ctx) // each command carries its own error
	if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	n, err := wait.Result()
	if err != nil {
		return err
	}
	if n < int64(s.opts.WaitReplicas) {
		return fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, s.opts.WaitReplicas, time.Duration(ms)*time.Millisecond)
	}
	return nil
}

// setIf is SetIf's compare-and-set. KEYS[1] is the session's key; ARGV[1]
// the value read (the Version's Tag), ARGV[2] what to do when the key still
// holds it ("ex": SET value EX ttl, "set": SET value with no expiry, "del":
// DEL), ARGV[3] the value and ARGV[4] the ttl. It returns 1 when it wrote,
// 0 when the key holds something else, or nothing, or is not a string
// (GET's error reply is a table, unequal to any string).
var setIf = redis.NewScript(setIfSource)

const setIfSource = `
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if ARGV[2] == 'ex' then
	redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
elseif ARGV[2] == 'set' then
	redis.call('SET', KEYS[1], ARGV[3])
else
	redis.call('DEL', KEYS[1])
end
return 1
`

// SetIf implements sessionbridge.ConditionalStore: in one atomic step on
// the server, Set (SET key json EX ttl, or SET key json with DisableTTL, or
// DEL when the ttl is not positive) only if the key still holds v.Tag, the
// bytes GetVersion read. Otherwise it changes nothing and returns an error
// wrapping sessionbridge.ErrConflict. The Version returned has the bytes
// written as Tag and, with a TTL, Touched computed as GetVersion would
// right after the write; after a delete it is empty.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, fmt.Errorf("redisstore: set: %w", err)
	}
	if v.Tag == "" { // GetVersion never reads an empty value: no session
		return sessionbridge.Version{}, errConflict
	}
	now := s.opts.Now()
	ttl := s.ttlAt(sess, now)
	var val []byte
	args := []any{v.Tag, "del"}
	if ttl > 0 {
		var err error
		if val, err = sess.Encode(); err != nil {
			return sessionbridge.Version{}, fmt.Errorf("redisstore: %w", err)
		}
		if s.opts.DisableTTL {
			args = []any{v.Tag, "set", val}
		} else {
			args = []any{v.Tag, "ex", val, ttl}
		}
	}
	n, waitErr, err := s.runSetIf(ctx, s.Key(sid), args)
	switch {
	case err != nil:
		return sessionbridge.Version{}, fmt.Errorf("redisstore: set: %w", err)
	case n == 0:
		return sessionbridge.Version{}, errConflict
	case waitErr != nil:
		return sessionbridge.Version{}, fmt.Errorf("redisstore: set: %w", waitErr)
	case ttl <= 0:
		return sessionbridge.Version{}, nil
	}
	return sessionbridge.Version{Tag: string(val), Touched: s.touched(sess, now, ttl*1000)}, nil
}

// runSetIf runs the setIf script on key with args: its answer n (1 when it
// wrote), and, with Options.WaitReplicas, the error of the wait for the
// replicas (replicated) apart from the script's own error.
func (s *Store) runSetIf(ctx context.Context, key string, args []any) (n int64, waitErr, err error) {
	if s.opts.WaitReplicas <= 0 {
		n, err = setIf.Run(ctx, s.client, []string{key}, args...).Int64()
		return n, nil, err
	}
	// Script.Run's EVALSHA, falling back to EVAL, each followed by WAIT.
	cmd := redis.NewCmd(ctx, append([]any{"evalsha", setIf.Hash(), 1, key}, args...)...)
	waitErr = s.replicated(ctx, key, cmd)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, append([]any{"eval", setIfSource, 1, key}, args...)...)
		waitErr = s.replicated(ctx, key, cmd)
	}
	if n, err = cmd.Int64(); err != nil {
		return 0, nil, err
	}
	return n, waitErr, nil
}

// errConflict is SetIf's sessionbridge.ErrConflict.
var errConflict = fmt.Errorf("redisstore: %w", sessionbridge.ErrConflict)

// Touch implements sessionbridge.Store: EXPIRE key ttl, which only moves the
// expiry and never rewrites what Node stored, nor what anyone wrote since
// the caller read the session. A ttl of zero or less makes Redis delete the
// key, as with connect-redis. It reports sessionbridge.ErrNotFound when the
// key does not exist.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if s.opts.DisableTouch || s.opts.DisableTTL {
		return nil
	}
	// EXPIRE key ttl; Redis deletes the key when ttl is not positive.
	cmd := redis.NewBoolCmd(ctx, "expire", s.Key(sid), s.ttlSeconds(sess))
	if err := s.client.Process(ctx, cmd); err != nil {
		return fmt.Errorf("redisstore: touch: %w", err)
	}
	if !cmd.Val() {
		return sessionbridge.ErrNotFound
	}
	return nil
}

// Destroy implements sessionbridge.Store: DEL key.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	key := s.Key(sid)
	if err := s.write(ctx, key, redis.NewIntCmd(ctx, "del", key)); err != nil {
		return fmt.Errorf("redisstore: destroy: %w", err)
	}
	return nil
}

// KeyPattern returns the glob pattern (for SCAN MATCH or PSUBSCRIBE) that
// matches exactly the store's keys: the prefix with its glob characters
// escaped, then "*".
func (s *Store) KeyPattern() string { return escapeGlob(s.opts.Prefix) + "*" }

// scan calls fn with every batch of keys matching the prefix, on every
// master of a cluster (concurrently; fn must be safe for that).
func (s *Store) scan(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable, keys []string) error) error {
	match := s.KeyPattern()
	walk := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, match, int64(s.opts.ScanCount)).Iterator()
		batch := make([]string, 0, s.opts.ScanCount)
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == cap(batch) {
				if err := fn(ctx, c, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			return fn(ctx, c, batch)
		}
		return nil
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return walk(ctx, c) })
	} else {
		err = walk(ctx, s.client)
	}
	if err != nil {
		return fmt.Errorf("redisstore: scan: %w", err)
	}
	return nil
}

// escapeGlob escapes the SCAN MATCH metacharacters in a literal prefix.
// (connect-redis passes the prefix unescaped; a prefix without *?[]\ is the
// same either way.)
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IDs returns the ids of all stored sessions (connect-redis: ids).
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	var mu sync.Mutex
	var ids []string
	err := s.scan(ctx, func(_ context.Context, _ redis.Cmdable, keys []string) error {
		mu.Lock()
		for _, k := range keys {
			ids = append(ids, strings.TrimPrefix(k, s.opts.Prefix))
		}
		mu.Unlock()
		return nil
	})
	return ids, err
}

// Len returns the number of stored sessions (connect-redis: length).
func (s *Store) Len(ctx context.Context) (int, error) {
	ids, err := s.IDs(ctx)
	return len(ids), err
}

// Entry is one session returned by All.
type Entry struct {
	ID      string
	Session *sessionjson.Session
}

// All returns every stored session (connect-redis: all). Keys that vanish
// between SCAN and GET are skipped; a record that does not decode is an
// error. The GETs are pipelined per master, so it works on a Cluster where
// connect-redis's MGET across slots fails.
func (s *Store) All(ctx context.Context) ([]Entry, error) {
	var mu sync.Mutex
	var out []Entry
	limit, first := s.limit, s.first
	err := s.scan(ctx, func(ctx context.Context, c redis.Cmdable, keys []string) error {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				if limit < 0 {
					cmds[i] = p.Get(ctx, k)
				} else {
					cmds[i] = p.GetRange(ctx, k, 0, int64(first-1))
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
			return err
		}
		for i, cmd := range cmds {
			b, err := value(cmd.Bytes())
			if err == nil && limit >= 0 && len(b) >= first {
				b, err = s.readRest(ctx, c, keys[i])
			}
			if errors.Is(err, sessionbridge.ErrNotFound) {
				continue // vanished since SCAN
			}
			if err != nil {
				return err
			}
			sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, b) // the reply is a fresh buffer
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, Entry{ID: strings.TrimPrefix(keys[i], s.opts.Prefix), Session: sess})
			mu.Unlock()
		}
		return nil
	})
	return out, err
}

// Clear deletes every session under the prefix (connect-redis: clear),
// and nothing else.
func (s *Store) Clear(ctx context.Context) error {
	return s.scan(ctx, func(ctx context.Context, c redis.Cmdable, keys []string) error {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	})
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer. Without
// DisableTTL it reports true: Redis drops expired sessions, a touch
// (EXPIRE) extends them without rewriting cookie.expires, exactly as
// connect-redis relies on, and Get and GetVersion refuse a record that has
// no TTL once its cookie.expires has passed, so every session they return
// is alive. With DisableTTL it reports false: nothing expires in Redis, Get
// returns records as stored, and the Bridge checks cookie.expires.
func (s *Store) EnforcesExpiry() bool { return !s.opts.DisableTTL }
