package cookiesig_test

import (
	"errors"
	"fmt"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

func ExampleSign() {
	fmt.Println(cookiesig.Sign("abc", "keyboard cat"))
	// Output: abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU
}

func ExampleSigner_SessionID() {
	// The secrets of the Express app: the first signs, all verify.
	signer, err := cookiesig.NewSigner("new secret", "keyboard cat")
	if err != nil {
		panic(err)
	}
	// A Cookie header as a browser sends it to express-session's app.
	header := "theme=dark; connect.sid=s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg"
	sid, err := signer.SessionID(header, "connect.sid")
	fmt.Println(sid, err)

	_, err = signer.SessionID("connect.sid=s%3Aforged.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "connect.sid")
	fmt.Println(errors.Is(err, cookiesig.ErrBadSignature))
	// Output:
	// wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G <nil>
	// true
}

func ExampleSigner_CookieValue() {
	signer, _ := cookiesig.NewSigner("keyboard cat")
	// What express-session puts after "connect.sid=" in Set-Cookie.
	fmt.Println(signer.CookieValue("wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"))
	// Output: s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg
}

func ExampleParseJSONCookie() {
	// Express's res.cookie('prefs', {theme: 'dark'}) sets "j:" + JSON.
	var prefs struct{ Theme string }
	err := cookiesig.ParseJSONCookie(`j:{"theme":"dark"}`, &prefs)
	fmt.Println(prefs.Theme, err)
	// Output: dark <nil>
}
