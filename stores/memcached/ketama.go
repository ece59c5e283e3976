package memcachedstore

import (
	"github.com/bradfitz/gomemcache/memcache"

	"crypto/md5"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
)

// ketama picks a memcached server for a key exactly as the npm memcached
// client (2.2, the one connect-memcached uses) does with its default
// options: hashring 3.2 with algorithm md5, compatibility 'ketama' (4 points
// per hash, 40 hashes per server of weight 1) and default port 11211, whose
// servers are hashed by host alone. With one server there is no ring, as in
// Node. gomemcache's own ServerList hashes differently (crc32 modulo), so with
// several servers it would look for Node's sessions on the wrong server.
//
// The ring is built from the server strings as written in the URL
// (host:port); list them as the Node app lists its hosts.
type ketama struct {
	list   []net.Addr
	byName map[string]net.Addr
	ring   []ketamaPoint
}

type ketamaPoint struct {
	value  uint32
	server string
}

const (
	ketamaVnodes   = 40
	ketamaReplicas = 4
)

func newKetama(servers []string) (*ketama, error) {
	if len(servers) == 0 {
		return nil, memcache.ErrNoServers
	}
	k := &ketama{byName: make(map[string]net.Addr, len(servers))}
	for _, s := range servers {
		if s == "" {
			return nil, fmt.Errorf("memcachedstore: an empty server name: %w", memcache.ErrNoServers)
		}
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			return nil, fmt.Errorf("memcached server %s: %w", s, err)
		}
		sa := &serverAddr{network: a.Network(), str: a.String()}
		k.list = append(k.list, sa)
		k.byName[s] = sa
	}
	if len(servers) > 1 {
		k.ring = ketamaRing(servers)
	}
	return k, nil
}

// ketamaRing is hashring's continuum() for servers of weight 1.
func ketamaRing(servers []string) []ketamaPoint {
	n := float64(len(servers))
	var ring []ketamaPoint
	for _, s := range servers {
		percentage := 1 / n // weight / total weight
		length := int(math.Floor(percentage * ketamaVnodes * n))
		host, port, _ := net.SplitHostPort(s)
		for i := range length {
			var x [16]byte
			if port == "11211" { // hashring's default port: hashed by host alone
				x = md5.Sum([]byte(host + "-" + strconv.Itoa(i)))
			} else {
				x = md5.Sum([]byte(s + "-" + strconv.Itoa(i)))
			}
			for j := range ketamaReplicas {
				ring = append(ring, ketamaPoint{value: le32(x[j*4:]), server: s})
			}
		}
	}
	sort.SliceStable(ring, func(a, b int) bool { return ring[a].value < ring[b].value })
	return ring
}

// le32 is hashring's hashValueHash(x[3], x[2], x[1], x[0]).
func le32(b []byte) uint32 {
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}

// serverAddr is a resolved server address with its strings kept:
// gomemcache looks its idle connections up by addr.String() on every
// call, which a *net.TCPAddr would format (and allocate) each time.
type serverAddr struct{ network, str string }

func (a *serverAddr) Network() string { return a.network }
func (a *serverAddr) String() string  { return a.str }

// server returns the server string for key: hashring's get().
func (k *ketama) server(key string) string { return ketamaServer(k.ring, ketamaHash(key)) }

// ketamaHash is the value hashring looks key up with.
func ketamaHash(key string) uint32 {
	var buf [MaxKeyLength]byte // []byte(key) would allocate for keys over 32 bytes
	h := md5.Sum(append(buf[:0], key...))
	return le32(h[:])
}

// ketamaServer returns the server string for a key of hash h (see
// ketamaHash) on ring (not empty).
func ketamaServer(ring []ketamaPoint, h uint32) string {
	return ring[ketamaFind(ring, h)].server
}

// ketamaFind is hashring's find(), quirks included: a value above the last
// point, or one the search misses, maps to the first point.
func ketamaFind(ring []ketamaPoint, v uint32) int {
	size := len(ring)
	low, high := 0, size
	for {
		mid := (low + high) >> 1
		if mid == size {
			return 0
		}
		middle := ring[mid].value
		var prev uint32
		if mid > 0 {
			prev = ring[mid-1].value
		}
		if v <= middle && v > prev {
			return mid
		}
		if middle < v {
			low = mid + 1
		} else {
			high = mid - 1
		}
		if low > high {
			return 0
		}
	}
}

// PickServer implements memcache.ServerSelector.
func (k *ketama) PickServer(key string) (net.Addr, error) {
	if len(k.list) == 1 {
		return k.list[0], nil
	}
	return k.byName[k.server(key)], nil
}

// Each implements memcache.ServerSelector.
func (k *ketama) Each(f func(net.Addr) error) error {
	for _, a := range k.list {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// NewServerSelector returns a gomemcache ServerSelector that picks servers
// for keys exactly as the npm memcached client connect-memcached uses does
// (hashring with md5 and ketama compatibility). Use it whenever the Node app
// lists several memcached servers:
//
//	sel, err := memcachedstore.NewServerSelector("10.0.0.1:11211", "10.0.0.2:11211")
//	client := memcache.NewFromSelector(sel)
//
// List the servers as the Node app lists them (host:port): the ring is
// built from those strings.
func NewServerSelector(servers ...string) (memcache.ServerSelector, error) {
	return newKetama(servers)
}
