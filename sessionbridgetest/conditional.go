package sessionbridgetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// lifetime is the lifetime of the records the contract writes: cookie's
// originalMaxAge.
const lifetime = time.Hour

// conditional runs the [sessionbridge.ConditionalStore] checks when the
// store implements it, and logs that it skipped them when it does not.
func (c *contract) conditional(t *testing.T) {
	if _, ok := c.env(t).st.(sessionbridge.ConditionalStore); !ok {
		t.Log("skipped: the store does not implement sessionbridge.ConditionalStore (GetVersion, SetIf)")
		return
	}
	t.Run("GetVersion", c.getVersion)
	t.Run("SetIf", c.setIf)
	t.Run("Stale", c.setIfStale)
	t.Run("Destroyed", c.setIfDestroyed)
	t.Run("EmptyTag", c.setIfEmptyTag)
	t.Run("Chain", c.setIfChain)
	t.Run("Touch", c.setIfAfterTouch)
	t.Run("Context", c.conditionalContext)
	t.Run("Concurrent", c.conditionalConcurrent)
	t.Run("Touched", c.touched)
}

// cenv is one Conditional subtest's store.
type cenv struct {
	*env
	cs     sessionbridge.ConditionalStore
	serial *sync.Mutex // SetIf calls one at a time (Options.SetIfNotAtomic)
}

func (c *contract) cenv(t *testing.T) *cenv {
	t.Helper()
	e := c.env(t)
	cs, ok := e.st.(sessionbridge.ConditionalStore)
	if !ok {
		t.Fatalf("newStore returned a %T, which does not implement sessionbridge.ConditionalStore; the store it returned first did", e.st)
	}
	return &cenv{env: e, cs: cs}
}

// getVersion returns id's session and its Version, failing the test on
// any error or an empty Tag (with which SetIf could never succeed).
func (e *cenv) getVersion(id, when string) (*sessionjson.Session, sessionbridge.Version) {
	e.t.Helper()
	s, v, err := e.cs.GetVersion(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("GetVersion %s: %v", when, err)
	}
	if s == nil {
		e.t.Fatalf("GetVersion %s returned neither a session nor an error", when)
	}
	if v.Tag == "" {
		e.t.Fatalf("GetVersion %s returned a Version with an empty Tag: SetIf with it must conflict, so no write could ever succeed", when)
	}
	return s, v
}

// getVersionWant checks that GetVersion of id returns a session that
// encodes to want, and returns it with its Version.
func (e *cenv) getVersionWant(id string, want []byte, when string) (*sessionjson.Session, sessionbridge.Version) {
	e.t.Helper()
	s, v := e.getVersion(id, when)
	got, err := s.Encode()
	if err != nil {
		e.t.Fatalf("Encode of what GetVersion returned %s: %v", when, err)
	}
	if string(got) != string(want) {
		e.t.Fatalf("GetVersion %s returned another record: %s", when, diff(got, want))
	}
	return s, v
}

// setIf stores s under id with SetIf(v), failing the test unless it
// succeeds, and returns the bytes Get must now return and the Version
// SetIf returned.
func (e *cenv) setIf(id string, s *sessionjson.Session, v sessionbridge.Version, when string) ([]byte, sessionbridge.Version) {
	e.t.Helper()
	before := members(s)
	nv, err := e.cs.SetIf(e.t.Context(), id, s, v)
	if err != nil {
		e.t.Fatalf("SetIf %s: %v", when, err)
	}
	return e.written(before, s, "SetIf"), nv
}

// conflict checks that SetIf(v) of s under id fails with an error
// wrapping ErrConflict that does not name the session id.
func (e *cenv) conflict(id string, s *sessionjson.Session, v sessionbridge.Version, when string) {
	e.t.Helper()
	nv, err := e.cs.SetIf(e.t.Context(), id, s, v)
	switch {
	case err == nil:
		e.t.Fatalf("SetIf %s succeeded (returned Version with Tag %q), want an error wrapping ErrConflict", when, clip([]byte(nv.Tag), 80))
	case !errors.Is(err, sessionbridge.ErrConflict):
		e.t.Fatalf("SetIf %s: %v, want an error wrapping ErrConflict", when, err)
	case strings.Contains(err.Error(), id):
		e.t.Errorf("the conflict error names the session id: %v", err)
	}
}

// checkTouched checks v.Touched, unless it is zero (unknown), against the
// wall clock: a write that began at from, of a record living lifetime,
// cannot have set the expiry before from - lifetime, nor after now.
// A second of slack allows for clocks read at different places.
func (e *cenv) checkTouched(v sessionbridge.Version, from time.Time, when string) {
	e.t.Helper()
	if v.Touched.IsZero() {
		return
	}
	if now := time.Now(); v.Touched.After(now.Add(time.Second)) {
		e.t.Errorf("Version.Touched %s is %v, %v after the wall clock's now: a time later than the truth lets the Bridge skip a touch an active session needs", when, v.Touched, v.Touched.Sub(now))
	}
	if earliest := from.Add(-lifetime); v.Touched.Before(earliest) {
		e.t.Errorf("Version.Touched %s is %v, %v before the write began minus the record's lifetime (%v)", when, v.Touched, earliest.Sub(v.Touched), lifetime)
	}
}

func (c *contract) getVersion(t *testing.T) {
	for _, r := range records(time.Now().Add(lifetime), c.opts) {
		t.Run(r.name, func(t *testing.T) {
			e := c.cenv(t)
			id := e.id()
			want := e.set(id, record(t, r.rec))
			e.getVersionWant(id, want, "after Set")
			e.getWant(id, want, "after GetVersion")
		})
	}
	t.Run("Missing", func(t *testing.T) {
		e := c.cenv(t)
		id := e.id()
		s, _, err := e.cs.GetVersion(t.Context(), id)
		if !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("GetVersion of an id never stored: got (%v, %v), want an error wrapping ErrNotFound", summary(s), err)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		e := c.cenv(t)
		id := e.id()
		old := record(t, `{"cookie":`+cookie(time.Now().Add(-time.Hour))+`,"passport":{"user":7}}`)
		if err := e.st.Set(t.Context(), id, old); err != nil {
			t.Fatalf("Set of a session that has expired: %v", err)
		}
		s, _, err := e.cs.GetVersion(t.Context(), id)
		switch {
		case errors.Is(err, sessionbridge.ErrNotFound):
		case err != nil:
			t.Fatalf("GetVersion of a session set with an expiry in the past: %v, want ErrNotFound", err)
		default:
			if ee, ok := e.st.(sessionbridge.ExpiryEnforcer); ok && ee.EnforcesExpiry() {
				t.Fatalf("the store enforces expiry (EnforcesExpiry is true), but GetVersion returned a session set with an expiry in the past: %s", summary(s))
			}
		}
	})
}

func (c *contract) setIf(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"counter":1`))
	s, v := e.getVersion(id, "after Set")
	if err := errors.Join(s.Set("counter", 2), s.Set("go", "Go's change")); err != nil {
		t.Fatal(err)
	}
	s.Touch(time.Now())
	want, _ := e.setIf(id, s, v, "with the Version GetVersion returned")
	e.getVersionWant(id, want, "after SetIf")
	e.getWant(id, want, "after SetIf")
}

func (c *contract) setIfStale(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"counter":1,"old":"only in the first record"`))
	g, v := e.getVersion(id, "after Set")
	// Node changes the session meanwhile.
	node := e.set(id, live(t, `"passport":{"user":7},"counter":2,"new":"only in Node's write"`))
	if err := errors.Join(g.Set("counter", 5), g.Set("go", "Go's change")); err != nil {
		t.Fatal(err)
	}
	e.conflict(id, g, v, "with a Version read before another Set")
	e.getWant(id, node, "after a conflicting SetIf")
}

func (c *contract) setIfDestroyed(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7}`))
	g, v := e.getVersion(id, "after Set")
	if err := e.st.Destroy(t.Context(), id); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := g.Set("go", "Go's change"); err != nil {
		t.Fatal(err)
	}
	e.conflict(id, g, v, "with a Version read before Destroy")
	e.notFound(id, "after SetIf of a destroyed session")
}

func (c *contract) setIfEmptyTag(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	want := e.set(id, live(t, `"passport":{"user":7}`))
	for _, v := range []sessionbridge.Version{{}, {Touched: time.Now()}} {
		e.conflict(id, live(t, `"passport":{"user":8},"written":"with an empty Version.Tag"`), v, "with an empty Version.Tag")
		e.getWant(id, want, "after SetIf with an empty Version.Tag")
	}
	missing := e.id()
	e.conflict(missing, live(t, `"passport":{"user":8},"written":"with an empty Version.Tag"`), sessionbridge.Version{}, "of an id never stored, with an empty Version.Tag")
	e.notFound(missing, "after SetIf of an id never stored")
}

func (c *contract) setIfChain(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"n":0`))
	s, v := e.getVersion(id, "after Set")
	var want []byte
	for n := 1; n <= 3; n++ {
		if err := s.Set("n", n); err != nil {
			t.Fatal(err)
		}
		when := fmt.Sprintf("number %d of a chain", n)
		var nv sessionbridge.Version
		want, nv = e.setIf(id, s, v, when)
		if nv.Tag == "" {
			// The store cannot tell what it wrote: the doc says SetIf
			// with this Version conflicts, so the caller reads again.
			e.conflict(id, live(t, `"passport":{"user":8},"written":"with the empty Version SetIf returned"`), nv, "with the Version with an empty Tag that SetIf returned")
			e.getWant(id, want, "after SetIf with the Version with an empty Tag that SetIf returned")
			s, v = e.getVersionWant(id, want, "after "+when)
			continue
		}
		v = nv
	}
	e.getVersionWant(id, want, "after a chain of SetIf")

	// The Version SetIf returned is stale once another write came between.
	if err := s.Set("n", 4); err != nil {
		t.Fatal(err)
	}
	_, v = e.setIf(id, s, v, "after a chain of SetIf")
	if v.Tag == "" {
		return
	}
	node := e.set(id, live(t, `"passport":{"user":7},"n":5,"new":"only in Node's write"`))
	if err := s.Set("n", 6); err != nil {
		t.Fatal(err)
	}
	e.conflict(id, s, v, "with the Version SetIf returned, after another Set")
	e.getWant(id, node, "after a conflicting SetIf")
}

// setIfAfterTouch: another writer touches the session between Go's
// GetVersion and SetIf. The interface leaves it to the store whether that
// makes the record another one: a store that moves an expiry alone (a
// Redis EXPIRE, connect-pg-simple's UPDATE of expire) may keep the Tag,
// one whose touch rewrites the record or changes its CAS id (memcached)
// may not. Both are right, as long as no data change is lost: a SetIf
// that conflicts wrote nothing, and the retry the Bridge then makes
// stores Go's change.
func (c *contract) setIfAfterTouch(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	e.set(id, live(t, `"passport":{"user":7},"counter":1,"kept":"by everyone"`))
	g, v := e.getVersion(id, "after Set")
	other := e.get(id, "by another writer")
	other.Touch(time.Now())
	if err := e.st.Touch(t.Context(), id, other); err != nil {
		t.Fatalf("Touch by another writer: %v", err)
	}
	change := func(s *sessionjson.Session) {
		t.Helper()
		if err := errors.Join(s.Set("counter", 2), s.Set("go", "Go's change")); err != nil {
			t.Fatal(err)
		}
	}
	change(g)
	_, err := e.cs.SetIf(t.Context(), id, g, v)
	switch {
	case err == nil:
	case errors.Is(err, sessionbridge.ErrConflict):
		s := e.get(id, "after a SetIf that conflicted with a Touch")
		var counter int
		if err := s.Get("counter", &counter); err != nil || counter != 1 || s.Has("go") {
			t.Fatalf("SetIf reported a conflict but wrote (counter %d, %v): %s", counter, err, summary(s))
		}
		g, v = e.getVersion(id, "after a SetIf that conflicted with a Touch")
		change(g)
		e.setIf(id, g, v, "again after a conflict with a Touch")
	default:
		t.Fatalf("SetIf after another writer's Touch: %v, want success or an error wrapping ErrConflict", err)
	}
	s := e.get(id, "after SetIf")
	var counter int
	var kept string
	if err := errors.Join(s.Get("counter", &counter), s.Get("kept", &kept)); err != nil || counter != 2 || kept != "by everyone" || !s.Has("go") {
		t.Fatalf("Go's change or the data it kept is lost (counter %d, kept %q, %v): %s", counter, kept, err, summary(s))
	}
}

func (c *contract) conditionalContext(t *testing.T) {
	methods := []struct {
		name string
		call func(ctx context.Context, cs sessionbridge.ConditionalStore, id string, v sessionbridge.Version, t *testing.T) error
	}{
		{"GetVersion", func(ctx context.Context, cs sessionbridge.ConditionalStore, id string, _ sessionbridge.Version, t *testing.T) error {
			s, _, err := cs.GetVersion(ctx, id)
			if err == nil && s != nil {
				t.Errorf("GetVersion returned a session with a done context")
			}
			return err
		}},
		{"SetIf", func(ctx context.Context, cs sessionbridge.ConditionalStore, id string, v sessionbridge.Version, t *testing.T) error {
			_, err := cs.SetIf(ctx, id, live(t, `"passport":{"user":8},"written":"with a done context"`), v)
			return err
		}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			for _, d := range done {
				t.Run(d.name, func(t *testing.T) {
					e := c.cenv(t)
					id := e.id()
					want := e.set(id, live(t, `"passport":{"user":7}`))
					g, v := e.getVersion(id, "after Set")
					ctx, cancel := d.ctx()
					defer cancel()
					err := m.call(ctx, e.cs, id, v, t)
					switch {
					case err == nil:
						t.Fatalf("%s with a %s context succeeded, want an error wrapping %v", m.name, d.name, ctx.Err())
					case errors.Is(err, sessionbridge.ErrNotFound), errors.Is(err, sessionbridge.ErrConflict):
						t.Fatalf("%s with a %s context: %v, which wraps ErrNotFound or ErrConflict; want an error wrapping %v", m.name, d.name, err, ctx.Err())
					case !errors.Is(err, ctx.Err()):
						t.Errorf("%s with a %s context: %v, want an error wrapping %v", m.name, d.name, err, ctx.Err())
					}
					if strings.Contains(err.Error(), id) {
						t.Errorf("the error names the session id: %v", err)
					}
					e.getWant(id, want, "after "+m.name+" with a "+d.name+" context")
					// Nothing changed: the Version read before still works.
					if err := g.Set("go", "Go's change"); err != nil {
						t.Fatal(err)
					}
					want, _ = e.setIf(id, g, v, "with the Version read before "+m.name+" with a "+d.name+" context")
					e.getWant(id, want, "after SetIf")
				})
			}
		})
	}
}

// conditionalConcurrent: workers change their own member of one session
// in read-modify-write loops, as Bridges on several servers would. Each
// appends its round to the array in its member, so a lost write shows as
// a gap even when a later round of the same worker succeeded.
func (c *contract) conditionalConcurrent(t *testing.T) {
	e := c.cenv(t)
	if c.opts.SetIfNotAtomic {
		e.serial = new(sync.Mutex)
		t.Log("SetIf calls serialised: the store declares its database's conditional writes not atomic (Options.SetIfNotAtomic)")
	}
	ctx := t.Context()
	id := e.id()
	const workers, rounds, tries = 6, 8, 200
	key := func(w int) string { return fmt.Sprintf("worker%d", w) }
	first := live(t, `"passport":{"user":7},"kept":"by everyone"`)
	for w := range workers {
		if err := first.Set(key(w), []int{}); err != nil {
			t.Fatal(err)
		}
	}
	e.set(id, first)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := 1; r <= rounds; r++ {
				if !e.readModifyWrite(ctx, id, w, tries, func(s *sessionjson.Session) error {
					var rs []int
					if err := s.Get(key(w), &rs); err != nil {
						return err
					}
					return s.Set(key(w), append(rs, r))
				}) {
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := e.get(id, "after the concurrent read-modify-writes")
	want := make([]int, rounds)
	for i := range want {
		want[i] = i + 1
	}
	var kept string
	if err := s.Get("kept", &kept); err != nil || kept != "by everyone" {
		t.Errorf("a member no worker changed is now %q (%v)", kept, err)
	}
	for w := range workers {
		var got []int
		if err := s.Get(key(w), &got); err != nil {
			t.Errorf("worker %d: %v", w, err)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("worker %d: its member is %v, want %v: a SetIf overwrote a change it had not read", w, got, want)
		}
	}
}

// readModifyWrite applies change to id's session with GetVersion and
// SetIf, again on each conflict, at most tries times; false (the test
// failed) when it could not.
func (e *cenv) readModifyWrite(ctx context.Context, id string, w, tries int, change func(*sessionjson.Session) error) bool {
	for try := range tries {
		s, v, err := e.cs.GetVersion(ctx, id)
		if err != nil {
			e.t.Errorf("worker %d: GetVersion: %v", w, err)
			return false
		}
		if err := change(s); err != nil {
			e.t.Errorf("worker %d: %v in %s", w, err, summary(s))
			return false
		}
		if e.serial != nil {
			e.serial.Lock()
		}
		_, err = e.cs.SetIf(ctx, id, s, v)
		if e.serial != nil {
			e.serial.Unlock()
		}
		if err == nil {
			return true
		}
		if !errors.Is(err, sessionbridge.ErrConflict) {
			e.t.Errorf("worker %d: SetIf: %v", w, err)
			return false
		}
		// Back off a little, more after each conflict, so that the
		// workers do not keep meeting in lockstep.
		time.Sleep(time.Duration(rand.IntN(100*(try+1))) * time.Microsecond)
	}
	e.t.Errorf("worker %d: SetIf still conflicted after %d tries", w, tries)
	return false
}

func (c *contract) touched(t *testing.T) {
	e := c.cenv(t)
	id := e.id()
	from := time.Now()
	e.set(id, live(t, `"passport":{"user":7}`))
	s, v := e.getVersion(id, "after Set")
	e.checkTouched(v, from, "from GetVersion after Set")

	from = time.Now()
	s.Touch(from)
	if err := s.Set("go", "Go's change"); err != nil {
		t.Fatal(err)
	}
	_, nv := e.setIf(id, s, v, "after Set")
	e.checkTouched(nv, from, "from SetIf")
	s, v = e.getVersion(id, "after SetIf")
	e.checkTouched(v, from, "from GetVersion after SetIf")

	from = time.Now()
	s.Touch(from)
	if err := e.st.Touch(t.Context(), id, s); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	_, v = e.getVersion(id, "after Touch")
	e.checkTouched(v, from, "from GetVersion after Touch")
}
