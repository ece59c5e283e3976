package main

// The socket.io load clients. Three implementations speak one protocol, JSON
// lines on stdin and stdout, so that the harness drives them alike and can
// measure what each costs per connection:
//
//	node        bench/node/sio-client.js: socket.io-client 4.8.4
//	zishang520  this binary with BENCH_SIO_CLIENT=zishang520:
//	            github.com/zishang520/socket.io/clients/socket/v3
//	raw         this binary with BENCH_SIO_CLIENT=raw: engine.io v4 /
//	            socket.io v5 written out over gorilla/websocket, the few
//	            packets a connect needs and nothing else
//
// Commands (one line each, answered by one line):
//
//	{"cookies":[...], "users":[...], "concurrency":64}  → {"ready":true}
//	{"run":"<url>", "ms":500, "auth":true}              → sioResult
//	{"hold":"<url>", "count":N, "auth":true}            → sioResult (held)
//	{"release":true}                                    → {"released":N}
//
// One handshake: a websocket connection (no polling, no reconnection) with
// the Cookie header cookies[k], k cycling through the list across all
// loops, a CONNECT to "/", and the server's "user" event, which carries the
// user the server authorized ({"id":…,"username":…,"name":…}); then
// DISCONNECT and close. users[k] is the user id the cookie belongs to, or
// -1 for a forged cookie (a real session id with one character of its
// signature changed). A server with authorization must answer a valid cookie
// with users[k] and refuse every forged one; a baseline server (no
// authorization) accepts everything and answers anonUserID.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/clients/engine/v3/transports"
	sioclient "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// sioClientEnv, when set in this binary's environment, makes it a Go load
// client of that kind (raw or zishang520) instead of the harness.
const sioClientEnv = "BENCH_SIO_CLIENT"

// anonUserID is the id of the constant user a baseline server (which
// knows no user) sends in its "user" event.
const anonUserID = -1

// sioHandshakeTimeout bounds one handshake, on every client.
const sioHandshakeTimeout = 10 * time.Second

func init() {
	// The Go load clients are this binary started again (see
	// startSioClients): the switch is an environment variable, so that no
	// flag of the harness has to know about them.
	if kind := os.Getenv(sioClientEnv); kind != "" {
		os.Exit(sioClientMain(kind, os.Stdin, os.Stdout, os.Stderr))
	}
}

// sioCommand is one line a load client reads.
type sioCommand struct {
	Cookies     []string `json:"cookies,omitempty"`
	Users       []int    `json:"users,omitempty"`
	Concurrency int      `json:"concurrency,omitempty"`
	Run         string   `json:"run,omitempty"`
	Ms          int64    `json:"ms,omitempty"`
	Auth        bool     `json:"auth"`
	Hold        string   `json:"hold,omitempty"`
	Count       int      `json:"count,omitempty"`
	Release     bool     `json:"release,omitempty"`
}

// sioResult is what a run (or a hold) did. Every attempt lands in exactly
// one counter or in Errors.
type sioResult struct {
	Attempts int64 `json:"attempts"`
	// Accepted: a valid cookie connected and the server named its user
	// (with auth), or the anonymous user (baseline).
	Accepted int64 `json:"accepted"`
	// WrongUser: connected, but the server named another user.
	WrongUser int64 `json:"wrongUser"`
	// Refused: a valid cookie was refused.
	Refused int64 `json:"refused"`
	// ForgedRefused, ForgedAccepted: what became of the forged cookies.
	ForgedRefused  int64            `json:"forgedRefused"`
	ForgedAccepted int64            `json:"forgedAccepted"`
	Errors         map[string]int64 `json:"errors"`
	// Refusals counts the refusals by the message the client saw.
	Refusals map[string]int64 `json:"refusals"`
	Ms       float64          `json:"ms"`
	Lat      []float64        `json:"lat"` // ms, accepted handshakes
	Held     int              `json:"held"`
	// FirstWrong describes the first wrong answer, for the error message.
	FirstWrong string `json:"firstWrong,omitempty"`
}

func (r *sioResult) add(o sioResult) {
	r.Attempts += o.Attempts
	r.Accepted += o.Accepted
	r.WrongUser += o.WrongUser
	r.Refused += o.Refused
	r.ForgedRefused += o.ForgedRefused
	r.ForgedAccepted += o.ForgedAccepted
	r.Errors = addCounts(r.Errors, o.Errors)
	r.Refusals = addCounts(r.Refusals, o.Refusals)
	r.Ms = max(r.Ms, o.Ms)
	r.Lat = append(r.Lat, o.Lat...)
	r.Held += o.Held
	if r.FirstWrong == "" {
		r.FirstWrong = o.FirstWrong
	}
}

func addCounts(a, b map[string]int64) map[string]int64 {
	for k, v := range b {
		if a == nil {
			a = map[string]int64{}
		}
		a[k] += v
	}
	return a
}

// check is the run's verdict on correctness: every valid cookie accepted
// as its own user, and, with auth, every forged cookie refused. A baseline
// server accepts the forged cookies too (it checks nothing).
func (r sioResult) check(auth bool) error {
	var problems []string
	if len(r.Errors) > 0 {
		problems = append(problems, fmt.Sprintf("handshakes failed: %v", r.Errors))
	}
	if r.Refused > 0 {
		problems = append(problems, fmt.Sprintf("%d handshakes with a valid cookie refused (%v)", r.Refused, r.Refusals))
	}
	if r.WrongUser > 0 {
		problems = append(problems, fmt.Sprintf("%d connections acknowledged another user than the cookie's (first: %s)", r.WrongUser, r.FirstWrong))
	}
	if auth && r.ForgedAccepted > 0 {
		problems = append(problems, fmt.Sprintf("%d handshakes with a forged cookie ACCEPTED", r.ForgedAccepted))
	}
	if !auth && r.ForgedRefused > 0 {
		problems = append(problems, fmt.Sprintf("the server without authorization refused %d handshakes (%v)", r.ForgedRefused, r.Refusals))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// clientFailures is the number of handshakes that failed without any
// sign of a wrong answer from the server: only timeouts and protocol
// errors, no valid cookie refused, no wrong user, no forged cookie
// accepted. 0 when there was any such sign.
func (r sioResult) clientFailures() int64 {
	if r.Refused > 0 || r.WrongUser > 0 || r.ForgedAccepted > 0 {
		return 0
	}
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// sioOutcome is one handshake's end: refused (with the message), or
// connected as user with c to disconnect.
type sioOutcome struct {
	refused string
	user    int
	c       io.Closer
}

// sioDialer performs one handshake against base (http://host:port).
type sioDialer func(ctx context.Context, base, cookie string) (sioOutcome, error)

// goSioClient is the Go load client behind the protocol.
type goSioClient struct {
	dial        sioDialer
	timeout     time.Duration // of one handshake
	cookies     []string
	users       []int
	concurrency int
	next        atomic.Uint64
	held        []io.Closer
}

func newGoSioClient(kind string) (*goSioClient, error) {
	switch kind {
	case "raw":
		return &goSioClient{dial: rawSioDial, timeout: sioHandshakeTimeout}, nil
	case "zishang520":
		// About one handshake in 1,500 never connects with this client
		// (v3.0.6: it sends no CONNECT, or loses the answer, while the
		// servers answer every raw client): a short timeout keeps such a
		// handshake from stalling a run for long. The harness then does not
		// use this client (see benchSocketIO).
		return &goSioClient{dial: zishangSioDial, timeout: 3 * time.Second}, nil
	}
	return nil, fmt.Errorf("unknown Go socket.io client %q (raw or zishang520)", kind)
}

// sioClientMain runs the protocol on in and out until in closes.
func sioClientMain(kind string, in io.Reader, out, errw io.Writer) int {
	c, err := newGoSioClient(kind)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 2
	}
	defer c.release()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var cmd sioCommand
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			fmt.Fprintf(errw, "sio client: %v\n", err)
			return 1
		}
		res, err := c.handle(context.Background(), cmd)
		if err != nil {
			fmt.Fprintf(errw, "sio client: %v\n", err)
			return 1
		}
		if err := enc.Encode(res); err != nil {
			return 1
		}
	}
	return 0
}

func (c *goSioClient) handle(ctx context.Context, cmd sioCommand) (any, error) {
	switch {
	case cmd.Cookies != nil:
		if len(cmd.Cookies) == 0 || len(cmd.Cookies) != len(cmd.Users) || cmd.Concurrency < 1 {
			return nil, fmt.Errorf("bad setup: %d cookies, %d users, concurrency %d", len(cmd.Cookies), len(cmd.Users), cmd.Concurrency)
		}
		c.cookies, c.users, c.concurrency = cmd.Cookies, cmd.Users, cmd.Concurrency
		return map[string]bool{"ready": true}, nil
	case c.cookies == nil:
		return nil, errors.New("no setup line")
	case cmd.Run != "":
		return c.run(ctx, cmd.Run, time.Duration(cmd.Ms)*time.Millisecond, cmd.Auth), nil
	case cmd.Hold != "":
		return c.hold(ctx, cmd.Hold, cmd.Count, cmd.Auth), nil
	case cmd.Release:
		return map[string]int{"released": c.release()}, nil
	}
	return nil, fmt.Errorf("unknown command %+v", cmd)
}

// once performs the handshake of entry k and counts it in r; it returns
// the connection when it was accepted (the caller closes or keeps it).
func (c *goSioClient) once(ctx context.Context, base string, k int, auth bool, r *sioResult) io.Closer {
	want := c.users[k]
	forged := want < 0
	if !auth {
		want = anonUserID
	}
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	t0 := time.Now()
	o, err := c.dial(hctx, base, c.cookies[k])
	lat := time.Since(t0)
	cancel()
	r.Attempts++
	switch {
	case err != nil:
		r.Errors = addCounts(r.Errors, map[string]int64{err.Error(): 1})
		return nil
	case o.refused != "":
		r.Refusals = addCounts(r.Refusals, map[string]int64{o.refused: 1})
		if forged {
			r.ForgedRefused++
		} else {
			r.Refused++
		}
		return nil
	case forged:
		// Accepted: a baseline server does; a server with authorization
		// must not, whatever user it names.
		r.ForgedAccepted++
	case o.user != want:
		r.WrongUser++
		if r.FirstWrong == "" {
			r.FirstWrong = fmt.Sprintf("cookie of user %d answered as user %d", c.users[k], o.user)
		}
	default:
		r.Accepted++
		r.Lat = append(r.Lat, float64(lat)/float64(time.Millisecond))
	}
	return o.c
}

// run connects and disconnects from c.concurrency loops for d.
func (c *goSioClient) run(ctx context.Context, base string, d time.Duration, auth bool) sioResult {
	start := time.Now()
	deadline := start.Add(d)
	results := make([]sioResult, c.concurrency)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			for time.Now().Before(deadline) {
				k := int((c.next.Add(1) - 1) % uint64(len(c.cookies)))
				if conn := c.once(ctx, base, k, auth, r); conn != nil {
					conn.Close()
				}
			}
		}()
	}
	wg.Wait()
	var total sioResult
	for _, r := range results {
		total.add(r)
	}
	total.Ms = float64(time.Since(start)) / float64(time.Millisecond)
	return total
}

// hold connects count sockets, cookies[0..count-1] (at most
// c.concurrency at once), and keeps the accepted ones open.
func (c *goSioClient) hold(ctx context.Context, base string, count int, auth bool) sioResult {
	var started atomic.Int64
	results := make([]sioResult, c.concurrency)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			for {
				n := int(started.Add(1) - 1)
				if n >= count {
					return
				}
				if conn := c.once(ctx, base, n%len(c.cookies), auth, r); conn != nil {
					if ka, ok := conn.(interface{ keepAlive() }); ok {
						ka.keepAlive()
					}
					mu.Lock()
					c.held = append(c.held, conn)
					mu.Unlock()
					r.Held++
				}
			}
		}()
	}
	wg.Wait()
	var total sioResult
	for _, r := range results {
		total.add(r)
	}
	total.Ms = float64(time.Since(start)) / float64(time.Millisecond)
	return total
}

// release disconnects the held sockets.
func (c *goSioClient) release() int {
	n := len(c.held)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, h := range c.held {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			h.Close()
			<-sem
		}()
	}
	wg.Wait()
	c.held = nil
	return n
}

// parseSioUser reads the id of the "user" event's argument.
func parseSioUser(arg []byte) (int, error) {
	var u struct {
		ID *int `json:"id"`
	}
	if err := json.Unmarshal(arg, &u); err != nil || u.ID == nil {
		return 0, fmt.Errorf("user event without an id: %.80s", arg)
	}
	return *u.ID, nil
}

// rawDialer is shared by every raw handshake (it holds no per-connection
// state).
var rawDialer = &websocket.Dialer{
	HandshakeTimeout: sioHandshakeTimeout,
	ReadBufferSize:   1024,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
}

// rawSioDial is the raw client's handshake: the websocket upgrade with the
// cookie, engine.io OPEN ("0{…}"), socket.io CONNECT ("40") answered by
// CONNECT ("40{…}") or CONNECT_ERROR ("44{…}"), then the "user" EVENT
// ("42[\"user\",{…}]"). Engine.io pings ("2") are answered ("3").
func rawSioDial(ctx context.Context, base, cookie string) (sioOutcome, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := rawDialer.DialContext(ctx, u, http.Header{"Cookie": {cookie}})
	if err != nil {
		switch {
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			return sioOutcome{refused: fmt.Sprintf("HTTP %d", resp.StatusCode)}, nil
		case resp == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
			// The connection was accepted, then closed without an
			// answer to the upgrade: how engine.io refuses a websocket
			// handshake whose middleware ended the response (the
			// documented 401 of socket.io's passport recipe).
			return sioOutcome{refused: "closed during the upgrade"}, nil
		}
		return sioOutcome{}, fmt.Errorf("dial: %w", err)
	}
	rc := &rawSioConn{c: conn}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	fail := func(err error) (sioOutcome, error) {
		conn.Close()
		return sioOutcome{}, err
	}
	msg, err := rc.read()
	if err != nil {
		return fail(err)
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fail(fmt.Errorf("expected engine.io OPEN, got %.40q", msg))
	}
	if err := rc.write("40"); err != nil {
		return fail(err)
	}
	if msg, err = rc.read(); err != nil {
		return fail(err)
	}
	switch {
	case strings.HasPrefix(string(msg), "44"):
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(msg[2:], &e)
		conn.Close()
		return sioOutcome{refused: "CONNECT_ERROR " + e.Message}, nil
	case !strings.HasPrefix(string(msg), "40"):
		return fail(fmt.Errorf("expected socket.io CONNECT, got %.40q", msg))
	}
	if msg, err = rc.read(); err != nil {
		return fail(err)
	}
	var event []json.RawMessage
	if !strings.HasPrefix(string(msg), "42") || json.Unmarshal(msg[2:], &event) != nil || len(event) != 2 || string(event[0]) != `"user"` {
		return fail(fmt.Errorf(`expected the "user" event, got %.60q`, msg))
	}
	id, err := parseSioUser(event[1])
	if err != nil {
		return fail(err)
	}
	conn.SetReadDeadline(time.Time{})
	return sioOutcome{user: id, c: rc}, nil
}

// rawSioConn is an open raw connection.
type rawSioConn struct {
	c      *websocket.Conn
	wmu    sync.Mutex // gorilla allows one writer at a time
	closed bool
}

func (r *rawSioConn) write(s string) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.c.WriteMessage(websocket.TextMessage, []byte(s))
}

// read returns the next packet that is not a ping, answering pings.
func (r *rawSioConn) read() ([]byte, error) {
	for {
		_, msg, err := r.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		if string(msg) == "2" {
			if err := r.write("3"); err != nil {
				return nil, err
			}
			continue
		}
		return msg, nil
	}
}

// keepAlive answers the server's pings while the socket is held.
func (r *rawSioConn) keepAlive() {
	go func() {
		for {
			if _, err := r.read(); err != nil {
				return
			}
		}
	}()
}

// Close sends DISCONNECT and a close frame, as socket.io-client's
// disconnect() does, and closes the connection.
func (r *rawSioConn) Close() error {
	r.wmu.Lock()
	if !r.closed {
		r.closed = true
		_ = r.c.WriteMessage(websocket.TextMessage, []byte("41"))
		_ = r.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	r.wmu.Unlock()
	return r.c.Close()
}

// zishangSioDial is the handshake through the zishang520 Go socket.io
// client: websocket transport only, a new manager per socket (forceNew), no
// reconnection.
func zishangSioDial(ctx context.Context, base, cookie string) (sioOutcome, error) {
	opts := sioclient.DefaultOptions()
	opts.SetTransports(types.NewSet(transports.WebSocket))
	opts.SetForceNew(true)
	opts.SetReconnection(false)
	opts.SetAutoConnect(false)
	if dl, ok := ctx.Deadline(); ok {
		opts.SetTimeout(time.Until(dl))
	}
	opts.SetExtraHeaders(http.Header{"Cookie": {cookie}})
	s, err := sioclient.Connect(base, opts)
	if err != nil {
		return sioOutcome{}, err
	}
	type answer struct {
		o   sioOutcome
		err error
	}
	ch := make(chan answer, 2)
	user := func(args []any) {
		if len(args) != 1 {
			ch <- answer{err: fmt.Errorf("user event with %d arguments", len(args))}
			return
		}
		b, err := json.Marshal(args[0])
		if err != nil {
			ch <- answer{err: err}
			return
		}
		id, err := parseSioUser(b)
		ch <- answer{o: sioOutcome{user: id}, err: err}
	}
	s.Once("user", func(args ...any) { user(args) })
	s.Once("connect_error", func(args ...any) {
		msg := "connect_error"
		if len(args) > 0 {
			msg = fmt.Sprint("connect_error ", args[0])
		}
		ch <- answer{o: sioOutcome{refused: msg}}
	})
	s.Connect()
	select {
	case a := <-ch:
		if a.err != nil || a.o.refused != "" {
			s.Disconnect()
			return a.o, a.err
		}
		a.o.c = zishangSioConn{s}
		return a.o, nil
	case <-ctx.Done():
		s.Disconnect()
		return sioOutcome{}, errors.New("timeout")
	}
}

type zishangSioConn struct{ s *sioclient.Socket }

func (z zishangSioConn) Close() error {
	z.s.Disconnect()
	return nil
}

// sioEntries is the cookie list of a handshake run: every session's
// Cookie header with its user id, and after every forgedEvery-1 valid ones
// a forged cookie (forgedEvery 0: none), user -1: the same session id
// with its signature altered in one character, so that it has the same
// length and differs from the real cookie only where a forger would have
// to guess.
func sioEntries(f *fixture, forgedEvery int) (cookies []string, users []int) {
	for i, h := range f.headers {
		cookies = append(cookies, h)
		users = append(users, i)
		if forgedEvery > 1 && len(cookies)%forgedEvery == forgedEvery-1 {
			cookies = append(cookies, "_ga=GA1.1.1706351023.1795000000; "+cookieName+"="+cookiesig.EncodeURIComponent("s:"+forgeSignature(f.signed[i])))
			users = append(users, -1)
		}
	}
	return cookies, users
}

// forgeSignature changes the first letter or digit of the signature of
// signed (id.signature) into another one.
func forgeSignature(signed string) string {
	b := []byte(signed)
	for i := strings.LastIndexByte(signed, '.') + 1; i < len(b); i++ {
		c := b[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			if c == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			break
		}
	}
	return string(b)
}

// sioClients are load client processes of one kind (node, raw,
// zishang520), pinned to the given CPUs.
type sioClients struct {
	kind  string
	procs []*proc
	in    []io.WriteCloser
	out   []*bufio.Reader
}

// sioClientKinds are the load clients, in the order they are calibrated.
var sioClientKinds = []string{"raw", "zishang520", "node"}

// startSioClients starts n clients of kind on cpus (not pinned when nil),
// each with `concurrency` handshakes in flight and its share of the
// cookies (entry k goes to client k mod n).
func startSioClients(ctx context.Context, cfg *config, kind string, n, concurrency int, cpus []int, cookies []string, users []int) (*sioClients, error) {
	var argv, env []string
	switch kind {
	case "node":
		script, err := nodeScript(cfg, "sio-client.js")
		if err != nil {
			return nil, err
		}
		argv = []string{"node", script}
	case "raw", "zishang520":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{self}
		env = []string{sioClientEnv + "=" + kind}
		if len(cpus) > 0 {
			env = append(env, fmt.Sprintf("GOMAXPROCS=%d", len(cpus)))
		}
	default:
		return nil, fmt.Errorf("unknown socket.io client %q", kind)
	}
	if len(cpus) > 0 {
		argv = pinned(cpus, argv...)
	}
	c := &sioClients{kind: kind}
	for i := range n {
		p, pw, out, err := startProc(cfg, fmt.Sprintf("sio-client-%s-%d", kind, i), env, true, true, argv...)
		if err != nil {
			c.close()
			return nil, err
		}
		c.procs, c.in, c.out = append(c.procs, p), append(c.in, pw), append(c.out, out)
	}
	_, err := c.all(ctx, func(i int) any {
		var mc []string
		var mu []int
		for k := i; k < len(cookies); k += n {
			mc, mu = append(mc, cookies[k]), append(mu, users[k])
		}
		return sioCommand{Cookies: mc, Users: mu, Concurrency: concurrency}
	})
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// all sends each client its command and returns every answer.
func (c *sioClients) all(ctx context.Context, cmd func(i int) any) ([]json.RawMessage, error) {
	for i, w := range c.in {
		b, _ := json.Marshal(cmd(i))
		go w.Write(append(b, '\n')) // the cookies may not fit a pipe buffer
	}
	answers := make([]json.RawMessage, len(c.procs))
	for i, p := range c.procs {
		line, err := readLine(ctx, p, c.out[i], 2*time.Minute)
		if err != nil {
			return nil, err
		}
		answers[i] = json.RawMessage(line)
	}
	return answers, nil
}

// do sends cmd to every client and adds up their results.
func (c *sioClients) do(ctx context.Context, cmd sioCommand) (sioResult, error) {
	answers, err := c.all(ctx, func(int) any { return cmd })
	if err != nil {
		return sioResult{}, err
	}
	var total sioResult
	for _, a := range answers {
		var r sioResult
		if err := json.Unmarshal(a, &r); err != nil {
			return sioResult{}, fmt.Errorf("%s client answered %.200s: %w", c.kind, a, err)
		}
		total.add(r)
	}
	return total, nil
}

// run has every client connect and disconnect against url for d.
func (c *sioClients) run(ctx context.Context, url string, d time.Duration, auth bool) (sioResult, error) {
	return c.do(ctx, sioCommand{Run: url, Ms: d.Milliseconds(), Auth: auth})
}

// hold has every client open count sockets and keep them.
func (c *sioClients) hold(ctx context.Context, url string, count int, auth bool) (sioResult, error) {
	return c.do(ctx, sioCommand{Hold: url, Count: count, Auth: auth})
}

func (c *sioClients) release(ctx context.Context) error {
	_, err := c.all(ctx, func(int) any { return sioCommand{Release: true} })
	return err
}

// cpu is the CPU time all the clients have used.
func (c *sioClients) cpu() time.Duration {
	var t time.Duration
	for _, p := range c.procs {
		t += p.cpu()
	}
	return t
}

func (c *sioClients) close() {
	for _, w := range c.in {
		w.Close()
	}
	for _, p := range c.procs {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.stop()
		}
	}
}
