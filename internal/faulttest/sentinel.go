package faulttest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterName is the name the sentinels of StartSentinel monitor their
// master under.
const MasterName = "sbmaster"

// Sentinel timings: a master that does not answer for sentinelDownAfter is
// replaced, which takes a few seconds in all. sentinelDownAfter is above
// the sentinels' one-second ping period: at one second, a sentinel would
// sometimes flag the master it had just promoted as down before its first
// ping of it, and fail over again to the old master restarted as a
// replica, leaving two masters for seconds.
const (
	sentinelDownAfter = 2000 * time.Millisecond
	sentinelFailover  = 4000 * time.Millisecond
	// setupTimeout bounds the wait for a replicated setup to form (the
	// sentinels finding each other, a cluster agreeing on its slots) and
	// for a failover to complete.
	setupTimeout = 30 * time.Second
)

// Sentinel is a private Redis Sentinel setup on loopback: two data nodes,
// a master and its replica, and three sentinels that monitor the master as
// MasterName with a quorum of two. Roles change with failovers: Master
// asks the sentinels which node is the master now.
type Sentinel struct {
	// Nodes are the data nodes; Nodes[0] starts as the master.
	Nodes []*Server
	// Sentinels are the three sentinels.
	Sentinels []*Server
	tb        testing.TB
}

// StartSentinel starts the two data nodes (asynchronous replication, no
// persistence: what a failover keeps is what reached the replica) and the
// three sentinels (down-after-milliseconds 2000, failover-timeout 4000),
// and returns once every sentinel sees the replica in sync and the two
// other sentinels.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	s := &Sentinel{tb: tb}
	for i := range 2 {
		n := newServer(tb, "redis", tb.TempDir())
		n.URL = "redis://" + n.Addr
		n.argv = dataNodeArgs(bin, n)
		if i > 0 {
			n.argv = append(n.argv, "--replicaof", "127.0.0.1", port(s.Nodes[0].Addr))
		}
		n.Start()
		s.Nodes = append(s.Nodes, n)
	}
	master := s.Nodes[0]
	if err := awaitInSync(master, s.Nodes[1]); err != nil {
		tb.Fatalf("faulttest: sentinel setup: %v", err)
	}
	for range 3 {
		n := newServer(tb, "redis-sentinel", tb.TempDir())
		n.URL = "redis://" + n.Addr
		conf := filepath.Join(n.Dir, "sentinel.conf")
		body := strings.Join([]string{
			"port " + port(n.Addr),
			"bind 127.0.0.1",
			"protected-mode no",
			"daemonize no",
			`logfile ""`,
			"dir " + n.Dir,
			"sentinel resolve-hostnames no",
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2", MasterName, port(master.Addr)),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", MasterName, sentinelDownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", MasterName, sentinelFailover.Milliseconds()),
			fmt.Sprintf("sentinel parallel-syncs %s 1", MasterName),
		}, "\n") + "\n"
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
		n.argv = []string{bin, conf, "--sentinel"}
		n.Start()
		s.Sentinels = append(s.Sentinels, n)
	}
	if err := await("the sentinels see the replica and each other", setupTimeout, s.formed); err != nil {
		tb.Fatalf("faulttest: sentinel setup: %v", err)
	}
	return s
}

// dataNodeArgs is the command line of a data node of a replicated setup:
// no persistence (a failover keeps what reached a replica, nothing else),
// and diskless replication without delay, so that a replica syncs at once.
func dataNodeArgs(bin string, n *Server) []string {
	return []string{bin, "--bind", "127.0.0.1", "--port", port(n.Addr), "--dir", n.Dir,
		"--appendonly", "no", "--save", "", "--daemonize", "no", "--protected-mode", "no",
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", "--logfile", ""}
}

// awaitInSync waits until replica reports its link to master up.
func awaitInSync(master, replica *Server) error {
	return await("replica "+replica.Addr+" in sync with "+master.Addr, setupTimeout, func() (bool, error) {
		info, err := redisString(replica.Addr, "INFO", "replication")
		if err != nil {
			return false, err
		}
		return infoField(info, "master_port") == port(master.Addr) && infoField(info, "master_link_status") == "up", nil
	})
}

// formed reports whether every running sentinel monitors the master with
// one replica in sync and knows the other running sentinels.
func (s *Sentinel) formed() (bool, error) {
	running := 0
	for _, sn := range s.Sentinels {
		if sn.Running() {
			running++
		}
	}
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		m, err := sentinelFields(sn.Addr, "SENTINEL", "MASTER", MasterName)
		if err != nil {
			return false, err
		}
		if m["num-slaves"] != "1" || m["num-other-sentinels"] != strconv.Itoa(len(s.Sentinels)-1) || m["flags"] != "master" {
			return false, fmt.Errorf("sentinel %s: master %s flags %s, %s replicas, %s other sentinels", sn.Addr, m["ip"]+":"+m["port"], m["flags"], m["num-slaves"], m["num-other-sentinels"])
		}
		v, err := redisCmd(sn.Addr, "SENTINEL", "REPLICAS", MasterName)
		if err != nil {
			return false, err
		}
		for _, r := range asList(v) {
			f := fields(r)
			if f["flags"] != "slave" || f["master-link-status"] != "ok" {
				return false, fmt.Errorf("sentinel %s: replica %s flags %s, link %s", sn.Addr, f["name"], f["flags"], f["master-link-status"])
			}
		}
	}
	return running > 0, nil
}

// sentinelFields sends a command whose reply is a flat field/value list.
func sentinelFields(addr string, args ...string) (map[string]string, error) {
	v, err := redisCmd(addr, args...)
	if err != nil {
		return nil, err
	}
	return fields(v), nil
}

// fields turns a flat [name, value, ...] reply into a map.
func fields(v any) map[string]string {
	a := asList(v)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		val, _ := a[i+1].(string)
		m[k] = val
	}
	return m
}

func asList(v any) []any {
	a, _ := v.([]any)
	return a
}

// SentinelAddrs returns the sentinels' addresses (host:port).
func (s *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, sn := range s.Sentinels {
		out = append(out, sn.Addr)
	}
	return out
}

// masterAddr asks the running sentinels for the master's address; the
// first answer counts.
func (s *Sentinel) masterAddr() (string, error) {
	err := fmt.Errorf("no sentinel is running")
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		var v any
		if v, err = redisCmd(sn.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName); err == nil {
			if a := asList(v); len(a) == 2 {
				h, _ := a[0].(string)
				p, _ := a[1].(string)
				return h + ":" + p, nil
			}
			err = fmt.Errorf("unexpected reply %v", v)
		}
	}
	return "", err
}

// node returns the data node listening on addr, or nil.
func (s *Sentinel) node(addr string) *Server {
	i := slices.IndexFunc(s.Nodes, func(n *Server) bool { return n.Addr == addr })
	if i < 0 {
		return nil
	}
	return s.Nodes[i]
}

// Master returns the data node the sentinels name as the master now.
func (s *Sentinel) Master() *Server {
	s.tb.Helper()
	addr, err := s.masterAddr()
	if err != nil {
		s.tb.Fatalf("faulttest: sentinel: the master's address: %v", err)
	}
	n := s.node(addr)
	if n == nil {
		s.tb.Fatalf("faulttest: sentinel: the master %s is no data node of the setup", addr)
	}
	return n
}

// AwaitFailover waits until every running sentinel names another data node
// than old as the master and that node answers as a master, and returns
// it.
func (s *Sentinel) AwaitFailover(old *Server) *Server {
	s.tb.Helper()
	var promoted *Server
	err := await("a failover from "+old.Addr, setupTimeout, func() (bool, error) {
		var addr string
		for _, sn := range s.Sentinels {
			if !sn.Running() {
				continue
			}
			v, err := redisCmd(sn.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
			if err != nil {
				return false, err
			}
			a := asList(v)
			if len(a) != 2 {
				return false, fmt.Errorf("sentinel %s: unexpected reply %v", sn.Addr, v)
			}
			h, _ := a[0].(string)
			p, _ := a[1].(string)
			if addr != "" && h+":"+p != addr {
				return false, fmt.Errorf("the sentinels disagree: %s, %s", addr, h+":"+p)
			}
			addr = h + ":" + p
		}
		if addr == old.Addr || s.node(addr) == nil {
			return false, fmt.Errorf("the sentinels name %s", addr)
		}
		r, err := role(addr)
		if err != nil || r != "master" {
			return false, fmt.Errorf("%s answers ROLE %q (%v)", addr, r, err)
		}
		promoted = s.node(addr)
		return true, nil
	})
	if err != nil {
		s.tb.Fatalf("faulttest: sentinel: %v", err)
	}
	return promoted
}

// Restart starts a stopped data node again as a replica of the current
// master (as Sentinel would reconfigure it), and waits until it is in
// sync.
func (s *Sentinel) Restart(n *Server) {
	s.tb.Helper()
	master := s.Master()
	if master == n {
		s.tb.Fatalf("faulttest: sentinel: %s is still the master; wait for the failover first", n.Addr)
	}
	if i := slices.Index(n.argv, "--replicaof"); i >= 0 {
		n.argv = slices.Delete(slices.Clone(n.argv), i, i+3)
	}
	n.argv = append(n.argv, "--replicaof", "127.0.0.1", port(master.Addr))
	n.Start()
	if err := awaitInSync(master, n); err != nil {
		s.tb.Fatalf("faulttest: sentinel: %v", err)
	}
}

// fillerBytes is the size of the value KillMasterLagging writes to fill
// the replication link: more than the kernel buffers a loopback TCP
// connection (a few MB each way), so that the writes after it stay in the
// master's memory.
const fillerBytes = 32 << 20

// KillMasterLagging kills the master while its replica is lag behind: it
// freezes the replica (SIGSTOP), fills the replication link with a value
// bigger than the kernel's socket buffers, so that the writes that follow
// stay in the master's output buffer, waits lag, kills the master and
// thaws the replica, which the sentinels then promote without the writes
// of the last lag: what asynchronous replication loses when a replica
// falls behind. It returns the master it killed.
func (s *Sentinel) KillMasterLagging(lag time.Duration) *Server {
	s.tb.Helper()
	master := s.Master()
	replica := s.Nodes[0]
	if replica == master {
		replica = s.Nodes[1]
	}
	replica.Freeze()
	if _, err := redisCmd(master.Addr, "SET", "faulttest:filler", strings.Repeat("x", fillerBytes)); err != nil {
		s.tb.Fatalf("faulttest: sentinel: write the filler: %v", err)
	}
	time.Sleep(lag)
	master.Stop()
	replica.Thaw()
	return master
}
