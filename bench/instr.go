package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// The instr section counts the instructions each operation executes, in
// Go and in Node, with valgrind's callgrind: exact counts that the
// machine's load cannot disturb, where wall-clock times of CPU-bound code
// on a shared machine swing by tens of percent.
//
// Both sides run as children doing only this: they warm up, then (callgrind
// started with instrumentation off, turned on with callgrind_control once
// they are warm) run each workload twice, for 0 ops and for N ops, between
// two marker calls: callgrind zeroes its counters on entering the first
// (--zero-before) and writes them out on entering the second
// (--dump-before). Per-op = (count(N) − count(0)) / N, on the thread that
// ran the loop (--separate-threads): startup, warm-up, the markers, the
// loop's setup and other threads are not counted.

// childEnv is the environment variable that makes this binary a child of
// the harness instead of the harness (see init): its value is the path of
// the child's spec (childSpec, JSON).
const benchChildEnv = "SESSIONBRIDGE_BENCH_CHILD"

func init() {
	sectionTitles["instr"] = instrTitle
	if spec := os.Getenv(benchChildEnv); spec != "" {
		if err := goChild(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// childSpec is what a Go or Node child (bench/node/instr.js) does.
type childSpec struct {
	// Mode is "instr" (count instructions) or "allocs" (count Unsign's
	// allocations; Go only).
	Mode    string   `json:"mode"`
	Secret  string   `json:"secret"`
	IDs     []string `json:"ids"`
	Signed  []string `json:"signed"`
	Headers []string `json:"headers"`
	Records []string `json:"records"`
	Users   []string `json:"users"`
	// Dates are instants (ISO) the encode workload sets cookie.expires to, in turn.
	Dates []string `json:"dates"`
	// Warm is the ops each workload runs before counting.
	Warm int `json:"warm"`
	// Ops is the ops counted per workload, by name; a workload not named
	// is not run.
	Ops map[string]int `json:"ops"`
	// Reps is the pairs of intervals (0 ops, N ops) per workload.
	Reps int `json:"reps"`
	// Wait: print "READY" after the warm-up and wait for a line on stdin.
	Wait bool `json:"wait"`
	// AllocOps is the Unsign calls the allocs mode counts.
	AllocOps int `json:"allocOps"`
}

// childResult is a child's last line.
type childResult struct {
	// Intervals are the marker pairs, in order: the k-th is callgrind's
	// dump k.
	Intervals []instrInterval `json:"intervals"`
	// Checks are each workload's output for op 0, to compare across sides.
	Checks map[string]string `json:"checks"`
	// Mallocs and Bytes: the allocs mode's counts.
	// UnsignMallocs and UnsignBytes are the allocations made in the
	// window's calls (allocWindow on the stack), by the allocation profile.
	Mallocs       uint64 `json:"mallocs"`
	Bytes         uint64 `json:"bytes"`
	UnsignMallocs int64  `json:"unsignMallocs"`
	UnsignBytes   int64  `json:"unsignBytes"`
	Ops           int    `json:"ops"`
}

// allocWindow is the allocs mode's counted loop: the allocation profile
// tells its allocations by this frame.
//
//go:noinline
func allocWindow(s *cookiesig.Signer, signed []string, n int) error {
	return unsignLoop(s, signed, n)
}

// funcName is the symbol of a function: main.x in the harness,
// <import path>.x in a test binary.
func funcName(fn any) string {
	return runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
}

// allocsUnder returns the allocations (objects, bytes) in the published
// memory profile whose stack holds the function named fn. With
// MemProfileRate 1 every allocation is in the profile.
func allocsUnder(fn string) (objs, bytes int64) {
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, _ = runtime.MemProfile(recs, true)
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if f.Function == fn {
				objs += r.AllocObjects
				bytes += r.AllocBytes
				break
			}
			if !more {
				break
			}
		}
	}
	return objs, bytes
}

type instrInterval struct {
	Name string `json:"name"`
	Ops  int    `json:"ops"`
}

// The markers callgrind zeroes and dumps at. They must stay out of line.
var instrMark int

//go:noinline
func instrZero() { instrMark++ }

//go:noinline
func instrDump() { instrMark++ }

// goWorkload is one operation of the Go side: run does n ops, check
// returns op 0's output.
type goWorkload struct {
	name  string
	run   func(n int) error
	check func() (string, error)
}

// instrDiscard is a ResponseWriter that keeps the body.
type instrDiscard struct {
	h    http.Header
	body []byte
}

func (d *instrDiscard) Header() http.Header { return d.h }
func (d *instrDiscard) Write(b []byte) (int, error) {
	d.body = append(d.body[:0], b...)
	return len(b), nil
}
func (d *instrDiscard) WriteHeader(int) {}

// goWorkloads builds the Go side's workloads over spec's sessions.
func goWorkloads(spec *childSpec) ([]goWorkload, error) {
	signer, err := cookiesig.NewSigner(spec.Secret)
	if err != nil {
		return nil, err
	}
	limit := newUnsignLimit(spec.Secret)
	n := len(spec.IDs)
	records := make([][]byte, n)
	sessions := make([]*sessionjson.Session, n)
	store := sessionbridge.NewMemoryStore()
	for i := range n {
		records[i] = []byte(spec.Records[i])
		if sessions[i], err = sessionjson.Decode(records[i]); err != nil {
			return nil, err
		}
		if err := store.Set(context.Background(), spec.IDs[i], sessions[i]); err != nil {
			return nil, err
		}
	}
	dates := make([]time.Time, len(spec.Dates))
	for i, d := range spec.Dates {
		if dates[i], err = time.Parse(time.RFC3339Nano, d); err != nil {
			return nil, err
		}
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{spec.Secret}, Store: store})
	if err != nil {
		return nil, err
	}
	h := bridge.Middleware(meHandler())
	reqs := make([]*http.Request, n)
	for i, c := range spec.Headers {
		reqs[i], _ = http.NewRequest("GET", "http://bench/me", nil)
		reqs[i].Header.Set("Cookie", c)
	}
	w := &instrDiscard{h: http.Header{}}
	encode := func(i, j int) ([]byte, error) {
		s := sessions[i]
		s.Cookie.Expires = &dates[j]
		return s.Encode()
	}
	return []goWorkload{
		{"unsign", func(ops int) error { return unsignLoop(signer, spec.Signed, ops) },
			func() (string, error) { return signer.Unsign(spec.Signed[0]) }},
		{"limit", func(ops int) error { return limitLoop(limit, spec.Signed, ops) },
			func() (string, error) {
				if !limit.verify(spec.Signed[0]) {
					return "", errors.New("the limit refused a good value")
				}
				return "verified", nil
			}},
		{"decode", func(ops int) error {
			var d sessionjson.Decoder
			for i, k := 0, 0; i < ops; i++ {
				if _, err := d.DecodeOwned(records[k]); err != nil {
					return err
				}
				if k++; k == n {
					k = 0
				}
			}
			return nil
		}, func() (string, error) {
			s, err := sessionjson.Decoder{}.DecodeOwned(records[0])
			if err != nil {
				return "", err
			}
			b, err := s.Encode()
			return string(b), err
		}},
		{"encode", func(ops int) error {
			for i, k := 0, 0; i < ops; i++ {
				if _, err := encode(k, i%len(dates)); err != nil {
					return err
				}
				if k++; k == n {
					k = 0
				}
			}
			return nil
		}, func() (string, error) {
			b, err := encode(0, 0)
			return string(b), err
		}},
		{"request", func(ops int) error {
			for i, k := 0, 0; i < ops; i++ {
				h.ServeHTTP(w, reqs[k])
				if k++; k == n {
					k = 0
				}
			}
			return nil
		}, func() (string, error) {
			h.ServeHTTP(w, reqs[0])
			return string(w.body), nil
		}},
	}, nil
}

// goChild is the Go side of the instr section (and the allocs count of
// the unsign section), run in a child of its own: see the package comment
// above.
func goChild(specPath string, stdin *os.File, stdout *os.File) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec childSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	res := childResult{Checks: map[string]string{}}
	switch spec.Mode {
	case "allocs":
		// Every allocation is recorded (with its stack) from here on, so
		// that Unsign's can be told from other goroutines' (this binary's
		// dependencies start timers in their init).
		runtime.MemProfileRate = 1
		signer, err := cookiesig.NewSigner(spec.Secret)
		if err != nil {
			return err
		}
		// The warm-up also fills the runtime's type-assertion caches, which
		// it updates on about 1 in 1024 calls that miss them, allocating.
		if err := unsignLoop(signer, spec.Signed, max(spec.Warm, len(spec.Signed))); err != nil {
			return err
		}
		// A collection empties sync.Pool's per-P arrays, which the next Put
		// allocates again: collect now, and let a short run put them back
		// before the window.
		runtime.GC()
		if err := unsignLoop(signer, spec.Signed, len(spec.Signed)); err != nil {
			return err
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err = allocWindow(signer, spec.Signed, spec.AllocOps)
		runtime.ReadMemStats(&after)
		if err != nil {
			return err
		}
		runtime.GC() // publishes the allocation profile up to here
		res.Mallocs, res.Bytes, res.Ops = after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc, spec.AllocOps
		res.UnsignMallocs, res.UnsignBytes = allocsUnder(funcName(allocWindow))
	case "instr":
		// The memory profiler samples allocations at random, with a stack
		// walk each: none here, so that counts repeat.
		runtime.MemProfileRate = 0
		ws, err := goWorkloads(&spec)
		if err != nil {
			return err
		}
		var run []goWorkload
		for _, w := range ws {
			if _, ok := spec.Ops[w.name]; !ok {
				continue
			}
			out, err := w.check()
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			res.Checks[w.name] = out
			if err := w.run(spec.Warm); err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			run = append(run, w)
		}
		if spec.Wait {
			fmt.Fprintln(stdout, "READY")
			if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
				return fmt.Errorf("waiting for the go-ahead: %w", err)
			}
		}
		for _, w := range run {
			for range max(spec.Reps, 1) {
				for _, ops := range []int{0, spec.Ops[w.name]} {
					instrZero()
					err := w.run(ops)
					instrDump()
					if err != nil {
						return fmt.Errorf("%s: %w", w.name, err)
					}
					res.Intervals = append(res.Intervals, instrInterval{w.name, ops})
				}
			}
		}
	default:
		return fmt.Errorf("unknown mode %q", spec.Mode)
	}
	out, _ := json.Marshal(res)
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// newChildSpec is the spec of a child over f's sessions.
func newChildSpec(f *fixture, mode string) *childSpec {
	spec := &childSpec{Mode: mode, Secret: benchSecret, IDs: f.ids, Signed: f.signed, Headers: f.headers, Users: make([]string, len(f.ids)), Records: make([]string, len(f.ids))}
	for i := range f.ids {
		spec.Records[i], spec.Users[i] = string(f.records[i]), string(f.users[i])
	}
	base := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond).UTC()
	spec.Dates = []string{base.Format(sessionjson.ExpiresLayout), base.Add(1234 * time.Millisecond).Format(sessionjson.ExpiresLayout)}
	return spec
}

func writeSpec(dir, name string, spec *childSpec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".json")
	return path, os.WriteFile(path, b, 0o644)
}

// runGoChild runs this binary as a child on spec, without valgrind, and
// returns its result.
func runGoChild(ctx context.Context, cfg *config, name string, cpus []int, env []string, spec *childSpec) (*childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	path, err := writeSpec(cfg.tmp, name, spec)
	if err != nil {
		return nil, err
	}
	p, _, out, err := startProc(cfg, name, append(env, benchChildEnv+"="+path), false, true, pinned(cpus, self)...)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	line, err := readLine(ctx, p, out, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	var res childResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return nil, fmt.Errorf("%s answered %q", name, line)
	}
	return &res, nil
}

// goChildEnv makes the Go child's counts repeatable: no GC (collections
// depend on timing), no asynchronous preemption (signals from sysmon, a
// timer), one P.
var goChildEnv = []string{"GOGC=off", "GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1"}

// nodeInstrFlags make V8 deterministic: --predictable (no concurrent
// compilation or GC threads, a fixed hash seed) and a fixed random seed;
// and give it a young generation of 64 MB, so that most intervals run
// without a scavenge.
var nodeInstrFlags = []string{"--predictable", "--random-seed=1", "--min-semi-space-size=64", "--max-semi-space-size=64"}

// callgrindCount runs argv (a child speaking the spec protocol with Wait)
// under callgrind with the given markers and returns the per-interval
// instruction counts of the thread that ran them, with the child's result.
func callgrindCount(ctx context.Context, cfg *config, name string, env []string, zero, dump string, argv ...string) (*childResult, []uint64, error) {
	dir := filepath.Join(cfg.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	vg := []string{"valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
		"--callgrind-out-file=" + filepath.Join(dir, "cg.%p"), "--zero-before=" + zero, "--dump-before=" + dump}
	p, in, out, err := startProc(cfg, name, env, true, true, pinned(cfg.plan.all, append(vg, argv...)...)...)
	if err != nil {
		return nil, nil, err
	}
	defer p.stop()
	line, err := readLine(ctx, p, out, 5*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	if line != "READY" {
		return nil, nil, fmt.Errorf("%s: expected READY, got %q", name, line)
	}
	pid := p.cmd.Process.Pid
	if b, err := exec.CommandContext(ctx, "callgrind_control", "-i", "on", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("callgrind_control -i on %d: %v: %s", pid, err, b)
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		return nil, nil, err
	}
	line, err = readLine(ctx, p, out, 5*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	var res childResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return nil, nil, fmt.Errorf("%s answered %q", name, line)
	}
	in.Close()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		return nil, nil, fmt.Errorf("%s did not exit", name)
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if p.err != nil {
		return nil, nil, fmt.Errorf("%s: %v:\n%s", name, p.err, p.tail())
	}
	counts := make([]uint64, len(res.Intervals))
	for k := range res.Intervals {
		// Dump k+1 of every thread: the loops run on one thread, but not
		// always the first (a Go goroutine can move to another thread
		// after a system call); the others are idle between the markers.
		files, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("cg.%d.%d-*", pid, k+1)))
		if err != nil {
			return nil, nil, err
		}
		if len(files) == 0 {
			var have []string
			if ents, err := os.ReadDir(dir); err == nil {
				for _, e := range ents {
					have = append(have, e.Name())
				}
			}
			return nil, nil, fmt.Errorf("%s: callgrind wrote no dump %d of pid %d (have %v)", name, k+1, pid, have)
		}
		for _, f := range files {
			c, err := callgrindSummary(f)
			if err != nil {
				return nil, nil, err
			}
			counts[k] += c
		}
	}
	return &res, counts, nil
}

// callgrindSummary reads the instruction count (event Ir) of a callgrind
// output file: its "summary:" line.
func callgrindSummary(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "summary:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no summary line", path)
}

// perOp turns a child's interval counts into instructions per op by
// workload: (least count(N) − least count(0)) / N. One-off work (a
// collection or compilation in Node) only ever adds to an interval; the
// least of a few is the interval without it.
func perOp(res *childResult, counts []uint64) (map[string]float64, error) {
	type key struct {
		name string
		ops  int
	}
	least := map[key]uint64{}
	for k, iv := range res.Intervals {
		kk := key{iv.Name, iv.Ops}
		if c, ok := least[kk]; !ok || counts[k] < c {
			least[kk] = counts[k]
		}
	}
	out := map[string]float64{}
	for kk, c := range least {
		if kk.ops == 0 {
			continue
		}
		b, ok := least[key{kk.name, 0}]
		if !ok {
			return nil, fmt.Errorf("%s: no 0-op interval", kk.name)
		}
		if c < b {
			return nil, fmt.Errorf("%s: %d instructions for %d ops, fewer than the %d of 0 ops", kk.name, c, kk.ops, b)
		}
		out[kk.name] = float64(c-b) / float64(kk.ops)
	}
	return out, nil
}

// perfWorks reports whether perf can count user-space instructions here,
// and why not.
func perfWorks(ctx context.Context) (bool, string) {
	if _, err := exec.LookPath("perf"); err != nil {
		return false, "perf is not installed"
	}
	out, err := exec.CommandContext(ctx, "perf", "stat", "-x,", "-e", "instructions:u", "true").CombinedOutput()
	s := string(out)
	paranoid, _ := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	p := strings.TrimSpace(string(paranoid))
	switch {
	case err != nil:
		return false, fmt.Sprintf("`perf stat -e instructions:u` failed (%v; kernel.perf_event_paranoid = %s)", err, p)
	case strings.Contains(s, "not supported"), strings.Contains(s, "not counted"):
		return false, fmt.Sprintf("`perf stat -e instructions:u` answers <not supported> (no hardware counters in this VM; kernel.perf_event_paranoid = %s)", p)
	}
	return true, ""
}

// instrWorkloads are the rows of the instr table: the Go workload, the
// Node one ("" for none) and what they do.
var instrWorkloads = []struct {
	name, goDesc, nodeDesc string
	goOps, nodeOps         int // counted ops (normal preset)
}{
	{"unsign", "`Signer.Unsign`", "cookie-signature 1.0.7 `unsign`", 300, 500},
	{"limit", "the unsign limit (split, base64 decode, HMAC-SHA256, `hmac.Equal`)", "", 300, 0},
	{"decode", "`sessionjson.Decoder.DecodeOwned` (the stores' decode)", "`JSON.parse`", 200, 800},
	{"encode", "set `cookie.expires`, `Session.Encode`", "set `cookie.expires` (a Date), `JSON.stringify`", 200, 800},
	{"request", "`Bridge.Middleware` + the GET /me handler on a `MemoryStore`", "express-session 1.19 (MemoryStore without touch) + passport 0.7 `initialize` + `session` + `res.end(JSON.stringify(req.user))`", 100, 200},
}

// benchInstr counts instructions per op for each workload, twice per side
// to show that the counts repeat.
func benchInstr(ctx context.Context, cfg *config) ([]table, error) {
	t := table{Title: instrTitle}
	perfOK, perfWhy := perfWorks(ctx)
	for _, tool := range []string{"valgrind", "callgrind_control"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (apt-get install valgrind)", tool)
		}
	}
	f, err := newFixture(100)
	if err != nil {
		return nil, err
	}
	script, err := nodeScript(cfg, "instr.js")
	if err != nil {
		return nil, err
	}
	self, err := buildWithSymbols(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Go's warm-up also fills the runtime's type-assertion caches (updated
	// on about 1 in 1024 calls that miss them): until then counts vary.
	scale, goWarm, nodeWarm, nodeRuns, nodeReps := 1.0, 20000, 3000, 2, 3
	if cfg.quick {
		scale, nodeWarm, nodeRuns, nodeReps = 0.25, 1000, 1, 2
	}
	goSpec, nodeSpec := newChildSpec(f, "instr"), newChildSpec(f, "instr")
	goSpec.Ops, nodeSpec.Ops = map[string]int{}, map[string]int{}
	for _, w := range instrWorkloads {
		goSpec.Ops[w.name] = max(1, int(float64(w.goOps)*scale))
		if w.nodeDesc != "" {
			nodeSpec.Ops[w.name] = max(1, int(float64(w.nodeOps)*scale))
		}
	}
	goSpec.Warm, nodeSpec.Warm = goWarm, nodeWarm
	goSpec.Wait, nodeSpec.Wait = true, true
	goSpec.Reps, nodeSpec.Reps = goReps, nodeReps
	goPath, err := writeSpec(cfg.tmp, "instr-go", goSpec)
	if err != nil {
		return nil, err
	}
	nodePath, err := writeSpec(cfg.tmp, "instr-node", nodeSpec)
	if err != nil {
		return nil, err
	}

	// Two runs per side (one of Node's with -quick), all at once: counts
	// do not depend on timing.
	type run struct {
		side  string
		res   *childResult
		perOp map[string]float64
		err   error
	}
	runs := make([]run, 2+nodeRuns)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &runs[i]
			var counts []uint64
			name := fmt.Sprintf("instr-%d", i)
			if i < 2 {
				r.side = "go"
				r.res, counts, r.err = callgrindCount(ctx, cfg, name, append(slices.Clone(goChildEnv), benchChildEnv+"="+goPath),
					funcName(instrZero), funcName(instrDump), self)
			} else {
				r.side = "node"
				r.res, counts, r.err = callgrindCount(ctx, cfg, name, nil, "uv_loadavg", "uv_uptime",
					append(append([]string{"node"}, nodeInstrFlags...), script, nodePath)...)
			}
			if r.err == nil {
				r.perOp, r.err = perOp(r.res, counts)
			}
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			return nil, fmt.Errorf("%s run: %w", r.side, r.err)
		}
	}
	goRuns, nodeRunsDone := runs[:2], runs[2:]

	// The two sides did the same work: op 0's outputs agree.
	var checks []string
	for _, w := range instrWorkloads {
		g := goRuns[0].res.Checks[w.name]
		if w.nodeDesc == "" {
			continue
		}
		n := nodeRunsDone[0].res.Checks[w.name]
		if g != n {
			return nil, fmt.Errorf("%s: Go's op 0 gave %q, Node's %q", w.name, g, n)
		}
		checks = append(checks, w.name)
	}

	two := func(rs []run, name string) (string, float64) {
		if len(rs) == 1 {
			a := rs[0].perOp[name]
			return instrFmt(a) + " (one run with -quick)", a
		}
		a, b := rs[0].perOp[name], rs[1].perOp[name]
		s := fmt.Sprintf("%s / %s", instrFmt(a), instrFmt(b))
		if a == b {
			s += " (identical)"
		} else {
			s += fmt.Sprintf(" (%+.1f ppm)", (b-a)/a*1e6)
		}
		return s, (a + b) / 2
	}
	t.Header = []string{"operation", "Go", "Go instructions/op (run 1 / run 2)", "Node", "Node instructions/op (run 1 / run 2)", "Node / Go"}
	goUnsign := 0.0
	for _, w := range instrWorkloads {
		gs, g := two(goRuns, w.name)
		row := []string{w.name, w.goDesc, gs, "", "", ""}
		switch {
		case w.name == "unsign":
			goUnsign = g
		case w.name == "limit":
			row[3], row[4] = "—", "—"
			row[5] = fmt.Sprintf("Go `Signer.Unsign` / limit: %.3f×", goUnsign/g)
		}
		if w.nodeDesc != "" {
			ns, n := two(nodeRunsDone, w.name)
			row[3], row[4], row[5] = w.nodeDesc, ns, fmt.Sprintf("%.1f×", n/g)
		}
		t.Rows = append(t.Rows, row)
	}
	why := "perf would count whole processes only"
	if !perfOK {
		why = perfWhy
	}
	t.Note = fmt.Sprintf("Instructions executed per op in user space (valgrind %s callgrind, event Ir), Go %s vs Node %s: counts that the machine's load cannot disturb, "+
		"where the wall-clock ratios of sections 1 and 2 swing with it. Counter: callgrind, because %s.\n\n"+
		"Each side is a child process doing only this, over the same %d sessions (ids, signed values, Cookie headers, records from the harness's fixture), cycled. "+
		"It first checks op 0's output (Go's and Node's must be byte-identical, checked for: %s), runs %d (Go) / %d (Node) warm-up ops of every workload with instrumentation off "+
		"(JIT tiers, caches), then the harness turns callgrind's instrumentation on (`callgrind_control -i on`) and each workload runs %d (Go) / %d (Node) times for 0 ops and for N ops "+
		"between two marker calls (Go: `main.instrZero` / `main.instrDump`; Node: `os.loadavg()` / `os.uptime()`, i.e. `uv_loadavg` / `uv_uptime`): "+
		"callgrind zeroes its counters on entering the first and dumps them on entering the second. "+
		"Per op = (least count of N ops − least count of 0 ops) / N, on the thread that ran the loop: startup, warm-up, the markers, loop set-up and other threads are not counted. "+
		"Allocation is counted on both sides, garbage collection on neither: the Go child runs with GOGC=off (and GODEBUG=asyncpreemptoff=1, GOMAXPROCS=1, MemProfileRate 0: "+
		"no collection, no preemption signal, no random profiling samples), the Node child with `%s` (no concurrent compiler or GC threads, fixed seeds, a 64 MB young generation), "+
		"and the least of its intervals is one without a collection or compilation (those only ever add). "+
		"Two runs per side (separate processes) show the counts repeat: Node's to a few parts per million; Go's to the instruction for unsign, the limit and encode, "+
		"and within 0.1%% for decode and the request, where Go's maps (seeded at random per process) probe differently and sysmon's rare preemption requests "+
		"(every 10 ms of wall time, a few thousand instructions of scheduling each) let the runtime's other goroutines allocate on the same P, which moves "+
		"where allocation takes its slow path; each Go count is the least of %d intervals, most of which no preemption touches. "+
		"Node's request row depends on how long V8 warmed up (its tiering and heap state): a few percent between 1,000 and 10,000 warm-up requests.\n\n"+
		"Instructions are not time: under valgrind the CPU has no SHA-NI or AVX-512, so Go's and OpenSSL's SHA-256 both run their AVX2 code, and instructions per cycle differ between the sides. "+
		"The request row is the request path without I/O on both sides: no HTTP parsing, no socket, no router; Go's `Middleware` + GET /me handler (as the http section's Go server) "+
		"against express-session + passport's `initialize` and `session` middleware, with mock req/res objects, and a handler that ends the response with `JSON.stringify(req.user)` "+
		"(express's `res.json`, whose ETag hashing Go does not do, is left out). express-session's MemoryStore has its `touch` removed, since Go's `Middleware` writes nothing back "+
		"(with it, express-session re-parses and re-stringifies the record on every request). "+
		"The limit row is the unsign limit of section 1; its ratio to `Signer.Unsign` is the instruction-count view of that section's ≤ %.2f× target.",
		valgrindVersion(ctx), runtime.Version(), nodeVersion(ctx), why, len(f.ids), strings.Join(checks, ", "), goWarm, nodeWarm, goSpec.Reps, nodeSpec.Reps,
		strings.Join(nodeInstrFlags, " "), goSpec.Reps, unsignVsLimit)
	t.Footer = fmt.Sprintf("Counted ops per workload: Go %v, Node %v.", goSpec.Ops, nodeSpec.Ops)
	return []table{t}, nil
}

// goReps is the interval pairs per workload on the Go side: short
// intervals, so that most run without one of the preemption requests
// sysmon makes every 10 ms of wall time (about 2,300 instructions of
// scheduling each), and the least of them is exact.
const goReps = 10

// instrTitle is the section's title.
const instrTitle = "7. Instructions per operation (callgrind)"

func instrFmt(v float64) string {
	if v >= 1000 {
		return si(v)
	}
	return fmt.Sprintf("%.1f", v)
}

func valgrindVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "valgrind", "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "valgrind-")
}

func nodeVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// buildWithSymbols builds the harness again with its symbol table, for
// callgrind to find the markers by name: `go run` (make bench) links
// without one.
func buildWithSymbols(ctx context.Context, cfg *config) (string, error) {
	out := filepath.Join(cfg.tmp, "bench-symbols")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(cfg.root, "bench")
	cmd.Env = childEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build for callgrind: %v: %s", err, b)
	}
	return out, nil
}
