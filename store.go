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

// ErrConflict is returned by [ConditionalStore.SetIf] when the stored
// record is no longer the one read (another writer changed or removed it),
// and by the Bridge when Config.Conflict is ConflictFail, or a merge still
// met a conflict after its retries.
var ErrConflict = errors.New("sessionbridge: session changed in the store since it was read")

// Version identifies a record as [ConditionalStore.GetVersion] read it.
type Version struct {
	// Tag is the store's token for the record read: the record's bytes, a
	// memcached CAS id, ... Only the store that made it interprets it.
	Tag string
	// Touched is when the store last set the session's expiry (by a set or
	// a touch), if the store can tell: for Redis the key's TTL, for
	// connect-pg-simple the expire column, each minus the session's
	// lifetime. The zero time means unknown; the Bridge then goes by the
	// record's cookie. Config.TouchAfter uses it.
	Touched time.Time
}

// ConditionalStore is a [Store] that can write a session only if nobody
// wrote it since it was read: a compare-and-set on the record. The Bridge
// uses it so that a change Node or another Go instance made between a load
// and a save is merged, not overwritten (see Config.Conflict). Every
// store in this module implements it.
//
// GetVersion is Get that also returns the record's Version. SetIf stores
// sess as Set does, but only while the stored record is still the one
// GetVersion returned with v; otherwise (the record changed, or is gone)
// it changes nothing and returns an error wrapping [ErrConflict]. On
// success it returns the Version of what it wrote, or a Version with an
// empty Tag when the store cannot tell; the next SetIf with that Version
// then conflicts.
//
// A store's Touch must not overwrite data written since the caller read
// the session: where the database cannot move an expiry alone, Touch
// rewrites the record it finds with the new cookie, conditionally.
type ConditionalStore interface {
	Store
	GetVersion(ctx context.Context, sid string) (*sessionjson.Session, Version, error)
	SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v Version) (Version, error)
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

// GetVersion implements [ConditionalStore]; the Tag is the record's JSON.
func (m *MemoryStore) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, Version{}, err
	}
	m.mu.Lock()
	raw, ok := m.sessions[sid]
	now := m.now()
	m.mu.Unlock()
	if !ok {
		return nil, Version{}, ErrNotFound
	}
	sess, err := m.decoder.DecodeOwnedContext(ctx, bytes.Clone(raw))
	if err != nil {
		return nil, Version{}, err
	}
	if sess.Expired(now) {
		return nil, Version{}, ErrNotFound
	}
	return sess, Version{Tag: string(raw)}, nil
}

// SetIf implements [ConditionalStore].
func (m *MemoryStore) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v Version) (Version, error) {
	if err := ctx.Err(); err != nil {
		return Version{}, err
	}
	raw, err := sess.Encode()
	if err != nil {
		return Version{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.sessions[sid]; !ok || v.Tag == "" || string(cur) != v.Tag {
		return Version{}, ErrConflict
	}
	m.sessions[sid] = raw
	return Version{Tag: string(raw)}, nil
}
