package main

import (
	"testing"

	"github.com/sessionbridge/sessionbridge/examples/internal/frameworktest"
)

// TestAPIMe logs in on the real Node app and checks what this example
// answers: the user, 401 without or with a forged cookie and after a Node
// logout, 503 when the store is down.
func TestAPIMe(t *testing.T) { frameworktest.Run(t, newHandler) }
