// Package hookwriter wraps an http.ResponseWriter so that a session
// middleware can act just before the response's header goes out (Node's
// on-headers), as express-session, cookie-session and koa-session do.
package hookwriter

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
)

// A Hook is what a Writer runs before the response's final header.
type Hook interface {
	// BeforeHeader runs once, just before the final header is written: at
	// the handler's first Write, its first WriteHeader with a status that
	// is not informational, its first Flush, or at Finish. It may change
	// h. An error means it answered the request itself through the
	// underlying ResponseWriter: the Writer then drops the handler's
	// WriteHeader calls, makes its writes fail with that error, and
	// Finish does nothing.
	BeforeHeader(h http.Header) error
}

// Writer is the ResponseWriter a middleware hands its handler. Set
// ResponseWriter and Hook; the zero value of the rest is ready. It
// implements http.Flusher and http.Hijacker, and Unwrap for
// http.ResponseController.
type Writer struct {
	http.ResponseWriter
	Hook Hook

	// HoldLastByte holds back the last byte of a body whose
	// Content-Length the header announces until Finish, so that a client
	// never has the whole response before the middleware's work at the
	// end is done (a failure there can still abort it).
	HoldLastByte bool

	wroteHeader bool
	hijacked    bool
	failed      error
	length      int64 // the announced Content-Length under HoldLastByte, 0 if none
	written     int64 // body bytes accepted from the handler
	held        bool  // last holds the body's last byte
	last        [1]byte
}

// WroteHeader reports whether the final header has gone out (the hook
// ran and succeeded).
func (w *Writer) WroteHeader() bool { return w.wroteHeader }

// Hijacked reports whether the handler hijacked the connection.
func (w *Writer) Hijacked() bool { return w.hijacked }

// Failed reports whether the hook failed and answered the request.
func (w *Writer) Failed() bool { return w.failed != nil }

// start runs the hook; false means it failed.
func (w *Writer) start() bool {
	if err := w.Hook.BeforeHeader(w.Header()); err != nil {
		w.failed = err
		return false
	}
	w.wroteHeader = true
	if w.HoldLastByte {
		// Most answers set no Content-Length: parsing "" would allocate
		// an error per request.
		if cl := w.Header().Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > 0 {
				w.length = n
			}
		}
	}
	return true
}

// WriteHeader implements http.ResponseWriter. Informational statuses
// (other than 101, which ends the exchange) pass through before the hook,
// as the final header comes later.
func (w *Writer) WriteHeader(code int) {
	switch {
	case w.failed != nil:
		return
	case w.wroteHeader || w.hijacked || code >= 100 && code < 200 && code != http.StatusSwitchingProtocols:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.start() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write implements http.ResponseWriter.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.wroteHeader && w.failed == nil && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if w.held && len(p) > 0 {
		// The handler writes past its Content-Length: let net/http say so.
		if _, err := w.ResponseWriter.Write(w.last[:]); err != nil {
			return 0, err
		}
		w.held = false
	}
	if w.length > 0 && len(p) > 0 && w.written+int64(len(p)) == w.length {
		n, err := w.ResponseWriter.Write(p[:len(p)-1])
		w.written += int64(n)
		if err != nil {
			return n, err
		}
		w.held, w.last[0] = true, p[len(p)-1]
		w.written++
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// Flush implements http.Flusher; it writes the header first.
func (w *Writer) Flush() {
	if !w.wroteHeader && w.failed == nil && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed == nil {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Hijack implements http.Hijacker. The hook does not run on a hijacked
// connection.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Finish runs when the handler has returned: the hook, when the header has
// not gone out (net/http writes it after the handler), then the held byte.
// It does nothing on a hijacked connection or after the hook failed.
func (w *Writer) Finish() {
	switch {
	case w.hijacked || w.failed != nil:
	case !w.wroteHeader:
		w.start()
	case w.held:
		w.held = false
		_, _ = w.ResponseWriter.Write(w.last[:])
	}
}
