package mongostore_test

import (
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// TestLifecycleWithNode: Go behind Bridge.LoadAndSave and Node's
// connect-mongo on one collection, as express-session peers.
func TestLifecycleWithNode(t *testing.T) {
	db, url, _ := database(t)
	storetest.Lifecycle(t, 0, func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store) {
		name := collection(t, db)
		env["STORE"] = "mongo"
		env["MONGO_URL"] = strings.TrimSuffix(url, "/") + "/" + dbName
		env["MONGO_COLLECTION"] = name
		return nodetest.StartApp(t, env), mongostore.New(db, mongostore.Options{Collection: name})
	})
}
