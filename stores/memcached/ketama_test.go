package memcachedstore

import (
	"errors"

	"bytes"
	"encoding/json"
	"fmt"
	"github.com/bradfitz/gomemcache/memcache"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// hashringJS asks the npm memcached client's own ring (hashring, as memcached
// 2.2 builds it: md5, compatibility ketama, default port 11211) where each key
// goes.
const hashringJS = `
const HashRing = require('hashring');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { servers, keys } = JSON.parse(input);
  const ring = new HashRing(servers, 'md5', { compatibility: 'ketama', 'default port': 11211 });
  process.stdout.write(JSON.stringify(keys.map((k) => ring.get(k))));
});
`

func TestKetamaMatchesNode(t *testing.T) {
	nodetest.RequireNode(t)
	var keys []string
	for i := range 3000 {
		keys = append(keys, fmt.Sprintf("sess:%d-%x", i, i*7919))
	}
	keys = append(keys, "", "é😀", strings.Repeat("k", 250), "0123456789abcdef0123456789abcdef")
	for _, servers := range [][]string{
		{"127.0.0.1:11211", "127.0.0.1:11212"},
		{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"},
		{"cache-a:11211", "cache-b:11300", "cache-c:11211", "cache-d:12000", "cache-e:11211"},
		{"10.0.0.1:11211", "10.0.0.1:11211", "10.0.0.2:11211"}, // listed twice: twice the points
	} {
		t.Run(strings.Join(servers, ","), func(t *testing.T) {
			in, _ := json.Marshal(map[string]any{"servers": servers, "keys": keys})
			cmd := exec.Command("node", "-e", hashringJS)
			cmd.Dir = filepath.Join(nodetest.Root(t), "testdata", "node")
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr.String())
			}
			var want []string
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			ring := ketamaRing(servers)
			k := &ketama{ring: ring}
			spread := map[string]int{}
			for i, key := range keys {
				got := k.server(key)
				if got != want[i] {
					t.Fatalf("key %q: Go picks %s, Node %s", key, got, want[i])
				}
				spread[got]++
			}
			if len(spread) != len(slices.Compact(slices.Clone(servers))) {
				t.Fatalf("keys went to %d of %d servers: %v", len(spread), len(servers), spread)
			}
			t.Logf("%d keys, same server as Node for each: %v", len(keys), spread)
		})
	}
}

// TestKetamaSelector: one server needs no ring; several resolve to the
// servers of the ring.
func TestKetamaSelector(t *testing.T) {
	k, err := newKetama([]string{"127.0.0.1:11211"})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := k.PickServer("x"); a.String() != "127.0.0.1:11211" {
		t.Fatalf("single server: %v", a)
	}
	k, err = newKetama([]string{"127.0.0.1:11211", "127.0.0.2:11212"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 100 {
		a, err := k.PickServer(fmt.Sprint(i))
		if err != nil || a == nil {
			t.Fatalf("PickServer: %v %v", a, err)
		}
		seen[a.String()] = true
	}
	if len(seen) != 2 {
		t.Fatalf("picked %v", seen)
	}
	n := 0
	_ = k.Each(func(net.Addr) error { n++; return nil })
	if n != 2 {
		t.Fatalf("Each visited %d servers", n)
	}
}

func TestNoServers(t *testing.T) {
	if _, err := NewServerSelector(); !errors.Is(err, memcache.ErrNoServers) {
		t.Fatalf("no servers: %v, want memcache.ErrNoServers (a selector that would panic on first use)", err)
	}
}

// TestNewRingServers: NewRing refuses an empty list, an empty name and a
// name that is not host:port, with errors, never a store that panics.
func TestNewRingServers(t *testing.T) {
	for _, servers := range [][]string{nil, {""}, {"127.0.0.1:11211", ""}} {
		if _, err := NewRing(servers, Options{}); !errors.Is(err, memcache.ErrNoServers) {
			t.Errorf("%q: %v, want memcache.ErrNoServers", servers, err)
		}
	}
	if _, err := NewRing([]string{"127.0.0.1"}, Options{}); err == nil {
		t.Error("a server without a port was accepted")
	}
	st, err := NewRing([]string{"127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:2"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.ring.servers); n != 2 {
		t.Fatalf("%d clients for two servers", n)
	}
}
