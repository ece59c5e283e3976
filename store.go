package sessionbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ErrNotFound is what a [Store] returns from Get (and may return from Touch)
// when it holds no session for the id, or the store itself considers it
// expired. It is not a failure of the store.
var ErrNotFound = errors.New("sessionbridge: session not found")

// Store is the Go side of an express-session store (connect-redis,
// connect-pg-simple, connect-mongo, ...). Implementations read and write the
// same bytes the Node store does, so both sides see one session.
//
// Get returns the session stored for sid. If there is none, or the store
// knows it has expired, it returns an error wrapping [ErrNotFound]. A record
// the store holds but cannot decode is an error wrapping
// [sessionjson.ErrMalformed]. Any other error is a store failure.
//
// Set stores the session under sid with the lifetime its cookie implies, as
// the Node store's set does. Touch moves the expiry to what the session's
// cookie now says, without rewriting data where the store allows it (the Node
// store's touch). Destroy removes the session; destroying a missing session
// is not an error.
//
// All methods must be safe for concurrent use and honour ctx: called with
// a ctx that is already done, a method fails with an error wrapping
// ctx.Err() and changes nothing. Errors must not contain sid: the Bridge
// keeps session ids out of errors and logs.
//
// [github.com/sessionbridge/sessionbridge/sessionbridgetest.TestStore]
// checks an implementation against this contract.
type Store interface {
	Get(ctx context.Context, sid string) (*sessionjson.Session, error)
	Set(ctx context.Context, sid string, sess *sessionjson.Session) error
	Touch(ctx context.Context, sid string, sess *sessionjson.Session) error
	Destroy(ctx context.Context, sid string) error
}

// ExpiryEnforcer is implemented by stores that expire sessions themselves:
// a Redis key TTL, connect-pg-simple's expire column, connect-mongo's
// expires field. Their touch moves that expiry without rewriting the record,
// so the record's cookie.expires may lag behind while the session is alive,
// and Node relies on the store alone. When EnforcesExpiry reports true, the
// Bridge does the same; otherwise (a store without TTL, such as Redis with
// DisableTTL) it refuses any session whose cookie.expires has passed.
type ExpiryEnforcer interface {
	EnforcesExpiry() bool
}

// MemoryStore is an in-process [Store] for tests and examples, with the
// semantics of express-session's MemoryStore (records kept as JSON text,
// expired ones dropped on read). It is not shared with Node: use a real
// store for that.
type MemoryStore struct {
	mu       sync.Mutex
	sessions map[string][]byte
	now      func() time.Time
	decoder  sessionjson.Decoder
}

// NewMemoryStore returns an empty MemoryStore using the wall clock.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: make(map[string][]byte), now: time.Now}
}

// EnforcesExpiry implements [ExpiryEnforcer]: Get drops expired records.
func (m *MemoryStore) EnforcesExpiry() bool { return true }

// Get implements [Store].
func (m *MemoryStore) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	raw, ok := m.sessions[sid]
	now := m.now()
	m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	sess, err := m.decoder.DecodeOwnedContext(ctx, bytes.Clone(raw))
	if err != nil {
		return nil, err
	}
	if sess.Expired(now) {
		m.mu.Lock()
		delete(m.sessions, sid)
		m.mu.Unlock()
		return nil, ErrNotFound
	}
	return sess, nil
}

// Set implements [Store].
func (m *MemoryStore) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := sess.Encode()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.sessions[sid] = raw
	m.mu.Unlock()
	return nil
}

// Touch implements [Store]: like MemoryStore.touch, it replaces the stored
// cookie with the session's.
func (m *MemoryStore) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.sessions[sid]
	if !ok {
		return ErrNotFound
	}
	stored, err := m.decoder.Decode(raw)
	if err != nil {
		return err
	}
	stored.Cookie = sess.Cookie
	if raw, err = stored.Encode(); err != nil {
		return fmt.Errorf("sessionbridge: memory store touch: %w", err)
	}
	m.sessions[sid] = raw
	return nil
}

// Destroy implements [Store].
func (m *MemoryStore) Destroy(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.sessions, sid)
	m.mu.Unlock()
	return nil
}
