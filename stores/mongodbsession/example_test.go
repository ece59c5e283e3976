package mongodbsessionstore_test

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

// Share the sessions of a Node app configured as
//
//	const MongoDBStore = require('connect-mongodb-session')(session);
//	const store = new MongoDBStore({ uri: 'mongodb://127.0.0.1:27017/app', collection: 'mySessions', expiresKey: 'expireAt' });
//
// (It needs a MongoDB server, so it has no Output and only compiles.)
func ExampleNew() {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
	if err != nil {
		panic(err)
	}
	defer client.Disconnect(context.Background())
	store, err := mongodbsessionstore.New(client.Database("app"), mongodbsessionstore.Options{
		Collection: "mySessions",
		ExpiresKey: "expireAt",
	})
	if err != nil {
		panic(err)
	}
	// The index Node's store creates when it connects (FerretDB refuses
	// it: call store.Prune periodically there instead).
	if err := store.CreateTTLIndex(context.Background()); err != nil {
		fmt.Println(err)
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		panic(err)
	}
	_ = bridge
}
