package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchUnsign compares Signer.Unsign with npm cookie-signature 1.0.7's
// unsign (the one express-session uses) on the same signed ids and secret,
// each on one thread, and with the limit: HMAC-SHA256 of the id from a
// precomputed key state, no encoding and no comparison.
func benchUnsign(ctx context.Context, cfg *config) ([]table, error) {
	f, err := newFixture(min(cfg.sessions, 1000))
	if err != nil {
		return nil, err
	}
	const rounds = 7

	// Go: testing.Benchmark runs each function on one goroutine for about
	// a second.
	unsign := func(b *testing.B) {
		b.ReportAllocs()
		n := len(f.signed)
		i := 0
		for b.Loop() {
			if _, err := f.signer.Unsign(f.signed[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	limit := func(b *testing.B) {
		b.ReportAllocs()
		mac := hmac.New(sha256.New, []byte(benchSecret))
		ids := make([][]byte, len(f.ids))
		for i, id := range f.ids {
			ids[i] = []byte(id)
		}
		var sum [sha256.Size]byte
		n := len(ids)
		i := 0
		for b.Loop() {
			mac.Reset()
			mac.Write(ids[i%n])
			mac.Sum(sum[:0])
			i++
		}
	}

	// Node: bench/node/unsign.js, the same values, rounds of about 1 s on
	// request, so that they can be taken in turn with the Go rounds.
	script, err := nodeScript(cfg, "unsign.js")
	if err != nil {
		return nil, err
	}
	p, pw, out, err := startProc(cfg, "node-unsign", nil, true, true, "node", script)
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
	if _, err := ask(map[string]any{"secret": benchSecret, "ids": f.ids, "signed": f.signed, "seconds": 1}); err != nil {
		return nil, err
	}

	var goNs, limitNs, nodeNs []float64
	var goAllocs, goBytes int64
	for range rounds {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := testing.Benchmark(unsign)
		goNs = append(goNs, float64(r.T.Nanoseconds())/float64(r.N))
		goAllocs, goBytes = max(goAllocs, r.AllocsPerOp()), max(goBytes, r.AllocedBytesPerOp())
		r = testing.Benchmark(limit)
		limitNs = append(limitNs, float64(r.T.Nanoseconds())/float64(r.N))
		ns, err := ask(map[string]any{"round": true})
		if err != nil {
			return nil, err
		}
		nodeNs = append(nodeNs, ns)
	}

	g, l, n := slices.Min(goNs), slices.Min(limitNs), slices.Min(nodeNs)
	vsNode, vsLimit := n/g, g/l
	logf("unsign: Go %.0f ns, limit %.0f ns, Node %.0f ns", g, l, n)
	t := table{
		Title: sectionTitles["unsign"],
		Note: fmt.Sprintf("%d signed 32-character ids, one secret, cycled; one thread each. %d rounds of about 1 s per side, taken in turn "+
			"(Go `Signer.Unsign` with `testing.Benchmark`, the limit, Node's cookie-signature 1.0.7 `unsign` after a warm-up); "+
			"the fastest round of each side counts, as the one least disturbed by the rest of the machine. "+
			"The limit is `hmac.New(sha256.New, key)` created once, then `Reset`, `Write(id)`, `Sum` per op.", len(f.ids), rounds),
		Header: []string{"comparison", "Go", "other side", "ratio", "target", "result"},
		Rows: [][]string{
			{"Go `Signer.Unsign` vs Node `cookie-signature.unsign`", nsop(g), nsop(n) + " (Node)", ratio(vsNode) + " faster", "≥ 15×", verdict(vsNode, 15, false)},
			{"Go `Signer.Unsign` vs the HMAC-SHA256 limit", nsop(g), nsop(l) + " (limit)", ratio(vsLimit) + " of the limit", "≤ 1.2×", verdict(vsLimit, 1.2, true)},
			{"allocations per `Signer.Unsign`", fmt.Sprintf("%d allocs, %d B", goAllocs, goBytes), "", "", "0 allocs/op", verdict(-float64(goAllocs), 0, false)},
		},
		Footer: fmt.Sprintf("Rounds (ns/op): Go %s; limit %s; Node %s.", fmtRounds(goNs), fmtRounds(limitNs), fmtRounds(nodeNs)),
	}
	return []table{t}, nil
}

func nsop(v float64) string { return fmt.Sprintf("%.0f ns/op", v) }

func fmtRounds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}
