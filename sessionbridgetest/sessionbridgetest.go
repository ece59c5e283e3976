// Package sessionbridgetest checks an implementation of
// [sessionbridge.Store] against the contract that interface documents, the
// one every store in this module passes, and, when the store also
// implements [sessionbridge.ConditionalStore], its GetVersion and SetIf
// (the Conditional subtests). Anyone writing a store for
// another database runs it from the store's own tests, against a real
// server:
//
//	func TestContract(t *testing.T) {
//		client := connect(t) // the real database, as in production
//		sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
//			// A fresh key space per subtest is tidiest, but not required:
//			// the contract only uses random session ids of its own.
//			return mystore.New(client, mystore.Options{Prefix: "test:" + rand.Text() + ":"})
//		}, sessionbridgetest.Options{})
//	}
//
// The checks run as subtests (see [TestStore] for the list), so one of
// them can be rerun alone: go test -run 'TestContract/Touch/KeepsData'.
// They also run under the race detector.
//
// The contract uses the wall clock: records it stores expire an hour or
// more from now, or expired an hour or more ago, so it neither sleeps nor
// needs control of the store's clock, and a store whose clock is off by a
// few minutes still passes. It cannot see how far a touch moved an expiry,
// only that a touch to the past ends the session; test the store's own
// lifetime arithmetic separately.
//
// Session ids in the contract are made of the characters uid-safe's
// base64url ids use (A-Z a-z 0-9 - _), which every store must accept; a
// store may refuse others (the file store does, as they become file names).
package sessionbridgetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Options describes documented differences between stores that change
// what the contract expects. The zero value is right for most stores.
type Options struct {
	// TouchWrites relaxes the contract for a store whose Touch writes the
	// whole session it is given (connect-memcached's touch does, in Node),
	// because it can neither move an expiry without rewriting the value
	// nor rewrite it conditionally. Such a store breaks the rule of
	// [sessionbridge.Store] that a touch never overwrites data written
	// since the caller read the session: a touch from Go then undoes a
	// concurrent change made by Node. With TouchWrites the contract
	// expects Touch to store the session given, and accepts that touching
	// a missing session creates it. No store in this module needs it (the
	// memcached store rewrites the record it finds with a CAS); leave it
	// false unless the database offers no way to do the same. Without it,
	// Touch must keep whatever the store holds at the time (Node may have
	// changed the session since Go read it) and must never create a
	// session.
	TouchWrites bool
	// SetIfNotAtomic declares a database that checks a conditional
	// write's condition and then writes, without excluding a concurrent
	// write in between (FerretDB 1.x, which the MongoDB store accepts in
	// place of MongoDB, does so). The concurrent Conditional check then
	// serialises its SetIf calls (reads stay concurrent) and says so in
	// the test log; every other check is unchanged. A store on a database
	// that applies updates atomically must leave it false.
	SetIfNotAtomic bool
	// JavaScriptNumbers declares a store that keeps numbers as
	// JavaScript numbers (IEEE doubles), as a database of typed values
	// written by Node does (connect-mongodb-session's BSON): the records
	// with numbers then hold the integers beyond 2^53 as JSON.stringify
	// writes them after JavaScript has read them (12345678901234567000,
	// -9007199254740992), which such a store keeps exactly, instead of as
	// a JSON text keeps them. A store of JSON text must leave it false.
	JavaScriptNumbers bool
}

// TestStore runs the [sessionbridge.Store] contract as subtests of t.
// newStore is called once per subtest, with the subtest's t, and returns
// the store to check; the stores it returns may share one database, since
// the contract only uses session ids it generates at random, and it
// destroys every session it wrote when each subtest ends.
//
// The subtests:
//   - GetMissing: Get of an unknown id is an error wrapping
//     [sessionbridge.ErrNotFound].
//   - SetGet/<record>: Set then Get returns the record byte for byte
//     (Encode of what Get returns equals what was stored), for records as
//     Node's JSON.stringify writes them: unicode and escapes, integers
//     beyond 2^53 and other number forms, nesting, array-index keys in
//     JavaScript order, a browser-session cookie, every cookie field, and a
//     96 KB record. A store may add members of its own to the session
//     given to Set (session-file-store's __lastAccess), and change them
//     on each write, but must keep the others unchanged and in order.
//   - Overwrite: Set replaces the record; nothing of the old one remains.
//   - Isolation: changing the session given to Set, or returned by Get,
//     afterwards does not change what the store holds.
//   - Destroy: the session is gone, others are kept, and destroying it
//     again or destroying an unknown id is not an error.
//   - Touch/KeepsData: a touch after Node changed the session (another Set
//     between Get and Touch) keeps Node's data ([Options.TouchWrites]:
//     stores the touched session instead).
//   - Touch/Missing: Touch of an unknown or destroyed id returns nil or
//     ErrNotFound and does not create it (unless TouchWrites).
//   - Touch/PastExpiry: a touch to an expiry in the past ends the session:
//     a [sessionbridge.Bridge] no longer loads it.
//   - Expired: a session Set with an expiry in the past is never loaded by
//     a Bridge: Get reports ErrNotFound, or, only for a store that does not
//     enforce expiry itself ([sessionbridge.ExpiryEnforcer]), returns it
//     for the Bridge to refuse.
//   - Context/<method>/<canceled|deadline>: each method with a done
//     context fails with an error wrapping ctx.Err() (not ErrNotFound, not
//     naming the session id) and changes nothing.
//   - Concurrent/DistinctIDs: parallel Set, Get, Touch and Destroy on
//     distinct ids.
//   - Concurrent/SameID: parallel Sets and Gets of one id; every Get
//     returns one whole record that some Set wrote.
//   - IDs: ids of various shapes (uid-safe's, one with a leading '-' or
//     '_', a UUID, digits only, 128 characters, one id a prefix of another)
//     are stored apart, read back and destroyed one at a time.
//
// When the store also implements [sessionbridge.ConditionalStore], the
// Conditional subtests check GetVersion and SetIf; for a store that does
// not, Conditional only logs that it skipped them.
//   - Conditional/GetVersion/<record>: GetVersion returns what Get
//     returns, byte for byte (the SetGet records), with a non-empty
//     Version.Tag. Conditional/GetVersion/Missing and .../Expired: the
//     errors Get reports.
//   - Conditional/SetIf: SetIf with the Version GetVersion returned
//     succeeds, and the next GetVersion and Get return what it wrote.
//   - Conditional/Stale: SetIf with a Version read before another Set
//     fails with an error wrapping [sessionbridge.ErrConflict] and changes
//     nothing.
//   - Conditional/Destroyed: SetIf with a Version read before Destroy
//     conflicts and does not recreate the session.
//   - Conditional/EmptyTag: SetIf with an empty Version.Tag conflicts, on a
//     stored session and on an id never stored, and changes nothing.
//   - Conditional/Chain: the Version SetIf returns, when its Tag is
//     non-empty, works for the next SetIf, and conflicts once another Set
//     came between; when its Tag is empty, the next SetIf with it
//     conflicts.
//   - Conditional/Touch: a Touch by another writer between GetVersion and
//     SetIf may make SetIf conflict (a store whose touch rewrites the
//     record, or changes its CAS id) or not (one that moves an expiry
//     alone), but no data change is lost either way: a conflicting SetIf
//     wrote nothing, and the retry a Bridge makes stores Go's change.
//   - Conditional/Context/<GetVersion|SetIf>/<canceled|deadline>: with a
//     done context, an error wrapping ctx.Err() (not ErrNotFound, not
//     ErrConflict, not naming the session id), and nothing changed: the
//     Version read before still works.
//   - Conditional/Concurrent: goroutines each change their own member of
//     one session in read-modify-write loops (GetVersion, change, SetIf,
//     again on conflict, a bounded number of times); every change of every
//     goroutine is in the final record.
//   - Conditional/Touched: Version.Touched, from GetVersion after Set,
//     SetIf and Touch and from SetIf itself, is zero or within the wall
//     clock's bounds: not after now plus a second (a later time could let
//     the Bridge skip a touch an active session needed) and not before the
//     write began minus the record's lifetime.
func TestStore(t *testing.T, newStore func(t *testing.T) sessionbridge.Store, opts Options) {
	t.Helper()
	c := &contract{newStore: newStore, opts: opts}
	t.Run("GetMissing", c.getMissing)
	t.Run("SetGet", c.setGet)
	t.Run("Overwrite", c.overwrite)
	t.Run("Isolation", c.isolation)
	t.Run("Destroy", c.destroy)
	t.Run("Touch", func(t *testing.T) {
		t.Run("KeepsData", c.touchKeepsData)
		t.Run("Missing", c.touchMissing)
		t.Run("PastExpiry", c.touchPastExpiry)
	})
	t.Run("Expired", c.expired)
	t.Run("Context", c.context)
	t.Run("Concurrent", func(t *testing.T) {
		t.Run("DistinctIDs", c.concurrentDistinct)
		t.Run("SameID", c.concurrentSame)
	})
	t.Run("IDs", c.ids)
	t.Run("Conditional", c.conditional)
}

type contract struct {
	newStore func(t *testing.T) sessionbridge.Store
	opts     Options
}

// env is one subtest's store.
type env struct {
	t  *testing.T
	st sessionbridge.Store
	// added are the members the store adds to a session it writes
	// (session-file-store's __lastAccess), as written has seen them; it
	// may change them on every write. Used on the test's goroutine only.
	added map[string]bool
}

func (c *contract) env(t *testing.T) *env {
	t.Helper()
	st := c.newStore(t)
	if st == nil {
		t.Fatal("newStore returned a nil Store")
	}
	return &env{t: t, st: st}
}

// own has id destroyed when the subtest ends.
func (e *env) own(id string) string {
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.st.Destroy(ctx, id); err != nil {
			e.t.Errorf("cleanup: Destroy: %v", err)
		}
	})
	return id
}

// id returns a new uid-safe session id, destroyed when the subtest ends.
func (e *env) id() string {
	e.t.Helper()
	id, err := sessionbridge.NewID()
	if err != nil {
		e.t.Fatal(err)
	}
	return e.own(id)
}

// set stores s under id and returns the bytes Get must now return: s as
// the store left it. The store may have added members to s, but s's own
// members must be unchanged and in the same order.
func (e *env) set(id string, s *sessionjson.Session) []byte {
	e.t.Helper()
	before := members(s)
	if err := e.st.Set(e.t.Context(), id, s); err != nil {
		e.t.Fatalf("Set: %v", err)
	}
	return e.written(before, s, "Set")
}

// written checks that the write called method kept the members before
// of s (it may have added its own, and change those it added before) and
// returns the bytes of s now.
func (e *env) written(before []member, s *sessionjson.Session, method string) []byte {
	e.t.Helper()
	after := members(s)
	if e.added == nil {
		e.added = map[string]bool{}
	}
	for _, m := range after {
		if !slices.ContainsFunc(before, func(b member) bool { return b.key == m.key }) {
			e.added[m.key] = true
		}
	}
	var kept []member
	for _, m := range after {
		if !e.added[m.key] && slices.ContainsFunc(before, func(b member) bool { return b.key == m.key }) {
			kept = append(kept, m)
		}
	}
	before = slices.DeleteFunc(slices.Clone(before), func(b member) bool { return e.added[b.key] })
	if !slices.EqualFunc(kept, before, func(a, b member) bool { return a.key == b.key && bytes.Equal(a.raw, b.raw) }) {
		e.t.Fatalf("%s changed or dropped members of the session it was given:\nbefore %s\n after %s", method, show(before), show(after))
	}
	b, err := s.Encode()
	if err != nil {
		e.t.Fatalf("Encode after %s: %v", method, err)
	}
	return b
}

// get returns id's session, failing the test on any error.
func (e *env) get(id, when string) *sessionjson.Session {
	e.t.Helper()
	s, err := e.st.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Get %s: %v", when, err)
	}
	if s == nil {
		e.t.Fatalf("Get %s returned neither a session nor an error", when)
	}
	return s
}

// getWant checks that id's session encodes to want.
func (e *env) getWant(id string, want []byte, when string) *sessionjson.Session {
	e.t.Helper()
	s := e.get(id, when)
	got, err := s.Encode()
	if err != nil {
		e.t.Fatalf("Encode of what Get returned %s: %v", when, err)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("Get %s returned another record: %s", when, diff(got, want))
	}
	return s
}

// notFound checks that Get of id reports ErrNotFound.
func (e *env) notFound(id, when string) {
	e.t.Helper()
	s, err := e.st.Get(e.t.Context(), id)
	if !errors.Is(err, sessionbridge.ErrNotFound) {
		e.t.Fatalf("Get %s: got (%v, %v), want an error wrapping ErrNotFound", when, summary(s), err)
	}
}

// bridge returns a Bridge on the store, with the wall clock.
func (e *env) bridge() *sessionbridge.Bridge {
	e.t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"sessionbridgetest"}, Store: e.st})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// gone checks that a Bridge on the store does not load id: the client has
// no valid session, and the store did not fail.
func (e *env) gone(id, when string) {
	e.t.Helper()
	s, err := e.bridge().LoadID(e.t.Context(), id)
	if !errors.Is(err, sessionbridge.ErrNoSession) {
		var rec *sessionjson.Session
		if s != nil {
			rec = s.Record
		}
		e.t.Fatalf("Bridge.LoadID %s: got (%v, %v), want an error wrapping ErrNoSession", when, summary(rec), err)
	}
}

type member struct {
	key string
	raw []byte
}

func members(s *sessionjson.Session) []member {
	var ms []member
	for _, k := range s.Keys() {
		raw, _ := s.Raw(k)
		ms = append(ms, member{k, bytes.Clone(raw)})
	}
	return ms
}

func show(ms []member) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", m.key, clip(m.raw, 60))
	}
	return "{" + b.String() + "}"
}

func summary(s *sessionjson.Session) string {
	if s == nil {
		return "no session"
	}
	b, err := s.Encode()
	if err != nil {
		return "a session (" + err.Error() + ")"
	}
	return "session " + string(clip(b, 200))
}

func clip(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "..."...)
}

// diff describes the first difference between got and want.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d:\n got ...%s\nwant ...%s",
		len(got), len(want), i, clip(got[from:], 120), clip(want[from:], 120))
}

// cookie is a cookie as express-session writes it, expiring at expires
// with a one-hour maxAge.
func cookie(expires time.Time) string {
	return `{"originalMaxAge":3600000,"expires":"` + expires.UTC().Format(sessionjson.ExpiresLayout) + `","httpOnly":true,"path":"/"}`
}

// record decodes a record as Node would have written it, which Encode
// returns unchanged.
func record(t *testing.T, rec string) *sessionjson.Session {
	t.Helper()
	s, err := sessionjson.Decode([]byte(rec))
	if err != nil {
		t.Fatalf("bad test record: %v\n%s", err, rec)
	}
	if b, _ := s.Encode(); string(b) != rec {
		t.Fatalf("test record not in Node's form:\n got %s\nwant %s", b, rec)
	}
	return s
}

// live is a record with the given members, alive for an hour.
func live(t *testing.T, members string) *sessionjson.Session {
	t.Helper()
	if members != "" {
		members = "," + members
	}
	return record(t, `{"cookie":`+cookie(time.Now().Add(time.Hour))+members+`}`)
}

// records are the SetGet records, in the form JSON.stringify writes them,
// with a cookie expiring at exp.
func records(exp time.Time, opts Options) []struct{ name, rec string } {
	c := cookie(exp)
	big, negative := "12345678901234567890", "-9007199254740993"
	if opts.JavaScriptNumbers {
		big, negative = "12345678901234567000", "-9007199254740992"
	}
	large := strings.Repeat("0123456789abcdef", 3<<10) + strings.Repeat("é€😀", 5<<10) + strings.Repeat("x", 1<<10)
	return []struct{ name, rec string }{
		{"Passport", `{"cookie":` + c + `,"passport":{"user":7}}`},
		{"Unicode", `{"cookie":` + c + `,"note":"é😀` + "\u2028\u2029" + `<&>'\"\\/","esc":"\u0000\u001f\b\t\n\f\r","会话":"ключ","😀":"emoji key","":"empty key"}`},
		{"Numbers", `{"cookie":` + c + `,"big":` + big + `,"negative":` + negative + `,"frac":0.1,"exp":1e+21,"tiny":5e-324,"max":1.7976931348623157e+308,"zero":0,"user":{"id":"12345678901234567890"}}`},
		{"Nested", `{"cookie":` + c + `,"passport":{"user":{"id":7,"roles":["admin","user"],"profile":{"emails":[{"value":"a@example.com","verified":true}]}}},"cart":[{"sku":"a","qty":2},{"sku":"b","qty":1}],"empty":{},"none":[],"nil":null,"yes":true,"no":false,"deep":[[[[[[[[[[1]]]]]]]]]]}`},
		{"IndexKeys", `{"1":"one","2":"two","10":"ten","cookie":` + c + `,"flash":{"0":"a","1":"b","error":["x"]},"4294967295":"not an array index","01":"nor this","-1":"nor this"}`},
		{"BrowserSessionCookie", `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"passport":{"user":7}}`},
		{"CookieFields", `{"cookie":{"originalMaxAge":3600000,"partitioned":true,"priority":"high","expires":"` + exp.UTC().Format(sessionjson.ExpiresLayout) + `","secure":true,"httpOnly":false,"domain":"example.com","path":"/app","sameSite":"strict"},"passport":{"user":7}}`},
		{"Large", `{"cookie":` + c + `,"passport":{"user":7},"blob":"` + large + `"}`},
	}
}

func (c *contract) getMissing(t *testing.T) {
	e := c.env(t)
	e.notFound(e.id(), "of an id never stored")
}

func (c *contract) setGet(t *testing.T) {
	for _, r := range records(time.Now().Add(time.Hour), c.opts) {
		t.Run(r.name, func(t *testing.T) {
			e := c.env(t)
			id := e.id()
			want := e.set(id, record(t, r.rec))
			e.getWant(id, want, "after Set")
			e.getWant(id, want, "a second time")
		})
	}
}

func (c *contract) overwrite(t *testing.T) {
	e := c.env(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"a":1,"shared":"from the first Set"`))
	want := e.set(id, live(t, `"b":2,"shared":"from the second Set"`))
	s := e.getWant(id, want, "after the second Set")
	if s.Has("a") || s.Has("passport") {
		t.Fatalf("members of the first record survived the second Set: %s", summary(s))
	}
}

func (c *contract) isolation(t *testing.T) {
	e := c.env(t)
	id := e.id()
	s := live(t, `"passport":{"user":7}`)
	want := e.set(id, s)
	if err := s.Set("passport", map[string]any{"user": 8}); err != nil {
		t.Fatal(err)
	}
	s.Cookie.Touch(time.Now().Add(24 * time.Hour))
	g := e.getWant(id, want, "after the session given to Set changed")
	if err := g.Set("passport", map[string]any{"user": 9}); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete("passport"); err != nil {
		t.Fatal(err)
	}
	e.getWant(id, want, "after the session Get returned changed")
}

func (c *contract) destroy(t *testing.T) {
	e := c.env(t)
	ctx := t.Context()
	id, other := e.id(), e.id()
	e.set(id, live(t, `"passport":{"user":7}`))
	keep := e.set(other, live(t, `"passport":{"user":8}`))
	if err := e.st.Destroy(ctx, id); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	e.notFound(id, "after Destroy")
	e.getWant(other, keep, "of another session after Destroy")
	if err := e.st.Destroy(ctx, id); err != nil {
		t.Fatalf("Destroy of a destroyed session: %v, want nil", err)
	}
	if err := e.st.Destroy(ctx, e.id()); err != nil {
		t.Fatalf("Destroy of an id never stored: %v, want nil", err)
	}
}

func (c *contract) touchKeepsData(t *testing.T) {
	e := c.env(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"counter":1,"old":"only in Go's copy"`))
	g := e.get(id, "after Set")
	// Node changes the session meanwhile.
	node := live(t, `"passport":{"user":7},"counter":2,"new":"only in Node's write"`)
	e.set(id, node)
	// Go's request ends an hour later: express-session's touch.
	g.Touch(time.Now().Add(time.Hour))
	if err := e.st.Touch(t.Context(), id, g); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	s := e.get(id, "after Touch")
	var counter int
	if err := s.Get("counter", &counter); err != nil {
		t.Fatalf("after Touch: %v", err)
	}
	if c.opts.TouchWrites {
		if counter != 1 || !s.Has("old") || s.Has("new") {
			t.Fatalf("with TouchWrites, Touch must store the session it is given; Get returns %s", summary(s))
		}
		return
	}
	if counter != 2 || s.Has("old") || !s.Has("new") {
		t.Fatalf("Touch wrote back Go's stale copy over Node's change; Get returns %s", summary(s))
	}
	for _, k := range []string{"passport", "counter", "new"} {
		got, _ := s.Raw(k)
		want, _ := node.Raw(k)
		if !bytes.Equal(got, want) {
			t.Fatalf("after Touch member %q is %s, want %s", k, got, want)
		}
	}
}

func (c *contract) touchMissing(t *testing.T) {
	e := c.env(t)
	ctx := t.Context()
	destroyed := e.id()
	e.set(destroyed, live(t, `"passport":{"user":7}`))
	if err := e.st.Destroy(ctx, destroyed); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for _, tc := range []struct{ what, id string }{{"an id never stored", e.id()}, {"a destroyed session", destroyed}} {
		s := live(t, `"passport":{"user":7}`)
		err := e.st.Touch(ctx, tc.id, s)
		if err != nil && !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("Touch of %s: %v, want nil or an error wrapping ErrNotFound", tc.what, err)
		}
		if !c.opts.TouchWrites {
			e.notFound(tc.id, "after Touch of "+tc.what)
		}
	}
}

func (c *contract) touchPastExpiry(t *testing.T) {
	e := c.env(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7}`))
	g := e.get(id, "after Set")
	g.Touch(time.Now().Add(-3 * time.Hour)) // expired two hours ago
	if err := e.st.Touch(t.Context(), id, g); err != nil && !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Touch to an expiry in the past: %v", err)
	}
	e.gone(id, "after Touch to an expiry in the past")
}

func (c *contract) expired(t *testing.T) {
	e := c.env(t)
	id := e.id()
	old := record(t, `{"cookie":`+cookie(time.Now().Add(-time.Hour))+`,"passport":{"user":7}}`)
	if err := e.st.Set(t.Context(), id, old); err != nil {
		t.Fatalf("Set of a session that has expired: %v", err)
	}
	s, err := e.st.Get(t.Context(), id)
	switch {
	case errors.Is(err, sessionbridge.ErrNotFound):
	case err != nil:
		t.Fatalf("Get of a session set with an expiry in the past: %v, want ErrNotFound", err)
	default:
		if ee, ok := e.st.(sessionbridge.ExpiryEnforcer); ok && ee.EnforcesExpiry() {
			t.Fatalf("the store enforces expiry (EnforcesExpiry is true), but Get returned a session set with an expiry in the past: %s", summary(s))
		}
	}
	e.gone(id, "of a session set with an expiry in the past")
}

// done are the contexts that are already done, by name.
var done = []struct {
	name string
	ctx  func() (context.Context, context.CancelFunc)
}{
	{"canceled", func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}},
	{"deadline", func() (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	}},
}

// context checks that each method honours a context that is already done.
func (c *contract) context(t *testing.T) {
	methods := []struct {
		name string
		call func(ctx context.Context, st sessionbridge.Store, id string, t *testing.T) error
	}{
		{"Get", func(ctx context.Context, st sessionbridge.Store, id string, t *testing.T) error {
			s, err := st.Get(ctx, id)
			if err == nil && s != nil {
				t.Errorf("Get returned a session with a done context")
			}
			return err
		}},
		{"Set", func(ctx context.Context, st sessionbridge.Store, id string, t *testing.T) error {
			return st.Set(ctx, id, live(t, `"passport":{"user":8},"written":"with a done context"`))
		}},
		{"Touch", func(ctx context.Context, st sessionbridge.Store, id string, t *testing.T) error {
			// A touch to the past would end the session: it must not happen.
			s := live(t, `"passport":{"user":8},"written":"with a done context"`)
			s.Touch(time.Now().Add(-3 * time.Hour))
			return st.Touch(ctx, id, s)
		}},
		{"Destroy", func(ctx context.Context, st sessionbridge.Store, id string, _ *testing.T) error {
			return st.Destroy(ctx, id)
		}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			for _, d := range done {
				t.Run(d.name, func(t *testing.T) {
					e := c.env(t)
					id := e.id()
					want := e.set(id, live(t, `"passport":{"user":7}`))
					ctx, cancel := d.ctx()
					defer cancel()
					err := m.call(ctx, e.st, id, t)
					switch {
					case err == nil:
						t.Fatalf("%s with a %s context succeeded, want an error wrapping %v", m.name, d.name, ctx.Err())
					case errors.Is(err, sessionbridge.ErrNotFound):
						t.Fatalf("%s with a %s context: %v, which wraps ErrNotFound; want an error wrapping %v", m.name, d.name, err, ctx.Err())
					case !errors.Is(err, ctx.Err()):
						t.Errorf("%s with a %s context: %v, want an error wrapping %v", m.name, d.name, err, ctx.Err())
					}
					if strings.Contains(err.Error(), id) {
						t.Errorf("the error names the session id: %v", err)
					}
					e.getWant(id, want, "after "+m.name+" with a "+d.name+" context")
				})
			}
		})
	}
}

func (c *contract) concurrentDistinct(t *testing.T) {
	e := c.env(t)
	ctx := t.Context()
	const workers, rounds = 8, 3
	ids := make([]string, workers)
	recs := make([][]*sessionjson.Session, workers)
	for w := range ids {
		ids[w] = e.id()
		for r := range rounds {
			recs[w] = append(recs[w], live(t, fmt.Sprintf(`"passport":{"user":%d},"round":%d`, w, r)))
		}
	}
	var wg sync.WaitGroup
	for w, id := range ids {
		wg.Go(func() {
			check := func(s *sessionjson.Session, r int, when string) bool {
				if s == nil {
					t.Errorf("worker %d, round %d: Get %s returned neither a session nor an error", w, r, when)
					return false
				}
				var user, round int
				if err := errors.Join(s.Get("passport", &struct{ User *int }{&user}), s.Get("round", &round)); err != nil || user != w || round != r {
					t.Errorf("worker %d, round %d: Get %s returned user %d round %d (%v)", w, r, when, user, round, err)
					return false
				}
				return true
			}
			for r, s := range recs[w] {
				if err := e.st.Set(ctx, id, s); err != nil {
					t.Errorf("worker %d: Set: %v", w, err)
					return
				}
				g, err := e.st.Get(ctx, id)
				if err != nil {
					t.Errorf("worker %d: Get: %v", w, err)
					return
				}
				if !check(g, r, "after Set") {
					return
				}
				g.Touch(time.Now().Add(time.Hour))
				if err := e.st.Touch(ctx, id, g); err != nil {
					t.Errorf("worker %d: Touch: %v", w, err)
					return
				}
				if g, err = e.st.Get(ctx, id); err != nil {
					t.Errorf("worker %d: Get after Touch: %v", w, err)
					return
				}
				if !check(g, r, "after Touch") {
					return
				}
			}
			if err := e.st.Destroy(ctx, id); err != nil {
				t.Errorf("worker %d: Destroy: %v", w, err)
				return
			}
			if _, err := e.st.Get(ctx, id); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Errorf("worker %d: Get after Destroy: %v, want ErrNotFound", w, err)
			}
		})
	}
	wg.Wait()
}

func (c *contract) concurrentSame(t *testing.T) {
	e := c.env(t)
	ctx := t.Context()
	id := e.id()
	// Each record is internally consistent: its pad repeats its writer's
	// letter, so a torn or mixed record shows.
	const writers, readers, rounds = 3, 3, 8
	pad := func(w int) string { return strings.Repeat(string(rune('a'+w)), 4096+w) }
	recs := make([][]*sessionjson.Session, writers+1)
	for w := range recs {
		for seq := range rounds + 1 {
			recs[w] = append(recs[w], live(t, fmt.Sprintf(`"writer":%d,"seq":%d,"pad":"%s"`, w, seq, pad(w))))
		}
	}
	e.set(id, recs[0][0])
	var wg sync.WaitGroup
	for w := 1; w <= writers; w++ {
		wg.Go(func() {
			for seq := 1; seq <= rounds; seq++ {
				if err := e.st.Set(ctx, id, recs[w][seq]); err != nil {
					t.Errorf("writer %d: Set: %v", w, err)
					return
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for range rounds {
				s, err := e.st.Get(ctx, id)
				if err != nil {
					t.Errorf("reader %d: Get during concurrent Sets: %v", r, err)
					return
				}
				if s == nil {
					t.Errorf("reader %d: Get during concurrent Sets returned neither a session nor an error", r)
					return
				}
				var w, seq int
				var p string
				if err := errors.Join(s.Get("writer", &w), s.Get("seq", &seq), s.Get("pad", &p)); err != nil {
					t.Errorf("reader %d: %v in %s", r, err, summary(s))
					return
				}
				if w < 0 || w > writers || seq < 0 || seq > rounds || (w == 0) != (seq == 0) || p != pad(w) {
					t.Errorf("reader %d: Get returned a record no Set wrote: %s", r, summary(s))
					return
				}
			}
		})
	}
	wg.Wait()
}

func (c *contract) ids(t *testing.T) {
	e := c.env(t)
	ctx := t.Context()
	uid := e.id() // uid-safe, as express-session generates them
	ids := []string{
		uid,
		uid + "_",      // uid is a prefix of it
		"-" + uid[:20], // base64url characters at the start
		"_" + uid[:20],
		uuid(),                 // a common custom genid
		digits(20),             // looks like a number
		strings.Repeat(uid, 4), // 128 characters
	}
	for _, id := range ids[1:] {
		e.own(id)
	}
	want := make([][]byte, len(ids))
	for i, id := range ids {
		want[i] = e.set(id, live(t, fmt.Sprintf(`"passport":{"user":%d},"id":%q`, i, id)))
	}
	for i, id := range ids {
		e.getWant(id, want[i], fmt.Sprintf("of id %q", id))
	}
	for i, id := range ids {
		if err := e.st.Destroy(ctx, id); err != nil {
			t.Fatalf("Destroy of id %q: %v", id, err)
		}
		e.notFound(id, fmt.Sprintf("of id %q after Destroy", id))
		for j := i + 1; j < len(ids); j++ {
			e.getWant(ids[j], want[j], fmt.Sprintf("of id %q after Destroy of id %q", ids[j], id))
		}
	}
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func digits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}
