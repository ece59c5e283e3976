package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// Targets of the unsign section.
const (
	unsignVsNode  = 15   // Go at least this many times faster than Node
	unsignVsLimit = 1.15 // Go at most this many times the limit's time
	// unsignAllocOps is how many Unsign calls the allocation count covers.
	unsignAllocOps = 200_000
)

// benchUnsign compares Signer.Unsign with npm cookie-signature 1.0.7's
// unsign (the one express-session uses) on the same signed ids and secret,
// both on the server core, and with the limit any unsign must pay; and
// counts Unsign's allocations exactly.
func benchUnsign(ctx context.Context, cfg *config) ([]table, error) {
	f, err := newFixture(min(cfg.sessions, 1000))
	if err != nil {
		return nil, err
	}
	// Rounds are short and cheap: four times the preset's repetitions.
	reps := max(4*cfg.reps, 2)
	round := 150 * time.Millisecond
	if cfg.quick {
		round = 60 * time.Millisecond
	}
	cpus := cfg.plan.server
	if len(cpus) == 0 {
		cpus = cfg.plan.all
	}
	limit := newUnsignLimit(benchSecret)
	for i, s := range f.signed {
		if v, err := f.signer.Unsign(s); err != nil || v != f.ids[i] || !limit.verify(s) {
			return nil, fmt.Errorf("signed value %d: Unsign %q, %v; limit %v", i, v, err, limit.verify(s))
		}
	}

	// Node: bench/node/unsign.js, the same values, pinned to the server
	// core, timed rounds on request.
	script, err := nodeScript(cfg, "unsign.js")
	if err != nil {
		return nil, err
	}
	p, pw, out, err := startProc(cfg, "node-unsign", nil, true, true, pinned(cpus, "node", script)...)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	ask := func(msg any) (float64, error) {
		b, _ := json.Marshal(msg)
		go pw.Write(append(b, '\n')) // the spec is larger than a pipe buffer
		line, err := readLine(ctx, p, out, time.Minute)
		if err != nil {
			return 0, err
		}
		var r struct {
			NsPerOp float64 `json:"nsPerOp"`
			Ready   bool    `json:"ready"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || (r.NsPerOp == 0 && !r.Ready) {
			return 0, fmt.Errorf("unsign.js answered %q", line)
		}
		return r.NsPerOp, nil
	}
	if _, err := ask(map[string]any{"secret": benchSecret, "ids": f.ids, "signed": f.signed, "ms": round.Milliseconds()}); err != nil {
		return nil, err
	}

	// Go: the same values on a thread pinned to the same core; rounds of
	// a fixed op count calibrated to the round's length, like Node's.
	goOps, err := calibrate(cpus, round, func(n int) error { return unsignLoop(f.signer, f.signed, n) })
	if err != nil {
		return nil, err
	}
	limitOps, err := calibrate(cpus, round, func(n int) error { return limitLoop(limit, f.signed, n) })
	if err != nil {
		return nil, err
	}
	goRound := func(int) (float64, error) {
		return timedOnCPUs(cpus, goOps, func(n int) error { return unsignLoop(f.signer, f.signed, n) })
	}
	limitRound := func(int) (float64, error) {
		return timedOnCPUs(cpus, limitOps, func(n int) error { return limitLoop(limit, f.signed, n) })
	}
	nodeRound := func(int) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return ask(map[string]any{"round": true})
	}

	goNs, nodeNs, err := alternate(reps, goRound, nodeRound)
	if err != nil {
		return nil, err
	}
	goNs2, limitNs, err := alternate(reps, goRound, limitRound)
	if err != nil {
		return nil, err
	}
	vsNode, err := pairedRatio(nodeNs, goNs)
	if err != nil {
		return nil, err
	}
	vsLimit, err := pairedRatio(goNs2, limitNs)
	if err != nil {
		return nil, err
	}
	allocs, err := unsignAllocs(ctx, cfg, cpus, f)
	if err != nil {
		return nil, err
	}
	allocVerdict := "met"
	if allocs.UnsignMallocs != 0 || allocs.Mallocs != 0 {
		allocVerdict = "**not met**"
	}
	logf("unsign: Go %.0f ns, Node %.0f ns (%s), limit %.0f ns (Go/limit %s), %d mallocs (%d in Unsign) in %d ops",
		median(goNs), median(nodeNs), vsNode, median(limitNs), vsLimit, allocs.Mallocs, allocs.UnsignMallocs, unsignAllocOps)

	t := table{
		Title: sectionTitles["unsign"],
		Note: fmt.Sprintf("%d signed 32-character ids (uid-safe, as express-session makes them), one secret, cycled. "+
			"**Go** = `Signer.Unsign(\"<id>.<sig>\")`, in this process on a thread locked to CPU %s (`runtime.LockOSThread` + `sched_setaffinity`). "+
			"**Node** = cookie-signature 1.0.7 `unsign(value, secret)` (the copy express-session 1.19 loads), in a `node` child pinned to the same CPU (taskset), warmed up (JIT) before the first round. "+
			"**Limit** = what any unsign of these bytes must do, same input, same thread: split at the last `.`, base64-decode the signature (strict, so it refuses what Unsign refuses), "+
			"HMAC-SHA256 of the id from a precomputed key state (`hmac.New` once, `Reset`/`Write`/`Sum` per op), constant-time compare (`hmac.Equal`); no pool, no error values. "+
			"Every side checks each result. Each side runs rounds of a fixed op count calibrated to about %s, timed around the loop; "+
			"%d rounds per side, alternating with the other side (A B B A …); ns/op are medians; ratios are medians of the paired ratios with their 95%% confidence interval, "+
			"and the verdict comes from the interval. "+
			"Allocations: a child process (this binary, GOMAXPROCS=1, pinned likewise) warms up with 100,000 calls (which also fills the runtime's type-assertion caches, "+
			"updated with allocation on about 1 in 1024 missing calls), then reads `runtime.MemStats` before and after %s calls: `Mallocs` and `TotalAlloc` deltas, exact counts for the whole process, "+
			"not a per-op figure rounded down; with `MemProfileRate = 1` every allocation is also recorded with its stack, which tells the calls' own allocations from any other goroutine's.",
			len(f.ids), cpuList(cpus), round, reps, si(unsignAllocOps)),
		Header: []string{"comparison", "Go", "other side", "ratio [95% CI]", "target", "result"},
		Rows: [][]string{
			{"Go `Signer.Unsign` vs Node `cookie-signature.unsign`", nsop(median(goNs)), nsop(median(nodeNs)) + " (Node)", vsNode.String() + " faster", fmt.Sprintf("≥ %d×", unsignVsNode), verdictCI(vsNode, unsignVsNode, true)},
			{"Go `Signer.Unsign` vs the limit (HMAC + base64 decode + compare)", nsop(median(goNs2)), nsop(median(limitNs)) + " (limit)", vsLimit.String() + " of the limit", fmt.Sprintf("≤ %.2f×", unsignVsLimit), verdictCI(vsLimit, unsignVsLimit, false)},
			{"allocations of `Signer.Unsign`", fmt.Sprintf("%d mallocs, %d B in %s calls (process-wide); %d, %d B in the calls' own stacks", allocs.Mallocs, allocs.Bytes, si(unsignAllocOps), allocs.UnsignMallocs, allocs.UnsignBytes), "", "", "0", allocVerdict},
		},
		Footer: fmt.Sprintf("Rounds (ns/op), Go vs Node: Go %s; Node %s. Go vs limit: Go %s; limit %s. "+
			"The instruction counts of the same three (section `instr`) are not disturbed by the machine's noise.",
			fmtRounds(goNs), fmtRounds(nodeNs), fmtRounds(goNs2), fmtRounds(limitNs)),
	}
	if cfg.plan.note != "" {
		t.Note += " Note: " + cfg.plan.note + "."
	}
	return []table{t}, nil
}

// unsignLoop unsigns n values, cycling through signed.
func unsignLoop(s *cookiesig.Signer, signed []string, n int) error {
	bad := 0
	for i, k := 0, 0; i < n; i++ {
		if _, err := s.Unsign(signed[k]); err != nil {
			bad++
		}
		if k++; k == len(signed) {
			k = 0
		}
	}
	if bad != 0 {
		return fmt.Errorf("unsign: %d of %d values refused", bad, n)
	}
	return nil
}

// limitLoop verifies n values with the limit, cycling through signed.
func limitLoop(l *unsignLimit, signed []string, n int) error {
	bad := 0
	for i, k := 0, 0; i < n; i++ {
		if !l.verify(signed[k]) {
			bad++
		}
		if k++; k == len(signed) {
			k = 0
		}
	}
	if bad != 0 {
		return fmt.Errorf("limit: %d of %d values refused", bad, n)
	}
	return nil
}

// strictBase64 refuses a signature whose last character has bits set
// beyond the 32 bytes, as comparing encoded strings does.
var strictBase64 = base64.RawStdEncoding.Strict()

// unsignLimit is the least any unsign of a cookie-signature value does:
// split, decode the signature, HMAC the value, compare in constant time.
// It accepts exactly what Signer.Unsign accepts.
type unsignLimit struct {
	mac hash.Hash
	sum [sha256.Size]byte
	sig [sha256.Size]byte
}

func newUnsignLimit(secret string) *unsignLimit {
	return &unsignLimit{mac: hmac.New(sha256.New, []byte(secret))}
}

// verify reports whether signed ("value.signature") carries value's
// signature. It does not allocate.
func (l *unsignLimit) verify(signed string) bool {
	dot := strings.LastIndexByte(signed, '.')
	if dot < 0 {
		return false
	}
	value, sig := signed[:dot], signed[dot+1:]
	if len(sig) != cookiesig.SignatureLen {
		return false
	}
	n, err := strictBase64.Decode(l.sig[:], unsafe.Slice(unsafe.StringData(sig), len(sig)))
	if err != nil || n != len(l.sig) {
		return false
	}
	l.mac.Reset()
	l.mac.Write(unsafe.Slice(unsafe.StringData(value), len(value)))
	l.mac.Sum(l.sum[:0])
	return hmac.Equal(l.sum[:], l.sig[:])
}

// onCPUs runs fn on an OS thread of its own restricted to cpus, and
// gives the thread its previous CPUs back afterwards.
func onCPUs(cpus []int, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity: %w", err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return fn()
}

// timedOnCPUs runs loop(ops) on cpus and returns its ns per op.
func timedOnCPUs(cpus []int, ops int, loop func(n int) error) (float64, error) {
	var ns float64
	err := onCPUs(cpus, func() error {
		start := time.Now()
		if err := loop(ops); err != nil {
			return err
		}
		ns = float64(time.Since(start).Nanoseconds()) / float64(ops)
		return nil
	})
	return ns, err
}

// calibrate warms loop up on cpus and returns the op count that lasts
// about d.
func calibrate(cpus []int, d time.Duration, loop func(n int) error) (int, error) {
	n := 1000
	for {
		ns, err := timedOnCPUs(cpus, n, loop)
		if err != nil {
			return 0, err
		}
		if took := time.Duration(ns * float64(n)); took >= d/2 {
			return max(1, int(float64(d)/ns)), nil
		}
		n *= 2
	}
}

// unsignAllocs counts the heap allocations of unsignAllocOps Unsign calls
// exactly, in a child of its own (this binary, allocs mode: see goChild)
// with one P, so that sync.Pool has one per-P cache, as a warm server's P
// does.
func unsignAllocs(ctx context.Context, cfg *config, cpus []int, f *fixture) (*childResult, error) {
	spec := newChildSpec(f, "allocs")
	spec.Warm, spec.AllocOps = 100_000, unsignAllocOps
	res, err := runGoChild(ctx, cfg, "unsign-allocs", cpus, []string{"GOMAXPROCS=1"}, spec)
	if err != nil {
		return nil, err
	}
	if res.Ops != unsignAllocOps {
		return nil, fmt.Errorf("allocs child counted %d ops, not %d", res.Ops, unsignAllocOps)
	}
	return res, nil
}

func nsop(v float64) string { return fmt.Sprintf("%.0f ns/op", v) }

func fmtRounds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}
