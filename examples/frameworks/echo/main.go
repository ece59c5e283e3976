// Command echo serves GET /api/me with Echo (v5): the user a Node app
// (express-session + passport) logged in, read from the store the two apps
// share.
//
//	go run ./frameworks/echo -store redis://127.0.0.1:6379 -secret 'keyboard cat'
//
// Answers: 200 and the user as passport serialized it; 401 without a valid
// session or without a logged-in user; 503 when the store cannot be read,
// so an outage never looks like a logout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// User is what the Node app's passport.serializeUser stores in the session.
type User struct {
	ID       json.Number `json:"id"`
	Username string      `json:"username"`
	Name     string      `json:"name"`
}

// newHandler routes GET /api/me. echo.WrapMiddleware takes net/http
// middleware: bridge.RequireSession answers 401 to a request without a
// valid session and 503 when the store fails.
func newHandler(bridge *sessionbridge.Bridge) http.Handler {
	e := echo.New()
	e.Use(echo.WrapMiddleware(bridge.RequireSession))
	e.GET("/api/me", func(c *echo.Context) error {
		sess, _ := sessionbridge.FromContext(c.Request().Context())
		user, err := passportuser.Load(c.Request().Context(), sess, passportuser.JSONDeserializer[User]())
		if errors.Is(err, passportuser.ErrNotLoggedIn) { // logged out on Node, or never logged in
			return echo.NewHTTPError(http.StatusUnauthorized, "log in first")
		} else if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, user)
	})
	return e
}

func main() {
	listen := flag.String("listen", "127.0.0.1:3002", "address to listen on")
	storeURL := flag.String("store", "", "the Node app's session store URL (redis://, postgres://, mongodb://, memcached://, file:)")
	secret := flag.String("secret", "", "the Node app's express-session secret")
	flag.Parse()

	store, closer, err := storeurl.Open(context.Background(), *storeURL)
	if err != nil {
		log.Fatal(err)
	}
	defer closer.Close()
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{*secret}, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("GET http://%s/api/me", *listen)
	log.Fatal(http.ListenAndServe(*listen, newHandler(bridge)))
}
