package sessionbridge_test

// The express-session decision oracle: thousands of request sequences run
// through the real express + express-session + passport stack
// (testdata/node/lifecycle-oracle.js, one Node process) and through
// Bridge.LoadAndSave, comparing for every request the Set-Cookie headers,
// the status, the body (what the handler saw) and the store operations in
// order (get, set with the exact JSON, touch with the JSON passed,
// destroy, per session id).
//
// A sequence is a set of express-session options, records already in the
// store (seed) and requests (steps). A step has a clock (ms since the
// epoch, Date.now in Node and Config.Now in Go), a Cookie header (none, the
// cookie the previous responses set, as a browser keeps it, a tampered or
// unsigned form of that one, or a literal header), a path, a transport
// (plain HTTP, X-Forwarded-Proto trusted or not, real TLS), the handler's
// actions on req.session, how it responds (end, Content-Length, a first
// write before the actions, an empty Content-Length: 0 body), and
// optionally a store operation that fails or a store cleared before it.
// Both sides use the same ids (genid / Config.GenerateID) and a recording
// store that keeps JSON text like express-session's MemoryStore.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// ---------------------------------------------------------------- format

// lcOpts are the express-session options of a sequence.
type lcOpts struct {
	Secrets           []string `json:"secrets"`
	Name              string   `json:"name,omitempty"`
	Resave            bool     `json:"resave"`
	SaveUninitialized bool     `json:"saveUninitialized"`
	Rolling           bool     `json:"rolling"`
	Unset             string   `json:"unset"`
	MaxAge            *int64   `json:"maxAge"` // ms; nil: a browser-session cookie
	Secure            bool     `json:"secure,omitempty"`
	Proxy             bool     `json:"proxy"`
	Path              string   `json:"path,omitempty"`
	NoHTTPOnly        bool     `json:"noHttpOnly,omitempty"`
	Priority          string   `json:"priority,omitempty"`
	Partitioned       bool     `json:"partitioned,omitempty"`
	SameSite          string   `json:"sameSite,omitempty"`
}

// lcAction is one thing a handler does: read, readId, set, delete, save,
// regenerate, destroy, unset, login, logout, reload, touch, cookie (set a
// cookie field: maxAge, expires, httpOnly, secure), extSet (another writer
// changes the stored record meanwhile), extClear (the store is emptied),
// tick (the clock moves on by value ms).
type lcAction struct {
	Op    string `json:"op"`
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"` // JSON text
	Keep  bool   `json:"keep,omitempty"`  // passport's keepSessionInfo
}

type lcStep struct {
	Now     int64      `json:"now"`
	Cookie  string     `json:"cookie,omitempty"` // "", jar, jar-tamper, jar-unsigned, literal:<header>
	Path    string     `json:"path,omitempty"`
	Proto   string     `json:"proto,omitempty"` // http (default) or tls
	XFP     string     `json:"xfp,omitempty"`   // X-Forwarded-Proto
	Actions []lcAction `json:"actions,omitempty"`
	Respond string     `json:"respond,omitempty"` // end (default), cl, early, empty
	Clear   bool       `json:"clear,omitempty"`   // empty the store before the request
	Fail    string     `json:"fail,omitempty"`    // the store operation that fails: get, set, touch, destroy
}

type lcSeed struct {
	Sid  string `json:"sid"`
	JSON string `json:"json"`
}

type lcSeq struct {
	I        int      `json:"i"`
	Name     string   `json:"name"`
	Opts     lcOpts   `json:"opts"`
	IDPrefix string   `json:"idPrefix"`
	IDs      []string `json:"ids,omitempty"`
	Seed     []lcSeed `json:"seed,omitempty"`
	Steps    []lcStep `json:"steps"`
	// KeepExpired: the store has no TTL and returns expired records.
	KeepExpired bool `json:"keepExpired,omitempty"`

	conflict   sessionbridge.ConflictPolicy // Go's Config.Conflict
	deliberate string                       // the allowlist entry that explains a difference
	facts      []lcFact                     // express-session test suite facts, checked on both sides
}

// lcOp is one store operation. Conflict marks a Go SetIf that met a
// changed record (Node never has one).
type lcOp struct {
	Op       string `json:"op"`
	Sid      string `json:"sid"`
	JSON     string `json:"json,omitempty"`
	Found    *bool  `json:"found,omitempty"`
	Conflict bool   `json:"conflict,omitempty"`
}

type lcResult struct {
	Status    int      `json:"status"` // -1: the response was aborted
	SetCookie []string `json:"setCookie"`
	Ops       []lcOp   `json:"ops"`
	Body      string   `json:"body"`
}

// lcFact is an assertion of express-session's test suite about the
// results of a sequence.
type lcFact struct {
	what  string
	check func(seq *lcSeq, r []lcResult) error
}

// ---------------------------------------------------------------- deliberate differences

// lcAllow is a deliberate difference: a sequence tagged with its name must
// differ from Node in at least one step, and every differing step must be
// the one explained.
type lcAllow struct {
	name, reason string
	explains     func(node, goRes lcResult) bool
}

var lcAllowlist = []lcAllow{
	{
		name:   "outage-status",
		reason: "a store failure while loading (or a record the store cannot decode) is answered by Config.ErrorHandler, 503 by default, and changes nothing; express-session passes the error to next, Express answers 500, and with unset 'destroy' its end-of-response hook then destroys the session it could not load",
		explains: func(n, g lcResult) bool {
			nops := n.Ops
			if k := len(nops) - 1; k > 0 && nops[k].Op == "destroy" {
				nops = nops[:k]
			}
			if n.Status != http.StatusInternalServerError || g.Status != http.StatusServiceUnavailable || len(nops) != len(g.Ops) {
				return false
			}
			for i := range nops {
				if nops[i].Op != g.Ops[i].Op || nops[i].Sid != g.Ops[i].Sid {
					return false
				}
			}
			return true
		},
	},
	{
		name:   "write-failure",
		reason: "when the end-of-request store write fails, Go answers 503 (response not started) or aborts the response, so a client never takes an unsaved session for a saved one; express-session completes the response and reports the error afterwards",
		explains: func(n, g lcResult) bool {
			return n.Status == http.StatusOK && (g.Status == http.StatusServiceUnavailable || g.Status == -1) &&
				reflect.DeepEqual(n.Ops, g.Ops)
		},
	},
	{
		name:   "no-resurrect",
		reason: "a session that left the store during the request (Node logged out or destroyed it) is not written back by the end-of-request save: Go's conditional write finds it gone and drops the request's changes; express-session's set recreates it",
		explains: func(n, g lcResult) bool {
			k := len(n.Ops) - 1
			if k < 0 || n.Ops[k].Op != "set" || len(g.Ops) != len(n.Ops)+1 {
				return false
			}
			notFound := false
			want := append(slices.Clone(n.Ops[:k]),
				lcOp{Op: "set", Sid: n.Ops[k].Sid, JSON: n.Ops[k].JSON, Conflict: true},
				lcOp{Op: "get", Sid: n.Ops[k].Sid, Found: &notFound})
			return reflect.DeepEqual(want, g.Ops) && n.Status == g.Status && n.Body == g.Body &&
				slices.Equal(n.SetCookie, g.SetCookie)
		},
	},
	{
		name:   "dropped-keys",
		reason: "a stored record holding names express-session drops when it loads a session (id, save, ...): Node's original hash includes them, so it counts the session as changed on the first request (saves instead of touching, and sends a maxAge cookie); Go's decoder drops them before the lifecycle sees the record, so the session counts as unchanged (and an unchanged browser-session record is written back byte for byte, those names included)",
		explains: func(n, g lcResult) bool {
			if n.Status != g.Status || n.Body != g.Body || len(n.Ops) != len(g.Ops) || len(g.SetCookie) > len(n.SetCookie) {
				return false
			}
			clean := func(j string) string { return strings.ReplaceAll(j, `,"save":"nope","id":"x"`, "") }
			for i := range n.Ops {
				a, b := n.Ops[i], g.Ops[i]
				sameKind := a.Op == b.Op || a.Op == "set" && b.Op == "touch"
				if !sameKind || a.Sid != b.Sid || clean(a.JSON) != clean(b.JSON) {
					return false
				}
			}
			return true
		},
	},
	{
		name:   "expired-revival",
		reason: "a store without TTL (no ExpiryEnforcer) returns a record whose cookie expired: Go refuses it and starts a new session; express-session revives it",
		explains: func(n, g lcResult) bool {
			return len(n.Ops) > 0 && len(g.Ops) > 0 && n.Ops[0].Op == "get" && *n.Ops[0].Found &&
				reflect.DeepEqual(n.Ops[0], g.Ops[0]) && n.Body != g.Body && g.Body == "undefined"
		},
	},
	{
		name:   "conflict-merge",
		reason: "Config.Conflict ConflictMerge (the default): a save over a record another writer changed since the load re-reads it and keeps the other writer's keys (here \"ext\"), also in later requests; express-session overwrites them (with ConflictOverwrite both agree, checked by the same sequences)",
		explains: func(n, g lcResult) bool {
			// Without the re-read after a conflicting write and without the
			// other writer's key, Go's step must be Node's.
			strip := func(r lcResult) lcResult {
				var ops []lcOp
				for i := 0; i < len(r.Ops); i++ {
					if r.Ops[i].Conflict {
						if i+1 < len(r.Ops) && r.Ops[i+1].Op == "get" {
							i++
						}
						continue
					}
					o := r.Ops[i]
					o.JSON = strings.ReplaceAll(o.JSON, `,"ext":"other"`, "")
					ops = append(ops, o)
				}
				r.Ops = ops
				r.Body = strings.ReplaceAll(r.Body, `"other"`, "undefined")
				return lcNormalize(r)
			}
			merged := strings.Contains(lcJSON(g), `"ext\":\"other\"`) || strings.Contains(g.Body, `"other"`)
			return merged && reflect.DeepEqual(strip(n), strip(g))
		},
	},
}

// ---------------------------------------------------------------- Go side

var errLcBoom = errors.New("boom")

// lcStore wraps a MemoryStore as the ConditionalStore the Bridge uses,
// recording every call (GetVersion and Get as get, SetIf and Set as set).
type lcStore struct {
	keepExpired bool
	mu          sync.Mutex
	mem         *sessionbridge.MemoryStore
	now         func() time.Time
	ops         []lcOp
	fail        string
}

var _ sessionbridge.ConditionalStore = (*lcStore)(nil)

func newLcStore(now func() time.Time) *lcStore {
	s := &lcStore{now: now}
	s.clear()
	return s
}

// lcNoTTLStore is an lcStore that keeps expired records, as a store
// without TTL does.
type lcNoTTLStore struct{ *lcStore }

func (lcNoTTLStore) EnforcesExpiry() bool { return false }

func (s *lcStore) clear() {
	m := sessionbridge.NewMemoryStore()
	if s.keepExpired {
		m.SetClock(func() time.Time { return time.UnixMilli(0) }) // nothing ever expires
	} else {
		m.SetClock(s.now)
	}
	s.mu.Lock()
	s.mem = m
	s.mu.Unlock()
}

func (s *lcStore) store() *sessionbridge.MemoryStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem
}

func (s *lcStore) record(op lcOp) {
	s.mu.Lock()
	s.ops = append(s.ops, op)
	s.mu.Unlock()
}

func (s *lcStore) failing(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail == op
}

func (s *lcStore) take(fail string) []lcOp {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.ops
	s.ops, s.fail = nil, fail
	return ops
}

func lcEncode(sess *sessionjson.Session) string {
	raw, err := sess.Encode()
	if err != nil {
		return "encode error: " + err.Error()
	}
	return string(raw)
}

func (s *lcStore) EnforcesExpiry() bool { return true }

func (s *lcStore) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	rec, _, err := s.GetVersion(ctx, sid)
	return rec, err
}

func (s *lcStore) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	if s.failing("get") {
		f := false
		s.record(lcOp{Op: "get", Sid: sid, Found: &f})
		return nil, sessionbridge.Version{}, errLcBoom
	}
	rec, v, err := s.store().GetVersion(ctx, sid)
	found := !errors.Is(err, sessionbridge.ErrNotFound) // a record it cannot decode is still found
	s.record(lcOp{Op: "get", Sid: sid, Found: &found})
	return rec, v, err
}

func (s *lcStore) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	s.record(lcOp{Op: "set", Sid: sid, JSON: lcEncode(sess)})
	if s.failing("set") {
		return errLcBoom
	}
	return s.store().Set(ctx, sid, sess)
}

func (s *lcStore) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	op := lcOp{Op: "set", Sid: sid, JSON: lcEncode(sess)}
	if s.failing("set") {
		s.record(op)
		return sessionbridge.Version{}, errLcBoom
	}
	nv, err := s.store().SetIf(ctx, sid, sess, v)
	op.Conflict = errors.Is(err, sessionbridge.ErrConflict)
	s.record(op)
	return nv, err
}

func (s *lcStore) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	s.record(lcOp{Op: "touch", Sid: sid, JSON: lcEncode(sess)})
	if s.failing("touch") {
		return errLcBoom
	}
	return s.store().Touch(ctx, sid, sess)
}

func (s *lcStore) Destroy(ctx context.Context, sid string) error {
	s.record(lcOp{Op: "destroy", Sid: sid})
	if s.failing("destroy") {
		return errLcBoom
	}
	return s.store().Destroy(ctx, sid)
}

var lcSameSite = map[string]http.SameSite{
	"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode,
}

// lcGoSeq runs a sequence through LoadAndSave.
type lcGoSeq struct {
	seq   *lcSeq
	clock time.Time
	st    *lcStore
	b     *sessionbridge.Bridge
	step  *lcStep
}

func (g *lcGoSeq) now() time.Time { return g.clock }

func lcRun(seq *lcSeq) ([]lcResult, error) {
	g := &lcGoSeq{seq: seq}
	g.st = &lcStore{now: g.now, keepExpired: seq.KeepExpired}
	g.st.clear()
	var store sessionbridge.Store = g.st
	if seq.KeepExpired {
		store = lcNoTTLStore{g.st}
	}
	for _, s := range seq.Seed {
		g.st.store().SetRaw(s.Sid, []byte(s.JSON))
	}
	o := seq.Opts
	co := sessionbridge.CookieOptions{
		Path:            o.Path,
		DisableHTTPOnly: o.NoHTTPOnly,
		Secure:          o.Secure,
		SameSite:        lcSameSite[o.SameSite],
		Partitioned:     o.Partitioned,
		Priority:        o.Priority,
	}
	if o.MaxAge != nil {
		co.MaxAge = time.Duration(*o.MaxAge) * time.Millisecond
	}
	unset := sessionbridge.UnsetKeep
	if o.Unset == "destroy" {
		unset = sessionbridge.UnsetDestroy
	}
	n := 0
	b, err := sessionbridge.New(sessionbridge.Config{
		CookieName:        o.Name,
		Secrets:           o.Secrets,
		Store:             store,
		Cookie:            co,
		TrustProxy:        o.Proxy,
		Now:               g.now,
		Logger:            slog.New(slog.DiscardHandler),
		Resave:            o.Resave,
		SaveUninitialized: o.SaveUninitialized,
		Rolling:           o.Rolling,
		Unset:             unset,
		Conflict:          seq.conflict,
		GenerateID: func(*http.Request) (string, error) {
			k := n
			n++
			if k < len(seq.IDs) {
				return seq.IDs[k], nil
			}
			return fmt.Sprintf("%s-%02d", seq.IDPrefix, k), nil
		},
	})
	if err != nil {
		return nil, err
	}
	g.b = b
	h := b.LoadAndSave(http.HandlerFunc(g.serve))
	name := b.CookieName()
	jar := ""
	var out []lcResult
	for i := range seq.Steps {
		step := &seq.Steps[i]
		g.clock = time.UnixMilli(step.Now).UTC()
		if step.Clear {
			g.st.clear()
		}
		g.st.take(step.Fail)
		g.step = step
		path := step.Path
		if path == "" {
			path = "/"
		}
		scheme := "http"
		if step.Proto == "tls" {
			scheme = "https"
		}
		r := httptest.NewRequest(http.MethodGet, scheme+"://example.com"+path, nil)
		r.RequestURI = path
		if c, ok := lcCookieHeader(step.Cookie, jar); ok {
			r.Header.Set("Cookie", c)
		}
		if step.XFP != "" {
			r.Header.Set("X-Forwarded-Proto", step.XFP)
		}
		rec := httptest.NewRecorder()
		aborted := lcServe(h, rec, r)
		res := lcResult{Status: rec.Code, SetCookie: rec.Result().Header.Values("Set-Cookie"), Body: rec.Body.String()}
		if aborted {
			res = lcResult{Status: -1}
		}
		res.Ops = g.st.take("")
		for _, h := range res.SetCookie {
			pair, _, _ := strings.Cut(h, ";")
			if strings.HasPrefix(pair, name+"=") {
				jar = pair
			}
		}
		out = append(out, lcNormalize(res))
	}
	return out, nil
}

// lcServe serves r and reports whether the handler aborted the response.
func lcServe(h http.Handler, w http.ResponseWriter, r *http.Request) (aborted bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(w, r)
	return false
}

func lcNormalize(r lcResult) lcResult {
	if r.SetCookie == nil {
		r.SetCookie = []string{}
	}
	if r.Ops == nil {
		r.Ops = []lcOp{}
	}
	return r
}

var lcTamper = regexp.MustCompile(`...\.`)

// lcCookieHeader is the step's Cookie header, as lifecycle-oracle.js makes it.
func lcCookieHeader(mode, jar string) (string, bool) {
	if mode == "" {
		return "", false
	}
	if h, ok := strings.CutPrefix(mode, "literal:"); ok {
		return h, true
	}
	if jar == "" {
		return "", false
	}
	switch mode {
	case "jar":
		return jar, true
	case "jar-tamper":
		loc := lcTamper.FindStringIndex(jar)
		if loc == nil {
			return jar, true
		}
		return jar[:loc[0]] + "." + jar[loc[1]:], true
	case "jar-unsigned":
		name, value, _ := strings.Cut(jar, "=")
		v, _ := cookiesig.DecodeURIComponent(value)
		return name + "=" + v[2:strings.IndexByte(v, '.')], true
	}
	panic("unknown cookie mode " + mode)
}

func (g *lcGoSeq) serve(w http.ResponseWriter, r *http.Request) {
	step := g.step
	mode := step.Respond
	if mode == "early" {
		_, _ = io.WriteString(w, "early;")
	}
	body := "nosession"
	if s, ok := sessionbridge.FromContext(r.Context()); ok {
		out := make([]string, 0, len(step.Actions))
		gone := false
		for _, a := range step.Actions {
			res, err := g.act(r.Context(), s, a, &gone)
			if err != nil {
				res = "err"
			}
			out = append(out, res)
		}
		body = strings.Join(out, ",")
	}
	switch mode {
	case "cl":
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	case "empty":
		w.Header().Set("Content-Length", "0")
	default:
		_, _ = io.WriteString(w, body)
	}
}

var errLcNoSession = errors.New("req.session is gone")

// act is lifecycle-oracle.js's act in Go. gone: the handler destroyed or
// unset the session, so req.session is no more in Node.
func (g *lcGoSeq) act(ctx context.Context, s *sessionbridge.Session, a lcAction, gone *bool) (string, error) {
	b := g.b
	switch a.Op {
	case "readId":
		return s.ID, nil
	case "extSet":
		mem := g.st.store()
		if rec, _, err := mem.GetVersion(ctx, s.ID); err == nil {
			if err := rec.SetRaw(a.Key, json.RawMessage(a.Value)); err != nil {
				return "", err
			}
			mem.SetRaw(s.ID, []byte(lcEncode(rec)))
		}
		return "ok", nil
	case "extClear":
		g.st.clear()
		return "ok", nil
	case "tick":
		ms, err := strconv.ParseInt(a.Value, 10, 64)
		g.clock = g.clock.Add(time.Duration(ms) * time.Millisecond)
		return "ok", err
	case "unset":
		b.Unset(s)
		*gone = true
		return "ok", nil
	}
	if *gone {
		return "", errLcNoSession
	}
	var err error
	switch a.Op {
	case "read":
		raw, ok := s.Record.Raw(a.Key)
		if !ok {
			return "undefined", nil
		}
		return string(raw), nil
	case "set":
		err = s.Record.SetRaw(a.Key, json.RawMessage(a.Value))
	case "delete":
		err = s.Record.Delete(a.Key)
	case "save":
		err = b.Save(ctx, s)
	case "regenerate":
		err = b.Regenerate(ctx, s)
	case "destroy":
		*gone = true // req.session is deleted before the store is asked
		err = b.Destroy(ctx, s)
	case "login":
		_, err = passportuser.Login(ctx, b, s, json.RawMessage(a.Value), passportuser.Options{KeepSessionInfo: a.Keep})
	case "logout":
		_, err = passportuser.Logout(ctx, b, s, passportuser.Options{KeepSessionInfo: a.Keep})
	case "reload":
		err = b.Reload(ctx, s)
	case "touch":
		s.Record.Touch(g.now())
	case "cookie":
		err = lcSetCookieField(&s.Record.Cookie, a.Key, a.Value, g.now())
	default:
		return "", fmt.Errorf("unknown action %q", a.Op)
	}
	if err != nil {
		return "", err
	}
	return "ok", nil
}

// lcSetCookieField is req.session.cookie[key] = value, with Cookie's setters.
func lcSetCookieField(c *sessionjson.Cookie, key, value string, now time.Time) error {
	if key == "httpOnly" || key == "secure" {
		v := value == "true"
		if key == "httpOnly" {
			c.HTTPOnly = &v
		} else {
			c.Secure = &v
		}
		return nil
	}
	if value == "null" {
		// expires = null, and originalMaxAge = maxAge = null
		c.Expires, c.OriginalMaxAge = nil, nil
		return nil
	}
	ms, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return err
	}
	switch key {
	case "maxAge":
		// expires = now + ms; originalMaxAge = expires - now
		c.OriginalMaxAge = &ms
		c.Touch(now)
	case "expires":
		// expires = date; originalMaxAge = date - now
		t := time.UnixMilli(ms).UTC()
		left := ms - now.UnixMilli()
		c.Expires, c.OriginalMaxAge = &t, &left
	default:
		return fmt.Errorf("unknown cookie field %q", key)
	}
	return nil
}

// ---------------------------------------------------------------- Node side

type lcNode struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *nodetest.LockedBuffer
	last   atomic.Int64 // unix ms of the last line read, for the watchdog
}

func lcStartNode(t *testing.T) *lcNode {
	t.Helper()
	nodetest.RequireNode(t)
	certPEM, keyPEM := lcSelfSigned(t)
	cmd := exec.Command("node", "lifecycle-oracle.js")
	cmd.Dir = filepath.Join(nodetest.Root(t), "testdata", "node")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &lcNode{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20), stderr: &nodetest.LockedBuffer{}}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	init, _ := json.Marshal(map[string]any{"tls": map[string]string{"cert": certPEM, "key": keyPEM}})
	if _, err := stdin.Write(append(init, '\n')); err != nil {
		t.Fatal(err)
	}
	var ready struct{ Ready bool }
	if line, err := n.out.ReadBytes('\n'); err != nil || json.Unmarshal(line, &ready) != nil || !ready.Ready {
		t.Fatalf("lifecycle-oracle.js did not start: %v\n%s", err, n.stderr.String())
	}
	return n
}

// lcSelfSigned returns a throwaway certificate and key for Node's HTTPS server.
func lcSelfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// run streams seqs to Node and returns its results, in order.
func (n *lcNode) run(t *testing.T, seqs []*lcSeq) (res [][]lcResult, cpu time.Duration) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(n.stdin, 1<<20)
		enc := json.NewEncoder(w)
		for _, s := range seqs {
			if err := enc.Encode(s); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	// A Node process that stops answering is killed instead of hanging the
	// test until its timeout.
	n.last.Store(time.Now().UnixMilli())
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if time.Since(time.UnixMilli(n.last.Load())) > 60*time.Second {
					_ = n.cmd.Process.Kill()
					return
				}
			}
		}
	}()
	out := make([][]lcResult, len(seqs))
	index := make(map[int]int, len(seqs))
	for i, s := range seqs {
		index[s.I] = i
	}
	for range seqs {
		line, err := n.out.ReadBytes('\n')
		if err != nil {
			t.Fatalf("lifecycle-oracle.js stopped: %v\n%s", err, n.stderr.String())
		}
		n.last.Store(time.Now().UnixMilli())
		var res struct {
			I     int        `json:"i"`
			Steps []lcResult `json:"steps"`
		}
		if err := json.Unmarshal(line, &res); err != nil {
			t.Fatalf("lifecycle-oracle.js answer %.200s: %v", line, err)
		}
		i, ok := index[res.I]
		if !ok || out[i] != nil {
			t.Fatalf("lifecycle-oracle.js answered sequence %d unexpectedly", res.I)
		}
		for j := range res.Steps {
			res.Steps[j] = lcNormalize(res.Steps[j])
		}
		out[i] = res.Steps
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing to lifecycle-oracle.js: %v", err)
	}
	_ = n.stdin.Close()
	var end struct {
		Done        bool  `json:"done"`
		ClockMisses int   `json:"clockMisses"`
		CPUMs       int64 `json:"cpuMs"`
	}
	if line, err := n.out.ReadBytes('\n'); err != nil || json.Unmarshal(line, &end) != nil || !end.Done {
		t.Fatalf("lifecycle-oracle.js did not finish: %v\n%s", err, n.stderr.String())
	}
	if end.ClockMisses != 0 {
		t.Fatalf("Date.now was read %d times outside a sequence's clock: Node's answers are not deterministic", end.ClockMisses)
	}
	return out, time.Duration(end.CPUMs) * time.Millisecond
}

// ---------------------------------------------------------------- sequences

var (
	lcT0        = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC).UnixMilli()
	lcHour      = int64(3600000)
	lcSecret    = "keyboard cat"
	lcForgedSig = strings.Repeat("A", cookiesig.SignatureLen)
)

func lcMs(v int64) *int64 { return &v }

// lcSeedJSON is the record express-session writes for opts' cookie set at
// ms `at`, with data (",\"k\":v..." members) after the cookie.
func lcSeedJSON(o lcOpts, at int64, data string) string {
	var b strings.Builder
	b.WriteString(`{"cookie":{`)
	if o.MaxAge != nil {
		fmt.Fprintf(&b, `"originalMaxAge":%d,"expires":%q`, *o.MaxAge, time.UnixMilli(at+*o.MaxAge).UTC().Format("2006-01-02T15:04:05.000Z"))
	} else {
		b.WriteString(`"originalMaxAge":null,"expires":null`)
	}
	if o.Secure {
		b.WriteString(`,"secure":true`)
	}
	fmt.Fprintf(&b, `,"httpOnly":%t`, !o.NoHTTPOnly)
	path := o.Path
	if path == "" {
		path = "/"
	}
	fmt.Fprintf(&b, `,"path":%q}`, path)
	b.WriteString(data)
	b.WriteString("}")
	return b.String()
}

// lcCookieFor is a literal Cookie header carrying sid signed with secret.
func lcCookieFor(name, sid, secret string) string {
	if name == "" {
		name = sessionbridge.DefaultCookieName
	}
	return "literal:" + name + "=" + cookiesig.EncodeURIComponent("s:"+cookiesig.Sign(sid, secret))
}

func lcRead(k string) lcAction        { return lcAction{Op: "read", Key: k} }
func lcSet(k, v string) lcAction      { return lcAction{Op: "set", Key: k, Value: v} }
func lcDo(op string) lcAction         { return lcAction{Op: op} }
func lcCookie(k, v string) lcAction   { return lcAction{Op: "cookie", Key: k, Value: v} }
func lcLogin(user string) lcAction    { return lcAction{Op: "login", Value: user} }
func lcExtSet(k, v string) lcAction   { return lcAction{Op: "extSet", Key: k, Value: v} }
func lcActs(a ...lcAction) []lcAction { return a }

type lcTransport struct {
	name, proto, xfp string
	proxy            bool
}

var lcTransports = []lcTransport{
	{"http", "http", "", false},
	{"xfp-trusted", "http", "https", true},
	{"xfp-untrusted", "http", "https", false},
	{"tls", "tls", "", false},
}

var lcMatrixActions = []struct {
	name string
	acts []lcAction
}{
	{"nothing", nil},
	{"read", lcActs(lcRead("n"), lcRead("passport"), lcDo("readId"))},
	{"modify", lcActs(lcSet("n", "2"))},
	{"same-value", lcActs(lcSet("n", "1"))},
	{"delete", lcActs(lcAction{Op: "delete", Key: "n"})},
	{"save", lcActs(lcDo("save"))},
	{"modify+save", lcActs(lcSet("n", "2"), lcDo("save"))},
	{"regenerate", lcActs(lcDo("regenerate"))},
	{"destroy", lcActs(lcDo("destroy"))},
	{"unset", lcActs(lcDo("unset"))},
	{"login", lcActs(lcLogin("42"))},
	{"logout", lcActs(lcDo("logout"))},
	{"reload", lcActs(lcDo("reload"))},
	{"modify+reload", lcActs(lcSet("n", "2"), lcDo("reload"), lcRead("n"))},
	{"save+modify", lcActs(lcDo("save"), lcSet("n", "3"))},
	{"regenerate+modify", lcActs(lcDo("regenerate"), lcSet("n", "5"))},
	{"login-keep", lcActs(lcAction{Op: "login", Value: `"bob"`, Keep: true})},
	{"cookie-maxAge", lcActs(lcCookie("maxAge", "7200000"))},
	{"tick+modify", lcActs(lcAction{Op: "tick", Value: "1500"}, lcSet("n", "2"))},
}

var lcResponds = []string{"end", "cl", "early"}

// lcOptionSets is every combination of the boolean lifecycle options and
// the cookie's lifetime and Secure flag.
func lcOptionSets() []lcOpts {
	var out []lcOpts
	for bits := range 64 {
		o := lcOpts{
			Secrets:           []string{lcSecret},
			Resave:            bits&1 != 0,
			SaveUninitialized: bits&2 != 0,
			Rolling:           bits&4 != 0,
			Unset:             map[bool]string{false: "keep", true: "destroy"}[bits&8 != 0],
			Secure:            bits&32 != 0,
		}
		if bits&16 != 0 {
			o.MaxAge = lcMs(lcHour)
		}
		out = append(out, o)
	}
	return out
}

func lcOptsName(o lcOpts) string {
	age := "browser"
	if o.MaxAge != nil {
		age = strconv.FormatInt(*o.MaxAge, 10)
	}
	return fmt.Sprintf("resave=%t,saveUninit=%t,rolling=%t,unset=%s,maxAge=%s,secure=%t",
		o.Resave, o.SaveUninitialized, o.Rolling, o.Unset, age, o.Secure)
}

type lcGen struct{ seqs []*lcSeq }

func (g *lcGen) add(s *lcSeq) *lcSeq {
	s.I = len(g.seqs)
	s.IDPrefix = fmt.Sprintf("q%05d", s.I)
	if s.Opts.Secrets == nil {
		s.Opts.Secrets = []string{lcSecret}
	}
	if s.Opts.Unset == "" {
		s.Opts.Unset = "keep"
	}
	g.seqs = append(g.seqs, s)
	return s
}

// lcTransportsFor is the transports a sequence with opts runs over: all of
// them for a Secure cookie; for another, whose fate express-session never
// decides by the transport (issecure is only asked about Secure cookies),
// one, taken in turn by k so that every transport still gets its share.
func lcTransportsFor(o lcOpts, k int) []lcTransport {
	if o.Secure {
		return lcTransports
	}
	return []lcTransport{lcTransports[k%len(lcTransports)]}
}

// matrix: cookie state × action × options × transport, one request each.
func (g *lcGen) matrix() {
	states := []string{"none", "valid", "unknown", "forged"}
	for oi, o := range lcOptionSets() {
		for ai, a := range lcMatrixActions {
			for ti, tr := range lcTransportsFor(o, oi+ai) {
				for si, state := range states {
					o := o
					o.Proxy = tr.proxy
					s := g.add(&lcSeq{Opts: o})
					s.Name = fmt.Sprintf("matrix cookie=%s action=%s %s transport=%s", state, a.name, lcOptsName(o), tr.name)
					step := lcStep{Now: lcT0, Proto: tr.proto, XFP: tr.xfp, Actions: a.acts,
						Respond: lcResponds[(ti+ai+si)%len(lcResponds)]}
					seedSid := s.IDPrefix + "-seed"
					switch state {
					case "valid":
						s.Seed = []lcSeed{{seedSid, lcSeedJSON(o, lcT0-600000, `,"n":1,"passport":{"user":"alice"}`)}}
						step.Cookie = lcCookieFor("", seedSid, lcSecret)
					case "unknown":
						step.Cookie = lcCookieFor("", s.IDPrefix+"-gone", lcSecret)
					case "forged":
						s.Seed = []lcSeed{{seedSid, lcSeedJSON(o, lcT0-600000, `,"n":1`)}}
						step.Cookie = "literal:connect.sid=" + cookiesig.EncodeURIComponent("s:"+seedSid+"."+lcForgedSig)
					}
					s.Steps = []lcStep{step}
				}
			}
		}
	}
}

// scripts: multi-request sequences with the browser's cookie jar and a
// moving clock, for every option set and transport.
func (g *lcGen) scripts() {
	minute := int64(60000)
	type script struct {
		name  string
		steps func(o lcOpts) []lcStep
	}
	jar := func(at int64, respond string, acts ...lcAction) lcStep {
		return lcStep{Now: at, Cookie: "jar", Actions: acts, Respond: respond}
	}
	scripts := []script{
		{"visits", func(o lcOpts) []lcStep {
			return []lcStep{
				jar(lcT0, "end", lcSet("n", "1")),
				jar(lcT0+minute, "cl", lcRead("n")),
				jar(lcT0+2*minute, "end", lcSet("n", "2")),
				jar(lcT0+3*minute, "cl", lcSet("n", "2")),
				jar(lcT0+4*minute, "end", lcDo("save")),
				jar(lcT0+5*minute, "end", lcAction{Op: "delete", Key: "n"}),
				jar(lcT0+6*minute, "empty"),
			}
		}},
		{"login-logout", func(o lcOpts) []lcStep {
			return []lcStep{
				jar(lcT0, "end"),
				jar(lcT0+minute, "end", lcSet("cart", `["a"]`), lcLogin(`{"id":7,"name":"ann"}`)),
				jar(lcT0+2*minute, "cl", lcRead("passport"), lcRead("cart")),
				jar(lcT0+3*minute, "end", lcDo("logout")),
				jar(lcT0+4*minute, "end", lcRead("passport")),
				jar(lcT0+5*minute, "end", lcAction{Op: "login", Value: "8", Keep: true}, lcSet("cart", `["b"]`)),
				jar(lcT0+6*minute, "end", lcAction{Op: "logout", Keep: true}),
				jar(lcT0+7*minute, "end", lcRead("cart"), lcRead("passport")),
			}
		}},
		{"regenerate-destroy", func(o lcOpts) []lcStep {
			return []lcStep{
				jar(lcT0, "end", lcSet("n", "1")),
				jar(lcT0+minute, "end", lcDo("regenerate")),
				jar(lcT0+2*minute, "cl", lcRead("n"), lcSet("m", `"x"`)),
				jar(lcT0+3*minute, "end", lcDo("destroy")),
				jar(lcT0+4*minute, "end"),
				jar(lcT0+5*minute, "end", lcSet("n", "9")),
				jar(lcT0+6*minute, "end", lcSet("n", "10"), lcDo("unset")),
				jar(lcT0+7*minute, "end", lcRead("n")),
			}
		}},
		{"expiry", func(o lcOpts) []lcStep {
			later := lcT0 + 25*lcHour
			if o.MaxAge != nil {
				later = lcT0 + *o.MaxAge + 1
			}
			return []lcStep{
				jar(lcT0, "end", lcSet("n", "1")),
				jar(lcT0+minute, "end"),
				jar(later+minute, "end", lcRead("n")),
				jar(later+2*minute, "end", lcRead("n"), lcSet("n", "2")),
			}
		}},
		{"uninitialized", func(o lcOpts) []lcStep {
			return []lcStep{
				jar(lcT0, "end"),
				jar(lcT0+minute, "cl"),
				jar(lcT0+2*minute, "end", lcSet("n", "1")),
				jar(lcT0+3*minute, "end"),
				jar(lcT0+4*minute, "end", lcDo("reload"), lcRead("n")),
			}
		}},
		{"early-response", func(o lcOpts) []lcStep {
			return []lcStep{
				jar(lcT0, "early", lcSet("n", "1")),
				jar(lcT0+minute, "early", lcSet("n", "2")),
				jar(lcT0+2*minute, "early"),
				jar(lcT0+3*minute, "early", lcDo("regenerate"), lcSet("n", "3")),
				jar(lcT0+4*minute, "early", lcCookie("maxAge", "60000"), lcSet("n", "4")),
				jar(lcT0+5*minute, "early", lcAction{Op: "tick", Value: "2500"}),
				jar(lcT0+6*minute, "cl", lcAction{Op: "tick", Value: "2500"}, lcSet("n", "5")),
				jar(lcT0+7*minute, "early", lcAction{Op: "tick", Value: "2500"}, lcSet("n", "6")),
			}
		}},
	}
	for oi, o := range lcOptionSets() {
		for si, sc := range scripts {
			// A Secure cookie's scripts run over one secure and one plain
			// transport, taken in turn; the matrix has every transport.
			trs := lcTransportsFor(o, oi+si)
			if o.Secure {
				k := (oi + si) % 2
				trs = []lcTransport{lcTransports[k], lcTransports[2+k]}
			}
			for _, tr := range trs {
				o := o
				o.Proxy = tr.proxy
				s := g.add(&lcSeq{Opts: o, Name: fmt.Sprintf("script %s %s transport=%s", sc.name, lcOptsName(o), tr.name)})
				s.Steps = sc.steps(o)
				for i := range s.Steps {
					s.Steps[i].Proto, s.Steps[i].XFP = tr.proto, tr.xfp
				}
			}
		}
	}
}

// special: store failures, another writer between load and save, and
// records express-session wrote with reserved keys.
func (g *lcGen) special() {
	for _, o := range lcOptionSets() {
		if o.Secure {
			continue
		}
		// Another writer changes the record during the request.
		for _, policy := range []sessionbridge.ConflictPolicy{sessionbridge.ConflictMerge, sessionbridge.ConflictOverwrite} {
			s := g.add(&lcSeq{Opts: o, conflict: policy})
			s.Name = fmt.Sprintf("conflict policy=%d %s", policy, lcOptsName(o))
			if policy == sessionbridge.ConflictMerge {
				s.deliberate = "conflict-merge"
			}
			s.Steps = []lcStep{
				{Now: lcT0, Cookie: "jar", Actions: lcActs(lcSet("n", "1"))},
				{Now: lcT0 + 1000, Cookie: "jar", Actions: lcActs(lcSet("n", "2"), lcExtSet("ext", `"other"`))},
				{Now: lcT0 + 2000, Cookie: "jar", Actions: lcActs(lcRead("n"), lcRead("ext"))},
			}
		}
		// A record another writer changed, reloaded before the save: no conflict.
		s := g.add(&lcSeq{Opts: o, Name: "ext-write-then-reload " + lcOptsName(o)})
		s.Steps = []lcStep{
			{Now: lcT0, Cookie: "jar", Actions: lcActs(lcSet("n", "1"))},
			{Now: lcT0 + 1000, Cookie: "jar", Actions: lcActs(lcSet("n", "2"), lcExtSet("ext", `"other"`), lcDo("reload"), lcRead("n"), lcRead("ext"), lcSet("n", "3"))},
			{Now: lcT0 + 2000, Cookie: "jar", Actions: lcActs(lcRead("n"), lcRead("ext"))},
		}
		// A record whose cookie is Secure although new cookies are not (the
		// Node app set cookie.secure), over plain HTTP and TLS.
		sec := o
		sec.Secure = true
		s = g.add(&lcSeq{Opts: o, Name: "secure-record " + lcOptsName(o)})
		s.Seed = []lcSeed{{s.IDPrefix + "-seed", lcSeedJSON(sec, lcT0-600000, `,"n":1`)}}
		s.Steps = []lcStep{
			{Now: lcT0, Cookie: lcCookieFor("", s.IDPrefix+"-seed", lcSecret), Actions: lcActs(lcSet("n", "2"))},
			{Now: lcT0 + 1000, Proto: "tls", Cookie: lcCookieFor("", s.IDPrefix+"-seed", lcSecret), Actions: lcActs(lcSet("n", "3"))},
			{Now: lcT0 + 2000, Proto: "tls", Cookie: lcCookieFor("", s.IDPrefix+"-seed", lcSecret)},
		}
		// An expired record returned by a store without TTL.
		if o.MaxAge != nil {
			s = g.add(&lcSeq{Opts: o, Name: "expired-no-ttl " + lcOptsName(o), KeepExpired: true, deliberate: "expired-revival"})
			s.Steps = []lcStep{
				{Now: lcT0, Cookie: "jar", Actions: lcActs(lcSet("n", "1"))},
				{Now: lcT0 + 2*lcHour, Cookie: "jar", Actions: lcActs(lcRead("n"))},
			}
		}
		// A record holding keys express-session drops when it loads.
		s = g.add(&lcSeq{Opts: o, Name: "reserved-keys " + lcOptsName(o), deliberate: "dropped-keys?"})
		s.Seed = []lcSeed{{s.IDPrefix + "-seed", lcSeedJSON(o, lcT0-600000, `,"num":1,"save":"nope","id":"x"`)}}
		s.Steps = []lcStep{
			{Now: lcT0, Cookie: lcCookieFor("", s.IDPrefix+"-seed", lcSecret), Actions: lcActs(lcRead("num"), lcRead("save"))},
			{Now: lcT0 + 1000, Cookie: lcCookieFor("", s.IDPrefix+"-seed", lcSecret), Actions: lcActs(lcRead("num"))},
		}
		// Store failures at each point of the lifecycle.
		for _, fail := range []struct {
			op      string
			acts    []lcAction
			respond string
		}{
			{"get", nil, "end"},
			{"set", lcActs(lcSet("n", "2")), "cl"},
			{"set", lcActs(lcSet("n", "2")), "empty"},
			{"touch", nil, "end"},
			{"destroy", lcActs(lcDo("unset")), "empty"},
		} {
			s := g.add(&lcSeq{Opts: o})
			s.Name = fmt.Sprintf("failure %s/%s %s", fail.op, fail.respond, lcOptsName(o))
			s.Steps = []lcStep{
				{Now: lcT0, Cookie: "jar", Actions: lcActs(lcSet("n", "1"))},
				{Now: lcT0 + 1000, Cookie: "jar", Actions: fail.acts, Respond: fail.respond, Fail: fail.op},
			}
			// Which failures reach the store depends on the options: the
			// sequence is allowed to differ only where the failing
			// operation happens; an unexplained difference still fails.
			s.deliberate = map[string]string{"get": "outage-status"}[fail.op]
			if s.deliberate == "" {
				s.deliberate = "write-failure?"
			}
		}
	}
}

// ---------------------------------------------------------------- express-session's test suite

// lcSetCookieOf returns the step's Set-Cookie for name, or "".
func lcSetCookieOf(r lcResult, name string) string {
	for _, h := range r.SetCookie {
		if strings.HasPrefix(h, name+"=") {
			return h
		}
	}
	return ""
}

// lcSidOf is the session id in the step's Set-Cookie for name, or "".
func lcSidOf(r lcResult, name string) string {
	h := lcSetCookieOf(r, name)
	if h == "" {
		return ""
	}
	pair, _, _ := strings.Cut(h, ";")
	_, v, _ := strings.Cut(pair, "=")
	d, _ := cookiesig.DecodeURIComponent(v)
	if !strings.HasPrefix(d, "s:") || !strings.Contains(d, ".") {
		return ""
	}
	return d[2:strings.LastIndexByte(d, '.')]
}

func lcAttr(h, attr string) (string, bool) {
	for _, part := range strings.Split(h, "; ")[1:] {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, attr) {
			return v, true
		}
	}
	return "", false
}

func lcCount(r lcResult, op string) int {
	n := 0
	for _, o := range r.Ops {
		if o.Op == op {
			n++
		}
	}
	return n
}

func lcF(what string, check func(r []lcResult) error) lcFact {
	return lcFact{what, func(_ *lcSeq, r []lcResult) error { return check(r) }}
}

func lcCookieSet(step int, name string) lcFact {
	return lcF(fmt.Sprintf("step %d sets cookie %s", step, name), func(r []lcResult) error {
		if lcSetCookieOf(r[step], name) == "" {
			return fmt.Errorf("no Set-Cookie %s: %q", name, r[step].SetCookie)
		}
		return nil
	})
}

func lcNoCookie(step int) lcFact {
	return lcF(fmt.Sprintf("step %d sets no cookie", step), func(r []lcResult) error {
		if len(r[step].SetCookie) != 0 {
			return fmt.Errorf("Set-Cookie %q", r[step].SetCookie)
		}
		return nil
	})
}

func lcOps(step int, op string, n int) lcFact {
	return lcF(fmt.Sprintf("step %d has %d %s", step, n, op), func(r []lcResult) error {
		if got := lcCount(r[step], op); got != n {
			return fmt.Errorf("%d %s ops: %+v", got, op, r[step].Ops)
		}
		return nil
	})
}

func lcBody(step int, want string) lcFact {
	return lcF(fmt.Sprintf("step %d body %q", step, want), func(r []lcResult) error {
		if r[step].Body != want {
			return fmt.Errorf("body %q", r[step].Body)
		}
		return nil
	})
}

func lcNewSid(step, prev int) lcFact {
	return lcF(fmt.Sprintf("step %d sets a sid other than step %d's", step, prev), func(r []lcResult) error {
		a, b := lcSidOf(r[step], "connect.sid"), lcSidOf(r[prev], "connect.sid")
		if a == "" || a == b {
			return fmt.Errorf("sids %q and %q", a, b)
		}
		return nil
	})
}

func lcFailed(step int) lcFact {
	return lcF(fmt.Sprintf("step %d fails the request", step), func(r []lcResult) error {
		if r[step].Status < 500 {
			return fmt.Errorf("status %d", r[step].Status)
		}
		return nil
	})
}

// lcExpiresIn: the step's Set-Cookie expires delta ms after the step's
// clock, and the record stored (set or touch) says the same.
func lcExpiresIn(step int, delta int64) lcFact {
	return lcFact{fmt.Sprintf("step %d cookie expires in %d ms", step, delta), func(seq *lcSeq, r []lcResult) error {
		v, ok := lcAttr(lcSetCookieOf(r[step], "connect.sid"), "Expires")
		if !ok {
			return fmt.Errorf("no Expires: %q", r[step].SetCookie)
		}
		exp, err := time.Parse(http.TimeFormat, v)
		if err != nil {
			return err
		}
		want := time.UnixMilli(seq.Steps[step].Now + delta).UTC()
		if exp.Unix() != want.Unix() {
			return fmt.Errorf("Expires %q, want %v", v, want)
		}
		for _, o := range r[step].Ops {
			if o.Op != "set" && o.Op != "touch" {
				continue
			}
			var rec struct{ Cookie struct{ Expires time.Time } }
			if err := json.Unmarshal([]byte(o.JSON), &rec); err != nil {
				return err
			}
			if !rec.Cookie.Expires.Equal(want) {
				return fmt.Errorf("stored expires %v, want %v", rec.Cookie.Expires, want)
			}
		}
		return nil
	}}
}

// ports are cases of express-session's own test suite,
// as sequences with the facts its assertions state, checked on Node and on
// Go. Options left undefined there are its defaults: resave and
// saveUninitialized true, and its test server's cookie maxAge of a minute.
func (g *lcGen) ports() {
	def := func() lcOpts {
		return lcOpts{Resave: true, SaveUninitialized: true, MaxAge: lcMs(60000)}
	}
	with := func(f func(*lcOpts)) lcOpts {
		o := def()
		f(&o)
		return o
	}
	step := func(at int64, cookie string, acts ...lcAction) lcStep {
		return lcStep{Now: lcT0 + at, Cookie: cookie, Actions: acts}
	}
	port := func(name string, o lcOpts, steps []lcStep, facts ...lcFact) *lcSeq {
		return g.add(&lcSeq{Name: "express-session: " + name, Opts: o, Steps: steps, facts: facts})
	}
	S := func(s ...lcStep) []lcStep { return s }

	port("creates a new session", def(),
		S(step(0, "", lcSet("active", "true"))),
		lcCookieSet(0, "connect.sid"), lcOps(0, "set", 1))
	port("loads the session of the cookie's sid", def(),
		S(step(0, "jar", lcSet("num", "1")), step(1, "jar", lcRead("num"))),
		lcBody(1, "1"), lcF("step 1 loads step 0's session", func(r []lcResult) error {
			if len(r[1].Ops) == 0 || r[1].Ops[0].Op != "get" || r[1].Ops[0].Sid != lcSidOf(r[0], "connect.sid") || !*r[1].Ops[0].Found {
				return fmt.Errorf("ops %+v", r[1].Ops)
			}
			return nil
		}))
	s := port("passes a session fetch error on", def(),
		S(step(0, "jar"), lcStep{Now: lcT0 + 1, Cookie: "jar", Fail: "get"}),
		lcCookieSet(0, "connect.sid"), lcFailed(1))
	s.deliberate = "outage-status"
	port("creates a new session, with a new sid, when the sid is not in the store", def(),
		S(step(0, "jar", lcSet("num", "1")), lcStep{Now: lcT0 + 1, Cookie: "jar", Clear: true, Actions: lcActs(lcRead("num"), lcSet("num", "2"))}),
		lcBody(1, "undefined,ok"), lcCookieSet(1, "connect.sid"), lcNewSid(1, 0))
	port("generates a new session for an unsigned sid", with(func(o *lcOpts) { o.Name = "sessid" }),
		S(step(0, "jar", lcRead("active"), lcSet("active", "true")), step(1, "jar-unsigned", lcRead("active"), lcSet("active", "true"))),
		lcBody(1, "undefined,ok"), lcCookieSet(1, "sessid"), lcOps(1, "get", 0))
	port("does not fetch a sid whose signature is wrong", with(func(o *lcOpts) { o.Name = "sessid" }),
		S(step(0, "jar", lcSet("active", "true")), step(1, "jar-tamper", lcRead("active"), lcSet("active", "true"))),
		lcBody(1, "undefined,ok"), lcCookieSet(1, "sessid"), lcOps(1, "get", 0))
	port("creates a new session, with a new sid, when the stored one expired", with(func(o *lcOpts) { o.MaxAge = lcMs(5) }),
		S(step(0, "jar", lcSet("num", "1")), step(20, "jar", lcRead("num"), lcSet("num", "2"))),
		lcBody(1, "undefined,ok"), lcNewSid(1, 0), lcF("the expired session is not found", func(r []lcResult) error {
			if len(r[1].Ops) == 0 || r[1].Ops[0].Op != "get" || *r[1].Ops[0].Found {
				return fmt.Errorf("ops %+v", r[1].Ops)
			}
			return nil
		}))
	s = port("fails on a stored session without a cookie", def(),
		S(step(0, lcCookieFor("", "nocookie", lcSecret), lcSet("num", "1"))),
		lcFailed(0))
	s.Seed = []lcSeed{{"nocookie", `{"foo":"bar"}`}}
	s.deliberate = "outage-status"

	proxyOn := with(func(o *lcOpts) { o.Proxy, o.Secure, o.MaxAge = true, true, lcMs(5) })
	port("proxy: trusts X-Forwarded-Proto", proxyOn,
		S(lcStep{Now: lcT0, XFP: "https"}, lcStep{Now: lcT0, XFP: "https,http"}, lcStep{Now: lcT0}),
		lcCookieSet(0, "connect.sid"), lcCookieSet(1, "connect.sid"), lcNoCookie(2))
	port("proxy disabled: X-Forwarded-Proto is not trusted", with(func(o *lcOpts) { o.Secure = true }),
		S(lcStep{Now: lcT0, XFP: "https"}),
		lcNoCookie(0))
	port("cookie path: requests outside it get no session", with(func(o *lcOpts) { o.Path = "/foo/bar" }),
		S(lcStep{Now: lcT0, Path: "/"}, lcStep{Now: lcT0, Path: "/foo/bar/baz"}, lcStep{Now: lcT0, Path: "/foo/barbaz"}, lcStep{Now: lcT0, Path: "/foo"}),
		lcNoCookie(0), lcBody(0, "nosession"), lcOps(0, "set", 0), lcCookieSet(1, "connect.sid"), lcNoCookie(3))
	port("rolling defaults to false", def(),
		S(step(0, "jar", lcSet("user", `"bob"`)), step(1, "jar", lcSet("user", `"bob"`))),
		lcCookieSet(0, "connect.sid"), lcNoCookie(1))
	port("rolling forces the cookie on an unmodified session", with(func(o *lcOpts) { o.Rolling = true }),
		S(step(0, "jar", lcSet("user", `"bob"`)), step(1, "jar", lcSet("user", `"bob"`))),
		lcCookieSet(0, "connect.sid"), lcCookieSet(1, "connect.sid"))
	port("rolling does not force the cookie of an uninitialized session", with(func(o *lcOpts) { o.Rolling, o.SaveUninitialized = true, false }),
		S(step(0, "")), lcNoCookie(0), lcOps(0, "set", 0))
	port("rolling with saveUninitialized saves and sends an uninitialized session", with(func(o *lcOpts) { o.Rolling = true }),
		S(step(0, "")), lcCookieSet(0, "connect.sid"), lcOps(0, "set", 1))
	port("rolling sends a modified session without saveUninitialized", with(func(o *lcOpts) { o.Rolling, o.SaveUninitialized = true, false }),
		S(step(0, "", lcSet("user", `"bob"`))), lcCookieSet(0, "connect.sid"), lcOps(0, "set", 1))
	port("resave defaults to true", def(),
		S(step(0, "jar", lcSet("user", `"bob"`)), step(1, "jar", lcSet("user", `"bob"`))),
		lcOps(0, "set", 1), lcOps(1, "set", 1))
	port("resave false does not save an unmodified session", with(func(o *lcOpts) { o.Resave = false }),
		S(step(0, "jar", lcSet("user", `"bob"`)), step(1, "jar", lcSet("user", `"bob"`))),
		lcOps(0, "set", 1), lcOps(1, "set", 0), lcOps(1, "touch", 1))
	port("resave false still saves a modified session", with(func(o *lcOpts) { o.Resave = false }),
		S(step(0, "jar", lcSet("token", `"w6RHhwaA"`)), step(1, "jar", lcRead("token")), step(2, "jar", lcSet("token", `"zfQ3rzM3"`))),
		lcOps(0, "set", 1), lcBody(1, `"w6RHhwaA"`), lcOps(1, "set", 0), lcOps(2, "set", 1))
	port("a nested \"cookie\" property counts as a change", with(func(o *lcOpts) { o.Resave = false }),
		S(step(0, "jar", lcSet("user", `{"name":"bob","cookie":1}`)), step(1, "jar", lcSet("user", `{"name":"bob","cookie":2}`))),
		lcOps(0, "set", 1), lcOps(1, "set", 1))
	port("saveUninitialized saves an uninitialized session", def(),
		S(step(0, "")), lcOps(0, "set", 1), lcCookieSet(0, "connect.sid"))
	port("saveUninitialized false does not save an uninitialized session", with(func(o *lcOpts) { o.SaveUninitialized = false }),
		S(step(0, "")), lcOps(0, "set", 0), lcNoCookie(0))
	port("saveUninitialized false still saves a modified session", with(func(o *lcOpts) { o.SaveUninitialized = false }),
		S(step(0, "", lcSet("count", "1"))), lcOps(0, "set", 1), lcCookieSet(0, "connect.sid"))
	port("an uninitialized session is not touched", with(func(o *lcOpts) { o.SaveUninitialized = false }),
		S(step(0, "")), lcOps(0, "touch", 0))
	port("unset keeps the stored session by default", def(),
		S(step(0, "jar", lcSet("count", "1")), step(1, "jar", lcSet("count", "2"), lcDo("unset")), step(2, "jar", lcRead("count"))),
		lcOps(1, "destroy", 0), lcBody(2, "1"))
	port("unset destroy destroys the session on req.session = null", with(func(o *lcOpts) { o.Unset = "destroy" }),
		S(step(0, "jar", lcSet("count", "1")), step(1, "jar", lcSet("count", "2"), lcDo("unset")), step(2, "jar", lcRead("count"))),
		lcOps(1, "destroy", 1), lcBody(2, "undefined"))
	port("unset destroy sends no cookie for a session unset at once", with(func(o *lcOpts) { o.Unset = "destroy" }),
		S(step(0, "", lcDo("unset"))), lcNoCookie(0), lcOps(0, "destroy", 1), lcOps(0, "set", 0))
	port("the session persists across requests", def(),
		S(step(0, "jar", lcSet("count", "1")), step(1, "jar", lcRead("count"), lcSet("count", "2")), step(2, "jar", lcRead("count"))),
		lcBody(1, "1,ok"), lcBody(2, "2"))
	port("the cookie is set only when the session changed", def(),
		S(step(0, "jar", lcSet("count", "1")), step(1, "jar", lcSet("count", "2")), step(2, "jar", lcRead("count")), step(3, "jar", lcSet("count", "3"))),
		lcCookieSet(1, "connect.sid"), lcNoCookie(2), lcCookieSet(3, "connect.sid"))
	port("destroy() leaves no cookie", def(),
		S(step(0, "", lcDo("destroy"))), lcNoCookie(0))
	port("regenerate() replaces the session", def(),
		S(step(0, "jar"), step(1, "jar", lcDo("readId"), lcDo("regenerate"), lcDo("readId"))),
		lcCookieSet(1, "connect.sid"), lcNewSid(1, 0), lcF("the id changed", func(r []lcResult) error {
			p := strings.Split(r[1].Body, ",")
			if len(p) != 3 || p[0] == p[2] {
				return fmt.Errorf("body %q", r[1].Body)
			}
			return nil
		}))
	port("reload() reads what another request stored", def(),
		S(step(0, "jar", lcSet("active", "true")), step(1, "jar", lcSet("url", `"/foo"`), lcExtSet("url", `"/bar"`), lcDo("reload"), lcRead("url"))),
		lcBody(1, `ok,ok,ok,"/bar"`))
	s = port("reload() fails when the session is gone", def(),
		S(step(0, "jar", lcSet("active", "true")), step(1, "jar", lcDo("extClear"), lcDo("reload"))),
		lcBody(1, "ok,err"))
	s.deliberate = "no-resurrect"
	port("save() stores the session and prevents the end-of-request save", def(),
		S(step(0, "jar", lcSet("hit", "true"), lcDo("save")), step(1, "jar", lcSet("hit", "true"), lcDo("save"))),
		lcOps(0, "set", 1), lcOps(1, "set", 1))
	port("save() after reload() prevents the end-of-request save", def(),
		S(step(0, "jar", lcSet("hit", "true"), lcDo("reload"), lcDo("save")), step(1, "jar", lcSet("hit", "true"), lcDo("reload"), lcDo("save"))),
		lcOps(0, "set", 1), lcOps(1, "set", 1))
	port("save() with saveUninitialized false prevents the end-of-request save", with(func(o *lcOpts) { o.SaveUninitialized = false }),
		S(step(0, "jar", lcSet("hit", "true"), lcDo("save")), step(1, "jar", lcSet("hit", "true"), lcDo("save"))),
		lcOps(0, "set", 1), lcOps(1, "set", 1))
	port("touch() resets the expiration", with(func(o *lcOpts) { o.Resave = false }),
		S(step(0, "jar", lcSet("hit", "true"), lcDo("touch")), step(100, "jar", lcSet("hit", "true"), lcDo("touch"))),
		lcF("the touched expiry moved", func(r []lcResult) error {
			if len(r[0].Ops) != 1 || len(r[1].Ops) != 2 || r[1].Ops[1].Op != "touch" || r[0].Ops[0].JSON == r[1].Ops[1].JSON {
				return fmt.Errorf("ops %+v then %+v", r[0].Ops, r[1].Ops)
			}
			return nil
		}))
	port("cookie fields set in the handler are serialized", with(func(o *lcOpts) { o.Proxy = true }),
		S(lcStep{Now: lcT0, XFP: "https", Actions: lcActs(lcCookie("httpOnly", "false"), lcCookie("secure", "true"))}),
		lcF("Secure, no HttpOnly", func(r []lcResult) error {
			h := lcSetCookieOf(r[0], "connect.sid")
			_, http := lcAttr(h, "HttpOnly")
			_, sec := lcAttr(h, "Secure")
			if h == "" || http || !sec {
				return fmt.Errorf("Set-Cookie %q", h)
			}
			return nil
		}))
	port("a browser-session cookie is sent once", with(func(o *lcOpts) { o.MaxAge, o.Path = nil, "/admin" }),
		S(lcStep{Now: lcT0, Path: "/admin/foo", Cookie: "jar"}, lcStep{Now: lcT0 + 1, Path: "/admin", Cookie: "jar"}),
		lcCookieSet(0, "connect.sid"), lcNoCookie(1), lcF("no Expires", func(r []lcResult) error {
			if _, ok := lcAttr(lcSetCookieOf(r[0], "connect.sid"), "Expires"); ok {
				return fmt.Errorf("Set-Cookie %q", r[0].SetCookie)
			}
			return nil
		}))
	port("cookie options override the defaults", with(func(o *lcOpts) {
		o.NoHTTPOnly, o.MaxAge, o.Path, o.Priority, o.Secure = true, lcMs(5000), "/admin", "high", true
	}),
		S(lcStep{Now: lcT0, Path: "/admin", Actions: lcActs(lcCookie("secure", "false"))}),
		lcF("Expires, Path=/admin, Priority=High, no HttpOnly, no Secure", func(r []lcResult) error {
			h := lcSetCookieOf(r[0], "connect.sid")
			_, exp := lcAttr(h, "Expires")
			_, ho := lcAttr(h, "HttpOnly")
			_, sec := lcAttr(h, "Secure")
			p, _ := lcAttr(h, "Path")
			pr, _ := lcAttr(h, "Priority")
			if !exp || ho || sec || p != "/admin" || pr != "High" {
				return fmt.Errorf("Set-Cookie %q", h)
			}
			return nil
		}))
	port("a secure cookie is sent over TLS only", with(func(o *lcOpts) { o.Secure = true }),
		S(lcStep{Now: lcT0, Proto: "tls"}, lcStep{Now: lcT0}),
		lcCookieSet(0, "connect.sid"), lcNoCookie(1))
	port("cookie.maxAge set in the handler moves the expiry", with(func(o *lcOpts) { o.MaxAge = lcMs(2000) }),
		S(step(0, "jar", lcSet("count", "1")), step(1000, "jar", lcSet("count", "2"), lcCookie("maxAge", "5000")),
			step(2000, "jar", lcSet("count", "3"), lcCookie("maxAge", "3000000000"))),
		lcExpiresIn(0, 2000), lcExpiresIn(1, 5000), lcExpiresIn(2, 3000000000))
	port("cookie.expires set to a date is absolute", def(),
		S(step(0, "", lcCookie("expires", "0"))),
		lcF("Expires is the epoch", func(r []lcResult) error {
			if v, _ := lcAttr(lcSetCookieOf(r[0], "connect.sid"), "Expires"); v != "Thu, 01 Jan 1970 00:00:00 GMT" {
				return fmt.Errorf("Set-Cookie %q", r[0].SetCookie)
			}
			return nil
		}))
	port("cookie.expires null makes a browser-session cookie, not reset later", def(),
		S(step(0, "jar", lcCookie("expires", "null")), step(1, "jar", lcCookie("expires", "null"))),
		lcCookieSet(0, "connect.sid"), lcNoCookie(1))
	port("cookie.expires null: not reset even when modified", def(),
		S(step(0, "jar", lcCookie("expires", "null"), lcSet("hit", "1")), step(1, "jar", lcCookie("expires", "null"), lcSet("hit", "2"))),
		lcCookieSet(0, "connect.sid"), lcNoCookie(1))
	port("partitioned cookie option", with(func(o *lcOpts) { o.Partitioned = true }),
		S(step(0, "")), lcF("Partitioned", func(r []lcResult) error {
			if _, ok := lcAttr(lcSetCookieOf(r[0], "connect.sid"), "Partitioned"); !ok {
				return fmt.Errorf("Set-Cookie %q", r[0].SetCookie)
			}
			return nil
		}))
	s = port("genid's unsafe characters are encoded", def(),
		S(step(0, "")), lcF("value s%3A%25.", func(r []lcResult) error {
			if !strings.HasPrefix(lcSetCookieOf(r[0], "connect.sid"), "connect.sid=s%3A%25.") {
				return fmt.Errorf("Set-Cookie %q", r[0].SetCookie)
			}
			return nil
		}))
	s.IDs = []string{"%"}
	port("name option", with(func(o *lcOpts) { o.Name = "sessid" }),
		S(step(0, "")), lcCookieSet(0, "sessid"))
	s = port("secret array: signs with the first, reads with all", with(func(o *lcOpts) { o.Secrets = []string{"keyboard cat", "nyan cat"} }),
		S(step(0, ""), step(1, lcCookieFor("", "oldsid", "nyan cat"), lcRead("n"))),
		lcF("step 0 signed with the first secret", func(r []lcResult) error {
			sid := lcSidOf(r[0], "connect.sid")
			if lcSetCookieOf(r[0], "connect.sid") != "" && !strings.Contains(lcSetCookieOf(r[0], "connect.sid"), cookiesig.EncodeURIComponent("s:"+cookiesig.Sign(sid, "keyboard cat"))) {
				return fmt.Errorf("Set-Cookie %q", r[0].SetCookie)
			}
			return nil
		}), lcBody(1, "1"))
	s.Seed = []lcSeed{{"oldsid", lcSeedJSON(s.Opts, lcT0-1000, `,"n":1`)}}
	s = port("reserved properties in the stored record", def(),
		S(step(0, lcCookieFor("", "reserved", lcSecret), lcRead("num"))),
		lcBody(0, "1"))
	s.Seed = []lcSeed{{"reserved", lcSeedJSON(s.Opts, lcT0-1000, `,"num":1,"save":"nope","id":"x"`)}}
	s.deliberate = "dropped-keys"
	port("the session is saved with an empty Content-Length: 0 response", def(),
		S(lcStep{Now: lcT0, Respond: "empty", Actions: lcActs(lcSet("hit", "true"))}),
		lcOps(0, "set", 1), lcCookieSet(0, "connect.sid"))
	port("the session is saved with a Content-Length response", def(),
		S(lcStep{Now: lcT0, Respond: "cl", Actions: lcActs(lcSet("hit", "true"))}),
		lcOps(0, "set", 1), lcBody(0, "ok"))
	port("rolling: a slow write still updates the expiry", with(func(o *lcOpts) { o.Rolling = true }),
		S(lcStep{Now: lcT0, Cookie: "jar", Respond: "early", Actions: lcActs(lcSet("user", `"bob"`))},
			lcStep{Now: lcT0 + 1200, Cookie: "jar", Respond: "early"}),
		lcCookieSet(0, "connect.sid"), lcCookieSet(1, "connect.sid"), lcF("Expires moved", func(r []lcResult) error {
			a, _ := lcAttr(lcSetCookieOf(r[0], "connect.sid"), "Expires")
			b, _ := lcAttr(lcSetCookieOf(r[1], "connect.sid"), "Expires")
			if a == b {
				return fmt.Errorf("Expires %q twice", a)
			}
			return nil
		}))
	port("the saved record's expiry is the cookie's, and moves", def(),
		S(step(0, "jar", lcSet("user", `"bob"`)), step(1200, "jar", lcSet("user", `"bob"`))),
		lcExpiresIn(0, 60000), lcNoCookie(1), lcOps(1, "set", 1), lcF("the stored expiry moved with the clock", func(r []lcResult) error {
			if len(r[1].Ops) != 2 || !strings.Contains(r[1].Ops[1].JSON, `"expires":"2026-11-18T12:01:01.200Z"`) {
				return fmt.Errorf("ops %+v", r[1].Ops)
			}
			return nil
		}))
}

// ---------------------------------------------------------------- the test

func lcSequences() []*lcSeq {
	g := &lcGen{}
	g.ports()
	g.matrix()
	g.scripts()
	g.special()
	return g.seqs
}

// lcKind is a sequence's name without its options: what it did.
func lcKind(name string) string {
	if i := strings.Index(name, " resave="); i >= 0 {
		return name[:i]
	}
	return name
}

func lcJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestLifecycleOracle runs every sequence through Node's express-session
// and Go's LoadAndSave and requires the same Set-Cookie headers, status,
// body and store operations at every step, except the deliberate
// differences of lcAllowlist.
func TestLifecycleOracle(t *testing.T) {
	node := lcStartNode(t)
	seqs := lcSequences()

	// Go runs in parallel with Node.
	goRes := make([][]lcResult, len(seqs))
	goErr := make([]error, len(seqs))
	var wg sync.WaitGroup
	next := atomic.Int64{}
	start := time.Now()
	var goTime time.Duration
	var goDone sync.Once
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(seqs) {
					goDone.Do(func() { goTime = time.Since(start) })
					return
				}
				goRes[i], goErr[i] = lcRun(seqs[i])
			}
		})
	}
	nodeRes, nodeCPU := node.run(t, seqs)
	nodeTime := time.Since(start)
	wg.Wait()

	allow := map[string]lcAllow{}
	for _, a := range lcAllowlist {
		allow[a.name] = a
	}
	var steps, agreedSeqs, agreedSteps, facts, problems, differing int
	deliberate := map[string]int{}
	kinds := map[string]int{} // sequences with an unexplained difference, by kind
	report := func(format string, args ...any) {
		problems++
		if problems <= 25 {
			t.Errorf(format, args...)
		}
	}
	for i, seq := range seqs {
		if goErr[i] != nil {
			report("%s: Go: %v", seq.Name, goErr[i])
			continue
		}
		n, g := nodeRes[i], goRes[i]
		if len(n) != len(seq.Steps) || len(g) != len(seq.Steps) {
			report("%s: %d Node and %d Go results for %d steps", seq.Name, len(n), len(g), len(seq.Steps))
			continue
		}
		for _, f := range seq.facts {
			facts++
			if err := f.check(seq, n); err != nil {
				report("%s: Node breaks the fact %q: %v\nsequence: %s\nNode: %s", seq.Name, f.what, err, lcJSON(seq), lcJSON(n))
			}
			if err := f.check(seq, g); err != nil {
				report("%s: Go breaks the fact %q: %v\nsequence: %s\nGo:   %s\nNode: %s", seq.Name, f.what, err, lcJSON(seq), lcJSON(g), lcJSON(n))
			}
		}
		// A "name?" tag allows the difference but does not require it (the
		// options decide whether the failing operation runs at all).
		tag, optional := strings.CutSuffix(seq.deliberate, "?")
		a, tagged := allow[tag]
		if seq.deliberate != "" && !tagged {
			t.Fatalf("%s: unknown allowlist entry %q", seq.Name, seq.deliberate)
		}
		explained, unexplained := 0, false
		for j := range seq.Steps {
			steps++
			if reflect.DeepEqual(n[j], g[j]) {
				agreedSteps++
				continue
			}
			if tagged && a.explains(n[j], g[j]) {
				explained++
				continue
			}
			unexplained = true
			differing++
			// The first difference of each kind is shown in full.
			if kinds[lcKind(seq.Name)]++; kinds[lcKind(seq.Name)] == 1 {
				t.Errorf("%s: step %d differs\nsequence: %s\nNode: %s\nGo:   %s", seq.Name, j, lcJSON(seq), lcJSON(n[j]), lcJSON(g[j]))
			}
			break
		}
		switch {
		case unexplained:
		case explained > 0:
			deliberate[tag]++
		case tagged && !optional:
			report("%s: agrees with Node, but is allowlisted as %q: remove the entry", seq.Name, seq.deliberate)
		default:
			agreedSeqs++
		}
	}
	if problems > 25 {
		t.Errorf("... and %d more problems", problems-25)
	}
	if len(kinds) > 0 {
		var ks []string
		for k, c := range kinds {
			ks = append(ks, fmt.Sprintf("%6d  %s", c, k))
		}
		slices.Sort(ks)
		t.Errorf("%d sequences differ from express-session without an allowlist entry (the first of each kind is shown above), by kind:\n%s",
			differing, strings.Join(ks, "\n"))
	}
	var dl []string
	total := 0
	for _, a := range lcAllowlist {
		total += deliberate[a.name]
		dl = append(dl, fmt.Sprintf("%s: %d sequences (%s)", a.name, deliberate[a.name], a.reason))
	}
	t.Logf("lifecycle oracle: %d sequences, %d steps compared with express-session (Node %v, %v CPU; Go %v); %d sequences (%d steps) agreed exactly; %d differ deliberately; %d differ without explanation; %d express-session test-suite facts checked on both sides; deliberate differences: %s",
		len(seqs), steps, nodeTime.Round(time.Millisecond), nodeCPU.Round(time.Millisecond), goTime.Round(time.Millisecond),
		agreedSeqs, agreedSteps, total, differing, facts*2, strings.Join(dl, "; "))
}

// ---------------------------------------------------------------- Go only

// lcBlockingStore is a MemoryStore whose Set (and SetIf) waits for release
// and can fail.
type lcBlockingStore struct {
	*sessionbridge.MemoryStore
	entered chan struct{}
	release chan struct{}
	fail    error
}

func (s *lcBlockingStore) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if s.entered != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	if s.fail != nil {
		return s.fail
	}
	return s.MemoryStore.Set(ctx, sid, sess)
}

// lcConn records what the server writes on a connection.
type lcConn struct {
	net.Conn
	mu      *sync.Mutex
	written *bytes.Buffer
}

func (c lcConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

type lcListener struct {
	net.Listener
	mu      sync.Mutex
	written bytes.Buffer
}

func (l *lcListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return lcConn{Conn: c, mu: &l.mu, written: &l.written}, nil
}

func (l *lcListener) sent() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.written.Bytes())
}

func lcServer(t *testing.T, h http.Handler) (*httptest.Server, *lcListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	l := &lcListener{Listener: srv.Listener}
	srv.Listener = l
	srv.Config.ErrorLog = nil
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, l
}

func lcBridge(t *testing.T, st sessionbridge.Store) *sessionbridge.Bridge {
	t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{lcSecret},
		Store:   st,
		Cookie:  sessionbridge.CookieOptions{MaxAge: time.Hour},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLifecycleHoldsLastByte: the last byte of a Content-Length body
// reaches the client only after the store has the session.
func TestLifecycleHoldsLastByte(t *testing.T) {
	st := &lcBlockingStore{MemoryStore: sessionbridge.NewMemoryStore(), entered: make(chan struct{}), release: make(chan struct{})}
	b := lcBridge(t, st)
	body := "hello, world"
	var sid string
	srv, l := lcServer(t, b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		sid = s.ID
		if err := s.Record.Set("user", "bob"); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body[:7])
		_, _ = io.WriteString(w, body[7:])
		_, _ = w.Write(nil) // an empty write must not release the last byte
		// Everything the handler gave is pushed to the client now.
		http.NewResponseController(w).Flush()
	})))

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		// The client reads everything but the last byte while the store
		// write is still blocked.
		head := make([]byte, len(body)-1)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			got <- result{err: err}
			return
		}
		rest, err := io.ReadAll(resp.Body)
		got <- result{body: string(head) + string(rest), err: err}
	}()
	<-st.entered
	// The store write has started; what the server sent so far ends with
	// the body minus its last byte.
	sent := l.sent()
	if !bytes.HasSuffix(sent, []byte(body[:len(body)-1])) || bytes.HasSuffix(sent, []byte(body)) {
		t.Errorf("while the store write was pending the server sent %q", sent)
	}
	close(st.release)
	r := <-got
	if r.err != nil || r.body != body {
		t.Fatalf("client got %q, %v", r.body, r.err)
	}
	if _, err := st.Get(context.Background(), sid); err != nil {
		t.Errorf("session not in the store when the client had the whole response: %v", err)
	}
}

// TestLifecycleSaveFailure: a store write that fails at the end of the
// request gives the ErrorHandler's answer when the response has not
// started, and an aborted response when it has.
func TestLifecycleSaveFailure(t *testing.T) {
	st := &lcBlockingStore{MemoryStore: sessionbridge.NewMemoryStore(), fail: errors.New("store down")}
	b := lcBridge(t, st)
	srv, _ := lcServer(t, b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("user", "bob")
		switch r.URL.Query().Get("mode") {
		case "cl":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		case "chunked":
			_, _ = io.WriteString(w, "hello")
			http.NewResponseController(w).Flush()
		}
	})))
	for _, m := range []string{"unstarted", "cl", "chunked"} {
		resp, err := srv.Client().Get(srv.URL + "/?mode=" + m)
		if err != nil {
			if m == "unstarted" {
				t.Fatalf("%s: %v", m, err)
			}
			continue // aborted before the header: the client sees an error
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch m {
		case "unstarted":
			if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s: status %d, Set-Cookie %q, want 503 without a cookie", m, resp.StatusCode, resp.Header.Values("Set-Cookie"))
			}
		default:
			if err == nil {
				t.Errorf("%s: the client read a complete response %q (status %d) although the session was not stored", m, data, resp.StatusCode)
			}
		}
	}
}

// TestLifecyclePathPassThrough: requests outside Cookie.Path get no
// session, no cookie and no store operation.
func TestLifecyclePathPassThrough(t *testing.T) {
	st := newLcStore(time.Now)
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{lcSecret}, Store: st, SaveUninitialized: true,
		Cookie: sessionbridge.CookieOptions{Path: "/app"}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := sessionbridge.FromContext(r.Context())
		fmt.Fprint(w, ok)
	}))
	for _, c := range []struct {
		target string
		inside bool
	}{
		{"/", false}, {"/other/app", false}, {"/ap", false}, {"/App", false},
		{"/app", true}, {"/app/x?y=1", true}, {"/application", true}, // express-session compares prefixes
		{"http://example.com/app/x", true}, {"http://example.com/x/app", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RequestURI = c.target
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		ops := st.take("")
		cookies := w.Result().Header.Values("Set-Cookie")
		if got := w.Body.String() == "true"; got != c.inside || (len(cookies) == 1) != c.inside || (len(ops) == 1) != c.inside {
			t.Errorf("%s: session %v, Set-Cookie %q, store ops %+v; want a session: %v", c.target, got, cookies, ops, c.inside)
		}
	}
}

// TestLifecycleNested: LoadAndSave inside LoadAndSave (of the same Bridge
// or another) does nothing more: one load, one save, one cookie.
func TestLifecycleNested(t *testing.T) {
	st := newLcStore(time.Now)
	cfg := sessionbridge.Config{Secrets: []string{lcSecret}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}, Logger: slog.New(slog.DiscardHandler)}
	b1, err := sessionbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := sessionbridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen []*sessionbridge.Session
	calls := 0
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		seen = append(seen, s)
		calls++
		_ = s.Record.Set("n", calls) // a change on every request
		_, _ = io.WriteString(w, "ok")
	})
	for name, h := range map[string]http.Handler{
		"same bridge":    b1.LoadAndSave(b1.LoadAndSave(inner)),
		"another bridge": b1.LoadAndSave(b2.LoadAndSave(b1.LoadAndSave(inner))),
	} {
		seen = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		ops := st.take("")
		if len(w.Result().Header.Values("Set-Cookie")) != 1 || len(ops) != 1 || ops[0].Op != "set" || len(seen) != 1 {
			t.Errorf("%s: Set-Cookie %q, store ops %+v, handler runs %d; want one cookie, one set", name, w.Result().Header.Values("Set-Cookie"), ops, len(seen))
		}
		// And with the cookie: one get, one set.
		seen = nil
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", strings.SplitN(w.Result().Header.Get("Set-Cookie"), ";", 2)[0])
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		ops = st.take("")
		if len(ops) != 2 || ops[0].Op != "get" || ops[1].Op != "set" || len(seen) != 1 {
			t.Errorf("%s, second request: store ops %+v, handler runs %d", name, ops, len(seen))
		}
	}
}
