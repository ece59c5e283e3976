package sessionbridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// TestSessionIDFromValue: a signed cookie value presented outside the
// Cookie header verifies like the cookie itself; anything else is "no
// session", with the cookiesig reason.
func TestSessionIDFromValue(t *testing.T) {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"new", "keyboard cat"}, Store: sessionbridge.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(s *cookiesig.Signer, id string) string { return cookiesig.SessionPrefix + s.Sign(id) } // URL-decoded
	old, _ := cookiesig.NewSigner("keyboard cat")
	other, _ := cookiesig.NewSigner("another secret")
	if id, err := b.SessionIDFromValue(signed(b.Signer(), "abc")); err != nil || id != "abc" {
		t.Fatalf("signed value: %q, %v", id, err)
	}
	if id, err := b.SessionIDFromValue(signed(old, "abc")); err != nil || id != "abc" {
		t.Fatalf("value signed with an older secret: %q, %v", id, err)
	}
	for value, reason := range map[string]error{
		"":                              cookiesig.ErrNotSigned,
		"abc":                           cookiesig.ErrNotSigned,
		signed(other, "abc"):            cookiesig.ErrBadSignature,
		signed(b.Signer(), "abc") + "x": cookiesig.ErrBadSignature,
		b.Signer().CookieValue("abc"):   cookiesig.ErrNotSigned, // still URL-encoded
	} {
		id, err := b.SessionIDFromValue(value)
		if id != "" || !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, reason) {
			t.Errorf("SessionIDFromValue(%q) = %q, %v; want ErrNoSession and %v", value, id, err, reason)
		}
	}
}

// TestBridgeKeeperAndUpdater: the Bridge through the SessionKeeper and
// SessionUpdater interfaces, as socketauth uses it: KeepAlive extends a
// session and reports a missing one as ErrNoSession; Update saves fn's
// change merged with a write made between its load and its save, and
// returns fn's error as is, saving nothing.
func TestBridgeKeeperAndUpdater(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: sessionbridge.NewMemoryStore(),
		Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var keeper sessionbridge.SessionKeeper = b
	var updater sessionbridge.SessionUpdater = b
	s, _ := b.NewSession()
	if err := b.Save(ctx, s); err != nil {
		t.Fatal(err)
	}

	now = now.Add(10 * time.Minute)
	if err := keeper.KeepAlive(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := keeper.LoadID(ctx, s.ID); !got.Record.Cookie.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires %v after KeepAlive, want %v", got.Record.Cookie.Expires, now.Add(time.Hour))
	}
	if err := keeper.KeepAlive(ctx, "missing"); !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("KeepAlive of a missing session: %v, want ErrNoSession", err)
	}

	err = updater.Update(ctx, s.ID, func(mine *sessionbridge.Session) error {
		other, err := b.LoadID(ctx, s.ID) // another writer, between the load and the save
		if err != nil {
			return err
		}
		_ = other.Record.Set("theirs", 1)
		if err := b.Save(ctx, other); err != nil {
			return err
		}
		return mine.Record.Set("mine", 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := b.LoadID(ctx, s.ID)
	if !got.Record.Has("theirs") || !got.Record.Has("mine") {
		t.Fatalf("after Update: theirs %v, mine %v; want both", got.Record.Has("theirs"), got.Record.Has("mine"))
	}
	stop := errors.New("fn's reason")
	if err := updater.Update(ctx, s.ID, func(mine *sessionbridge.Session) error {
		_ = mine.Record.Set("unsaved", 3)
		return stop
	}); err != stop {
		t.Fatalf("Update returned %v, want fn's error as is", err)
	}
	if got, _ := b.LoadID(ctx, s.ID); got.Record.Has("unsaved") {
		t.Fatal("Update saved the change of a failed fn")
	}
}
