package socketauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// feedFunc is a SessionFeed made of a function, as any store could
// provide one.
type feedFunc func(ctx context.Context, notify func(sessionbridge.SessionEvent)) error

func (f feedFunc) Watch(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
	return f(ctx, notify)
}

// TestTrackerWatch: an ended session is revoked at once, without a store
// read (the record is still there); a changed one is re-validated and
// revoked only if it no longer holds its user; Watch returns when the feed
// does.
func TestTrackerWatch(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, _ := socketauth.New(socketauth.Config{Source: f.bridge})
	tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Hour})
	other, _ := f.bridge.NewSession()
	_ = other.Record.Set("passport", map[string]any{"user": 8})
	_ = f.bridge.Save(ctx, other)

	revoked := make(chan string, 4)
	for _, s := range []*sessionbridge.Session{f.user, other} {
		res, err := a.Authorize(ctx, handshake(f.cookie(s), nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		user := string(res.StoredUser)
		tr.Track(res, func(reason string) { revoked <- user + ": " + reason })
	}
	events := make(chan sessionbridge.SessionEvent)
	done := make(chan error, 1)
	go func() {
		done <- tr.Watch(ctx, feedFunc(func(ctx context.Context, notify func(sessionbridge.SessionEvent)) error {
			for ev := range events {
				notify(ev)
			}
			return context.Canceled
		}))
	}()
	want := func(got string) {
		t.Helper()
		select {
		case r := <-revoked:
			if r != got {
				t.Fatalf("revoked %q, want %q", r, got)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("nothing revoked, want %q", got)
		}
	}

	events <- sessionbridge.SessionEvent{ID: "untracked", Ended: true}
	events <- sessionbridge.SessionEvent{ID: f.user.ID} // written, still user 7
	events <- sessionbridge.SessionEvent{ID: other.ID, Ended: true}
	want("8: " + socketauth.ReasonSessionEnded) // the record is still in the store

	_ = f.user.Record.Set("passport", map[string]any{}) // Node's logout, before it regenerates
	if err := f.bridge.Save(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	events <- sessionbridge.SessionEvent{ID: f.user.ID}
	want("7: " + socketauth.ReasonLoggedOut)
	if s, c := tr.Len(); s != 0 || c != 0 {
		t.Fatalf("still tracked: %d sessions, %d connections", s, c)
	}
	close(events)
	if err := <-done; err != context.Canceled {
		t.Fatalf("Watch returned %v, want the feed's error", err)
	}
	select {
	case r := <-revoked:
		t.Fatalf("revoked again: %s", r)
	default:
	}
}
