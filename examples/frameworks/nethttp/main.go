// Command nethttp serves GET /api/me with net/http alone: the user a Node app
// (express-session + passport) logged in, read from the store the two apps
// share.
//
//	go run ./frameworks/nethttp -store redis://127.0.0.1:6379 -secret 'keyboard cat'
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

// newHandler routes GET /api/me. bridge.RequireSession answers 401 to a
// request without a valid session and 503 when the store fails.
func newHandler(bridge *sessionbridge.Bridge) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", bridge.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionbridge.FromContext(r.Context())
		user, err := passportuser.Load(r.Context(), sess, passportuser.JSONDeserializer[User]())
		if errors.Is(err, passportuser.ErrNotLoggedIn) { // logged out on Node, or never logged in
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(user)
	})))
	return mux
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
