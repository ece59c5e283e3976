package bsonjson

// KeyWork runs f and returns the key comparisons and map operations the
// conversions f did made, both ways. Tests using it must not run in
// parallel with other conversions.
func KeyWork(f func()) int {
	n := 0
	testHookKeyWork = func(k int) { n += k }
	defer func() { testHookKeyWork = nil }()
	f()
	return n
}
