package redisstore

import "testing"

// TestEnough: the notification settings that publish every event the
// feed needs, and those that miss one.
func TestEnough(t *testing.T) {
	for v, want := range map[string]bool{
		"":      false,
		"Kg$x":  true,
		"KA":    true,
		"AK":    true,
		"KEA":   true,
		"Kg$":   false, // no expiry events
		"Kgx":   false, // no SET
		"K$x":   false, // no DEL
		"Eg$x":  false, // keyevent channels only
		"Eg$xK": true,
		"A":     false,
	} {
		if got := enough(v); got != want {
			t.Errorf("enough(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestFeedEvent: a keyspace notification is read as the store's session
// event only for the store's own keys and the events that matter.
func TestFeedEvent(t *testing.T) {
	f := (&Store{opts: Options{Prefix: "sess:"}}).Feed(FeedOptions{})
	for _, c := range []struct {
		channel, payload string
		id               string // "" for no event
		ended            bool
	}{
		{"__keyspace@0__:sess:abc", "set", "abc", false},
		{"__keyspace@0__:sess:abc", "del", "abc", true},
		{"__keyspace@3__:sess:abc", "expired", "abc", true},
		{"__keyspace@0__:sess:abc", "evicted", "abc", true},
		{"__keyspace@0__:sess:a__:b", "set", "a__:b", false},
		{"__keyspace@0__:sess:abc", "expire", "", false}, // a touch
		{"__keyspace@0__:sess:abc", "append", "", false},
		{"__keyspace@0__:other:abc", "del", "", false},
		{"__keyspace@0__:sess:", "del", "", false},
		{"unrelated", "del", "", false},
	} {
		ev, ok := f.event(c.channel, c.payload)
		if ok != (c.id != "") || ev.ID != c.id || ev.Ended != c.ended {
			t.Errorf("event(%q, %q) = %+v, %v; want id %q ended %v", c.channel, c.payload, ev, ok, c.id, c.ended)
		}
	}
}
