package mongostore_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// TestStoreOutage runs faulttest.StoreOutage on a private FerretDB server
// (SQLite backend), killed with SIGKILL.
func TestStoreOutage(t *testing.T) {
	faulttest.StoreOutage{Start: faulttest.StartFerret, Connect: func(tb testing.TB, srv *faulttest.Server) sessionbridge.Store {
		c, err := mongo.Connect(options.Client().ApplyURI(srv.URL))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		return mongostore.New(c.Database("sessionbridge_fault"), mongostore.Options{})
	}}.Run(t)
}
