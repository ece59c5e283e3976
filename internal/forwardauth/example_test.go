package forwardauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/forwardauth"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// An auth server on an express-session store: the proxy asks /auth with
// the client's cookie and gets the passport user back in X-Auth-User.
func Example() {
	store := sessionbridge.NewMemoryStore() // the Node app's store in real use
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets:      []string{"keyboard cat"},
		Store:        store,
		ErrorHandler: forwardauth.ErrorHandler, // a store failure becomes a 503
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := forwardauth.New(forwardauth.Config{
		LoadAndSave: b.LoadAndSave,
		Headers:     []forwardauth.Header{{Name: "X-Auth-Email", Path: []string{"email"}}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// What Node's passport stored at login.
	s, err := passportuser.Login(context.Background(), b, nil, json.RawMessage(`{"id":7,"name":"Zoë","email":"zoe@example.com"}`), passportuser.Options{})
	if err != nil {
		log.Fatal(err)
	}

	r := httptest.NewRequest("GET", "/auth", nil)
	r.Header.Set("Cookie", "connect.sid="+b.Signer().CookieValue(s.ID))
	r.Header.Set("X-Forwarded-Uri", "/dashboard")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("X-Auth-User"), w.Header().Get("X-Auth-Email"))

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/auth", nil))
	fmt.Println(w.Code)
	// Output:
	// 200 {"id":7,"name":"Zo\u00eb","email":"zoe@example.com"} zoe@example.com
	// 401
}
