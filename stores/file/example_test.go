package filestore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

// The store shares the directory of a Node app configured as
//
//	app.use(session({ secret: 'keyboard cat', store: new FileStore({ path: dir }) }))
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sessions")
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	store, err := filestore.New(filestore.Options{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	sid := "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	if err := store.Set(ctx, sid, s); err != nil {
		panic(err)
	}
	path, _ := store.Path(sid)
	data, _ := os.ReadFile(path)
	fmt.Println(string(data))

	got, _ := store.Get(ctx, sid)
	var p struct{ User int }
	_ = got.Get("passport", &p)
	fmt.Println("user", p.User)
	// Output:
	// {"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T13:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7},"__lastAccess":1795003200000}
	// user 7
}
