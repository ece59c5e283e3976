//go:build race

package cookiesig_test

// raceEnabled is set under the race detector, which makes sync.Pool drop
// items at random, so allocation counts mean nothing there.
const raceEnabled = true
