package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Statistics of a comparison. Every comparison runs its two sides in
// alternating repetitions (A B B A A B ...: alternate), so that drift in
// the machine's load falls on both sides alike, and pairs them: repetition
// i gives one ratio r_i = a_i / b_i. The report gives the median of the
// r_i and a 95% confidence interval of the ratio, a Student t interval on
// log r_i (the ratio's geometric mean), which is what a verdict is drawn
// from (verdictCI).

// minReps is the fewest repetitions a comparison may draw a verdict from.
const minReps = 5

// ratioStats is a paired ratio: median, geometric mean and its 95%
// confidence interval, from n repetitions.
type ratioStats struct {
	median, mean, lo, hi float64
	n                    int
}

// pairedRatio returns the statistics of a[i]/b[i]. Pairs with a
// non-positive side are an error: a rate or a time is never zero.
func pairedRatio(a, b []float64) (ratioStats, error) {
	if len(a) != len(b) || len(a) < 2 {
		return ratioStats{}, fmt.Errorf("paired ratio of %d and %d samples", len(a), len(b))
	}
	logs := make([]float64, len(a))
	rs := make([]float64, len(a))
	for i := range a {
		if !(a[i] > 0) || !(b[i] > 0) {
			return ratioStats{}, fmt.Errorf("paired ratio: sample %d is %g / %g", i, a[i], b[i])
		}
		rs[i] = a[i] / b[i]
		logs[i] = math.Log(rs[i])
	}
	m, half := meanCI(logs)
	return ratioStats{median: median(rs), mean: math.Exp(m), lo: math.Exp(m - half), hi: math.Exp(m + half), n: len(a)}, nil
}

// meanCI returns the mean of xs and the half-width of its 95% Student t
// confidence interval.
func meanCI(xs []float64) (mean, half float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / (n - 1))
	return mean, tQuantile975(len(xs)-1) * sd / math.Sqrt(n)
}

// tQuantile975 is the 97.5% quantile of Student's t with df degrees of
// freedom (two-sided 95%).
func tQuantile975(df int) float64 {
	table := []float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df < 1:
		return math.Inf(1)
	case df < len(table):
		return table[df]
	case df < 60:
		return 2.000 + (2.042-2.000)*float64(60-df)/30
	}
	return 1.960
}

// median is the median of xs.
func median(xs []float64) float64 {
	_, med, _ := spread(xs)
	return med
}

// spread returns the minimum, median and maximum of xs.
func spread(xs []float64) (lo, med, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], med, s[n-1]
}

// String formats the ratio as "4.07× [3.80, 4.36]".
func (r ratioStats) String() string {
	return fmt.Sprintf("%.2f× [%.2f, %.2f]", r.median, r.lo, r.hi)
}

// verdictCI is a target's verdict from a confidence interval: "met" when
// the whole interval clears the target, "not met" when it lies wholly on
// the wrong side, otherwise "inconclusive". With higherIsBetter the target
// is a floor (ratio ≥ target), else a ceiling (ratio ≤ target). Fewer than
// minReps repetitions are always inconclusive.
func verdictCI(r ratioStats, target float64, higherIsBetter bool) string {
	if r.n < minReps {
		return fmt.Sprintf("inconclusive (%d repetitions, %d needed)", r.n, minReps)
	}
	lo, hi := r.lo, r.hi
	if !higherIsBetter {
		lo, hi = -hi, -lo
		target = -target
	}
	switch {
	case lo >= target:
		return "met"
	case hi < target:
		return "**not met**"
	}
	return "inconclusive"
}

// alternate runs a and b n times each in the order A B B A A B B A ...,
// and returns their results in repetition order (a[i] and b[i] ran next
// to each other).
func alternate(n int, a, b func(rep int) (float64, error)) (as, bs []float64, err error) {
	as, bs = make([]float64, n), make([]float64, n)
	for i := range n {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		x, err := first(i)
		if err != nil {
			return nil, nil, err
		}
		y, err := second(i)
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		as[i], bs[i] = x, y
	}
	return as, bs, nil
}

// methodText is the statistics paragraph of the report.
func methodText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Every comparison runs its two sides in at least %d alternating repetitions (A B B A ...), pairs them, ", minReps)
	b.WriteString("and reports the median of the paired ratios with a 95% confidence interval (a Student t interval on the ")
	b.WriteString("logarithms of the ratios, i.e. of their geometric mean). A target is **met** only when the whole interval ")
	b.WriteString("clears it, **not met** when the whole interval misses it, and **inconclusive** otherwise.\n")
	return b.String()
}
