package faulttest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// clusterNodeTimeout is the replica cluster's cluster-node-timeout: a
// master that does not answer for that long is failed over by its replica.
const clusterNodeTimeout = "1000"

// ReplicaCluster is a private Redis Cluster on loopback: three masters,
// each with one replica, made by `redis-cli --cluster create
// --cluster-replicas 1`. Roles change with failovers: Master and ReplicaOf
// ask the nodes.
type ReplicaCluster struct {
	// Nodes are the six nodes.
	Nodes []*Server
	tb    testing.TB
}

// StartReplicaCluster starts six cluster-enabled redis-servers (no
// persistence, cluster-node-timeout 1000 ms), creates the cluster and
// returns once every node reports it ok and every replica is in sync.
func StartReplicaCluster(tb testing.TB) *ReplicaCluster {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	cli := lookPath(tb, "redis-cli")
	c := &ReplicaCluster{tb: tb}
	for range 6 {
		n := newServer(tb, "redis-cluster", tb.TempDir())
		n.URL = "redis://" + n.Addr
		// The cluster bus gets a free port of its own (not port+10000,
		// which may be taken, or in the ephemeral range).
		n.argv = append(dataNodeArgs(bin, n), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", clusterNodeTimeout, "--cluster-port", strconv.Itoa(freePort(tb)))
		n.Start()
		c.Nodes = append(c.Nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("faulttest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := await("the replica cluster to form", setupTimeout, c.healthy); err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return c
}

// Addrs returns the six nodes' addresses (host:port).
func (c *ReplicaCluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// healthy reports whether every running node sees the cluster ok with
// three masters serving every slot, and every replica of a running master
// is in sync.
func (c *ReplicaCluster) healthy() (bool, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		info, err := redisString(n.Addr, "CLUSTER", "INFO")
		if err != nil {
			return false, err
		}
		if infoField(info, "cluster_state") != "ok" || infoField(info, "cluster_slots_ok") != "16384" {
			return false, fmt.Errorf("%s: cluster_state %s, %s slots ok", n.Addr, infoField(info, "cluster_state"), infoField(info, "cluster_slots_ok"))
		}
		r, err := redisString(n.Addr, "INFO", "replication")
		if err != nil {
			return false, err
		}
		if infoField(r, "role") == "slave" {
			m := c.node("127.0.0.1:" + infoField(r, "master_port"))
			if m != nil && m.Running() && infoField(r, "master_link_status") != "up" {
				return false, fmt.Errorf("%s: link to its master down", n.Addr)
			}
		}
	}
	masters, err := c.masters()
	if err != nil {
		return false, err
	}
	if len(masters) != 3 {
		return false, fmt.Errorf("%d masters serve the slots", len(masters))
	}
	return true, nil
}

// node returns the node listening on addr, or nil.
func (c *ReplicaCluster) node(addr string) *Server {
	i := slices.IndexFunc(c.Nodes, func(n *Server) bool { return n.Addr == addr })
	if i < 0 {
		return nil
	}
	return c.Nodes[i]
}

// slots asks a running node for CLUSTER SLOTS: for each range, its master
// and replicas as host:port.
func (c *ReplicaCluster) slots() ([]slotRange, error) {
	err := fmt.Errorf("no node is running")
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		var v any
		if v, err = redisCmd(n.Addr, "CLUSTER", "SLOTS"); err != nil {
			continue
		}
		var out []slotRange
		for _, r := range asList(v) {
			e := asList(r)
			if len(e) < 3 {
				return nil, fmt.Errorf("CLUSTER SLOTS: unexpected entry %v", r)
			}
			lo, _ := e[0].(int64)
			hi, _ := e[1].(int64)
			sr := slotRange{lo: int(lo), hi: int(hi)}
			for _, nd := range e[2:] {
				f := asList(nd)
				if len(f) < 2 {
					return nil, fmt.Errorf("CLUSTER SLOTS: unexpected node %v", nd)
				}
				h, _ := f[0].(string)
				p, _ := f[1].(int64)
				sr.nodes = append(sr.nodes, h+":"+strconv.FormatInt(p, 10))
			}
			out = append(out, sr)
		}
		return out, nil
	}
	return nil, err
}

type slotRange struct {
	lo, hi int
	nodes  []string // master first
}

// masters returns the addresses of the nodes serving slots.
func (c *ReplicaCluster) masters() ([]string, error) {
	rs, err := c.slots()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.nodes[0]) {
			out = append(out, r.nodes[0])
		}
	}
	return out, nil
}

// MasterFor returns the master serving key's slot.
func (c *ReplicaCluster) MasterFor(key string) *Server {
	c.tb.Helper()
	slot := -1
	for _, n := range c.Nodes {
		if n.Running() {
			if v, err := redisCmd(n.Addr, "CLUSTER", "KEYSLOT", key); err == nil {
				s, _ := v.(int64)
				slot = int(s)
				break
			}
		}
	}
	rs, err := c.slots()
	if err != nil || slot < 0 {
		c.tb.Fatalf("faulttest: replica cluster: the slot of a key: %v", err)
	}
	for _, r := range rs {
		if r.lo <= slot && slot <= r.hi {
			return c.node(r.nodes[0])
		}
	}
	c.tb.Fatalf("faulttest: replica cluster: no master serves slot %d", slot)
	return nil
}

// ReplicaOf returns the replica of master.
func (c *ReplicaCluster) ReplicaOf(master *Server) *Server {
	c.tb.Helper()
	for _, n := range c.Nodes {
		if n == master || !n.Running() {
			continue
		}
		r, err := redisString(n.Addr, "INFO", "replication")
		if err != nil {
			c.tb.Fatalf("faulttest: replica cluster: %v", err)
		}
		if infoField(r, "role") == "slave" && infoField(r, "master_port") == port(master.Addr) {
			return n
		}
	}
	c.tb.Fatalf("faulttest: replica cluster: %s has no replica", master.Addr)
	return nil
}

// Failover sends CLUSTER FAILOVER to replica: a manual failover, in which
// the replica takes over its master's slots once it has caught up with it,
// and the master becomes its replica. It returns at once; AwaitPromoted
// waits for the outcome.
func (c *ReplicaCluster) Failover(replica *Server) {
	c.tb.Helper()
	if v, err := redisString(replica.Addr, "CLUSTER", "FAILOVER"); err != nil || v != "OK" {
		c.tb.Fatalf("faulttest: replica cluster: CLUSTER FAILOVER on %s: %q %v", replica.Addr, v, err)
	}
}

// AwaitPromoted waits until another node serves old's slots (its replica,
// promoted by a failover), every running node sees the cluster ok, and the
// replicas of running masters are in sync; it returns the new master.
func (c *ReplicaCluster) AwaitPromoted(old *Server, replica *Server) *Server {
	c.tb.Helper()
	err := await("the failover from "+old.Addr+" to "+replica.Addr, setupTimeout, func() (bool, error) {
		r, err := role(replica.Addr)
		if err != nil || r != "master" {
			return false, fmt.Errorf("%s answers ROLE %q (%v)", replica.Addr, r, err)
		}
		ms, err := c.masters()
		if err != nil {
			return false, err
		}
		if slices.Contains(ms, old.Addr) || !slices.Contains(ms, replica.Addr) {
			return false, fmt.Errorf("masters %s", strings.Join(ms, ", "))
		}
		return c.healthy()
	})
	if err != nil {
		c.tb.Fatalf("faulttest: replica cluster: %v", err)
	}
	return replica
}

// Restart starts a stopped node again (on its port, with its cluster
// configuration: a master that was failed over rejoins as the replica of
// the node that replaced it) and waits until the cluster is healthy again.
func (c *ReplicaCluster) Restart(n *Server) {
	c.tb.Helper()
	n.Start()
	if err := await("the cluster healthy after restarting "+n.Addr, setupTimeout, func() (bool, error) {
		r, err := role(n.Addr)
		if err != nil || r != "slave" {
			return false, fmt.Errorf("%s answers ROLE %q (%v)", n.Addr, r, err)
		}
		return c.healthy()
	}); err != nil {
		c.tb.Fatalf("faulttest: replica cluster: %v", err)
	}
}
