package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
)

// onlySessions fails if dir holds anything but the files of the given ids
// (no lock or temporary file left behind).
func onlySessions(t *testing.T, st *filestore.Store, dir string, ids ...string) {
	t.Helper()
	var want []string
	for _, id := range ids {
		want = append(want, filepath.Base(path(t, st, id)))
	}
	if got := entries(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("directory holds %v, want %v", got, want)
	}
}

// TestSetIf: a SetIf on the file read writes exactly what Set writes (with
// __lastAccess) and returns its Version; one after a Destroy leaves no file
// behind; one of an expired session removes the file only if it is
// unchanged. sessionbridgetest's Conditional checks cover a stale Version
// (Stale, Chain), an empty Tag (EmptyTag) and the Version SetIf returns
// (Chain).
func TestSetIf(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMilli(1795000000123).UTC()
	st := store(t, filestore.Options{Dir: dir, Now: func() time.Time { return now }})
	ctx := context.Background()
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	g, v := condtest.GetVersion(t, st, sid)
	if !v.Touched.Equal(now) {
		t.Fatalf("Touched %v, want the __lastAccess %v", v.Touched, now)
	}
	now = now.Add(time.Minute)
	_ = g.Set("cart", []int{1, 2})
	nv, err := st.SetIf(ctx, sid, g, v)
	if err != nil {
		t.Fatalf("SetIf on the file read: %v", err)
	}
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:06:40.123Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795000060123,"cart":[1,2]}`
	if got := readFile(t, st, sid); got != want {
		t.Fatalf("SetIf wrote\n %s\nwant (what Set writes)\n %s", got, want)
	}
	if b, _ := g.Encode(); string(b) != want {
		t.Fatalf("SetIf did not set __lastAccess in the session as Set does: %s", b)
	}
	_, again := condtest.GetVersion(t, st, sid)
	if nv.Tag != again.Tag || !nv.Touched.Equal(again.Touched) || !nv.Touched.Equal(now) {
		t.Fatalf("SetIf returned %+v, GetVersion then %+v; want equal, Touched %v", nv, again, now)
	}

	// A Destroy in between: the file is not created again, no lock or
	// temporary file is left, and the caller's session is unchanged.
	stale := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = stale.Set("stale", true)
	staleBytes, _ := stale.Encode()
	other := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = other.Set("other", "writer")
	_, v = condtest.GetVersion(t, st, sid)
	if err := st.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	_, err = st.SetIf(ctx, sid, stale, v)
	condtest.WantConflict(t, err, "after a Destroy")
	onlySessions(t, st, dir)
	if b, _ := stale.Encode(); string(b) != string(staleBytes) {
		t.Fatal("a conflicting SetIf changed the caller's session")
	}

	// An expired session: SetIf removes the file, only if it is unchanged.
	if err := st.Set(ctx, sid, other); err != nil {
		t.Fatal(err)
	}
	old := sessionjson.New(sessionjson.NewCookie(now.Add(-2*time.Hour), time.Hour))
	_, v = condtest.GetVersion(t, st, sid)
	now = now.Add(time.Second)
	if err := st.Set(ctx, sid, other); err != nil {
		t.Fatal(err)
	}
	_, err = st.SetIf(ctx, sid, old, v)
	condtest.WantConflict(t, err, "of an expired session after another Set")
	onlySessions(t, st, dir, sid)
	_, v = condtest.GetVersion(t, st, sid)
	if nv, err := st.SetIf(ctx, sid, old, v); err != nil || nv != (sessionbridge.Version{}) {
		t.Fatalf("SetIf of an expired session: %+v, %v", nv, err)
	}
	onlySessions(t, st, dir)
}

// TestTouched: Touched is the file's __lastAccess, whoever wrote it: Set,
// Touch, or a file as Node writes it.
func TestTouched(t *testing.T) {
	now := time.UnixMilli(1795000000000).UTC()
	st := store(t, filestore.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	if err := st.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Minute)
	s.Touch(now)
	if err := st.Touch(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	if _, v := condtest.GetVersion(t, st, sid); !v.Touched.Equal(now) {
		t.Fatalf("after Touch: Touched %v, want %v", v.Touched, now)
	}
	writeFile(t, st, sid, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"__lastAccess":1795000300000}`)
	if _, v := condtest.GetVersion(t, st, sid); !v.Touched.Equal(time.UnixMilli(1795000300000)) {
		t.Fatalf("Node's file: Touched %v", v.Touched)
	}
}

// TestConditionalNode: the real session-file-store writes between Go's
// read and Go's write. SetIf conflicts and keeps Node's write; Touch keeps
// Node's data, and Node reads Go's touch.
func TestConditionalNode(t *testing.T) {
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	app := nodeApp(t, dir)
	ctx := context.Background()
	cookie := app.Login("alice", "secret")
	id := app.Me(cookie).Sid

	s, v := condtest.GetVersion(t, st, id)
	app.SetData(cookie, map[string]any{"fromNode": 1})
	_ = s.Set("fromGo", 1)
	_, err := st.SetIf(ctx, id, s, v)
	condtest.WantConflict(t, err, "after Node's write")
	if me := app.Me(cookie); !strings.Contains(string(me.Session), `"fromNode":1`) || strings.Contains(string(me.Session), "fromGo") {
		t.Fatalf("Node's session after Go's conflicting SetIf: %s", me.Session)
	}

	s, v = condtest.GetVersion(t, st, id)
	_ = s.Set("fromGo", 1)
	if _, err := st.SetIf(ctx, id, s, v); err != nil {
		t.Fatalf("SetIf after re-reading: %v", err)
	}
	if me := app.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), `"fromNode":1`) || !strings.Contains(string(me.Session), `"fromGo":1`) {
		t.Fatalf("Node's session after Go's SetIf: %+v", me)
	}

	g, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	app.SetData(cookie, map[string]any{"fromNode": 2}, "fromGo")
	g.Touch(time.Now().Add(time.Minute))
	if err := st.Touch(ctx, id, g); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	got, v := condtest.GetVersion(t, st, id)
	if condtest.Member(got, "fromNode") != "2" || got.Has("fromGo") || !got.Cookie.Equal(g.Cookie) {
		t.Fatalf("after Go's Touch the record is %v; want Node's data with Go's cookie", got)
	}
	if d := time.Since(v.Touched); d < 0 || d > time.Minute {
		t.Fatalf("after Go's Touch __lastAccess is %v", v.Touched)
	}
	if me := app.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), `"fromNode":2`) {
		t.Fatalf("Node's view after Go's Touch: %+v", me)
	}
	onlySessions(t, st, dir, id)
	t.Log("Node wrote between Go's read and write: SetIf conflicted, Touch kept Node's data; Node reads both")
}

// rmw increments key in the session rounds times with GetVersion and
// SetIf, retrying on conflict, and checks that no change was lost. It
// returns the number of conflicts.
func rmw(ctx context.Context, st *filestore.Store, id, key string, rounds int) (conflicts int, err error) {
	for r := 1; r <= rounds; r++ {
		for attempt := 0; ; attempt++ {
			if attempt == 1000 {
				return conflicts, fmt.Errorf("%s %s: no SetIf succeeded in 1000 attempts", id, key)
			}
			s, v, err := st.GetVersion(ctx, id)
			if err != nil {
				return conflicts, fmt.Errorf("GetVersion: %w", err)
			}
			var have int
			_ = s.Get(key, &have)
			if have != r-1 {
				return conflicts, fmt.Errorf("%s %s: read %d, want %d: a change was lost", id, key, have, r-1)
			}
			_ = s.Set(key, r)
			_, err = st.SetIf(ctx, id, s, v)
			if err == nil {
				break
			}
			if !errors.Is(err, sessionbridge.ErrConflict) {
				return conflicts, fmt.Errorf("SetIf: %w", err)
			}
			conflicts++
		}
	}
	return conflicts, nil
}

const helperEnv = "FILESTORE_RMW_HELPER"

// TestCrossProcess: two child processes (this test binary) and this one
// change their own keys of one session file concurrently; the lock file's
// flock serialises them, so every change survives.
func TestCrossProcess(t *testing.T) {
	if !filestore.CrossProcessLock {
		t.Skip("no flock on this system: Go processes do not exclude each other")
	}
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	if err := st.Set(context.Background(), sid, sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))); err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	signals := t.TempDir() // each child creates ready<i>, then waits for go
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRMWHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,child%d,%d", helperEnv, dir, signals, i, rounds))
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i := range cmds {
		for start := time.Now(); !exists(filepath.Join(signals, fmt.Sprintf("ready%d", i))); time.Sleep(time.Millisecond) {
			if time.Since(start) > time.Minute {
				t.Fatalf("child %d never got ready:\n%s", i, outs[i])
			}
		}
	}
	if err := os.WriteFile(filepath.Join(signals, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conflicts, err := rmw(context.Background(), st, sid, "parent", rounds)
	if err != nil {
		t.Error(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
		if n, ok := strings.CutPrefix(strings.Fields(outs[i].String() + " x")[0], "conflicts="); ok {
			c, _ := strconv.Atoi(n)
			conflicts += c
		}
	}
	s, err := st.Get(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"parent", "child0", "child1"} {
		if got := condtest.Member(s, key); got != strconv.Itoa(rounds) {
			t.Fatalf("%s is %s, want %d", key, got, rounds)
		}
	}
	onlySessions(t, st, dir, sid)
	t.Logf("3 processes x %d changes of one session file: all kept, %d conflicts retried", rounds, conflicts)
}

// TestRMWHelper is TestCrossProcess's child process; in an ordinary run it
// returns at once.
func TestRMWHelper(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	f := strings.Split(spec, ",") // dir, signals, key, rounds
	rounds, _ := strconv.Atoi(f[3])
	st := store(t, filestore.Options{Dir: f[0]})
	if err := os.WriteFile(filepath.Join(f[1], "ready"+strings.TrimPrefix(f[2], "child")), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); !exists(filepath.Join(f[1], "go")); time.Sleep(time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("never told to go")
		}
	}
	n, err := rmw(context.Background(), st, sid, f[2], rounds)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("conflicts=%d\n", n)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestLockFiles: lock file names never end in the extension, so neither
// this store nor session-file-store (which lists the names ending in
// fileExtension) takes one for a session; a lock file left by a killed
// process is taken over and removed.
func TestLockFiles(t *testing.T) {
	for _, ext := range []string{".json", ".session", "k", "ck", ".lock", "x.lock", ".lock.lock", "_", ".lock_"} {
		suf := filestore.LockSuffixFor(ext)
		if name := sid + ext + suf; strings.HasSuffix(name, ext) {
			t.Errorf("extension %q: lock file %q ends in it", ext, name)
		}
	}
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	ctx := context.Background()
	if err := st.Set(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 2 || got[1] != filepath.Base(st.LockPath(sid)) || got[1] != sid+".json.lock" {
		t.Fatalf("while locked the directory holds %v", got)
	}
	if _, err := st.Get(ctx, sid); err != nil {
		t.Fatalf("Get while locked: %v", err)
	}
	unlock()
	onlySessions(t, st, dir, sid)

	// session-file-store itself, with lock files in the directory.
	nodetest.RequireNode(t)
	for _, ext := range []string{".json", "k", ".lock"} {
		dir := t.TempDir()
		st := store(t, filestore.Options{Dir: dir, FileExtension: ext})
		if err := st.Set(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))); err != nil {
			t.Fatal(err)
		}
		unlock, err := st.Lock(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(entries(t, dir)); n != 2 {
			t.Fatalf("extension %q: %d files while locked, want the session and its lock file", ext, n)
		}
		got := nodeList(t, dir, ext)
		unlock()
		if want := `{"list":["` + sid + ext + `"],"length":1}`; got != want {
			t.Fatalf("extension %q: session-file-store lists %s, want %s", ext, got, want)
		}
	}
	t.Log("session-file-store's list and length ignore the lock files (extensions .json, k, .lock)")

	// Left behind by a process killed while holding it.
	if err := os.WriteFile(st.LockPath(sid), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, v := condtest.GetVersion(t, st, sid)
	if _, err := st.SetIf(ctx, sid, s, v); err != nil {
		t.Fatal(err)
	}
	onlySessions(t, st, dir, sid)
}

// nodeListJS prints what session-file-store's list and length (which its
// reaper and clear use) find in a directory.
const nodeListJS = `
const helpers = require('session-file-store/lib/session-file-helpers');
const [dir, ext] = process.argv.slice(1);
const options = helpers.defaults({ path: dir, fileExtension: ext, logFn: () => {} });
helpers.list(options, (err, files) => {
  if (err) throw err;
  helpers.length(options, (err, n) => {
    if (err) throw err;
    process.stdout.write(JSON.stringify({ list: files.sort(), length: n }));
  });
});
`

func nodeList(t *testing.T, dir, ext string) string {
	t.Helper()
	cmd := exec.Command("node", "-e", nodeListJS, dir, ext)
	cmd.Dir = filepath.Join(nodetest.Root(t), "testdata", "node")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return string(out)
}
