package sessionbridge_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ctxStore is a Store whose Get decodes a fixed record the way a store
// honouring ctx does (DecodeOwnedContext), counting its calls; before, when
// set, runs first (a slow network, a store ignoring ctx).
type ctxStore struct {
	sessionbridge.Store
	record []byte
	gets   int
	before func()
}

func (s *ctxStore) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	s.gets++
	if s.before != nil {
		s.before()
	}
	return sessionjson.Decoder{}.DecodeOwnedContext(ctx, append([]byte(nil), s.record...))
}

// countingCtx expires after live calls of Err, and counts them.
type countingCtx struct {
	context.Context
	live, calls int
}

func (c *countingCtx) Err() error {
	c.calls++
	if c.calls > c.live {
		return context.DeadlineExceeded
	}
	return nil
}

// bigRecord is a record of nearly sessionjson.DefaultMaxBytes with many keys.
func bigRecord() []byte {
	b := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}`)
	for i := 0; len(b) < sessionjson.DefaultMaxBytes-32; i++ {
		b = append(b, `,"k`...)
		b = strconv.AppendInt(b, int64(i), 36)
		b = append(b, `":1`...)
	}
	return append(b, '}')
}

// TestLoadIDHonoursContext: the context bounds the whole load. A done
// context never reaches the store; a store that answers after the deadline
// gets no session through; and a store decoding a record at the size limit
// gives up as soon as the context expires. Every case is ErrStore with the
// context's error, never ErrNoSession.
func TestLoadIDHonoursContext(t *testing.T) {
	const sid = "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	rec := bigRecord()
	store := &ctxStore{record: rec}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) || !errors.Is(err, sessionbridge.ErrStore) || errors.Is(err, sessionbridge.ErrNoSession) {
			t.Errorf("%s: got %v, want ErrStore and %v", name, err, want)
		}
	}

	if s, err := bridge.LoadID(context.Background(), sid); err != nil || s == nil {
		t.Fatalf("live context: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	store.gets = 0
	_, err = bridge.LoadID(ctx, sid)
	check("canceled", err, context.Canceled)
	if store.gets != 0 {
		t.Errorf("canceled: the store was asked")
	}

	// The store ignores ctx and answers after it expired.
	ctx, cancel = context.WithCancel(context.Background())
	store.before = cancel
	_, err = bridge.LoadID(ctx, sid)
	check("late answer", err, context.Canceled)
	store.before = nil

	// Expires while the record is decoded: after LoadID's look, the
	// decoder's look before it starts and its first look during it.
	cc := &countingCtx{Context: context.Background(), live: 3}
	_, err = bridge.LoadID(cc, sid)
	check("expires during decode", err, context.DeadlineExceeded)
	if cc.calls > cc.live+2 {
		t.Errorf("the decode of %d bytes went on after the deadline: %d looks at the context", len(rec), cc.calls)
	}
}

// levelRecorder keeps the level of every record logged.
type levelRecorder struct {
	mu     sync.Mutex
	levels []slog.Level
}

func (l *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.levels = append(l.levels, r.Level)
	return nil
}
func (l *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelRecorder) WithGroup(string) slog.Handler      { return l }

// TestMiddlewareClientGone: a request whose client went away during the load
// is not served and is not logged as a store failure; a real store failure
// still is.
func TestMiddlewareClientGone(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cancel    bool
		storeErr  error
		wantLevel slog.Level
	}{
		{"client gone", true, nil, slog.LevelDebug},
		{"store down (control)", false, errors.New("connection refused"), slog.LevelError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &levelRecorder{}
			store := &cancellingStore{err: tc.storeErr}
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: store, Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				store.onGet = cancel
			}
			defer cancel()
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			r.Header.Set("Cookie", "connect.sid="+b.Signer().CookieValue("sid0"))
			reached := false
			b.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })).ServeHTTP(httptest.NewRecorder(), r)
			if reached {
				t.Fatal("the handler ran without a session decision")
			}
			if len(rec.levels) != 1 || rec.levels[0] != tc.wantLevel {
				t.Fatalf("logged %v, want one record at %v", rec.levels, tc.wantLevel)
			}
		})
	}
}

// cancellingStore fails every Get: with err, or, after onGet cancelled the
// request, with the context's error.
type cancellingStore struct {
	sessionbridge.Store
	err   error
	onGet func()
}

func (s *cancellingStore) Get(ctx context.Context, _ string) (*sessionjson.Session, error) {
	if s.onGet != nil {
		s.onGet()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, s.err
}
