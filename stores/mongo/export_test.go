package mongostore

// ServerMeasures reports whether st's server evaluates the sized
// projection (so far: it is assumed until the server refuses it).
func ServerMeasures(st *Store) bool { return st.sized != nil && !st.noSized.Load() }

// JSONToBSON is the conversion of one session value that Set makes for a
// subdocument (stringify: false).
func JSONToBSON(raw []byte) (any, error) { return jsonToBSON(raw) }

// KeyWork runs f and returns the key comparisons and map operations made by
// the JSON to BSON conversions f did. Tests using it must not run in
// parallel with other conversions.
func KeyWork(f func()) int {
	n := 0
	testHookKeyWork = func(k int) { n += k }
	defer func() { testHookKeyWork = nil }()
	f()
	return n
}

// PlaintextJSON is the session JSON Get finds in a decrypted plaintext.
func PlaintextJSON(pt []byte) ([]byte, error) { return plaintextJSON(pt) }
