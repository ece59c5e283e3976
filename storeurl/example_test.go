package storeurl_test

import (
	"fmt"

	"github.com/sessionbridge/sessionbridge/storeurl"
)

// Open the sessions a Node app encrypts with connect-mongo's crypto:
// {secret}. The secret never goes in the URL (Parse refuses it there):
// read it from a file or a secret store and pass it with SetSecret.
func ExampleSpec_SetSecret() {
	spec, err := storeurl.Parse("mongodb://app:pw@127.0.0.1:27017/app?collectionName=sessions")
	if err != nil {
		panic(err)
	}
	secret := "read from a file, never from the URL" // e.g. os.ReadFile
	if err := spec.SetSecret(secret); err != nil {
		panic(err)
	}
	fmt.Println(spec) // neither the password nor the secret
	// Then: store, closer, err := spec.Open(ctx)

	_, err = storeurl.Parse("mongodb://127.0.0.1:27017/app?crypto.secret=squirrel")
	fmt.Println(err)
	// Output:
	// mongodb://xxxxx@127.0.0.1:27017/app?collectionName=sessions
	// storeurl: invalid store URL: crypto.secret: never put the encryption secret in the URL (URLs end up in logs): leave it out of the URL and pass the secret separately, with Spec.SetSecret (the sessionbridge command: --store-secret-file)
}
