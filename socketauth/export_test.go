package socketauth

import "time"

// SetClock sets the clock by which t spaces the keep-alives of a session.
// Call it before t is used.
func SetClock(t *Tracker, now func() time.Time) { t.now = now }

// WaitKeepAlives waits until no keep-alive of t is in flight. Call it only
// when no Activity call is running.
func WaitKeepAlives(t *Tracker) { t.keeps.Wait() }
