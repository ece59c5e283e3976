package filestore_test

import (
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

// TestLifecycleWithNode: Go behind Bridge.LoadAndSave and Node's
// session-file-store on one directory, as express-session peers.
func TestLifecycleWithNode(t *testing.T) {
	storetest.Lifecycle(t, 0, func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store) {
		dir := t.TempDir()
		st, err := filestore.New(filestore.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		env["STORE"] = "file"
		env["FILE_DIR"] = dir
		return nodetest.StartApp(t, env), st
	})
}
