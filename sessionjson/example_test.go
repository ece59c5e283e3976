package sessionjson_test

import (
	"fmt"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func ExampleDecode() {
	// A record as connect-redis stores it: JSON.stringify(req.session).
	record := []byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:06:40.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"cart":[1,2]}`)
	s, err := sessionjson.Decode(record)
	if err != nil {
		panic(err)
	}
	var cart []int
	_ = s.Get("cart", &cart)
	fmt.Println(s.Keys(), cart, s.Expired(time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)))

	// Change one field and touch: the rest comes out as Node wrote it.
	_ = s.Set("cart", []int{1, 2, 3})
	s.Touch(time.Date(2026, 11, 18, 12, 30, 0, 0, time.UTC))
	out, _ := s.Encode()
	fmt.Println(string(out))
	// Output:
	// [cookie passport cart] [1 2] false
	// {"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T13:30:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"cart":[1,2,3]}
}

func ExampleCookie_SetCookie() {
	c := sessionjson.NewCookie(time.UnixMilli(1795000000000), time.Hour)
	c.SameSite = &sessionjson.SameSite{Mode: "lax"}
	h, _ := c.SetCookie("connect.sid", "s%3Aabc.sig")
	fmt.Println(h)
	// Output: connect.sid=s%3Aabc.sig; Path=/; Expires=Wed, 18 Nov 2026 12:06:40 GMT; HttpOnly; SameSite=Lax
}
