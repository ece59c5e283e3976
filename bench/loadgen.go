package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// httpLoader is the HTTP load generator: a fixed set of keep-alive
// HTTP/1.1 connections to one server, each sending GET requests one at a
// time (closed loop) and checking every answer (status 200, the expected
// body). It is kept deliberately cheap, so that it takes as little CPU as
// possible from the servers it measures, and it treats both servers alike.
type httpLoader struct {
	conns []*loadConn
}

type loadConn struct {
	c    net.Conn
	br   *bufio.Reader
	reqs [][]byte // one request per session
	want [][]byte // the expected body per session
	next int
	body []byte
	// header, when set, names the response header checked against want
	// instead of the body (read, not checked): a forward-auth answer.
	header []byte
	got    []byte // header's value in the last answer
}

// newHTTPLoader opens n connections to base and prepares GET path requests
// carrying the given Cookie headers, each expecting the body at the same
// index.
func newHTTPLoader(base, path string, n int, cookies []string, bodies [][]byte) (*httpLoader, error) {
	host, reqs, err := buildRequests(base, path, cookies)
	if err != nil {
		return nil, err
	}
	l := &httpLoader{}
	for i := range n {
		c, err := dialLoadConn(host, reqs, bodies)
		if err != nil {
			l.close()
			return nil, err
		}
		c.next = (i * 7919) % len(reqs)
		l.conns = append(l.conns, c)
	}
	return l, nil
}

// buildRequests returns base's host and the GET path request for each
// Cookie header, as the load generators send them.
func buildRequests(base, path string, cookies []string) (string, [][]byte, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	if len(cookies) == 0 {
		return "", nil, errors.New("no sessions to send")
	}
	reqs := make([][]byte, len(cookies))
	for i, c := range cookies {
		reqs[i] = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sessionbridge-bench\r\nAccept: */*\r\nCookie: %s\r\n\r\n", path, u.Host, c)
	}
	return u.Host, reqs, nil
}

// dialLoadConn opens one keep-alive connection for reqs and their bodies.
func dialLoadConn(host string, reqs, bodies [][]byte) (*loadConn, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &loadConn{c: c, br: bufio.NewReaderSize(c, 16<<10), reqs: reqs, want: bodies}, nil
}

// expectHeader makes l check each answer's header name, which must come
// exactly once, against the expected values instead of the body.
func (l *httpLoader) expectHeader(name string) {
	for _, c := range l.conns {
		c.header = []byte(name)
	}
}

func (l *httpLoader) close() {
	for _, c := range l.conns {
		c.c.Close()
	}
}

// loadStats is what one or more runs measured.
type loadStats struct {
	ops     int64
	elapsed time.Duration
	lat     []time.Duration
	cpu     time.Duration // CPU time the server process used meanwhile
}

func (s *loadStats) add(o loadStats) {
	s.ops += o.ops
	s.elapsed += o.elapsed
	s.lat = append(s.lat, o.lat...)
	s.cpu += o.cpu
}

// cpuPerOp is the server's CPU time per completed op.
func (s *loadStats) cpuPerOp() string {
	if s.ops == 0 || s.cpu == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(s.cpu.Microseconds())/float64(s.ops))
}

func (s *loadStats) rate() float64 { return float64(s.ops) / s.elapsed.Seconds() }

func (s *loadStats) percentile(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	slices.Sort(s.lat)
	return s.lat[min(len(s.lat)-1, int(float64(len(s.lat))*p))]
}

// run drives every connection for d and returns what was completed.
func (l *httpLoader) run(ctx context.Context, d time.Duration) (loadStats, error) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var st loadStats
	start := time.Now()
	for _, c := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			for !stop.Load() {
				t0 := time.Now()
				if err := c.roundTrip(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					stop.Store(true)
					break
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			st.ops += int64(len(lat))
			st.lat = append(st.lat, lat...)
			mu.Unlock()
		}()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	st.elapsed = time.Since(start)
	if firstErr != nil {
		return st, firstErr
	}
	return st, ctx.Err()
}

// roundTrip sends the next request and reads and checks its response.
func (c *loadConn) roundTrip() error {
	i := c.next
	if c.next++; c.next == len(c.reqs) {
		c.next = 0
	}
	return c.do(i)
}

// do sends request i and reads and checks its response: status 200 and
// exactly body i (the user of the session whose cookie request i carries),
// or with expectHeader exactly one such header with value i.
func (c *loadConn) do(i int) error {
	if _, err := c.c.Write(c.reqs[i]); err != nil {
		return err
	}
	status, length, seen, chunked := 0, -1, 0, false
	c.got = c.got[:0]
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			// HTTP/1.1 200 OK
			if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
				return fmt.Errorf("bad status line %q", line)
			}
			status, _ = strconv.Atoi(string(line[9:12]))
			continue
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		switch {
		case !ok:
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(bytes.TrimSpace(v), []byte("chunked"))
		case c.header != nil && bytes.EqualFold(k, c.header):
			c.got = append(c.got[:0], bytes.TrimSpace(v)...)
			seen++
		}
	}
	switch {
	case chunked:
		if err := c.readChunked(); err != nil {
			return err
		}
	case length < 0:
		return errors.New("response without Content-Length")
	default:
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		if _, err := io.ReadFull(c.br, c.body); err != nil {
			return err
		}
	}
	if c.header != nil {
		if status != 200 || seen != 1 || !bytes.Equal(c.got, c.want[i]) {
			return fmt.Errorf("GET answered %d with %d %s header(s), the last %q, want 200 and one %q", status, seen, c.header, c.got, c.want[i])
		}
		return nil
	}
	if status != 200 || !bytes.Equal(c.body, c.want[i]) {
		return fmt.Errorf("GET answered %d %q, want 200 %q", status, c.body, c.want[i])
	}
	return nil
}

// maxChunk bounds a chunk of a chunked answer (the answers here are a few
// hundred bytes at most).
const maxChunk = 1 << 20

// readChunked reads a chunked body into c.body (Node sends one when a
// middleware ends the response late, as express-session does after its
// store touch, even for an empty body).
func (c *loadConn) readChunked() error {
	c.body = c.body[:0]
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		hex, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(hex)), 16, 64)
		if err != nil || size < 0 || size > maxChunk {
			return fmt.Errorf("bad chunk size line %q", line)
		}
		if size == 0 { // the trailer, up to an empty line
			for {
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		n := len(c.body)
		c.body = slices.Grow(c.body, int(size))[:n+int(size)]
		if _, err := io.ReadFull(c.br, c.body[n:]); err != nil {
			return err
		}
		crlf, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return fmt.Errorf("chunk of %d bytes followed by %q", size, crlf)
		}
		if len(c.body) > maxChunk {
			return errors.New("chunked body too long")
		}
	}
}
