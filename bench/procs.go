package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A proc is a server or load client the harness started, in a process group
// of its own so that stopping it also stops anything it spawned.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
	log  string        // file holding its stderr
}

var (
	procsMu sync.Mutex
	procs   []*proc
)

// startProc starts a command with stderr going to a log file in cfg.tmp,
// and returns a writer to its stdin (if wantStdin) and a reader of its
// stdout (if wantStdout).
func startProc(cfg *config, name string, env []string, wantStdin, wantStdout bool, argv ...string) (*proc, io.WriteCloser, *bufio.Reader, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = cfg.root
	cmd.Env = append(childEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var in io.WriteCloser
	if wantStdin {
		var err error
		if in, err = cmd.StdinPipe(); err != nil {
			return nil, nil, nil, err
		}
	}
	logPath := filepath.Join(cfg.tmp, strings.ReplaceAll(name, " ", "-")+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cmd.Stderr = lf
	var out *bufio.Reader
	if wantStdout {
		pr, err := cmd.StdoutPipe()
		if err != nil {
			lf.Close()
			return nil, nil, nil, err
		}
		out = bufio.NewReader(pr)
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	return p, in, out, nil
}

// inheritedEnv are variables of the harness's environment a child must
// not inherit: they change what Node or Go does (a --require, debug
// logging, GC or scheduler settings) on one side only.
var inheritedEnv = []string{"NODE_OPTIONS", "NODE_DEBUG", "DEBUG", "UV_THREADPOOL_SIZE", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"}

// childEnv is the harness's environment without inheritedEnv.
func childEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(inheritedEnv, name)
	})
}

// tail returns the last lines of the process's stderr, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM to the process group, then SIGKILL after 3 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// stopAll stops every process still running.
func stopAll() {
	procsMu.Lock()
	ps := procs
	procs = nil
	procsMu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// readLine reads one line of a process's stdout within timeout.
func readLine(ctx context.Context, p *proc, r *bufio.Reader, timeout time.Duration) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		line, err := r.ReadString('\n')
		ch <- res{strings.TrimSpace(line), err}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			<-p.done
			return "", fmt.Errorf("%s exited (%v) before printing a line:\n%s", p.name, p.err, p.tail())
		}
		return x.line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("%s printed nothing within %s:\n%s", p.name, timeout, p.tail())
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startServer starts a server that prints "LISTENING <url>" on stdout and
// returns the URL.
func startServer(ctx context.Context, cfg *config, name string, env []string, argv ...string) (*proc, string, error) {
	p, _, out, err := startProc(cfg, name, env, false, true, argv...)
	if err != nil {
		return nil, "", err
	}
	line, err := readLine(ctx, p, out, 20*time.Second)
	if err != nil {
		p.stop()
		return nil, "", err
	}
	url, ok := strings.CutPrefix(line, "LISTENING ")
	if !ok {
		p.stop()
		return nil, "", fmt.Errorf("%s: expected LISTENING <url>, got %q", name, line)
	}
	go io.Copy(io.Discard, out) // nothing else is expected, but never block the server
	logf("%s listening on %s (pid %d)", name, url, p.cmd.Process.Pid)
	return p, url, nil
}

// nodeScript is the path of a script in bench/node, after checking that
// its dependencies are installed.
func nodeScript(cfg *config, name string) (string, error) {
	dir := filepath.Join(cfg.root, "bench", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		return "", errors.New("bench/node has no node_modules: run (cd bench/node && npm ci) or make bench")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("node is not on PATH")
	}
	return filepath.Join(dir, name), nil
}

// cpu returns the CPU time (user + system, all threads) the process has
// used so far, from /proc/<pid>/stat; 0 if it cannot be read.
func (p *proc) cpu() time.Duration {
	_, ticks, _ := procStat(strconv.Itoa(p.cmd.Process.Pid))
	return time.Duration(ticks) * time.Second / clockTicks
}

// procStat reads /proc/<pid>/stat: the process group and the CPU time
// (user + system, all threads, in clockTicks); ok false if it cannot.
func procStat(pid string) (pgrp int, ticks int64, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, 0, false
	}
	// Fields after the command name (which may hold spaces) start at state.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, 0, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return pgrp, u + sy, true
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

func logf(format string, args ...any) { log.Printf("  "+format, args...) }
