// Package passportuser is the Go side of passport's session support
// (passport 0.7): it reads the user passport serialized into
// session.passport.user, turns it into the application's user with a
// deserializer (passport.deserializeUser), and logs users in and out the way
// req.login and req.logout do, so a Go login is a Node login.
//
// passport stores whatever serializeUser produced: usually a number or a
// string id, sometimes a whole object. The value is kept exact (ids above
// 2^53 included). A session is logged in exactly when passport would treat it
// so: 0 is a user; a missing passport object, "passport":{} (what logout
// leaves), and a user of null, false or "" are not.
//
// Every function takes the Bridge's session, a *sessionbridge.Session (from
// sessionbridge.FromContext or Bridge.Load).
package passportuser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Key is where passport keeps its data in the session (passport's _key).
const Key = "passport"

var (
	// ErrNotLoggedIn means the session holds no passport user. It is not a
	// failure.
	ErrNotLoggedIn = errors.New("passportuser: not logged in")
	// ErrBadPassport means session.passport is not an object (passport
	// itself would throw on it). It wraps sessionjson.ErrMalformed.
	ErrBadPassport = fmt.Errorf("%w: session.passport is not an object", sessionjson.ErrMalformed)
	// ErrDeserialize wraps an error returned by a Deserializer: the user
	// could not be loaded (database down, ...). It is a failure, not a
	// logout.
	ErrDeserialize = errors.New("passportuser: deserializing the user failed")
)

// Raw returns session.passport.user exactly as stored, or ErrNotLoggedIn,
// or ErrBadPassport. In a record @fastify/session wrote (or Go wrote as
// its peer), the user is session.passport itself, as @fastify/passport
// keeps it, and any value but null is a user.
func Raw(s *sessionbridge.Session) (json.RawMessage, error) {
	p, ok := s.Record.Raw(Key)
	if !ok || isNull(p) {
		return nil, ErrNotLoggedIn
	}
	if fastifyPassport(s.Record) {
		return p, nil
	}
	if p[0] != '{' {
		return nil, ErrBadPassport
	}
	u, ok := sessionjson.Member(p, "user")
	if !ok {
		return nil, ErrNotLoggedIn
	}
	switch string(bytes.TrimSpace(u)) {
	case "null", "false", `""`:
		// passport: `if (su || su === 0)` — every other falsy value means
		// nobody is logged in. (NaN, the only other one, cannot be JSON.)
		return nil, ErrNotLoggedIn
	}
	return u, nil
}

func isNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }

// fastifyPassport reports whether rec is a @fastify/session record, whose
// passport is @fastify/passport's: the serialized user itself under Key.
func fastifyPassport(rec *sessionjson.Session) bool {
	return rec.HasCookie() && rec.Cookie.Layout == sessionjson.FastifyLayout
}

// LoggedIn reports whether passport would consider the session logged in.
func LoggedIn(s *sessionbridge.Session) bool {
	_, err := Raw(s)
	return err == nil
}

// Decode decodes the passport user into v (numbers as json.Number when v
// leaves the type open). It returns ErrNotLoggedIn when there is none.
func Decode(s *sessionbridge.Session, v any) error {
	u, err := Raw(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(u))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("passportuser: user does not fit %T: %w", v, err)
	}
	return nil
}

// A Deserializer turns the stored passport user (the JSON serializeUser
// produced) into the application's user, like passport.deserializeUser. It
// returns ErrNotLoggedIn when the user no longer exists (passport then
// treats the session as logged out); any other error is a failure.
type Deserializer[U any] func(ctx context.Context, stored json.RawMessage) (U, error)

// Load returns the application's user for the session. Errors: ErrNotLoggedIn
// (no user, or the deserializer says it is gone), ErrBadPassport, or an
// error wrapping ErrDeserialize and the deserializer's own error.
func Load[U any](ctx context.Context, s *sessionbridge.Session, deserialize Deserializer[U]) (U, error) {
	var zero U
	raw, err := Raw(s)
	if err != nil {
		return zero, err
	}
	u, err := deserialize(ctx, raw)
	switch {
	case errors.Is(err, ErrNotLoggedIn):
		return zero, ErrNotLoggedIn
	case err != nil:
		return zero, fmt.Errorf("%w: %w", ErrDeserialize, err)
	}
	return u, nil
}

// JSONDeserializer returns a Deserializer that decodes the stored value
// into U: for apps whose serializeUser stores the user object itself.
func JSONDeserializer[U any]() Deserializer[U] {
	return func(_ context.Context, stored json.RawMessage) (U, error) {
		var u U
		dec := json.NewDecoder(bytes.NewReader(stored))
		dec.UseNumber()
		err := dec.Decode(&u)
		return u, err
	}
}

// A Manager is the session format Login and Logout work through: what it
// takes to create, regenerate and save a session. A
// *sessionbridge.Bridge is one (express-session, @fastify/session), and so
// are the cookie-based formats' (cookiesession, koasession).
type Manager interface {
	NewSession() (*sessionbridge.Session, error)
	Regenerate(ctx context.Context, s *sessionbridge.Session) error
	Save(ctx context.Context, s *sessionbridge.Session) error
}

var _ Manager = (*sessionbridge.Bridge)(nil)

// Options for Login and Logout.
type Options struct {
	// KeepSessionInfo keeps the old session's data in the new session
	// (passport's keepSessionInfo); by default everything is dropped.
	KeepSessionInfo bool
}

// Login logs user in the way passport 0.7's req.login does: the current
// session is regenerated (destroyed in the store and given a fresh id and
// an empty record, in place: the session fixation guard), its
// passport.user set to user (what serializeUser would produce: an id or an
// object), and saved. It returns old, changed; with old nil (no session
// yet) it returns a new session. Under Bridge.LoadAndSave the new cookie is
// sent at the end of the request; elsewhere send it with
// Bridge.WriteCookie.
func Login(ctx context.Context, b Manager, old *sessionbridge.Session, user any, opts Options) (*sessionbridge.Session, error) {
	ser, err := json.Marshal(user)
	if err != nil {
		return nil, fmt.Errorf("passportuser: serializing the user: %w", err)
	}
	if string(ser) == "null" || string(ser) == "false" || string(ser) == `""` {
		return nil, errors.New("passportuser: a user must not serialize to null, false or \"\"")
	}
	s, err := regenerate(ctx, b, old, opts, true)
	if err != nil {
		return nil, err
	}
	if fastifyPassport(s.Record) {
		// @fastify/passport: the user is the member itself.
		if err := s.Record.SetRaw(Key, ser); err != nil {
			return nil, err
		}
		if err := b.Save(ctx, s); err != nil {
			return nil, err
		}
		return s, nil
	}
	pass := map[string]json.RawMessage{}
	if p, ok := s.Record.Raw(Key); ok && len(p) > 0 && p[0] == '{' {
		_ = json.Unmarshal(p, &pass)
	}
	pass["user"] = ser
	if err := s.Record.Set(Key, orderedPassport(s.Record, pass)); err != nil {
		return nil, err
	}
	if err := b.Save(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// orderedPassport keeps the existing key order of session.passport and
// puts "user" where JavaScript would (last if new).
func orderedPassport(s *sessionjson.Session, pass map[string]json.RawMessage) json.RawMessage {
	var keys []string
	if p, ok := s.Raw(Key); ok {
		dec := json.NewDecoder(bytes.NewReader(p))
		if t, err := dec.Token(); err == nil && t == json.Delim('{') {
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					break
				}
				keys = append(keys, k.(string))
				var skip json.RawMessage
				_ = dec.Decode(&skip)
			}
		}
	}
	seen := map[string]bool{}
	var b bytes.Buffer
	b.WriteByte('{')
	write := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(jsjson.AppendString(nil, k))
		b.WriteByte(':')
		b.Write(pass[k])
	}
	for _, k := range keys {
		if _, ok := pass[k]; ok {
			write(k)
		}
	}
	if _, ok := pass["user"]; ok {
		write("user")
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Logout logs out the way passport 0.7's req.logout does: passport.user is
// removed and the session saved, then regenerated in place (destroyed in
// the store, a fresh id and an empty record, with the old data if
// KeepSessionInfo). It returns s, changed. Given the request's context
// under Bridge.LoadAndSave, the new session is saved and its cookie sent at
// the end of the request, as express-session does after req.logout;
// elsewhere Logout saves it, and the caller sends its cookie with
// Bridge.WriteCookie.
func Logout(ctx context.Context, b Manager, s *sessionbridge.Session, opts Options) (*sessionbridge.Session, error) {
	if s == nil {
		// passport's req.logout fails the same way without a session.
		return nil, fmt.Errorf("%w: no session to log out of", ErrNotLoggedIn)
	}
	if fastifyPassport(s.Record) {
		if err := s.Record.Delete(Key); err != nil {
			return nil, err
		}
	} else if p, ok := s.Record.Raw(Key); ok && len(p) > 0 && p[0] == '{' {
		pass := map[string]json.RawMessage{}
		_ = json.Unmarshal(p, &pass)
		delete(pass, "user")
		if err := s.Record.Set(Key, orderedPassport(s.Record, pass)); err != nil {
			return nil, err
		}
	}
	if err := b.Save(ctx, s); err != nil {
		return nil, err
	}
	n, err := regenerate(ctx, b, s, opts, false)
	if err != nil {
		return nil, err
	}
	if cur, ok := sessionbridge.FromContext(ctx); !ok || cur != n {
		// Not the session of a LoadAndSave request, which would save it.
		if err := b.Save(ctx, n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// regenerate is express-session's regenerate plus passport's
// keepSessionInfo merge.
func regenerate(ctx context.Context, b Manager, s *sessionbridge.Session, opts Options, login bool) (*sessionbridge.Session, error) {
	if s == nil {
		return b.NewSession()
	}
	prev := s.Record
	if err := b.Regenerate(ctx, s); err != nil {
		return nil, err
	}
	if fastifyPassport(s.Record) && fastifyPassport(prev) {
		// @fastify/passport's login keeps "session" (and, with
		// keepSessionInfo, every key; passport itself is then rewritten);
		// its logout keeps nothing.
		for _, k := range prev.Keys() {
			if !login || k == "cookie" || !opts.KeepSessionInfo && k != "session" {
				continue
			}
			raw, _ := prev.Raw(k)
			if err := s.Record.SetRaw(k, raw); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	if opts.KeepSessionInfo {
		// merge(req.session, prevSession) copies every key, cookie included.
		s.Record.Cookie = prev.Cookie
		for _, k := range prev.Keys() {
			if k == "cookie" {
				continue
			}
			raw, _ := prev.Raw(k)
			if err := s.Record.SetRaw(k, raw); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Canonical returns a stored user as one canonical JSON text (object keys
// sorted, no spaces, numbers exact, no HTML escaping), so two encodings of
// the same user compare equal.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("passportuser: user is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("passportuser: user is not one JSON value")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("passportuser: user: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
