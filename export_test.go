package sessionbridge

import "time"

// Test hooks on MemoryStore, for this package's tests only.

// SetClock replaces the store's clock.
func (m *MemoryStore) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// SetRaw stores a record exactly as given, as a Node store would hold it,
// even one that does not decode.
func (m *MemoryStore) SetRaw(sid string, record []byte) {
	m.mu.Lock()
	m.sessions[sid] = append([]byte(nil), record...)
	m.mu.Unlock()
}

// Len returns the number of records held, expired ones included.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Raw returns the record held for sid exactly, or nil.
func (m *MemoryStore) Raw(sid string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.sessions[sid]...)
}
