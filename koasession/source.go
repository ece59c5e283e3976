package koasession

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/bridgekit"
	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// SessionID returns the verified session id r's Cookie header carries: in
// cookie mode the value of the session cookie (the base64 payload, which
// LoadID decodes), in store mode its key. Errors wrap
// sessionbridge.ErrNoSession and the reason: cookiesig.ErrNoCookie (also
// for an empty value, a cleared cookie), ErrNotSigned (no NAME.sig),
// ErrBadSignature, ErrMalformed (a header over MaxHeaderBytes), or, in
// store mode, ErrInvalidKey.
func (b *Bridge) SessionID(r *http.Request) (string, error) {
	value, _, err := b.kg.Get(bridgekit.CookieHeader(r), b.name, b.maxHdr)
	switch {
	case err != nil:
	case value == "":
		err = fmt.Errorf("%w: empty session cookie", cookiesig.ErrNoCookie)
	default:
		err = b.checkID(value)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, err)
	}
	return value, nil
}

// SessionIDFromValue returns the verified session id of the two session
// cookies presented outside the Cookie header (a socket.io auth payload, a
// query parameter): "<value>.<signature>", the value of NAME, a dot and
// the value of NAME.sig, as a client reads them from document.cookie
// (when httpOnly is off) or as the server handed them out. The signature,
// URL-safe base64, never holds a dot, so the last dot separates them.
// Errors wrap sessionbridge.ErrNoSession and cookiesig.ErrNotSigned (no
// dot, or no signature), ErrBadSignature, ErrMalformed (an empty value, or
// longer than MaxHeaderBytes), or ErrInvalidKey.
func (b *Bridge) SessionIDFromValue(value string) (string, error) {
	id, err := bridgekit.SignedValue(b.kg, b.name, value, b.maxHdr)
	if err == nil {
		err = b.checkID(id)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, err)
	}
	return id, nil
}

// checkID refuses, in store mode, a key koa-session's default genid would
// not have made.
func (b *Bridge) checkID(id string) error {
	if b.store != nil && !b.validKey(id) {
		return ErrInvalidKey
	}
	return nil
}

// LoadID loads the session of an id SessionID or SessionIDFromValue
// verified. In cookie mode that is the payload itself, decoded (base64 as
// Node's Buffer decodes it, then JSON); in store mode the key, whose
// record the store holds. A session whose _expire has passed gives an
// error wrapping sessionbridge.ErrNoSession and ErrExpired; a missing
// record ErrNoSession and ErrNotFound; data that is not a JSON object
// ErrNoSession and ErrInvalidPayload; a store key of the wrong shape
// ErrNoSession and ErrInvalidKey; a store failure, or ctx done before the
// store answered, sessionbridge.ErrStore.
func (b *Bridge) LoadID(ctx context.Context, sid string) (*sessionbridge.Session, error) {
	s, _, err := b.load(ctx, sid)
	return s, err
}

// Load returns the session of the request: SessionID, then LoadID bounded
// by the request's context.
func (b *Bridge) Load(r *http.Request) (*sessionbridge.Session, error) {
	sid, err := b.SessionID(r)
	if err != nil {
		return nil, err
	}
	return b.LoadID(r.Context(), sid)
}

// load is LoadID with the loaded _expire.
func (b *Bridge) load(ctx context.Context, sid string) (*sessionbridge.Session, loadedMeta, error) {
	noSession := func(reason, cause error) (*sessionbridge.Session, loadedMeta, error) {
		if cause != nil {
			return nil, loadedMeta{}, fmt.Errorf("%w: %w: %w", sessionbridge.ErrNoSession, reason, cause)
		}
		return nil, loadedMeta{}, fmt.Errorf("%w: %w", sessionbridge.ErrNoSession, reason)
	}
	if err := ctx.Err(); err != nil {
		return nil, loadedMeta{}, fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
	}
	var data []byte
	if b.store == nil {
		if b.maxHdr > 0 && len(sid) > b.maxHdr {
			return noSession(ErrInvalidPayload, fmt.Errorf("%w: payload of %d bytes, limit %d", cookiesig.ErrMalformed, len(sid), b.maxHdr))
		}
		data = jsbuf.Base64(sid)
	} else {
		if !b.validKey(sid) {
			return noSession(ErrInvalidKey, nil)
		}
		raw, err := b.store.Get(ctx, sid)
		switch {
		case errors.Is(err, sessionbridge.ErrNotFound):
			return noSession(sessionbridge.ErrNotFound, nil)
		case errors.Is(err, sessionjson.ErrMalformed):
			return noSession(ErrInvalidPayload, err)
		case err != nil:
			return nil, loadedMeta{}, fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, loadedMeta{}, fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
		}
		data = raw
	}
	rec, m, err := b.decode(data)
	if err != nil {
		return noSession(ErrInvalidPayload, err)
	}
	if m.hasExpire && m.expire < float64(b.nowMs()) {
		return noSession(sessionbridge.ErrExpired, nil)
	}
	return &sessionbridge.Session{ID: sid, Record: rec}, m, nil
}
