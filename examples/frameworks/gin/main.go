// Command gin serves GET /api/me with gin: the user a Node app
// (express-session + passport) logged in, read from the store the two apps
// share.
//
//	go run ./frameworks/gin -store redis://127.0.0.1:6379 -secret 'keyboard cat'
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

	"github.com/gin-gonic/gin"

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

// requireSession is bridge.RequireSession for gin: it loads the session
// into the request's context, or answers 401 (no valid session) or 503
// (the store failed).
func requireSession(bridge *sessionbridge.Bridge) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, err := bridge.Load(c.Request)
		switch {
		case errors.Is(err, sessionbridge.ErrNoSession):
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "log in first"})
		case err != nil:
			_ = c.Error(err)
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "sessions unavailable"})
		default:
			c.Request = c.Request.WithContext(sessionbridge.NewContext(c.Request.Context(), sess))
			c.Next()
		}
	}
}

// newHandler routes GET /api/me.
func newHandler(bridge *sessionbridge.Bridge) http.Handler {
	r := gin.New()
	r.Use(requireSession(bridge))
	r.GET("/api/me", func(c *gin.Context) {
		sess, _ := sessionbridge.FromContext(c.Request.Context())
		user, err := passportuser.Load(c.Request.Context(), sess, passportuser.JSONDeserializer[User]())
		if errors.Is(err, passportuser.ErrNotLoggedIn) { // logged out on Node, or never logged in
			c.JSON(http.StatusUnauthorized, gin.H{"error": "log in first"})
			return
		} else if err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, user)
	})
	return r
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
