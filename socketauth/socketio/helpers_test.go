package socketio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

const secret = "keyboard cat" // app.js's default SECRETS

// harness is one live Node app (STORE=redis) and a Go bridge on the same
// Redis keys.
type harness struct {
	app    *nodetest.App
	addr   string
	rdb    *redis.Client
	prefix string
	store  *redisstore.Store
	bridge *sessionbridge.Bridge
}

// uniquePrefix gives each test its own Redis key space.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("sbsio:%s:%d:", strings.ReplaceAll(t.Name(), "/", "."), time.Now().UnixNano())
}

// newHarness starts app.js with STORE=redis and a unique REDIS_PREFIX, and
// a Go redis store and bridge on the same keys.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessEnv(t, nil)
}

// newHarnessEnv is newHarness with more of app.js's settings (MAX_AGE_MS,
// ...) in env.
func newHarnessEnv(t *testing.T, env map[string]string) *harness {
	t.Helper()
	requireClient(t)
	addr := services.RedisAddr(t)
	p := uniquePrefix(t)
	all := map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": p}
	for k, v := range env {
		all[k] = v
	}
	app := nodetest.StartApp(t, all)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, redisstore.Options{Prefix: p})
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{app: app, addr: addr, rdb: rdb, prefix: p, store: st, bridge: b}
}

// users of app.js: name -> stored passport.user (USER_SERIALIZE=id) and the
// application user our deserializer returns.
var users = map[string]struct {
	stored string
	name   string
}{
	"alice": {`7`, "Alice"},
	"zero":  {`0`, "Zero"},                 // passport.socketio lost logged_in on it
	"big":   {`"9007199254740993"`, "Big"}, // beyond 2^53, stored as a string
}

// deserialize is the Go side of app.js's deserializeUser: a lookup by id.
func deserialize(_ context.Context, stored json.RawMessage) (any, error) {
	for _, u := range users {
		if u.stored == string(stored) {
			return map[string]any{"name": u.name}, nil
		}
	}
	return nil, fmt.Errorf("no user %s", stored)
}

// server is a Go socket.io server on httptest with the middleware under
// test. Its "connection" handler says hello with what it sees.
type server struct {
	io    *socket.Server
	url   string
	conns chan *socket.Socket
	gone  chan disconnect
}

type disconnect struct {
	id     socket.SocketId
	reason string
	at     time.Time
}

func startServer(t *testing.T, mw socket.NamespaceMiddleware, adapter socket.AdapterConstructor) *server {
	t.Helper()
	opts := socket.DefaultServerOptions()
	if adapter != nil {
		opts.SetAdapter(adapter)
	}
	return startServerOpts(t, mw, opts)
}

// startServerOpts is startServer with the given server options.
func startServerOpts(t *testing.T, mw socket.NamespaceMiddleware, opts *socket.ServerOptions) *server {
	t.Helper()
	io := socket.NewServer(nil, opts)
	srv := &server{io: io, conns: make(chan *socket.Socket, 64), gone: make(chan disconnect, 64)}
	onConnection := func(args ...any) {
		s := args[0].(*socket.Socket)
		hello := map[string]any{"connected": true, "handshake_transport": s.Request().Query().Peek("transport"), "nsp": s.Nsp().Name()}
		if a, ok := socketio.Auth(s); ok {
			hello["user"] = a.StoredUser
			hello["logged_in"] = a.LoggedIn
			if room, err := socketio.UserRoom(a.StoredUser); err == nil {
				hello["in_user_room"] = s.Rooms().Has(room)
			}
			hello["app_user"] = a.User // the deserialized user
		}
		_ = s.On("disconnect", func(r ...any) {
			reason, _ := r[0].(string)
			srv.gone <- disconnect{id: s.Id(), reason: reason, at: time.Now()}
		})
		_ = s.Emit("hello", hello)
		srv.conns <- s
	}
	// The middleware guards "/" (io.Use) and "/admin" (io.Of(..).Use).
	io.Use(mw)
	_ = io.On("connection", onConnection)
	admin := io.Of("/admin", nil)
	admin.Use(mw)
	_ = admin.On("connection", onConnection)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	srv.url = ts.URL
	t.Cleanup(func() {
		done := make(chan struct{})
		io.Close(func(error) { close(done) })
		<-done
		ts.Close()
	})
	return srv
}

// noConnection fails if the server accepted any socket.
func (s *server) noConnection(t *testing.T) {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Fatalf("socket %s was connected", c.Id())
	default:
	}
	rs, err := socketio.FilterSockets(context.Background(), s.io, func(*socketio.Data) bool { return true })
	if err != nil || len(rs) != 0 {
		t.Fatalf("sockets on the server: %d (%v), want none", len(rs), err)
	}
}

// waitConn returns the next connected socket.
func (s *server) waitConn(t *testing.T) *socket.Socket {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection within 10s")
	}
	return nil
}

// spec is sio-client.js's input.
type spec struct {
	URL        string            `json:"url"`
	Cookie     *string           `json:"cookie"`
	Auth       map[string]any    `json:"auth"`
	Query      map[string]string `json:"query"`
	Transports []string          `json:"transports,omitempty"`
	WaitMs     int               `json:"waitMs"`
	Until      string            `json:"until,omitempty"`
}

// untilHello is how long a client that should connect waits for the
// server's hello at most; it leaves as soon as the hello arrives.
const untilHello = 5000

// result is sio-client.js's output.
type result struct {
	Connected bool `json:"connected"`
	Error     *struct {
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"error"`
	Events []struct {
		Name string            `json:"name"`
		Args []json.RawMessage `json:"args"`
	} `json:"events"`
	DisconnectReason *string `json:"disconnectReason"`
	Transport        *string `json:"transport"`
	ID               *string `json:"id"`
	raw              string
}

// event returns the first argument of the first event called name.
func (r *result) event(name string) (json.RawMessage, bool) {
	for _, e := range r.Events {
		if e.Name == name {
			if len(e.Args) == 0 {
				return nil, true
			}
			return e.Args[0], true
		}
	}
	return nil, false
}

func cookieHeader(value string) *string {
	h := sessionbridge.DefaultCookieName + "=" + value
	return &h
}

var clientCheck struct {
	once sync.Once
	err  error
}

func requireClient(t *testing.T) {
	t.Helper()
	nodetest.RequireNode(t)
	clientCheck.once.Do(func() {
		_, clientCheck.err = os.Stat(filepath.Join(nodetest.Root(t), "testdata", "node", "node_modules", "socket.io-client", "package.json"))
	})
	if clientCheck.err != nil {
		nodetest.Unavailable(t, "socket.io-client in testdata/node/node_modules", "make node-deps")
	}
}

// sioClient runs testdata/node/sio-client.js (the real socket.io-client
// 4.8) with input (one spec or an array of specs) and delivers its one
// output line, or what went wrong, when it exits. The process is killed
// when the test ends.
func sioClient(t *testing.T, input any, maxWait time.Duration) <-chan nodeOut {
	t.Helper()
	requireClient(t)
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxWait+15*time.Second)
	cmd := exec.CommandContext(ctx, "node", "sio-client.js")
	cmd.Dir = filepath.Join(nodetest.Root(t), "testdata", "node")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sio-client.js: %v", err)
	}
	out := make(chan nodeOut, 1)
	exited := make(chan struct{})
	t.Cleanup(func() { cancel(); <-exited })
	go func() {
		defer close(exited)
		defer cancel()
		o := nodeOut{err: cmd.Wait()}
		o.line = bytes.TrimSpace(stdout.Bytes())
		if o.err != nil {
			o.err = fmt.Errorf("sio-client.js: %w\nstdout %q\nstderr %q", o.err, stdout.String(), stderr.String())
		}
		out <- o
	}()
	return out
}

type nodeOut struct {
	line []byte
	err  error
}

func (o nodeOut) decode(t *testing.T, v any) {
	t.Helper()
	if o.err != nil {
		t.Fatal(o.err)
	}
	if err := json.Unmarshal(o.line, v); err != nil {
		t.Fatalf("sio-client.js output %q: %v", o.line, err)
	}
}

// clientRun is a client running in the background.
type clientRun <-chan nodeOut

// startClient connects one client in the background; see clientRun.wait.
func startClient(t *testing.T, sp spec) clientRun {
	t.Helper()
	return clientRun(sioClient(t, sp, time.Duration(sp.WaitMs)*time.Millisecond))
}

// wait returns the client's result once it has ended (waitMs elapsed or
// disconnected by the server), and logs it.
func (c clientRun) wait(t *testing.T) result {
	t.Helper()
	o := <-c
	var r result
	o.decode(t, &r)
	r.raw = string(o.line)
	t.Logf("socket.io-client: %s", r.raw)
	return r
}

// runClient runs one client to the end and logs its output.
func runClient(t *testing.T, sp spec) result {
	t.Helper()
	return startClient(t, sp).wait(t)
}

// runClients runs the clients concurrently in one Node process (one
// process start instead of many) and returns their results in order.
func runClients(t *testing.T, sps []spec) []result {
	t.Helper()
	wait := 0
	for _, sp := range sps {
		wait = max(wait, sp.WaitMs)
	}
	o := <-sioClient(t, sps, time.Duration(wait)*time.Millisecond)
	var raws []json.RawMessage
	o.decode(t, &raws)
	if len(raws) != len(sps) {
		t.Fatalf("sio-client.js answered %d of %d specs", len(raws), len(sps))
	}
	rs := make([]result, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &rs[i]); err != nil {
			t.Fatalf("result %s: %v", raw, err)
		}
		rs[i].raw = string(raw)
	}
	return rs
}

// wantRejected checks a connect_error with message and code, and nothing
// connected.
func wantRejected(t *testing.T, r result, message, code string) {
	t.Helper()
	if r.Connected || r.Error == nil {
		t.Fatalf("connected=%v error=%v, want connect_error %q", r.Connected, r.Error, message)
	}
	if r.Error.Message != message {
		t.Fatalf("connect_error message %q, want %q", r.Error.Message, message)
	}
	if got := r.Error.Data["code"]; got != code {
		t.Fatalf("connect_error data.code %v, want %s", got, code)
	}
	if got := r.Error.Data["critical"]; got != (code == socketio.CodeSessionError) {
		t.Fatalf("connect_error data.critical %v for code %s", got, code)
	}
	if _, ok := r.event("hello"); ok {
		t.Fatal("got the server's hello although rejected")
	}
}

// newAuthorizer builds an Authorizer or fails.
func newAuthorizer(t *testing.T, cfg socketauth.Config) *socketauth.Authorizer {
	t.Helper()
	a, err := socketauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// clientTransports are the two ways socket.io-client connects.
var clientTransports = map[string][]string{"polling": nil, "websocket": {"websocket"}}
