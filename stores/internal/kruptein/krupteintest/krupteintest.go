// Package krupteintest runs testdata/node/kruptein-cli.js, the real
// kruptein versions and the real Node stores that encrypt sessions with
// them (connect-mongo's crypto, connect-memcached's secret), for the tests
// of the Go side.
package krupteintest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Run sends ops to kruptein-cli.js and returns its answers in order. It
// skips (or fails in CI) when node or the installed packages are missing.
func Run(tb testing.TB, ops ...nodetest.Op) []nodetest.Result {
	tb.Helper()
	nodetest.RequireNode(tb)
	in, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("node", "kruptein-cli.js")
	cmd.Dir = filepath.Join(nodetest.Root(tb), "testdata", "node")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("kruptein-cli.js: %v\n%s", err, stderr.String())
	}
	var out struct {
		Results  []nodetest.Result `json:"results"`
		Versions map[string]string `json:"versions"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		tb.Fatalf("kruptein-cli.js output: %v\nstderr: %s", err, stderr.String())
	}
	if len(out.Results) != len(ops) {
		tb.Fatalf("kruptein-cli.js answered %d of %d ops", len(out.Results), len(ops))
	}
	for k, want := range map[string]string{"kruptein308": "3.0.8", "connect-mongo": "6.0.0", "connect-memcached": "3.0.0"} {
		if out.Versions[k] != want {
			tb.Fatalf("testdata/node has %s %s, want %s", k, out.Versions[k], want)
		}
	}
	if v := out.Versions["kruptein31"]; !strings.HasPrefix(v, "3.1.") {
		tb.Fatalf("connect-memcached's kruptein is %s, want 3.1.x", v)
	}
	return out.Results
}

// String returns a result's value as a string, failing the test on an
// error or another type.
func String(tb testing.TB, r nodetest.Result) string {
	tb.Helper()
	if !r.OK {
		tb.Fatalf("kruptein-cli.js: %s", r.Error)
	}
	var s string
	if err := json.Unmarshal(r.Value, &s); err != nil {
		tb.Fatalf("kruptein-cli.js value %s: %v", r.Value, err)
	}
	return s
}

// Op is shorthand for a nodetest.Op.
func Op(op string, args map[string]any) nodetest.Op { return nodetest.Op{Op: op, Args: args} }
