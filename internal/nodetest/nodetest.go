// Package nodetest runs the real npm packages from testdata/node for tests:
// committed fixtures they produced, and a live oracle (oracle-cli.js) that
// answers what Node does for values Go produced. It also decides what a test
// does when Node or a service is missing: skip with a hint outside CI, fail
// when CI is set.
package nodetest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Root returns the module's root directory.
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("nodetest: cannot locate source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixture decodes testdata/fixtures/<name> into v.
func Fixture(tb testing.TB, name string, v any) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(Root(tb), "testdata", "fixtures", name))
	if err != nil {
		tb.Fatalf("fixture %s: %v (regenerate with: make fixtures)", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
}

// Unavailable skips the test with hint outside CI and fails it in CI, where
// nothing may skip silently.
func Unavailable(tb testing.TB, what, hint string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is not available and CI is set: %s", what, hint)
	}
	tb.Skipf("%s is not available; start it with: %s", what, hint)
}

// Op is one oracle call.
type Op struct {
	Op   string `json:"op"`
	Args any    `json:"args"`
}

// Result is one oracle answer.
type Result struct {
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value"`
	Error string          `json:"error"`
}

var (
	checkOnce sync.Once
	checkErr  string
)

// RequireNode skips (or fails in CI) unless node and testdata/node's
// packages are installed.
func RequireNode(tb testing.TB) {
	tb.Helper()
	dir := filepath.Join(Root(tb), "testdata", "node")
	checkOnce.Do(func() {
		if _, err := exec.LookPath("node"); err != nil {
			checkErr = "node (Node.js 20+)"
			return
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "express-session", "package.json")); err != nil {
			checkErr = "testdata/node/node_modules"
		}
	})
	if checkErr != "" {
		Unavailable(tb, checkErr, "make node-deps (npm ci in testdata/node)")
	}
}

// Oracle runs ops through testdata/node/oracle-cli.js and returns the
// answers in order. It skips (or fails in CI) when node or the installed
// packages are missing.
func Oracle(tb testing.TB, ops []Op) []Result {
	tb.Helper()
	RequireNode(tb)
	dir := filepath.Join(Root(tb), "testdata", "node")
	in, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("node", "oracle-cli.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("oracle-cli.js: %v\n%s", err, stderr.String())
	}
	var out struct {
		Results []Result `json:"results"`
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		tb.Fatalf("oracle-cli.js output: %v\nstderr: %s", err, stderr.String())
	}
	if len(out.Results) != len(ops) {
		tb.Fatalf("oracle-cli.js answered %d of %d ops", len(out.Results), len(ops))
	}
	tb.Logf("Node oracle answered %d ops in %v", len(ops), time.Since(start).Round(time.Millisecond))
	return out.Results
}

// Decode decodes a result's value into v, failing the test on an oracle
// error.
func (r Result) Decode(tb testing.TB, v any) {
	tb.Helper()
	if !r.OK {
		tb.Fatalf("Node oracle error: %s", r.Error)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("oracle value %s: %v", r.Value, err)
	}
}

// SetCookieFixtures is testdata/fixtures/setcookie.json: for each set of
// express-session options, the Set-Cookie header express-session sent (nil
// when it sent none) and the record it stored.
type SetCookieFixtures struct {
	Cases []struct {
		Name string
		Args struct {
			Name        string
			Secrets     []string
			Sid         string
			Now         int64
			Cookie      map[string]any
			ProxySecure *bool
		}
		SetCookie *string
		Stored    string
	}
}
