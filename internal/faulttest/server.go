// Package faulttest starts private server instances (Redis, memcached,
// PostgreSQL, the FerretDB MongoDB-wire server, and replicated Redis setups:
// StartSentinel, StartReplicaCluster) for fault tests, breaks them on demand
// and runs a steady session load across the outage (RunOutage; StoreOutage is
// a store package's whole outage test) or a failover (RunFailover).
//
// Each Server listens on its own loopback port and keeps its data in its own
// directory; the shared servers of `make services` (6379, 5432, 11211, 27017,
// 7001-7003) are never touched. Ports are taken below the kernel's ephemeral
// range, so no client socket can self-connect to a stopped server's port or
// occupy it while it is down. A missing binary skips the test with the
// command that installs it, or fails it when CI is set
// (nodetest.Unavailable). Every process is stopped and every directory
// removed in t.Cleanup, whatever the test's outcome.
//
// FAULTTEST_DEBUG=1 makes RunOutage and RunFailover also log their phase times
// and per-operation counts.
package faulttest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

const hint = "make services (scripts/services.sh installs the servers)"

// startTimeout bounds a server's start (until its port answers).
const startTimeout = 30 * time.Second

// Server is one private server instance. Its methods are for the test's
// goroutine; they fail the test (tb.Fatalf) when the server misbehaves.
type Server struct {
	// Name is "redis", "memcached", "postgres" or "ferretdb".
	Name string
	// Addr is 127.0.0.1:port, the same across restarts.
	Addr string
	// URL is what the driver takes: redis://..., postgres://...,
	// mongodb://..., or Addr for memcached.
	URL string
	// Dir holds the server's data (kept across restarts) and its log.
	Dir string

	tb      testing.TB
	log     string // log file
	argv    []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exits
	pg      *pgInstance
	running bool
	frozen  bool
}

// StartRedis starts redis-server with an append-only file fsynced on every
// write and no RDB snapshots, so every acknowledged write survives a
// SIGKILL and a restart on the same directory.
func StartRedis(tb testing.TB) *Server {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	s := newServer(tb, "redis", tb.TempDir())
	s.URL = "redis://" + s.Addr
	s.argv = []string{bin, "--bind", "127.0.0.1", "--port", port(s.Addr), "--dir", s.Dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--protected-mode", "no", "--logfile", ""}
	s.Start()
	return s
}

// StartMemcached starts memcached (TCP only, 64 MB). memcached keeps nothing
// across a restart.
func StartMemcached(tb testing.TB) *Server {
	tb.Helper()
	bin := lookPath(tb, "memcached")
	s := newServer(tb, "memcached", tb.TempDir())
	s.URL = s.Addr
	s.argv = []string{bin, "-l", "127.0.0.1", "-p", port(s.Addr), "-U", "0", "-m", "64"}
	if os.Geteuid() == 0 { // memcached refuses to run as root without -u
		u := "nobody"
		if _, err := user.Lookup("memcache"); err == nil {
			u = "memcache"
		}
		s.argv = append(s.argv, "-u", u)
	}
	s.Start()
	return s
}

// StartFerret starts the FerretDB server that `make services` builds at
// $SESSIONBRIDGE_STATE/ferretdb-server (from testdata/ferretdb), with its
// SQLite backend in Dir, which keeps data across restarts.
func StartFerret(tb testing.TB) *Server {
	tb.Helper()
	bin := filepath.Join(StateDir(), "ferretdb-server")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		nodetest.Unavailable(tb, "the FerretDB server binary "+bin, "make services (scripts/services.sh mongo builds it)")
	}
	s := newServer(tb, "ferretdb", tb.TempDir())
	s.URL = "mongodb://" + s.Addr
	s.argv = []string{bin, "-listen", s.Addr, "-dir", filepath.Join(s.Dir, "data")}
	s.Start()
	return s
}

// StateDir is the services state directory: $SESSIONBRIDGE_STATE or
// /tmp/sessionbridge-services, as scripts/services.sh uses it.
func StateDir() string {
	if d := os.Getenv("SESSIONBRIDGE_STATE"); d != "" {
		return d
	}
	return "/tmp/sessionbridge-services"
}

func newServer(tb testing.TB, name, dir string) *Server {
	s := &Server{Name: name, Dir: dir, tb: tb, log: filepath.Join(dir, name+".log")}
	s.Addr = "127.0.0.1:" + strconv.Itoa(freePort(tb))
	tb.Cleanup(s.cleanup)
	return s
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		nodetest.Unavailable(tb, name, hint)
	}
	return p
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// freePort returns a free TCP port on 127.0.0.1 below the ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), so that no outgoing connection
// is ever given it as its local port.
func freePort(tb testing.TB) int {
	tb.Helper()
	lo, hi := 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if e, err := strconv.Atoi(f[0]); err == nil && e > 2048 {
				hi = e - 1
				lo = max(1024, min(lo, hi-5000))
			}
		}
	}
	for range 200 {
		p := lo + rand.IntN(hi-lo+1)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	tb.Fatalf("faulttest: no free port in %d-%d", lo, hi)
	return 0
}

// Running reports whether the server was started and not stopped.
func (s *Server) Running() bool { return s.running }

// Start starts the server (again, on the same port and directory) and
// returns once its port accepts connections.
func (s *Server) Start() {
	s.tb.Helper()
	if s.running {
		s.tb.Fatalf("faulttest: %s is already running", s.Name)
	}
	if s.pg != nil {
		if err := s.pg.start(s); err != nil {
			s.tb.Fatalf("faulttest: start %s: %v\n%s", s.Name, err, s.logTail())
		}
		s.running = true
		return
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (Freeze signals it); killed if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("faulttest: start %s: %v", s.Name, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	s.running = true
	deadline := time.Now().Add(startTimeout)
	for !s.accepting() {
		select {
		case <-s.done:
			s.running = false
			s.tb.Fatalf("faulttest: %s exited before listening on %s: %v\n%s", s.Name, s.Addr, cmd.ProcessState, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("faulttest: %s does not answer on %s after %v\n%s", s.Name, s.Addr, startTimeout, s.logTail())
		}
	}
}

// Stop stops the server the hard way (SIGKILL; PostgreSQL: pg_ctl stop -m
// immediate, its crash stop) and returns once its port refuses connections.
func (s *Server) Stop() {
	s.tb.Helper()
	if !s.running {
		s.tb.Fatalf("faulttest: %s is not running", s.Name)
	}
	if err := s.stop(); err != nil {
		s.tb.Fatalf("faulttest: stop %s: %v", s.Name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.accepting() {
		if time.Now().After(deadline) {
			s.tb.Fatalf("faulttest: %s still answers on %s after it was stopped", s.Name, s.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) stop() error {
	if s.frozen {
		s.signal(syscall.SIGCONT)
		s.frozen = false
	}
	s.running = false
	if s.pg != nil {
		return s.pg.stop()
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d did not exit after SIGKILL", s.cmd.Process.Pid)
	}
}

// Freeze stops the server's processes with SIGSTOP: connections stay open
// and new ones are accepted by the kernel, but nothing answers, which is
// what a hung server or a black-holed network looks like to a client. It
// returns once every process is stopped (state T in /proc/<pid>/stat), and
// fails the test if one is not within stateTimeout.
func (s *Server) Freeze() {
	s.tb.Helper()
	if !s.running || s.frozen {
		s.tb.Fatalf("faulttest: freeze %s: running %v, frozen %v", s.Name, s.running, s.frozen)
	}
	s.frozen = true
	// Twice: a child forked between the first listing of the tree and
	// its parent's stop (a PostgreSQL backend for a new connection) was
	// not signalled; the second listing, of stopped parents, has it.
	for range 2 {
		if err := awaitStopped(s.signal(syscall.SIGSTOP), true, stateTimeout); err != nil {
			s.tb.Fatalf("faulttest: freeze %s: %v", s.Name, err)
		}
	}
}

// Thaw resumes a frozen server (SIGCONT) and returns once none of its
// processes is stopped any more, failing the test if one still is after
// stateTimeout.
func (s *Server) Thaw() {
	s.tb.Helper()
	if !s.frozen {
		s.tb.Fatalf("faulttest: %s is not frozen", s.Name)
	}
	pids := s.signal(syscall.SIGCONT)
	s.frozen = false
	if err := awaitStopped(pids, false, stateTimeout); err != nil {
		s.tb.Fatalf("faulttest: thaw %s: %v", s.Name, err)
	}
}

// stateTimeout bounds how long Freeze and Thaw wait for the kernel to stop
// or resume the server's processes (normally well under a millisecond).
const stateTimeout = 10 * time.Second

// signal sends sig to the server's main process and all its descendants
// (the parent first, so that it forks nothing while its children stop),
// and returns the pids it signalled.
func (s *Server) signal(sig syscall.Signal) []int {
	var root int
	switch {
	case s.pg != nil:
		root = s.pg.postmasterPID()
	case s.cmd != nil && s.cmd.Process != nil:
		root = s.cmd.Process.Pid
	}
	if root <= 0 {
		s.tb.Fatalf("faulttest: %s: no process to signal", s.Name)
	}
	pids := processTree(root)
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
	return pids
}

// awaitStopped waits until every process of pids is stopped (stopped
// true) or none is (false), polling /proc/<pid>/stat, for at most
// timeout. A process that has exited, or is a zombie, counts as settled:
// it answers no client either way.
func awaitStopped(pids []int, stopped bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var pending []string
		for _, pid := range pids {
			st, ok := procState(pid)
			if ok && st != 'Z' && st != 'X' && (st == 'T') != stopped {
				pending = append(pending, fmt.Sprintf("pid %d in state %c", pid, st))
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			want := "stopped (T)"
			if !stopped {
				want = "resumed (not T)"
			}
			return fmt.Errorf("%d of %d processes not %s after %v: %s", len(pending), len(pids), want, timeout, strings.Join(pending, ", "))
		}
		time.Sleep(time.Millisecond)
	}
}

// procState returns the state letter of /proc/<pid>/stat (R, S, D, T, Z,
// ...); false when the process no longer exists.
func procState(pid int) (byte, bool) {
	st, _, ok := procStat(strconv.Itoa(pid))
	return st, ok
}

// procStat returns the state letter and the parent pid of
// /proc/<pid>/stat; false when the process no longer exists.
func procStat(pid string) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and ')', so cut at
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// processTree returns pid and its descendants, parents first.
func processTree(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(e.Name()); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		kids := children[out[i]]
		sort.Ints(kids)
		out = append(out, kids...)
	}
	return out
}

// accepting reports whether the port accepts a TCP connection.
func (s *Server) accepting() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "---- " + s.log + " ----\n" + string(b)
}

func (s *Server) cleanup() {
	if s.running {
		if err := s.stop(); err != nil {
			s.tb.Errorf("faulttest: cleanup %s: %v", s.Name, err)
		}
	}
	if s.tb.Failed() {
		s.tb.Logf("faulttest: %s on %s\n%s", s.Name, s.Addr, s.logTail())
	}
	if s.pg != nil {
		if err := os.RemoveAll(s.pg.top); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.tb.Errorf("faulttest: remove %s: %v", s.pg.top, err)
		}
	}
}
