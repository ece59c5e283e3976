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

// Open the sessions a Node app keeps with express-mysql-session in a
// MariaDB table of its own: format= names the npm package, and the
// options are that package's.
func ExampleParse_format() {
	spec, err := storeurl.Parse("mysql://app:pw@127.0.0.1:3306/app?format=express-mysql-session" +
		"&schema.tableName=web_sessions&expiration=3600000&timeout=5s")
	if err != nil {
		panic(err)
	}
	fmt.Println(spec) // never the password
	fmt.Println(spec.Kind, spec.Format, spec.SQL.Preset, spec.SQL.TableName, spec.SQL.TTL)
	// Then: store, closer, err := spec.Open(ctx)

	_, err = storeurl.Parse("mysql://app:pw@127.0.0.1:3306/app")
	fmt.Println(err)
	// Output:
	// mysql://xxxxx@127.0.0.1:3306/app?format=express-mysql-session&schema.tableName=web_sessions&expiration=3600000&timeout=5s
	// mysql express-mysql-session express-mysql-session on MySQL web_sessions 1h0m0s
	// storeurl: invalid store URL: mysql:// URLs need format=, the npm package the Node app stores sessions with: one of connect-session-knex, express-mysql-session, connect-session-sequelize
}
