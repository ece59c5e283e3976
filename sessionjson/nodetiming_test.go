package sessionjson_test

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

// nodeTiming is what testdata/node/json-timing.js measured for one record.
type nodeTiming struct {
	Bytes       int     `json:"bytes"`
	ParseNs     float64 `json:"parseNs"`
	StringifyNs float64 `json:"stringifyNs"`
	RoundTrip   bool    `json:"roundTrip"`
}

var (
	nodeTimingsMu sync.Mutex
	nodeTimings   = map[string]*nodeTiming{}
)

// nodeJSONTiming returns Node's JSON.parse and JSON.stringify times for
// rec, measured once per test binary for each name: rec is written to a
// temporary file and handed to json-timing.js, so Node reads exactly the
// bytes Go benchmarks. It returns nil (and logs why) when node is not
// installed; it fails if Node does not write rec back byte for byte.
func nodeJSONTiming(b *testing.B, name string, rec []byte) *nodeTiming {
	b.Helper()
	nodeTimingsMu.Lock()
	defer nodeTimingsMu.Unlock()
	if t, ok := nodeTimings[name]; ok {
		return t
	}
	if _, err := exec.LookPath("node"); err != nil {
		b.Logf("node not installed: no node-ns/key")
		nodeTimings[name] = nil
		return nil
	}
	file := filepath.Join(b.TempDir(), "record.json")
	if err := os.WriteFile(file, rec, 0o600); err != nil {
		b.Fatal(err)
	}
	script := filepath.Join(nodetest.Root(b), "testdata", "node", "json-timing.js")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("node", script, file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("json-timing.js: %v\n%s", err, stderr.String())
	}
	var out struct{ Results []nodeTiming }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Results) != 1 {
		b.Fatalf("json-timing.js output %q: %v", stdout.String(), err)
	}
	t := &out.Results[0]
	if t.Bytes != len(rec) || !t.RoundTrip {
		b.Fatalf("Node read %d of %d bytes, round trip %v: not the record Go benchmarks", t.Bytes, len(rec), t.RoundTrip)
	}
	nodeTimings[name] = t
	return t
}
