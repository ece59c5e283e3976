package sessionjson

// KeyWork runs f and returns the key comparisons and map probes made by the
// decodes and value rewrites f did. Tests using it must not run in
// parallel with other decodes or encodes.
func KeyWork(f func()) int {
	n := 0
	testHookKeyWork = func(k int) { n += k }
	defer func() { testHookKeyWork = nil }()
	f()
	return n
}

// PollEvery is how much input a decoder reads between two looks at its
// context.
const PollEvery = pollEvery
