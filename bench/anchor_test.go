package main

// Tests of the load, unsign and instr sections' invariants (never their
// speed): the raw anchors replay exactly what the stores send, the unsign
// limit verifies what Unsign verifies and refuses forgeries, the Go and
// Node sides of the instruction counts do the same work, and the counting
// machinery (callgrind output, allocation counts) reads what it should.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// The PostgreSQL anchor is the store's own query, expire condition and
// size bound included: without them the anchor would do less than the store.
func TestPostgresAnchorIsTheStoresQuery(t *testing.T) {
	f, err := newFixture(3)
	if err != nil {
		t.Fatal(err)
	}
	sql, roles, err := pgGetQuery(context.Background(), pgstore.Options{TableName: "sessbench"}, f.ids[0], f.records[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`FROM "sessbench" WHERE sid = $1`, "expire >= to_timestamp($2)", "octet_length(sess::text) <= "} {
		if !strings.Contains(sql, want) {
			t.Errorf("anchor SQL %q lacks %q", sql, want)
		}
	}
	if len(roles) != 2 {
		t.Fatalf("anchor arguments %v, want sid and now", roles)
	}
	if _, ok := roles[0].(pgArgSid); !ok {
		t.Errorf("argument $1 is %v, want the sid", roles[0])
	}
	if _, ok := roles[1].(pgArgNow); !ok {
		t.Errorf("argument $2 is %v, want the current epoch second", roles[1])
	}
	// With a TimeZone the store adds a parameter: the anchor keeps it.
	sql, roles, err = pgGetQuery(context.Background(), pgstore.Options{TableName: "sessbench", TimeZone: "Europe/Paris"}, f.ids[0], f.records[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 3 || roles[2] != "Europe/Paris" || !strings.Contains(sql, "AT TIME ZONE $3") {
		t.Errorf("with a TimeZone: %q %v", sql, roles)
	}
}

// The Redis anchor is the store's own command, with the key in place.
func TestRedisAnchorIsTheStoresCommand(t *testing.T) {
	f, err := newFixture(2)
	if err != nil {
		t.Fatal(err)
	}
	opts := redisstore.Options{Prefix: redisPrefix}
	key := redisPrefix + f.ids[0]
	args, at, err := redisGetCommand(context.Background(), opts, key, f.ids[0], f.records[0])
	if err != nil {
		t.Fatal(err)
	}
	if args[at] != key || len(args) < 2 {
		t.Fatalf("recorded %v, key at %d", args, at)
	}
	if cmd := strings.ToLower(fmt.Sprint(args[0])); cmd != "getrange" && cmd != "get" {
		t.Errorf("the store reads with %q", cmd)
	}
}

// The MongoDB anchor replays the recorded find: its filter field and
// projection, and refuses a find it cannot replay.
func TestMongoAnchor(t *testing.T) {
	proj := bson.D{{Key: "expires", Value: 1}, {Key: "session", Value: 1}}
	cmd, _ := bson.Marshal(bson.D{{Key: "find", Value: "sessions"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "abc"}}}, {Key: "projection", Value: proj}})
	field, opts, desc, err := mongoAnchor([]bson.Raw{cmd}, "abc")
	if err != nil || field != "_id" || len(opts) != 1 || !strings.Contains(desc, "projection") {
		t.Errorf("anchor %q %d %q %v", field, len(opts), desc, err)
	}
	plain, _ := bson.Marshal(bson.D{{Key: "find", Value: "sessions"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "abc"}}}})
	if _, opts, _, err := mongoAnchor([]bson.Raw{plain}, "abc"); err != nil || len(opts) != 0 {
		t.Errorf("plain find: %d options, %v", len(opts), err)
	}
	other, _ := bson.Marshal(bson.D{{Key: "find", Value: "sessions"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "abc"}, {Key: "expires", Value: bson.D{{Key: "$gt", Value: 1}}}}}})
	if _, _, _, err := mongoAnchor([]bson.Raw{other}, "abc"); err == nil {
		t.Error("a find with another filter was accepted as the anchor")
	}
	if _, _, _, err := mongoAnchor([]bson.Raw{plain, plain}, "abc"); err == nil {
		t.Error("two finds were accepted as the anchor")
	}
}

// Against the live stores (when running): both sides of the load section
// return the checked record and user, a forged cookie loads nothing, and
// the PostgreSQL anchor does not return an expired row.
func TestLoadSidesAgainstStores(t *testing.T) {
	cfg := &config{
		redisAddr: envOr("REDIS_ADDR", "127.0.0.1:6379"),
		pgURL:     envOr("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
	}
	f, err := newFixture(5)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, addr string
		setup      func(context.Context, *config, *fixture) (*storeBench, error)
	}{
		{"redis", cfg.redisAddr, setupRedis},
		{"postgres", "127.0.0.1:5432", setupPostgres},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !reachable(tc.addr) {
				nodetest.Unavailable(t, tc.name+" at "+tc.addr, "bash scripts/services.sh "+tc.name)
			}
			sb, err := tc.setup(ctx, cfg, f)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.close()
			bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: sb.store})
			if err != nil {
				t.Fatal(err)
			}
			reqs := make([]*http.Request, len(f.headers))
			for i, h := range f.headers {
				reqs[i], _ = http.NewRequest("GET", "http://bench/me", nil)
				reqs[i].Header.Set("Cookie", h)
			}
			for i := range f.ids {
				if err := checkLoad(bridge, reqs, f, i); err != nil {
					t.Errorf("load %d: %v", i, err)
				}
				got, err := sb.raw(ctx, i)
				if err != nil || !strings.Contains(string(got), string(f.records[i])) {
					t.Errorf("raw %d: %.80q, %v", i, got, err)
				}
			}
			forged, _ := http.NewRequest("GET", "http://bench/me", nil)
			forged.Header.Set("Cookie", f.headers[0][:len(f.headers[0])-3]+"AAA")
			if _, err := bridge.Load(forged); !errors.Is(err, sessionbridge.ErrNoSession) {
				t.Errorf("forged cookie: %v, want ErrNoSession", err)
			}
			if tc.name == "postgres" {
				pool, err := pgx.Connect(ctx, cfg.pgURL)
				if err != nil {
					t.Fatal(err)
				}
				defer pool.Close(ctx)
				if _, err := pool.Exec(ctx, `UPDATE "sessbench" SET expire = now() - interval '1 hour' WHERE sid = $1`, f.ids[1]); err != nil {
					t.Fatal(err)
				}
				if _, err := sb.raw(ctx, 1); !errors.Is(err, pgx.ErrNoRows) {
					t.Errorf("raw read of an expired row: %v, want no rows", err)
				}
				if err := checkLoad(bridge, reqs, f, 1); !errors.Is(err, sessionbridge.ErrNoSession) {
					t.Errorf("load of an expired row: %v, want ErrNoSession", err)
				}
			}
		})
	}
}

// The unsign limit accepts exactly what Signer.Unsign accepts.
func TestUnsignLimit(t *testing.T) {
	f, err := newFixture(50)
	if err != nil {
		t.Fatal(err)
	}
	l := newUnsignLimit(benchSecret)
	if err := limitLoop(l, f.signed, 200); err != nil {
		t.Fatal(err)
	}
	if err := unsignLoop(f.signer, f.signed, 200); err != nil {
		t.Fatal(err)
	}
	s := f.signed[0]
	dot := strings.LastIndexByte(s, '.')
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	lowBit := []byte(s)
	lowBit[len(s)-1] = alphabet[strings.IndexByte(alphabet, s[len(s)-1])^1] // a bit past the 32 bytes
	forgeries := []string{
		flip(s, len(s)-2),  // signature
		string(lowBit),     // the same 32 bytes, not the same encoding
		flip(s, 0),         // value
		s[:len(s)-1],       // short signature
		s + "A",            // long signature
		s[:dot],            // no signature
		f.ids[1] + s[dot:], // this signature on another id
		s[:dot] + "." + strings.Repeat("A", 43),
		s[:dot] + "." + strings.Repeat("!", 43), // not base64
	}
	for _, fs := range forgeries {
		_, uerr := f.signer.Unsign(fs)
		if l.verify(fs) || uerr == nil {
			t.Errorf("%q: limit %v, Unsign %v", fs, l.verify(fs), uerr)
		}
	}
}

// The Go child counts Unsign's allocations exactly: none.
func TestGoChildAllocs(t *testing.T) {
	f, err := newFixture(20)
	if err != nil {
		t.Fatal(err)
	}
	spec := newChildSpec(f, "allocs")
	spec.Warm, spec.AllocOps = 20_000, 100_000
	if raceBuild() { // slow, and sync.Pool drops items at random: the path runs, the count is not checked
		spec.Warm, spec.AllocOps = 1000, 2000
	}
	res := runTestChild(t, spec)
	if res.Ops != spec.AllocOps {
		t.Fatalf("counted %d ops", res.Ops)
	}
	if raceBuild() {
		t.Logf("race build (sync.Pool drops items at random): %d mallocs, %d in Unsign", res.Mallocs, res.UnsignMallocs)
		return
	}
	if res.UnsignMallocs != 0 || res.Mallocs != 0 {
		t.Errorf("%d calls: %d mallocs (%d B) in the process, %d (%d B) in Unsign", res.Ops, res.Mallocs, res.Bytes, res.UnsignMallocs, res.UnsignBytes)
	}
}

// allocsUnder sees every allocation made under a frame, and none under a
// frame that did not allocate.
func TestAllocsUnder(t *testing.T) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	before, _ := allocsUnder(funcName(allocateSome))
	for range 100 {
		allocateSome()
	}
	runtime.GC()
	after, _ := allocsUnder(funcName(allocateSome))
	if after-before != 100 {
		t.Errorf("%d allocations seen under %s, want 100", after-before, funcName(allocateSome))
	}
	if n, _ := allocsUnder(funcName(allocWindow)); n != 0 {
		t.Errorf("%d allocations under %s, which never ran here", n, funcName(allocWindow))
	}
}

var allocSink []byte

//go:noinline
func allocateSome() { allocSink = make([]byte, 64+len(allocSink)%2) }

// runTestChild runs this test binary as the Go child on spec.
func runTestChild(t *testing.T, spec *childSpec) *childResult {
	t.Helper()
	path, err := writeSpec(t.TempDir(), "spec", spec)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(childEnv(), benchChildEnv+"="+path, "GOMAXPROCS=1")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res childResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("child answered %q", out)
	}
	return &res
}

// The Go and Node sides of the instruction counts do the same work: op 0
// of every workload gives byte-identical output, and the intervals come
// in the order callgrind dumps them.
func TestInstrSidesAgree(t *testing.T) {
	f, err := newFixture(10)
	if err != nil {
		t.Fatal(err)
	}
	spec := newChildSpec(f, "instr")
	spec.Warm, spec.Reps = 20, 2
	spec.Ops = map[string]int{"unsign": 30, "limit": 30, "decode": 30, "encode": 30, "request": 30}
	g := runTestChild(t, spec)
	want := map[string]string{"unsign": f.ids[0], "limit": "verified", "decode": string(f.records[0]), "request": string(f.users[0])}
	for name, w := range want {
		if g.Checks[name] != w {
			t.Errorf("Go %s: %q, want %q", name, g.Checks[name], w)
		}
	}
	if !strings.Contains(g.Checks["encode"], spec.Dates[0]) {
		t.Errorf("Go encode: %q lacks the new expiry %s", g.Checks["encode"], spec.Dates[0])
	}
	if len(g.Intervals) != 5*2*2 || g.Intervals[0] != (instrInterval{"unsign", 0}) || g.Intervals[1] != (instrInterval{"unsign", 30}) {
		t.Errorf("Go intervals %v", g.Intervals)
	}

	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := nodeScript(&config{root: root}, "instr.js")
	if err != nil {
		nodetest.Unavailable(t, fmt.Sprintf("node and bench/node/node_modules (%v)", err), "cd bench/node && npm ci")
	}
	delete(spec.Ops, "limit")
	path, err := writeSpec(t.TempDir(), "node", spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", append(append([]string{}, nodeInstrFlags...), script, path)...)
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node instr.js: %v", err)
	}
	var n childResult
	if err := json.Unmarshal(out, &n); err != nil {
		t.Fatalf("node instr.js answered %q", out)
	}
	for name := range spec.Ops {
		if n.Checks[name] != g.Checks[name] {
			t.Errorf("%s: Node %q, Go %q", name, n.Checks[name], g.Checks[name])
		}
	}
	if len(n.Intervals) != 4*2*2 {
		t.Errorf("Node intervals %v", n.Intervals)
	}
}

// callgrindSummary and perOp read callgrind's dumps as the section needs.
func TestCallgrindCounts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cg.1.1-01")
	if err := os.WriteFile(file, []byte("# callgrind format\nversion: 1\nevents: Ir\nsummary: 123456\ntotals: 123460\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := callgrindSummary(file); err != nil || n != 123456 {
		t.Errorf("summary %d, %v", n, err)
	}
	res := &childResult{Intervals: []instrInterval{{"a", 0}, {"a", 10}, {"a", 0}, {"a", 10}, {"b", 0}, {"b", 5}}}
	got, err := perOp(res, []uint64{100, 5100, 90, 9000, 10, 60})
	if err != nil {
		t.Fatal(err)
	}
	// a: least(10 ops) 5100 − least(0 ops) 90 = 5010 / 10; b: 50 / 5.
	if got["a"] != 501 || got["b"] != 10 {
		t.Errorf("per op %v", got)
	}
	if _, err := perOp(&childResult{Intervals: []instrInterval{{"a", 10}}}, []uint64{5}); err == nil {
		t.Error("an interval without its 0-op baseline was accepted")
	}
}
