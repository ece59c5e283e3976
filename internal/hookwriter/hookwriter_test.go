package hookwriter

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// countHook counts its runs, sets a header, and fails with err when set,
// answering 503 through w first.
type countHook struct {
	runs int
	w    http.ResponseWriter // the underlying writer, to answer on failure
	err  error
}

func (h *countHook) BeforeHeader(hdr http.Header) error {
	h.runs++
	if h.err != nil {
		http.Error(h.w, "replaced", http.StatusServiceUnavailable)
		return h.err
	}
	hdr.Set("X-Hook", "ran")
	return nil
}

// serve runs handler behind a Writer on a real server and returns the
// response and the hook.
func serve(t *testing.T, fail error, handler func(w *Writer, h *countHook)) (*http.Response, string, *countHook) {
	t.Helper()
	hook := &countHook{err: fail}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook.w = w
		hw := &Writer{ResponseWriter: w, Hook: hook}
		handler(hw, hook)
		hw.Finish()
		hw.Finish() // a second Finish changes nothing
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), hook
}

func TestHookRunsOnceBeforeTheHeader(t *testing.T) {
	for name, handler := range map[string]func(w *Writer, h *countHook){
		"write": func(w *Writer, h *countHook) {
			_, _ = w.Write([]byte("a"))
			_, _ = w.Write([]byte("b"))
		},
		"write header": func(w *Writer, h *countHook) {
			w.WriteHeader(http.StatusOK)
			w.WriteHeader(http.StatusOK) // superfluous: net/http logs it
			_, _ = w.Write([]byte("ab"))
		},
		"informational first": func(w *Writer, h *countHook) {
			w.WriteHeader(http.StatusEarlyHints)
			if h.runs != 0 || w.WroteHeader() {
				panic("the hook ran for a 103")
			}
			_, _ = w.Write([]byte("ab"))
		},
		"flush": func(w *Writer, h *countHook) {
			w.Flush()
			if h.runs != 1 || !w.WroteHeader() {
				panic("Flush did not write the header")
			}
			_, _ = w.Write([]byte("ab"))
		},
		"controller flush": func(w *Writer, h *countHook) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			_, _ = w.Write([]byte("ab"))
		},
		"nothing written": func(w *Writer, h *countHook) {},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body, hook := serve(t, nil, handler)
			if hook.runs != 1 || resp.Header.Get("X-Hook") != "ran" || resp.StatusCode != http.StatusOK {
				t.Fatalf("%d runs, header %q, status %d", hook.runs, resp.Header.Get("X-Hook"), resp.StatusCode)
			}
			if name != "nothing written" && body != "ab" {
				t.Fatalf("body %q", body)
			}
		})
	}
}

func TestHijackedRunsNoHook(t *testing.T) {
	resp, _, hook := serve(t, nil, func(w *Writer, h *countHook) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil || !w.Hijacked() {
			panic("no hijack")
		}
		_, _ = c.Write([]byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
		_ = c.Close()
	})
	if hook.runs != 0 || resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Hook") != "" {
		t.Fatalf("%d runs, status %d", hook.runs, resp.StatusCode)
	}
}

func TestFailedHookReplacesTheResponse(t *testing.T) {
	errHook := errors.New("hook failed")
	var werr error
	resp, body, hook := serve(t, errHook, func(w *Writer, h *countHook) {
		w.WriteHeader(http.StatusCreated)
		_, werr = w.Write([]byte("handler's body"))
		w.Flush()
		if !w.Failed() || w.WroteHeader() {
			panic("not failed")
		}
	})
	if hook.runs != 1 || !errors.Is(werr, errHook) {
		t.Fatalf("%d runs, write error %v", hook.runs, werr)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(body) != "replaced" || resp.Header.Get("X-Hook") != "" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
}

// TestHoldLastByte: a body of announced length reaches the client whole
// only at Finish; an empty write keeps the byte held, a write past the
// length releases it first, and nothing is held without Content-Length or
// without HoldLastByte.
func TestHoldLastByte(t *testing.T) {
	for _, c := range []struct {
		name       string
		hold       bool
		length     string
		writes     []string
		before     string // what the client has before Finish
		afterwards string
	}{
		{"held", true, "5", []string{"he", "llo"}, "hell", "hello"},
		{"one write", true, "5", []string{"hello"}, "hell", "hello"},
		{"empty write after", true, "5", []string{"hello", ""}, "hell", "hello"},
		{"past the length", true, "5", []string{"hello", "!"}, "hello!", "hello!"},
		{"no length", true, "", []string{"hello"}, "hello", "hello"},
		{"zero length", true, "0", nil, "", ""},
		{"not asked", false, "5", []string{"hello"}, "hello", "hello"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := &Writer{ResponseWriter: rec, Hook: &countHook{}, HoldLastByte: c.hold}
			if c.length != "" {
				w.Header().Set("Content-Length", c.length)
			}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if got := rec.Body.String(); got != c.before {
				t.Fatalf("before Finish %q, want %q", got, c.before)
			}
			w.Finish()
			if got := rec.Body.String(); got != c.afterwards {
				t.Fatalf("after Finish %q, want %q", got, c.afterwards)
			}
		})
	}
}

// TestHeldByteOnTheWire: the client does not have the whole body until
// Finish.
func TestHeldByteOnTheWire(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &Writer{ResponseWriter: w, Hook: &countHook{}, HoldLastByte: true}
		hw.Header().Set("Content-Length", "5")
		_, _ = hw.Write([]byte("hello"))
		hw.Flush()
		<-release
		hw.Finish()
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 5)
	n, _ := io.ReadAtLeast(resp.Body, buf, 4)
	got := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(resp.Body)
		got <- string(buf[:n]) + string(rest)
	}()
	select {
	case s := <-got:
		t.Fatalf("the client had %q before Finish", s)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if s := <-got; s != "hello" || n != 4 {
		t.Fatalf("got %q (%d before Finish)", s, n)
	}
}

// TestUnwrap: http.ResponseController reaches the server's writer.
func TestUnwrap(t *testing.T) {
	resp, _, _ := serve(t, nil, func(w *Writer, h *countHook) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			panic(err)
		}
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
}
