// Package proxytest runs private nginx and Caddy instances for end-to-end
// tests of a forward-auth server, and an upstream that records what reaches
// it.
//
// Each proxy listens on its own free loopback port, keeps its
// configuration, logs and pid file in a test directory, and is stopped in
// t.Cleanup. A missing nginx or caddy binary skips the test with the command
// that installs it, or fails it when CI is set (nodetest.Unavailable).
//
// The configurations the tests run are meant to be the documented ones:
// [Snippets] reads the fenced blocks of a Markdown file, and the test
// replaces the documented addresses with the test's before starting the
// proxy.
package proxytest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// startTimeout bounds a proxy's start (until its port answers); generous
// for a loaded machine.
const startTimeout = 30 * time.Second

// stopTimeout is how long a proxy gets to exit after its graceful stop
// signal before it is killed.
const stopTimeout = 10 * time.Second

// Proxy is one running nginx or Caddy instance.
type Proxy struct {
	// Name is "nginx" or "caddy".
	Name string
	// Addr is the 127.0.0.1:port it listens on.
	Addr string
	// URL is "http://" + Addr.
	URL string
	// Dir holds its configuration, logs and pid file.
	Dir string

	log  string // the log Logs returns
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// Logs returns the proxy's error log (nginx) or its whole log (Caddy), for
// failure messages.
func (p *Proxy) Logs() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// StartNginx starts nginx with conf(listen) inside its http block, where
// listen is the free 127.0.0.1:port the caller's server block must listen
// on, and returns once that port answers. The main context (pid file,
// error log, one worker, temp paths) is written around it; error_log is at
// level notice, so auth_request's complaints are in [Proxy.Logs]. A port
// taken meanwhile by someone else is retried with another.
func StartNginx(tb testing.TB, conf func(listen string) string) *Proxy {
	tb.Helper()
	bin := lookPath(tb, "nginx")
	return start(tb, "nginx", func(dir, listen string) (*exec.Cmd, string) {
		var user string
		if os.Geteuid() == 0 {
			// Workers would otherwise run as nobody, who cannot enter the
			// test's private temp directory.
			user = "user root;\n"
		}
		tmp := filepath.Join(dir, "tmp")
		main := fmt.Sprintf(`# written by internal/proxytest
%spid %[2]s/nginx.pid;
error_log %[2]s/error.log notice;
worker_processes 1;
events { worker_connections 256; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[3]s/body;
	proxy_temp_path %[3]s/proxy;
	fastcgi_temp_path %[3]s/fastcgi;
	uwsgi_temp_path %[3]s/uwsgi;
	scgi_temp_path %[3]s/scgi;

%[4]s
}
`, user, dir, tmp, conf(listen))
		path := filepath.Join(dir, "nginx.conf")
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
		return cmd, filepath.Join(dir, "error.log")
	}, syscall.SIGQUIT)
}

// StartCaddy starts Caddy (caddy run, Caddyfile adapter) with
// caddyfile(listen) after a global options block that turns the admin API
// and automatic HTTPS off and binds to 127.0.0.1; listen is the free
// 127.0.0.1:port the caller's site must be served on (as
// "http://127.0.0.1:port"). Caddy's data and config directories are in
// the test's directory. A port taken meanwhile is retried with another.
func StartCaddy(tb testing.TB, caddyfile func(listen string) string) *Proxy {
	tb.Helper()
	bin := lookPath(tb, "caddy")
	return start(tb, "caddy", func(dir, listen string) (*exec.Cmd, string) {
		conf := fmt.Sprintf(`# written by internal/proxytest
{
	admin off
	auto_https off
	default_bind 127.0.0.1
	storage file_system %s
}

%s
`, filepath.Join(dir, "data"), caddyfile(listen))
		path := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"),
			"XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		return cmd, filepath.Join(dir, "caddy.log")
	}, syscall.SIGTERM)
}

// start runs the command build returns for a fresh port until one start
// listens, and registers its stop.
func start(tb testing.TB, name string, build func(dir, listen string) (*exec.Cmd, string), stopSig syscall.Signal) *Proxy {
	tb.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir := tb.TempDir()
		addr := FreeAddr(tb)
		cmd, errLog := build(dir, addr)
		p := &Proxy{Name: name, Addr: addr, URL: "http://" + addr, Dir: dir, log: errLog}
		err := p.run(tb, cmd, stopSig)
		if err == nil {
			return p
		}
		lastErr = err
		if !strings.Contains(p.Logs(), "address already in use") {
			break
		}
	}
	tb.Fatalf("proxytest: %v", lastErr)
	return nil
}

// run starts cmd, waits until p.Addr answers, and registers the stop.
func (p *Proxy) run(tb testing.TB, cmd *exec.Cmd, stopSig syscall.Signal) error {
	tb.Helper()
	out, err := os.OpenFile(filepath.Join(p.Dir, p.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group (the stop reaches the workers too); the master is
	// killed if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { p.stop(tb, stopSig) })
	deadline := time.Now().Add(startTimeout)
	for !accepting(p.Addr) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening on %s: %v\n%s", p.Name, p.Addr, cmd.ProcessState, p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer on %s after %v\n%s", p.Name, p.Addr, startTimeout, p.Logs())
		}
	}
	return nil
}

// stop sends the graceful stop signal and waits; a proxy still running
// after stopTimeout is killed with its whole process group (the workers).
func (p *Proxy) stop(tb testing.TB, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	tb.Logf("proxytest: %s did not stop in %v after %v; killing it", p.Name, stopTimeout, sig)
	// The master still runs, so its process group is still ours.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func accepting(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		nodetest.Unavailable(tb, name, "scripts/services.sh "+name+" (make services installs Debian's package)")
	}
	return p
}

// FreeAddr returns 127.0.0.1:port for a port that was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Seen is one request the upstream received.
type Seen struct {
	Method string
	// URI is the request target as received.
	URI string
	// Header is the request's header as received (canonical names; every
	// value of a repeated field).
	Header http.Header
}

// Upstream is the protected service: it answers every request with 200
// "upstream" and records it.
type Upstream struct {
	// URL is its http://127.0.0.1:port.
	URL string
	// Addr is URL's 127.0.0.1:port.
	Addr string

	mu   sync.Mutex
	seen []Seen
}

// StartUpstream starts an Upstream, closed when the test ends.
func StartUpstream(tb testing.TB) *Upstream {
	tb.Helper()
	u := &Upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, Seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "upstream\n")
	}))
	tb.Cleanup(srv.Close)
	u.URL = srv.URL
	u.Addr = strings.TrimPrefix(srv.URL, "http://")
	return u
}

// Count returns how many requests reached the upstream.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// Last returns the last request that reached the upstream, and false when
// none did.
func (u *Upstream) Last() (Seen, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return Seen{}, false
	}
	return u.seen[len(u.seen)-1], true
}

// ErrNoSnippet is returned by [Snippets] when a file has no fenced block
// of the language asked for.
var ErrNoSnippet = errors.New("proxytest: no fenced code block of that language")

// Snippets returns the bodies of the Markdown file's fenced code blocks
// whose info string is lang (```nginx, ```caddyfile, ...), in order.
func Snippets(path, lang string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out   []string
		cur   strings.Builder
		fence string // the open fence ("```" or longer); "" outside a block
		keep  bool   // the open block is lang's
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			info := strings.Fields(strings.TrimPrefix(trimmed, fence))
			keep = len(info) > 0 && info[0] == lang
			cur.Reset()
		case fence != "" && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "":
			if keep {
				out = append(out, cur.String())
			}
			fence, keep = "", false
		case keep:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s in %s", ErrNoSnippet, lang, path)
	}
	return out, nil
}
