package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// rawTimeout bounds one raw request or websocket read; it is only ever a
// failure timeout: every exchange below returns as soon as its answer is in.
const rawTimeout = 10 * time.Second

// probeHeader marks the requests of one raw client, so the spy between the
// middleware and the engine can tell which of them reached the engine.
const probeHeader = "X-Probe"

// raw is a hand-written engine.io v4 / socket.io v5 client: it sends the
// exact query strings and packets a test asks for, including those no real
// client sends (an empty sid, a repeated sid, an upgrade of somebody else's
// connection).
type raw struct {
	base   string // http://127.0.0.1:port
	cookie string // whole Cookie header value, "" for none
	probe  string // probeHeader value
	http   *http.Client
}

func newRaw(base, cookie, probe string) *raw {
	return &raw{base: base, cookie: cookie, probe: probe, http: &http.Client{Timeout: rawTimeout}}
}

func (c *raw) header() http.Header {
	h := http.Header{}
	if c.cookie != "" {
		h.Set("Cookie", c.cookie)
	}
	if c.probe != "" {
		h.Set(probeHeader, c.probe)
	}
	return h
}

// do sends one polling request with query appended verbatim to
// "/socket.io/?EIO=4&transport=polling".
func (c *raw) do(method, query, body string) (int, string, error) {
	u := c.base + "/socket.io/?EIO=4&transport=polling"
	if query != "" {
		u += "&" + query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = c.header()
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// openAnswer is engine.io's OPEN packet.
type openAnswer struct {
	Sid string `json:"sid"`
}

// parseOpen returns the sid of an OPEN packet ("0{...}"), or "".
func parseOpen(pkt string) string {
	var o openAnswer
	if !strings.HasPrefix(pkt, "0{") || json.Unmarshal([]byte(pkt[1:]), &o) != nil {
		return ""
	}
	return o.Sid
}

// connectAck is socket.io's CONNECT answer ("40<nsp,>{...}").
type connectAck struct {
	Sid string `json:"sid"`
	Pid string `json:"pid"`
}

// nspPrefix is how packets of namespace nsp start after their type digit.
func nspPrefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

// outcome is what a raw attempt achieved.
type outcome struct {
	status    int    // the answer to the request that opened or joined the connection
	sid       string // the engine.io sid it obtained or rode
	connected bool   // a socket.io CONNECT was acknowledged ("40")
	connErr   string // a CONNECT_ERROR packet ("44"), if any
	ack       connectAck
	events    []string // EVENT packets received after the CONNECT
	trace     []string
}

func (o *outcome) logf(format string, args ...any) {
	o.trace = append(o.trace, fmt.Sprintf(format, args...))
}

// readPolling polls with query until the CONNECT to nsp is answered or,
// with wantEvents, that many EVENT packets for nsp have arrived.
func (c *raw) readPolling(query, nsp string, wantEvents int, o *outcome) {
	for range 5 {
		if wantEvents > 0 && len(o.events) >= wantEvents {
			return
		}
		st, body, err := c.do(http.MethodGet, query, "")
		o.logf("GET ?%s -> %d %q %v", query, st, trunc(body), err)
		if err != nil || st != http.StatusOK {
			return
		}
		if answered := c.takePackets(strings.Split(body, "\x1e"), nsp, o); wantEvents == 0 && answered {
			return
		}
	}
}

// takePackets records socket.io packets for nsp; it reports whether the
// CONNECT was answered.
func (c *raw) takePackets(pkts []string, nsp string, o *outcome) (answered bool) {
	p := nspPrefix(nsp)
	for _, pkt := range pkts {
		switch {
		case strings.HasPrefix(pkt, "40"+p+"{"):
			o.connected = true
			_ = json.Unmarshal([]byte(pkt[2+len(p):]), &o.ack)
			answered = true
		case strings.HasPrefix(pkt, "44"+p):
			o.connErr = pkt[2+len(p):]
			answered = true
		case strings.HasPrefix(pkt, "42"+p):
			o.events = append(o.events, pkt[2+len(p):])
		}
	}
	return answered
}

// isHandshake tells, the way engine.io reads a query (the last "sid"),
// whether query opens a connection rather than naming one.
func isHandshake(query string) bool {
	q, _ := url.ParseQuery(query)
	vs := q["sid"]
	return len(vs) == 0 || vs[len(vs)-1] == ""
}

// pollingAttempt plays a client over long-polling that tries to reach a
// socket.io namespace. For a handshake query it GETs the OPEN packet, then
// CONNECTs to nsp with auth on the sid it got and GETs the answer; for a
// query naming a connection it sends the CONNECT on that connection
// directly (riding it) and GETs the answer with the same query.
func (c *raw) pollingAttempt(query, nsp string, auth map[string]any) outcome {
	var o outcome
	sidQuery := query
	if isHandshake(query) {
		st, body, err := c.do(http.MethodGet, query, "")
		o.status = st
		o.logf("GET ?%s -> %d %q %v", query, st, trunc(body), err)
		if err != nil || st != http.StatusOK {
			return o
		}
		if o.sid = parseOpen(strings.Split(body, "\x1e")[0]); o.sid == "" {
			return o
		}
		sidQuery = "sid=" + o.sid
	}
	st, body, err := c.do(http.MethodPost, sidQuery, connectPacket(nsp, auth))
	if o.status == 0 {
		o.status = st
	}
	o.logf("POST ?%s CONNECT %s -> %d %q %v", sidQuery, nsp, st, trunc(body), err)
	if err != nil || st != http.StatusOK {
		return o
	}
	c.readPolling(sidQuery, nsp, 0, &o)
	return o
}

func connectPacket(nsp string, auth map[string]any) string {
	pkt := "40" + nspPrefix(nsp)
	if auth != nil {
		b, _ := json.Marshal(auth)
		pkt += string(b)
	}
	return pkt
}

// wsURL is the websocket URL of query appended to
// "/socket.io/?EIO=4&transport=websocket".
func (c *raw) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	return u
}

// dial opens a websocket with query; it returns the connection or the
// handshake's HTTP status.
func (c *raw) dial(query string) (*websocket.Conn, int, error) {
	d := websocket.Dialer{HandshakeTimeout: rawTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, c.wsURL(query), c.header())
	st := 0
	if resp != nil {
		st = resp.StatusCode
		resp.Body.Close()
	}
	return ws, st, err
}

// read returns the next text frame, bounded by rawTimeout.
func read(ws *websocket.Conn) (string, error) {
	_ = ws.SetReadDeadline(time.Now().Add(rawTimeout))
	_, b, err := ws.ReadMessage()
	return string(b), err
}

// readUntilConnect reads frames until the CONNECT to nsp is answered.
func (c *raw) readUntilConnect(ws *websocket.Conn, nsp string, o *outcome) {
	for range 10 {
		m, err := read(ws)
		o.logf("ws read %q %v", trunc(m), err)
		if err != nil {
			return
		}
		if m == "2" { // engine.io ping
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if c.takePackets([]string{m}, nsp, o) {
			return
		}
	}
}

// wsAttempt plays a client over a websocket: a handshake (no sid in the
// query, or an empty one) gets OPEN and then CONNECTs; a query naming a
// connection is an upgrade: probe, upgrade, then CONNECT over it.
func (c *raw) wsAttempt(query, nsp string, auth map[string]any) outcome {
	var o outcome
	ws, st, err := c.dial(query)
	o.status = st
	o.logf("WS ?%s -> %d %v", query, st, err)
	if err != nil {
		return o
	}
	o.status = http.StatusSwitchingProtocols
	defer ws.Close()
	if isHandshake(query) {
		// A handshake: the engine sends OPEN at once.
		first, err := read(ws)
		o.logf("ws read %q %v", trunc(first), err)
		if o.sid = parseOpen(first); o.sid == "" {
			return o
		}
	} else {
		// An upgrade of the connection the query names.
		if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
			o.logf("probe: %v", err)
			return o
		}
		m, err := read(ws)
		o.logf("ws read %q %v", m, err)
		if m != "3probe" {
			return o
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(connectPacket(nsp, auth))); err != nil {
		o.logf("connect: %v", err)
		return o
	}
	c.readUntilConnect(ws, nsp, &o)
	return o
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// spy stands between the middleware and the engine and records which
// probes reached the engine.
type spy struct {
	next    http.Handler
	reached chan string
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.Header.Get(probeHeader); p != "" {
		select {
		case s.reached <- p:
		default:
		}
	}
	s.next.ServeHTTP(w, r)
}

// gated is a zishang520 socket.io server behind a net/http middleware,
// without a namespace middleware: whatever passes the net/http middleware
// gets a socket.io connection. It echoes "echo" events.
type gated struct {
	io      *socket.Server
	url     string
	spy     *spy
	conns   chan string // "<nsp> <socket id>" for every socket.io connection
	engines chan string // engine.io connection ids, as opened
}

func startGated(t *testing.T, wrap func(io *socket.Server, h http.Handler) http.Handler, opts *socket.ServerOptions) *gated {
	t.Helper()
	if opts == nil {
		opts = socket.DefaultServerOptions()
	}
	io := socket.NewServer(nil, opts)
	g := &gated{io: io, conns: make(chan string, 256), engines: make(chan string, 256)}
	onConnection := func(args ...any) {
		s := args[0].(*socket.Socket)
		_ = s.On("echo", func(a ...any) { _ = s.Emit("echo", a...) })
		// "upgraded" tells the client its engine.io connection moved to
		// websocket (the upgrade request passed the middleware).
		var once sync.Once
		upgraded := func(...any) {
			once.Do(func() { _ = s.Emit("upgraded", s.Conn().Transport().Name()) })
		}
		_ = s.Conn().On("upgrade", upgraded)
		if s.Conn().Upgraded() {
			upgraded()
		}
		g.conns <- s.Nsp().Name() + " " + string(s.Id())
	}
	_ = io.On("connection", onConnection)
	_ = io.Of("/admin", nil).On("connection", onConnection)
	h := io.ServeHandler(nil)
	_ = io.Engine().On("connection", func(args ...any) {
		if c, ok := args[0].(interface{ Id() string }); ok {
			g.engines <- c.Id()
		}
	})
	g.spy = &spy{next: h, reached: make(chan string, 256)}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", wrap(io, g.spy))
	ts := httptest.NewServer(mux)
	g.url = ts.URL
	t.Cleanup(func() {
		done := make(chan struct{})
		io.Close(func(error) { close(done) })
		<-done
		ts.Close()
	})
	return g
}

// drain returns what a channel holds now, without waiting.
func drain(ch chan string) []string {
	var out []string
	for {
		select {
		case v := <-ch:
			out = append(out, v)
		default:
			return out
		}
	}
}

// waitOne returns the next value of ch, failing after rawTimeout.
func waitOne(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(rawTimeout):
		t.Fatalf("no %s within %v", what, rawTimeout)
	}
	return ""
}

var errNoOpen = errors.New("no OPEN packet")

// legitOpen opens a polling connection as a real client would and connects
// to "/"; it returns the sid and the socket.io ack.
func (c *raw) legitOpen() (string, outcome, error) {
	o := c.pollingAttempt("", "/", nil)
	if o.sid == "" {
		return "", o, fmt.Errorf("%w: %s", errNoOpen, strings.Join(o.trace, "; "))
	}
	return o.sid, o, nil
}
