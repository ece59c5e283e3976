package mongostore_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// TestStoreOutage freezes, then SIGKILLs a private FerretDB server (SQLite
// backend) under a steady load of session loads and socket authorizations,
// and restarts it on the same port and directory: every call while it is
// frozen or down must fail as a store error within its deadline, none may be
// accepted, and the same client must serve the surviving session again after
// the restart.
func TestStoreOutage(t *testing.T) {
	srv := faulttest.StartFerret(t)
	c, err := mongo.Connect(options.Client().ApplyURI(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	faulttest.RunOutage(t, faulttest.Outage{Server: srv, Store: mongostore.New(c.Database("sessionbridge_fault"), mongostore.Options{})})
}
