package storeurl

// FormWork runs f and returns the look-ups made to keep each secret form
// once by the Parse calls f did. Tests using it must not run in parallel
// with other Parse calls.
func FormWork(f func()) int {
	n := 0
	testHookFormWork = func(k int) { n += k }
	defer func() { testHookFormWork = nil }()
	f()
	return n
}
