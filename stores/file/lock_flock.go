//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// crossProcessLock reports whether Go processes sharing a directory
// exclude each other (flock), not only goroutines of one process.
const crossProcessLock = true

// lockFile takes an exclusive flock on the lock file at path, creating it,
// and returns the function that removes it and releases the lock. flock
// has no timeout, so it is tried without blocking and retried with a short
// backoff until ctx is done: it only waits for another process.
func lockFile(ctx context.Context, path string, mode os.FileMode) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, mode)
		if err != nil {
			return nil, osError("lock", err)
		}
		if err := flock(ctx, f); err != nil {
			_ = f.Close()
			return nil, err
		}
		// The holder before us removed the file before releasing it, or
		// a newer one was created since we opened it: our lock is on a
		// file nobody else will lock. Start again on the current one.
		held, err1 := f.Stat()
		cur, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, cur) {
			return func() {
				_ = os.Remove(path) // while holding the lock: see above
				_ = f.Close()       // releases the lock
			}, nil
		}
		_ = f.Close()
		if err1 != nil {
			return nil, osError("lock", err1)
		}
		if err2 != nil && !errors.Is(err2, os.ErrNotExist) {
			return nil, osError("lock", err2)
		}
	}
}

// flock takes an exclusive flock on f, polling while another process holds
// it, until ctx is done.
func flock(ctx context.Context, f *os.File) error {
	wait := 50 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return osError("lock", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}
