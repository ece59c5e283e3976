package sessionbridgetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// The contract must not pass vacuously: each store below breaks one rule
// and the subtest named for that rule must fail on it. The contract runs
// in a child process (TestBrokenStore), since its failures are failures of
// the *testing.T it is given.

const brokenEnv = "SESSIONBRIDGETEST_BROKEN"

// broken maps a store's flaw to the subtest that must catch it.
var broken = map[string]struct {
	subtest  string
	newStore func() sessionbridge.Store
}{
	"touch writes Go's stale copy": {"Touch/KeepsData", func() sessionbridge.Store {
		return touchSets{sessionbridge.NewMemoryStore()}
	}},
	"touch does nothing": {"Touch/PastExpiry", func() sessionbridge.Store {
		return touchNoop{sessionbridge.NewMemoryStore()}
	}},
	"context ignored": {"Context/Set/canceled", func() sessionbridge.Store {
		return ignoreContext{sessionbridge.NewMemoryStore()}
	}},
	"records shared with the caller": {"Isolation", func() sessionbridge.Store {
		return &sharing{m: map[string]*sessionjson.Session{}}
	}},
	"SetIf ignores the Version": {"Conditional/Stale", func() sessionbridge.Store {
		return setIfAlways{sessionbridge.NewMemoryStore()}
	}},
	"SetIf writes, then reports a conflict": {"Conditional/Stale", func() sessionbridge.Store {
		return setIfWritesOnConflict{sessionbridge.NewMemoryStore()}
	}},
	"SetIf recreates a destroyed session": {"Conditional/Destroyed", func() sessionbridge.Store {
		return setIfRecreates{sessionbridge.NewMemoryStore()}
	}},
	"SetIf returns the Version it was given": {"Conditional/Chain", func() sessionbridge.Store {
		return setIfOldVersion{sessionbridge.NewMemoryStore()}
	}},
	"SetIf ignores the context": {"Conditional/Context/SetIf/canceled", func() sessionbridge.Store {
		return setIfIgnoresContext{sessionbridge.NewMemoryStore()}
	}},
	"Version.Touched in the future": {"Conditional/Touched", func() sessionbridge.Store {
		return touchedLater{sessionbridge.NewMemoryStore()}
	}},
}

// plainEnv names the child run of TestPlainStore.
const plainEnv = "SESSIONBRIDGETEST_PLAIN"

// TestPlainStore: a store that is not a ConditionalStore passes the
// contract, whose Conditional subtest logs why it checked nothing.
func TestPlainStore(t *testing.T) {
	if os.Getenv(plainEnv) != "" {
		sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
			return plain{sessionbridge.NewMemoryStore()}
		}, sessionbridgetest.Options{})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlainStore$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), plainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the contract failed a store that is not a ConditionalStore: %v\n%s", err, out)
	}
	for _, want := range []string{"skipped: the store does not implement sessionbridge.ConditionalStore", "--- PASS: TestPlainStore/Conditional "} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("no %q in the output:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "TestPlainStore/Conditional/") {
		t.Fatalf("the Conditional subtests ran on a store that is not a ConditionalStore:\n%s", out)
	}
}

// plain is a Store without GetVersion and SetIf.
type plain struct{ sessionbridge.Store }

func TestContractCatchesBrokenStores(t *testing.T) {
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the contract passed a store whose %s:\n%s", name, out)
			}
			if want := "--- FAIL: TestBrokenStore/" + b.subtest + " "; !strings.Contains(string(out), want) {
				t.Fatalf("the store whose %s did not fail %s:\n%s", name, b.subtest, out)
			}
		})
	}
}

// TestBrokenStore is the child process of TestContractCatchesBrokenStores
// (the helper-process pattern of os/exec's tests): it runs the contract on
// the broken store $SESSIONBRIDGETEST_BROKEN names, and returns at once in
// an ordinary run.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		return
	}
	b, ok := broken[name]
	if !ok {
		t.Fatalf("no broken store %q", name)
	}
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store { return b.newStore() }, sessionbridgetest.Options{})
}

// touchSets writes the whole session on Touch, without Options.TouchWrites.
type touchSets struct{ *sessionbridge.MemoryStore }

func (s touchSets) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	return s.Set(ctx, sid, sess)
}

// touchNoop never moves an expiry.
type touchNoop struct{ *sessionbridge.MemoryStore }

func (touchNoop) Touch(context.Context, string, *sessionjson.Session) error { return nil }

// ignoreContext goes ahead with a canceled or expired context.
type ignoreContext struct{ *sessionbridge.MemoryStore }

func (s ignoreContext) Get(_ context.Context, sid string) (*sessionjson.Session, error) {
	return s.MemoryStore.Get(context.Background(), sid)
}

func (s ignoreContext) Set(_ context.Context, sid string, sess *sessionjson.Session) error {
	return s.MemoryStore.Set(context.Background(), sid, sess)
}

func (s ignoreContext) Touch(_ context.Context, sid string, sess *sessionjson.Session) error {
	return s.MemoryStore.Touch(context.Background(), sid, sess)
}

func (s ignoreContext) Destroy(_ context.Context, sid string) error {
	return s.MemoryStore.Destroy(context.Background(), sid)
}

// sharing keeps the *Session it is given and returns it from Get.
type sharing struct {
	mu sync.Mutex
	m  map[string]*sessionjson.Session
}

func (s *sharing) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.m[sid]; ok {
		return sess, nil
	}
	return nil, sessionbridge.ErrNotFound
}

func (s *sharing) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[sid] = sess
	return nil
}

func (s *sharing) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[sid]; ok {
		old.Cookie = sess.Cookie
	}
	return nil
}

func (s *sharing) Destroy(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sid)
	return nil
}

// setIfAlways writes whatever Version it is given.
type setIfAlways struct{ *sessionbridge.MemoryStore }

func (s setIfAlways) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, _ sessionbridge.Version) (sessionbridge.Version, error) {
	if err := s.Set(ctx, sid, sess); err != nil {
		return sessionbridge.Version{}, err
	}
	return sessionbridge.Version{}, nil
}

// setIfWritesOnConflict writes, and then reports the conflict it found.
type setIfWritesOnConflict struct{ *sessionbridge.MemoryStore }

func (s setIfWritesOnConflict) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	nv, err := s.MemoryStore.SetIf(ctx, sid, sess, v)
	if errors.Is(err, sessionbridge.ErrConflict) {
		if err := s.Set(ctx, sid, sess); err != nil {
			return sessionbridge.Version{}, err
		}
	}
	return nv, err
}

// setIfRecreates writes a session that is gone, as an upsert would.
type setIfRecreates struct{ *sessionbridge.MemoryStore }

func (s setIfRecreates) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if _, err := s.Get(ctx, sid); errors.Is(err, sessionbridge.ErrNotFound) {
		return sessionbridge.Version{}, s.Set(ctx, sid, sess)
	}
	return s.MemoryStore.SetIf(ctx, sid, sess, v)
}

// setIfOldVersion returns the Version it was given, not the one it wrote.
type setIfOldVersion struct{ *sessionbridge.MemoryStore }

func (s setIfOldVersion) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if _, err := s.MemoryStore.SetIf(ctx, sid, sess, v); err != nil {
		return sessionbridge.Version{}, err
	}
	return v, nil
}

// setIfIgnoresContext goes ahead with a canceled or expired context.
type setIfIgnoresContext struct{ *sessionbridge.MemoryStore }

func (s setIfIgnoresContext) SetIf(_ context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	return s.MemoryStore.SetIf(context.Background(), sid, sess, v)
}

// touchedLater reports an expiry set a minute from now.
type touchedLater struct{ *sessionbridge.MemoryStore }

func (s touchedLater) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	sess, v, err := s.MemoryStore.GetVersion(ctx, sid)
	if err == nil {
		v.Touched = time.Now().Add(time.Minute)
	}
	return sess, v, err
}
