package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestServeProcess runs the built binary in reverse-proxy mode with its
// secret in a file and JSON logs, sends it SIGTERM while a slow request is
// in flight, and checks that the request completes, the process exits 0,
// and every log line is JSON that holds no cookie, session id or secret.
func TestServeProcess(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		nodetest.Unavailable(t, "the go command", "install Go 1.26")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sessionbridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, sid := svSeedRedis(t, addr, prefix, `{"id":7,"name":"Zoë"}`, redisstore.Options{})

	var started atomic.Int32
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "answer for "+r.Header.Get("X-Auth-User"))
	}))
	t.Cleanup(up.Close)

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--store", "redis://"+addr+"/0?prefix="+prefix,
		"--secret-file", secretFile, "--upstream", up.URL, "--log-format", "json", "--log-level", "debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := &nodetest.LockedBuffer{}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			lines.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addrc <- rec.Addr
			}
		}
		exited <- cmd.Wait()
	}()
	// Kill whatever still runs when the test ends early; after a clean
	// exit Kill only reports that the process is done. (Reading
	// cmd.ProcessState here would race with the goroutine's Wait.)
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("exited before listening: %v\n%s", err, lines)
	case <-time.After(30 * time.Second):
		t.Fatalf("not listening after 30s:\n%s", lines)
	}

	if resp := svGet(t, base+"/fast", "connect.sid="+cookie); resp.StatusCode != 200 {
		t.Fatalf("/fast: %d", resp.StatusCode)
	}
	if resp := svGet(t, base+"/fast", "connect.sid=s%3A"+sid+".forged"); resp.StatusCode != 401 {
		t.Fatalf("forged: %d", resp.StatusCode)
	}
	res := svGetAsync(base+"/slow", "connect.sid="+cookie)
	deadline := time.Now().Add(10 * time.Second)
	for started.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached the upstream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(lines.String(), `"msg":"shutting down"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown record after SIGTERM:\n%s", lines)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("exited (%v) with a request in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	r := <-res
	if r.err != nil || r.status != 200 || r.body != `answer for {"id":7,"name":"Zo\u00eb"}` {
		t.Fatalf("request in flight: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, lines)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM:\n%s", lines)
	}

	var decisions int
	for _, line := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "auth decision" {
			decisions++
		}
		for _, leak := range []string{cookie, sid, secret, "Zo"} {
			if strings.Contains(line, leak) {
				t.Fatalf("log line holds %q: %s", leak, line)
			}
		}
	}
	if decisions != 3 {
		t.Fatalf("%d decision records, want 3:\n%s", decisions, lines)
	}
}
