// Package nodemongotest runs testdata/nodemongo/cli.js, the real
// connect-mongodb-session 5.0.0 MongoDBStore and the bson library of the
// mongodb driver it brings, for the Go tests of stores/mongodbsession and
// stores/internal/bsonjson.
package nodemongotest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Versions the harness must have installed.
var wantVersions = map[string]string{
	"connect-mongodb-session": "5.0.0",
	"express-session":         "1.19.0",
	"mongodb":                 "6.22.0",
}

var (
	checkOnce sync.Once
	checkErr  string
)

// Dir returns testdata/nodemongo.
func Dir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(nodetest.Root(tb), "testdata", "nodemongo")
}

// Require skips (or fails in CI) unless node and testdata/nodemongo's
// packages are installed.
func Require(tb testing.TB) {
	tb.Helper()
	checkOnce.Do(func() {
		if _, err := exec.LookPath("node"); err != nil {
			checkErr = "node (Node.js 20+)"
			return
		}
		if _, err := os.Stat(filepath.Join(Dir(tb), "node_modules", "connect-mongodb-session", "package.json")); err != nil {
			checkErr = "testdata/nodemongo/node_modules"
		}
	})
	if checkErr != "" {
		nodetest.Unavailable(tb, checkErr, "make node-deps (npm ci in testdata/nodemongo)")
	}
}

// Op is one call of cli.js.
func Op(op string, args map[string]any) nodetest.Op { return nodetest.Op{Op: op, Args: args} }

// Run sends ops to cli.js and returns its answers in order.
func Run(tb testing.TB, ops ...nodetest.Op) []nodetest.Result {
	tb.Helper()
	Require(tb)
	in, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("node", "cli.js")
	cmd.Dir = Dir(tb)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("cli.js: %v\n%s", err, stderr.String())
	}
	var out struct {
		Results  []nodetest.Result `json:"results"`
		Versions map[string]string `json:"versions"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		tb.Fatalf("cli.js output: %v\nstdout: %.500s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if len(out.Results) != len(ops) {
		tb.Fatalf("cli.js answered %d of %d ops", len(out.Results), len(ops))
	}
	for k, want := range wantVersions {
		if out.Versions[k] != want {
			tb.Fatalf("testdata/nodemongo has %s %s, want %s", k, out.Versions[k], want)
		}
	}
	return out.Results
}

// Value decodes a result's value into v (numbers as json.Number where v
// leaves the type open), failing the test on an error.
func Value(tb testing.TB, r nodetest.Result, v any) {
	tb.Helper()
	if !r.OK {
		tb.Fatalf("cli.js: %s", r.Error)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("cli.js value %.300s: %v", r.Value, err)
	}
}
