// Package koaredis is koa-redis 4's format for koasession's
// external-store mode: the Go side of a Koa app that passes
// store: redisStore(...) to koa-session.
//
// Layout, from koa-redis's source and checked against it:
//   - the Redis key is koa-session's external key as given (koa-redis adds
//     no prefix; koa-session's prefix option is already part of the key);
//   - the value is JSON.stringify of what koa-session hands it: the
//     session's data with _expire and _maxAge;
//   - set: SETEX key Math.ceil(ttl/1000) value, where koa-session passes
//     maxAge + 10000 ms, or SET key value without expiry when that rounds
//     to 0 (koa-redis's if (!ttl));
//   - get: GET key; a missing key or an empty value is no session;
//   - destroy: DEL key.
//
// koa-redis has no touch: a session lives until its SETEX runs out, and
// koa-session extends it only by saving it again (rolling, renew, a
// change).
//
// The client is a redis.UniversalClient (a single node, a failover client
// or a Cluster; every command names one key). Build it with
// ContextTimeoutEnabled: true so that context deadlines bound the socket.
// Get reads at most Options.MaxBytes + 1 bytes of a value (one GETRANGE).
package koaredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ErrWrongType means the session's key holds a Redis type other than a
// string; koa-redis's GET fails there too. It is a store failure.
var ErrWrongType = errors.New("koaredis: redis key is not a string")

// Options configure a Store.
type Options struct {
	// MaxBytes is the longest record Get reads; a longer one is an error
	// wrapping sessionjson.ErrTooLarge (the session is then missed). 0
	// means sessionjson.DefaultMaxBytes; a negative value, no limit.
	MaxBytes int
}

// Store is a koasession.Store in koa-redis's format. It is safe for
// concurrent use.
type Store struct {
	client redis.UniversalClient
	max    int
}

var _ koasession.Store = (*Store)(nil)

// New returns a store on client.
func New(client redis.UniversalClient, opts Options) *Store {
	m := opts.MaxBytes
	if m == 0 {
		m = sessionjson.DefaultMaxBytes
	}
	return &Store{client: client, max: m}
}

// Get returns the value of key (GETRANGE up to MaxBytes + 1 bytes):
// sessionbridge.ErrNotFound for a missing key or an empty value, an error
// wrapping sessionjson.ErrTooLarge for a value over MaxBytes, ErrWrongType
// for a key of another type, any other error for a Redis failure.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	var err error
	if s.max < 0 {
		b, err = s.client.Get(ctx, key).Bytes()
	} else {
		b, err = s.client.GetRange(ctx, key, 0, int64(s.max)).Bytes()
	}
	switch {
	case errors.Is(err, redis.Nil):
		return nil, sessionbridge.ErrNotFound
	case err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE"):
		return nil, ErrWrongType
	case err != nil:
		return nil, fmt.Errorf("koaredis: get: %w", err)
	case len(b) == 0:
		return nil, sessionbridge.ErrNotFound
	case s.max >= 0 && len(b) > s.max:
		return nil, fmt.Errorf("koaredis: %w: more than %d bytes", sessionjson.ErrTooLarge, s.max)
	}
	return b, nil
}

// Set stores record under key as koa-redis's set(key, sess, ttl) does:
// SETEX with the ttl in seconds rounded up (Math.ceil), or SET without
// expiry when that is 0. A negative ttl is sent as it is, and Redis
// refuses it, as it refuses koa-redis.
func (s *Store) Set(ctx context.Context, key string, record []byte, ttl time.Duration) error {
	secs := ttl / time.Second
	if ttl%time.Second > 0 {
		secs++
	}
	var err error
	if secs == 0 {
		err = s.client.Set(ctx, key, record, 0).Err()
	} else {
		err = s.client.Do(ctx, "setex", key, int64(secs), record).Err()
	}
	if err != nil {
		return fmt.Errorf("koaredis: set: %w", err)
	}
	return nil
}

// Destroy deletes key (DEL).
func (s *Store) Destroy(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("koaredis: destroy: %w", err)
	}
	return nil
}
