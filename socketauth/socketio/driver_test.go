package socketio_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// driverTimeout bounds the wait for one expected message of a driver; it
// is only ever a failure timeout: every wait returns as soon as its message
// is in.
const driverTimeout = 10 * time.Second

// driver is one real socket.io-client 4.8 (testdata/sio-driver.js) that a
// test drives command by command while it stays connected: emit, emit
// periodically, close. Its messages (connect, events, acknowledgements,
// answered pings, disconnect) arrive on msgs in order.
type driver struct {
	t    *testing.T
	name string
	in   io.WriteCloser
	msgs chan driverMsg // closed when the client's output ends
	log  *nodetest.LockedBuffer
	done chan struct{} // closed when the process has exited
}

// driverMsg is one line of sio-driver.js's output.
type driverMsg struct {
	Type    string            `json:"type"`
	Name    string            `json:"name"`
	Args    []json.RawMessage `json:"args"`
	ID      int               `json:"id"`
	Reason  string            `json:"reason"`
	Message string            `json:"message"`
	Sent    int               `json:"sent"`
	raw     string
}

// startDriver connects a client to url with the session cookie value
// (as after "connect.sid="; "" for none) over transports (nil: polling,
// then the upgrade to websocket). The process is stopped when the test
// ends.
func startDriver(t *testing.T, name, url, cookie string, transports []string) *driver {
	t.Helper()
	d := newDriver(t, name)
	d.connect(url, cookie, transports)
	return d
}

// newDriver starts a client process and returns once it is ready to
// connect (see connect).
func newDriver(t *testing.T, name string) *driver {
	t.Helper()
	requireClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "sio-driver.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(nodetest.Root(t), "testdata", "node", "node_modules"))
	cmd.WaitDelay = 5 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, name: name, in: in, msgs: make(chan driverMsg, 1024), log: &nodetest.LockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = d.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sio-driver.js: %v", err)
	}
	go func() {
		defer close(d.msgs)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m driverMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = driverMsg{Type: "garbage"}
			}
			m.raw = sc.Text()
			d.msgs <- m
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		_ = in.Close() // the client closes its socket and exits
		select {
		case <-d.done:
		case <-time.After(driverTimeout):
		}
		cancel()
		<-d.done
	})
	d.next("ready", func(m driverMsg) bool { return m.Type == "ready" })
	return d
}

// connect connects the client (see startDriver).
func (d *driver) connect(url, cookie string, transports []string) {
	d.t.Helper()
	spec := map[string]any{"url": url, "transports": transports}
	if cookie != "" {
		spec["cookie"] = "connect.sid=" + cookie
	}
	d.send(spec)
}

// send writes one command line.
func (d *driver) send(cmd any) {
	d.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("%s: write to sio-driver.js: %v\n%s", d.name, err, d.log.String())
	}
}

// next returns the first message that want accepts, skipping the others
// (pings, events the test does not look at). A disconnect or connect_error
// that want does not accept, the end of the client or driverTimeout fail
// the test.
func (d *driver) next(what string, want func(driverMsg) bool) driverMsg {
	d.t.Helper()
	timeout := time.After(driverTimeout)
	for {
		select {
		case m, ok := <-d.msgs:
			if !ok {
				d.t.Fatalf("%s: the client ended while waiting for %s\n%s", d.name, what, d.log.String())
			}
			if want(m) {
				return m
			}
			if m.Type == "disconnect" || m.Type == "connect_error" || m.Type == "garbage" {
				d.t.Fatalf("%s: %s while waiting for %s", d.name, m.raw, what)
			}
		case <-timeout:
			d.t.Fatalf("%s: no %s within %v\n%s", d.name, what, driverTimeout, d.log.String())
		}
	}
}

// event accepts the event called name.
func event(name string) func(driverMsg) bool {
	return func(m driverMsg) bool { return m.Type == "event" && m.Name == name }
}

// ack accepts the acknowledgement of the emit with id.
func ack(id int) func(driverMsg) bool {
	return func(m driverMsg) bool { return m.Type == "ack" && m.ID == id }
}

// close closes the client's socket and waits for the process to exit.
func (d *driver) close() {
	d.t.Helper()
	d.send(map[string]string{"op": "close"})
	select {
	case <-d.done:
	case <-time.After(driverTimeout):
		d.t.Fatalf("%s: sio-driver.js did not exit", d.name)
	}
}

// noGoroutines fails when goroutines with a frame whose function name
// contains one of frames remain, after letting exiting ones finish (up to
// 5 s): goleak's check narrowed to this module's packages (goleak is not a
// dependency of this module).
func noGoroutines(t *testing.T, frames ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		left := goroutinesWith(frames)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(wait)
	}
}

// goroutinesWith returns the stacks of the goroutines with a frame whose
// function name contains one of frames.
func goroutinesWith(frames []string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		for _, f := range frames {
			if bytes.Contains(g, []byte(f)) {
				left = append(left, string(g))
				break
			}
		}
	}
	return left
}

// counted is a session source that counts the keep-alives of each session
// and passes them on to the real Bridge it embeds.
type counted struct {
	*sessionbridge.Bridge
	mu    sync.Mutex
	calls map[string]int
}

func (c *counted) KeepAlive(ctx context.Context, sid string) error {
	c.mu.Lock()
	c.calls[sid]++
	c.mu.Unlock()
	return c.Bridge.KeepAlive(ctx, sid)
}

func (c *counted) count(sid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[sid]
}
