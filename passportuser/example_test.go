package passportuser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func ExampleLoad() {
	// A session Node's passport wrote: serializeUser stored the id. In a
	// handler it comes from sessionbridge.FromContext or Bridge.Load.
	rec, _ := sessionjson.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"passport":{"user":7}}`))
	s := &sessionbridge.Session{ID: "sid", Record: rec}

	// The Go side of passport.deserializeUser: look the id up.
	type User struct {
		ID   int64
		Name string
	}
	byID := func(ctx context.Context, stored json.RawMessage) (User, error) {
		var id int64
		if err := json.Unmarshal(stored, &id); err != nil {
			return User{}, err
		}
		if id != 7 {
			return User{}, passportuser.ErrNotLoggedIn // the user was deleted
		}
		return User{ID: 7, Name: "Alice"}, nil
	}
	u, err := passportuser.Load(context.Background(), s, byID)
	switch {
	case errors.Is(err, passportuser.ErrNotLoggedIn):
		fmt.Println("anonymous")
	case err != nil:
		fmt.Println("cannot load the user:", err)
	default:
		fmt.Println("hello,", u.Name)
	}
	// Output: hello, Alice
}
