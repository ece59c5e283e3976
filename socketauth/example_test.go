package socketauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// Guard a plain websocket handler: any request may upgrade, so Middleware
// authorizes every one of them, whatever its query says. (The store here is
// in memory; in production it is the store the Node app uses, and the
// cookie comes from a Node login. For an engine.io server, see
// socketauth/socketio.EngineMode.)
func ExampleAuthorizer_Middleware() {
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"},
		Store:   sessionbridge.NewMemoryStore(),
	})
	auth, _ := socketauth.New(socketauth.Config{Source: bridge})

	upgrader := websocket.Upgrader{} // checks Origin: same origin only
	chat := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := socketauth.FromContext(r.Context()) // always there behind Middleware
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello user "+string(a.StoredUser)))
	})
	ts := httptest.NewServer(auth.Middleware(chat))
	defer ts.Close()

	sess, _ := passportuser.Login(context.Background(), bridge, nil, 7, passportuser.Options{})
	cookie := bridge.CookieName() + "=" + bridge.Signer().CookieValue(sess.ID)
	dial := func(query, cookie string) string {
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/chat"+query, h)
		if resp == nil {
			return err.Error()
		}
		if err != nil {
			return fmt.Sprintf("refused: %d", resp.StatusCode)
		}
		defer c.Close()
		_, msg, _ := c.ReadMessage()
		return string(msg)
	}
	fmt.Println(dial("", cookie))
	fmt.Println(dial("", ""))
	fmt.Println(dial("?sid=", ""))
	fmt.Println(dial("?sid=abc", ""))
	// Output:
	// hello user 7
	// refused: 401
	// refused: 401
	// refused: 401
}
