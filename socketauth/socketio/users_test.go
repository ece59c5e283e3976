package socketio_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// details is a socket as an adapter delivers it from another server.
type details struct{ data any }

func (d details) Id() socket.SocketId            { return "remote" }
func (d details) Handshake() *socket.Handshake   { return &socket.Handshake{} }
func (d details) Rooms() *types.Set[socket.Room] { return types.NewSet[socket.Room]() }
func (d details) Data() any                      { return d.data }

// FromRemote reads Data in every form an adapter may deliver, and refuses
// what this package's middleware did not attach.
func TestFromRemoteForms(t *testing.T) {
	local := &socketio.Data{User: json.RawMessage(`{"id":7}`), LoggedIn: true}
	var decoded any // what the official Redis adapter hands over: JSON decoded into any
	b, _ := json.Marshal(local)
	_ = json.Unmarshal(b, &decoded)
	for name, c := range map[string]struct {
		data     any
		ok       bool
		user     string
		loggedIn bool
	}{
		"local pointer":   {local, true, `{"id":7}`, true},
		"decoded JSON":    {decoded, true, `{"id":7}`, true},
		"raw JSON":        {json.RawMessage(b), true, `{"id":7}`, true},
		"JSON string":     {string(b), true, `{"id":7}`, true},
		"anonymous":       {map[string]any{"user": nil, "logged_in": false}, true, ``, false},
		"number user":     {map[string]any{"user": float64(0), "logged_in": true}, true, `0`, true},
		"other app data":  {map[string]any{"userId": "x"}, false, ``, false},
		"no logged_in":    {map[string]any{"user": 7}, false, ``, false},
		"not an object":   {42, false, ``, false},
		"nil":             {nil, false, ``, false},
		"typed nil *Data": {(*socketio.Data)(nil), false, ``, false},
	} {
		t.Run(name, func(t *testing.T) {
			d, ok := socketio.FromRemote(socket.NewRemoteSocket(nil, details{c.data}))
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok && (string(d.User) != c.user || d.LoggedIn != c.loggedIn) {
				t.Fatalf("Data = %s/%v, want %s/%v", d.User, d.LoggedIn, c.user, c.loggedIn)
			}
		})
	}
}

func TestUserRoom(t *testing.T) {
	room := func(u any) socket.Room {
		t.Helper()
		r, err := socketio.UserRoom(u)
		if err != nil {
			t.Fatalf("UserRoom(%#v): %v", u, err)
		}
		if !strings.HasPrefix(string(r), socketio.RoomPrefix) || strings.Contains(string(r), "Alice") {
			t.Fatalf("room %q: want the prefix and a hash, no user data", r)
		}
		return r
	}
	same := [][]any{
		{7, int64(7), float64(7), json.RawMessage("7"), json.RawMessage(" 7\n"), &socketio.Data{User: json.RawMessage("7")}},
		{"9007199254740993", json.RawMessage(`"9007199254740993"`)},
		{json.RawMessage(`{"id":7,"name":"Alice"}`), json.RawMessage(`{"name": "Alice", "id": 7}`), map[string]any{"id": 7, "name": "Alice"}},
		{json.RawMessage("9007199254740993"), json.Number("9007199254740993")}, // beyond 2^53, exact
	}
	seen := map[socket.Room]int{}
	for i, group := range same {
		r := room(group[0])
		for _, u := range group[1:] {
			if got := room(u); got != r {
				t.Fatalf("UserRoom(%#v) differs from UserRoom(%#v)", u, group[0])
			}
		}
		if j, dup := seen[r]; dup {
			t.Fatalf("groups %d and %d share a room", j, i)
		}
		seen[r] = i
	}
	if room("7") == room(7) {
		t.Fatal(`the string "7" and the number 7 are different passport users`)
	}
	if room(json.RawMessage("9007199254740993")) == room(json.RawMessage("9007199254740992")) {
		t.Fatal("ids above 2^53 must not be rounded")
	}
	for _, u := range []any{nil, false, "", json.RawMessage("null"), json.RawMessage(""), (*socketio.Data)(nil)} {
		if _, err := socketio.UserRoom(u); !errors.Is(err, socketio.ErrNoUser) {
			t.Fatalf("UserRoom(%#v) = %v, want ErrNoUser", u, err)
		}
	}
	if _, err := socketio.UserRoom(json.RawMessage("{")); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	if _, err := socketio.UserRoom(json.RawMessage("7 8")); err == nil {
		t.Fatal("two JSON values accepted")
	}
}
