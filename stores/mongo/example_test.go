package mongostore_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// Share encrypted sessions with a Node app configured as
//
//	MongoStore.create({ mongoUrl: 'mongodb://127.0.0.1:27017/app', crypto: { secret: process.env.SESSION_CRYPTO_SECRET } })
//
// The secret is read from a file, never from a URL or a flag. (It needs a
// MongoDB server, so it has no Output and only compiles.)
func ExampleOptions_crypto() {
	secret, err := os.ReadFile("/run/secrets/session-crypto")
	if err != nil {
		panic(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
	if err != nil {
		panic(err)
	}
	defer client.Disconnect(context.Background())
	store := mongostore.New(client.Database("app"), mongostore.Options{
		Crypto: &mongostore.CryptoOptions{Secret: strings.TrimSpace(string(secret))},
	})
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		panic(err)
	}
	_ = bridge
}

// Printing the options never shows the secret.
func ExampleCryptoOptions() {
	opts := mongostore.CryptoOptions{Secret: "squirrel"}
	fmt.Println(opts)
	fmt.Printf("%#v\n", &opts)
	// Output:
	// mongostore.CryptoOptions{Secret: xxxxx}
	// mongostore.CryptoOptions{Secret: xxxxx}
}
