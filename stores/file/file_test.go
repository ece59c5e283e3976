package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

const sid = "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"

func store(t *testing.T, opts filestore.Options) *filestore.Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	st, err := filestore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func path(t *testing.T, st *filestore.Store, id string) string {
	t.Helper()
	p, err := st.Path(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, st *filestore.Store, id string) string {
	t.Helper()
	b, err := os.ReadFile(path(t, st, id))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, st *filestore.Store, id, content string) {
	t.Helper()
	if err := os.WriteFile(path(t, st, id), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestContract runs the Store contract on one session directory, which
// must be empty afterwards: no temporary files left behind. The records
// Get returns carry the __lastAccess that Set added to the session, as
// session-file-store adds it to req.session.
func TestContract(t *testing.T) {
	dir := t.TempDir()
	sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
		return store(t, filestore.Options{Dir: dir})
	}, sessionbridgetest.Options{})
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("files left behind (temporary files?): %v", names)
	}
}

// TestFileFormat: the bytes, the place of __lastAccess, the file modes.
func TestFileFormat(t *testing.T) {
	root := t.TempDir()
	now := time.UnixMilli(1795000000123).UTC()
	st := store(t, filestore.Options{Dir: filepath.Join(root, "sessions"), Now: func() time.Time { return now }})
	ctx := context.Background()

	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:06:40.123Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795000000123}`
	if got := readFile(t, st, sid); got != want {
		t.Fatalf("file:\n got %s\nwant %s", got, want)
	}
	if b, _ := s.Encode(); string(b) != want {
		t.Fatalf("Set did not add __lastAccess to the session as Node does to req.session: %s", b)
	}
	fi, _ := os.Stat(path(t, st, sid))
	di, _ := os.Stat(filepath.Join(root, "sessions"))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v dir %v, want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}

	// Keys added later go after __lastAccess, which keeps its place.
	now = now.Add(time.Minute)
	got, err := st.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	_ = got.Set("cart", []int{1, 2})
	got.Touch(now)
	if err := os.Chmod(path(t, st, sid), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, sid, got); err != nil {
		t.Fatal(err)
	}
	want = `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:07:40.123Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795000060123,"cart":[1,2]}`
	if got := readFile(t, st, sid); got != want {
		t.Fatalf("rewritten file:\n got %s\nwant %s", got, want)
	}
	if fi, _ := os.Stat(path(t, st, sid)); fi.Mode().Perm() != 0o644 {
		t.Fatalf("a rewrite must keep the file's mode, as write-file-atomic does: %v", fi.Mode().Perm())
	}
	if names := entries(t, filepath.Join(root, "sessions")); len(names) != 1 {
		t.Fatalf("directory holds %v, want the session file only", names)
	}
	if _, err := filestore.New(filestore.Options{Dir: root, FileExtension: "/x"}); err == nil {
		t.Fatal("a FileExtension with a separator must be refused")
	}
}

// TestExpiry: __lastAccess + (originalMaxAge or ttl) < now, in ms;
// cookie.expires plays no part.
func TestExpiry(t *testing.T) {
	now := time.UnixMilli(1795000000000)
	st := store(t, filestore.Options{Now: func() time.Time { return now }, TTL: time.Minute})
	ctx := context.Background()
	ms := now.UnixMilli()
	rec := func(originalMaxAge, expires string, last int64) string {
		return fmt.Sprintf(`{"cookie":{"originalMaxAge":%s,"expires":%s,"httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":%d}`, originalMaxAge, expires, last)
	}
	future, past := `"2030-01-01T00:00:00.000Z"`, `"2020-01-01T00:00:00.000Z"`
	for _, c := range []struct {
		name    string
		content string
		alive   bool
	}{
		{"exactly at the limit (not <)", rec("3600000", future, ms-3600000), true},
		{"one ms past", rec("3600000", future, ms-3600001), false},
		{"cookie.expires past, recent access", rec("3600000", past, ms-1000), true},
		{"browser session: ttl option", rec("null", "null", ms-60000), true},
		{"browser session: ttl passed", rec("null", "null", ms-60001), false},
		{"originalMaxAge 0: ttl option", rec("0", future, ms-60001), false},
		{"negative originalMaxAge", rec("-1", future, ms), false},
	} {
		writeFile(t, st, sid, c.content)
		_, err := st.Get(ctx, sid)
		if c.alive && err != nil || !c.alive && !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Errorf("%s: %v (alive %v)", c.name, err, c.alive)
		}
		if readFile(t, st, sid) != c.content {
			t.Errorf("%s: Get changed the file", c.name)
		}
	}
	// Default ttl is one hour.
	def := store(t, filestore.Options{Now: func() time.Time { return now }})
	writeFile(t, def, sid, rec("null", "null", ms-3600000))
	if _, err := def.Get(ctx, sid); err != nil {
		t.Fatalf("default ttl: %v", err)
	}
	writeFile(t, def, sid, rec("null", "null", ms-3600001))
	if _, err := def.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("default ttl passed: %v", err)
	}
}

// TestTouch: the stored data stays, the cookie is the caller's,
// __lastAccess is new; missing or expired sessions are not recreated.
func TestTouch(t *testing.T) {
	now := time.UnixMilli(1795000000000).UTC()
	st := store(t, filestore.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	writeFile(t, st, sid, `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:06:40.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795000000000,"cart":[1]}`)
	mine := sessionjson.New(sessionjson.NewCookie(now.Add(time.Minute), time.Hour))
	_ = mine.Set("other", "data")
	before, _ := mine.Encode()
	now = now.Add(time.Minute)
	if err := st.Touch(ctx, sid, mine); err != nil {
		t.Fatal(err)
	}
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:07:40.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795000060000,"cart":[1]}`
	if got := readFile(t, st, sid); got != want {
		t.Fatalf("touched file:\n got %s\nwant %s", got, want)
	}
	if after, _ := mine.Encode(); string(after) != string(before) {
		t.Fatal("Touch changed the caller's session")
	}
	if err := st.Touch(ctx, "missing", mine); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Touch of a missing session: %v", err)
	}
	if _, err := os.Stat(path(t, st, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Touch created a missing session")
	}
	now = now.Add(2 * time.Hour)
	if err := st.Touch(ctx, sid, mine); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Touch of an expired session: %v", err)
	}
	if readFile(t, st, sid) != want {
		t.Fatal("Touch of an expired session rewrote it")
	}
}

// TestInvalidIDs: ids that could leave the directory, or are not plausible
// session ids, are refused before any disk access, without being quoted.
func TestInvalidIDs(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "sessions")
	st := store(t, filestore.Options{Dir: dir})
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(root, "victim.json"), []byte(`{"cookie":{},"__lastAccess":9e15}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	for _, id := range []string{
		"", ".", "..", "../victim", "..\\victim", "a/b", "a\\b", "/etc/passwd", "a\x00b",
		"a.b", "a b", "a\nb", "é", "%2e%2e", "~", strings.Repeat("a", filestore.MaxIDLength+1),
	} {
		ops := map[string]error{
			"get":     func() error { _, err := st.Get(ctx, id); return err }(),
			"set":     st.Set(ctx, id, s),
			"touch":   st.Touch(ctx, id, s),
			"destroy": st.Destroy(ctx, id),
		}
		for op, err := range ops {
			if !errors.Is(err, filestore.ErrInvalidID) {
				t.Errorf("%s(%q): %v, want ErrInvalidID", op, id, err)
			}
			if id != "" && strings.Contains(err.Error(), id) {
				t.Errorf("%s: the error quotes the id: %v", op, err)
			}
		}
	}
	if names := entries(t, root); len(names) != 2 {
		t.Fatalf("root now holds %v", names)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("session dir now holds %v", names)
	}
	for _, id := range []string{"a", "A-z_0", sid, strings.Repeat("a", filestore.MaxIDLength), "6b8f7f0c-2d5e-4a4b-9c1e-0f3c2b1a0e9d"} {
		if _, err := st.Path(id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
}

// TestBadFiles: what session-file-store never writes gets a typed error;
// the file and its neighbours stay as they are.
func TestBadFiles(t *testing.T) {
	st := store(t, filestore.Options{Decoder: sessionjson.Decoder{MaxBytes: 1000}})
	ctx := context.Background()
	good := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"__lastAccess":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `}`
	writeFile(t, st, "neighbour", good)
	for name, c := range map[string]struct {
		content string
		want    error
	}{
		"empty":               {"", sessionjson.ErrInvalidJSON},
		"truncated":           {good[:len(good)-5], sessionjson.ErrInvalidJSON},
		"not JSON":            {"hello", sessionjson.ErrInvalidJSON},
		"an array":            {"[1]", sessionjson.ErrNotObject},
		"no cookie":           {`{"__lastAccess":1}`, sessionjson.ErrNoCookie},
		"no __lastAccess":     {`{"cookie":{}}`, filestore.ErrBadLastAccess},
		"string __lastAccess": {`{"cookie":{},"__lastAccess":"1795000000000"}`, filestore.ErrBadLastAccess},
		"too large":           {`{"cookie":{},"x":"` + strings.Repeat("x", 1000) + `"}`, sessionjson.ErrTooLarge},
	} {
		writeFile(t, st, sid, c.content)
		_, err := st.Get(ctx, sid)
		if !errors.Is(err, c.want) || !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if err := st.Touch(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))); !errors.Is(err, c.want) {
			t.Errorf("%s: Touch: %v", name, err)
		}
		if readFile(t, st, sid) != c.content {
			t.Errorf("%s: the bad file was changed", name)
		}
		if err != nil && strings.Contains(err.Error(), sid) {
			t.Errorf("%s: the error quotes the id", name)
		}
	}
	// A directory where the file should be.
	p := path(t, st, sid)
	_ = os.Remove(p)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(p, "keep")
	_ = os.WriteFile(inside, []byte("x"), 0o600)
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	if _, err := st.Get(ctx, sid); !errors.Is(err, filestore.ErrNotRegular) {
		t.Errorf("get of a directory: %v", err)
	}
	if err := st.Set(ctx, sid, s); !errors.Is(err, filestore.ErrNotRegular) {
		t.Errorf("set over a directory: %v", err)
	}
	if err := st.Touch(ctx, sid, s); !errors.Is(err, filestore.ErrNotRegular) {
		t.Errorf("touch of a directory: %v", err)
	}
	if err := st.Destroy(ctx, sid); !errors.Is(err, filestore.ErrNotRegular) {
		t.Errorf("destroy of a directory: %v", err)
	}
	if _, err := os.Stat(inside); err != nil {
		t.Fatal("the directory's content was touched")
	}
	if readFile(t, st, "neighbour") != good {
		t.Fatal("a neighbour file was changed")
	}
	if names := entries(t, filepath.Dir(p)); len(names) != 2 {
		t.Fatalf("the directory holds %v (temporary files left?)", names)
	}
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: st})
	if _, err := b.LoadID(ctx, sid); !errors.Is(err, sessionbridge.ErrStore) {
		t.Fatalf("through the Bridge: %v, want ErrStore", err)
	}
}

// TestAtomicWrites: a reader racing writers of one session never sees a
// partial file.
func TestAtomicWrites(t *testing.T) {
	st := store(t, filestore.Options{})
	ctx := context.Background()
	big := strings.Repeat("x", 64<<10)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
				_ = s.Set("big", big[:len(big)-i%100-w])
				if err := st.Set(ctx, sid, s); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	reads := 0
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		_, err := st.Get(ctx, sid)
		if err != nil && !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("read a partial file: %v", err)
		}
		if err == nil {
			reads++
		}
	}
	close(stop)
	wg.Wait()
	if reads == 0 {
		t.Fatal("no read succeeded")
	}
	if names := entries(t, filepath.Dir(path(t, st, sid))); len(names) != 1 {
		t.Fatalf("directory holds %v", names)
	}
}

func nodeApp(t *testing.T, dir string) *nodetest.App {
	return nodetest.StartApp(t, map[string]string{"STORE": "file", "FILE_DIR": dir})
}

func bridge(t *testing.T, st sessionbridge.Store) *sessionbridge.Bridge {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(b *sessionbridge.Bridge, cookie string) (*sessionbridge.Session, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", b.CookieName()+"="+cookie)
	return b.Load(r)
}

func TestNodeBothWays(t *testing.T) {
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	app := nodeApp(t, dir)
	raw := func(id string) []byte {
		b, err := os.ReadFile(path(t, st, id))
		if err != nil {
			return nil
		}
		return b
	}
	storetest.Peer{App: app, Bridge: bridge(t, st), Raw: raw}.BothWays(t)
}

// TestNodeSameBytes: for the session Node wrote, Go writes the same bytes
// (given the same clock), keeps Node's file mode, and Node's req.session
// carries __lastAccess as Go's record does.
func TestNodeSameBytes(t *testing.T) {
	dir := t.TempDir()
	app := nodeApp(t, dir)
	cookie := app.Login("alice", "secret")
	app.SetData(cookie, map[string]any{"cart": []int{1, 2}, "note": "é😀\u2028<&>"})
	sid := app.Me(cookie).Sid // /me touches: Node rewrites the file
	live := store(t, filestore.Options{Dir: dir})
	nodeBytes := readFile(t, live, sid)
	fi, _ := os.Stat(path(t, live, sid))
	nodeMode := fi.Mode().Perm()

	s, err := live.Get(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(s.Keys(), ","); keys != "cookie,passport,__lastAccess,cart,note" {
		t.Fatalf("key order %s", keys)
	}
	var last int64
	if err := s.Get(filestore.LastAccessKey, &last); err != nil {
		t.Fatal(err)
	}
	// Go rewrites it at Node's __lastAccess: same bytes.
	same := store(t, filestore.Options{Dir: dir, Now: func() time.Time { return time.UnixMilli(last) }})
	if err := same.Set(context.Background(), sid, s); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, live, sid); got != nodeBytes {
		t.Fatalf("Go's bytes differ from Node's:\n  go %s\nnode %s", got, nodeBytes)
	}
	if fi, _ := os.Stat(path(t, live, sid)); fi.Mode().Perm() != nodeMode {
		t.Fatalf("Go changed Node's file mode %v to %v", nodeMode, fi.Mode().Perm())
	}
	me := app.Me(cookie)
	if !me.LoggedIn || !strings.Contains(string(me.Session), `"__lastAccess":`+strconv.FormatInt(last, 10)) {
		t.Fatalf("Node's req.session after Go's write: %s", me.Session)
	}
	// Node's touch (from that /me) moved __lastAccess in place.
	after, _ := live.Get(context.Background(), sid)
	if keys := strings.Join(after.Keys(), ","); keys != "cookie,passport,__lastAccess,cart,note" {
		t.Fatalf("key order after Node's touch: %s", keys)
	}
	t.Logf("Node file (mode %v, umask-dependent): %s", nodeMode, nodeBytes)
	t.Log("Go rewrote it byte for byte at the same clock; Node's req.session shows __lastAccess")
}

// TestNodeExpiry: both sides expire by __lastAccess, neither by
// cookie.expires.
func TestNodeExpiry(t *testing.T) {
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	app := nodeApp(t, dir)
	b := bridge(t, st)
	now := time.Now()
	write := func(expires time.Time, last time.Time) string {
		id, _ := sessionbridge.NewID()
		rec := fmt.Sprintf(`{"cookie":{"originalMaxAge":3600000,"expires":"%s","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":%d}`,
			expires.UTC().Format(sessionjson.ExpiresLayout), last.UnixMilli())
		writeFile(t, st, id, rec)
		return b.Signer().CookieValue(id)
	}
	old := write(now.Add(time.Hour), now.Add(-2*time.Hour))
	if _, err := load(b, old); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("old __lastAccess: Go loads it (%v)", err)
	}
	if app.Me(old).LoggedIn {
		t.Fatal("old __lastAccess: Node is logged in")
	}
	stale := write(now.Add(-time.Hour), now.Add(-time.Minute))
	if _, err := load(b, stale); err != nil {
		t.Fatalf("recent __lastAccess, past cookie.expires: Go refuses (%v)", err)
	}
	if !app.Me(stale).LoggedIn {
		t.Fatal("recent __lastAccess, past cookie.expires: Node is not logged in")
	}
	t.Log("old __lastAccess: logged out on both sides; past cookie.expires with recent __lastAccess: logged in on both")
}
