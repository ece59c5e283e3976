package main

import (
	"math"
	"testing"
)

func TestPairedRatio(t *testing.T) {
	a := []float64{400, 420, 390, 410, 405}
	b := []float64{100, 100, 100, 100, 100}
	r, err := pairedRatio(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if r.median != 4.05 || !(r.lo < 4.05 && r.hi > 4.05) || r.lo < 3.8 || r.hi > 4.3 {
		t.Fatalf("%+v", r)
	}
	for target, want := range map[float64]string{3: "met", 5: "**not met**", 4.05: "inconclusive"} {
		if got := verdictCI(r, target, true); got != want {
			t.Errorf("target %g: %s, want %s", target, got, want)
		}
	}
	if got := verdictCI(r, 5, false); got != "met" {
		t.Errorf("ceiling 5: %s", got)
	}
	if got := verdictCI(ratioStats{median: 9, lo: 8, hi: 10, n: 3}, 1, true); got == "met" {
		t.Error("three repetitions gave a verdict")
	}
	if _, err := pairedRatio([]float64{1, 0}, []float64{1, 1}); err == nil {
		t.Error("a zero sample was accepted")
	}
	if math.Abs(tQuantile975(4)-2.776) > 1e-9 {
		t.Error("t quantile")
	}
}

func TestAlternate(t *testing.T) {
	var order []string
	as, bs, err := alternate(4, func(i int) (float64, error) { order = append(order, "a"); return float64(i), nil },
		func(i int) (float64, error) { order = append(order, "b"); return float64(10 + i), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "abbaabba"
	got := ""
	for _, o := range order {
		got += o
	}
	if got != want || as[1] != 1 || bs[1] != 11 {
		t.Fatalf("order %s as %v bs %v", got, as, bs)
	}
}
