package sessionbridge_test

import (
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
)

// TestMemoryStore runs the contract against one MemoryStore shared by all
// subtests, as stores sharing one database would be, and checks that the
// contract removed every session it wrote.
func TestMemoryStore(t *testing.T) {
	store := sessionbridge.NewMemoryStore()
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store { return store }, sessionbridgetest.Options{})
	if n := store.Len(); n != 0 {
		t.Fatalf("the contract left %d sessions in the store", n)
	}
}
