package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// InstrumentStore returns s with every call timed into m (nil: no metrics)
// and bounded by timeout (0: only by the caller's context). The result
// keeps the optional interfaces the Bridge uses: it is a
// sessionbridge.ConditionalStore when s is one, and an
// sessionbridge.ExpiryEnforcer that reports what s reports (false when s
// is not one, which is what the Bridge assumes of such a store).
func InstrumentStore(s sessionbridge.Store, m *Metrics, timeout time.Duration) sessionbridge.Store {
	i := &instrumented{s: s, m: m, timeout: timeout}
	if cs, ok := s.(sessionbridge.ConditionalStore); ok {
		return &conditional{instrumented: i, cs: cs}
	}
	return i
}

// instrumented is a Store whose calls are timed and bounded.
type instrumented struct {
	s       sessionbridge.Store
	m       *Metrics
	timeout time.Duration
}

var (
	_ sessionbridge.ExpiryEnforcer   = (*instrumented)(nil)
	_ sessionbridge.ConditionalStore = (*conditional)(nil)
)

// Get implements sessionbridge.Store.
func (i *instrumented) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	pc := call(ctx, i.m, i.timeout, "get")
	rec, err := i.s.Get(pc.ctx, sid)
	pc.end(err)
	return rec, err
}

// Set implements sessionbridge.Store.
func (i *instrumented) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	pc := call(ctx, i.m, i.timeout, "set")
	err := i.s.Set(pc.ctx, sid, sess)
	pc.end(err)
	return err
}

// Touch implements sessionbridge.Store.
func (i *instrumented) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	pc := call(ctx, i.m, i.timeout, "touch")
	err := i.s.Touch(pc.ctx, sid, sess)
	pc.end(err)
	return err
}

// Destroy implements sessionbridge.Store.
func (i *instrumented) Destroy(ctx context.Context, sid string) error {
	pc := call(ctx, i.m, i.timeout, "destroy")
	err := i.s.Destroy(pc.ctx, sid)
	pc.end(err)
	return err
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer with the answer of
// the wrapped store.
func (i *instrumented) EnforcesExpiry() bool {
	e, ok := i.s.(sessionbridge.ExpiryEnforcer)
	return ok && e.EnforcesExpiry()
}

// conditional is an instrumented ConditionalStore.
type conditional struct {
	*instrumented
	cs sessionbridge.ConditionalStore
}

// GetVersion implements sessionbridge.ConditionalStore.
func (c *conditional) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	pc := call(ctx, c.m, c.timeout, "get_version")
	rec, v, err := c.cs.GetVersion(pc.ctx, sid)
	pc.end(err)
	return rec, v, err
}

// SetIf implements sessionbridge.ConditionalStore.
func (c *conditional) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	pc := call(ctx, c.m, c.timeout, "set_if")
	nv, err := c.cs.SetIf(pc.ctx, sid, sess, v)
	pc.end(err)
	return nv, err
}

// InstrumentKoaStore is InstrumentStore for koa-session's external store
// (koaredis): ops get, set and destroy.
func InstrumentKoaStore(s koasession.Store, m *Metrics, timeout time.Duration) koasession.Store {
	return &koaInstrumented{s: s, m: m, timeout: timeout}
}

type koaInstrumented struct {
	s       koasession.Store
	m       *Metrics
	timeout time.Duration
}

// Get implements koasession.Store.
func (k *koaInstrumented) Get(ctx context.Context, key string) ([]byte, error) {
	pc := call(ctx, k.m, k.timeout, "get")
	b, err := k.s.Get(pc.ctx, key)
	pc.end(err)
	return b, err
}

// Set implements koasession.Store.
func (k *koaInstrumented) Set(ctx context.Context, key string, record []byte, ttl time.Duration) error {
	pc := call(ctx, k.m, k.timeout, "set")
	err := k.s.Set(pc.ctx, key, record, ttl)
	pc.end(err)
	return err
}

// Destroy implements koasession.Store.
func (k *koaInstrumented) Destroy(ctx context.Context, key string) error {
	pc := call(ctx, k.m, k.timeout, "destroy")
	err := k.s.Destroy(pc.ctx, key)
	pc.end(err)
	return err
}

// healthKey is the id a health check asks the store for: no session has
// it (session ids are random, 32 characters of base64url, or UUIDs), so a
// store that answers at all answers "not found".
const healthKey = "sessionbridge-health-check-no-such-session"

// StoreHealth returns a health check of s: a Get of an id no session has,
// bounded by timeout. A store that answers "not found" (or, against all
// odds, finds it) is healthy; any other error is returned, wrapping
// sessionbridge.ErrStore.
func StoreHealth(s sessionbridge.Store, timeout time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := boundedContext(ctx, timeout)
		defer cancel()
		_, err := s.Get(ctx, healthKey)
		return healthResult(err)
	}
}

// KoaStoreHealth is StoreHealth for koa-session's external store.
func KoaStoreHealth(s koasession.Store, timeout time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := boundedContext(ctx, timeout)
		defer cancel()
		_, err := s.Get(ctx, healthKey)
		return healthResult(err)
	}
}

func healthResult(err error) error {
	if err == nil || errors.Is(err, sessionbridge.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
}
