//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import (
	"context"
	"os"
)

// crossProcessLock reports whether Go processes sharing a directory
// exclude each other: not on this system, which has no flock; only
// goroutines of one process do.
const crossProcessLock = false

// lockFile does nothing here: this system has no flock.
func lockFile(context.Context, string, os.FileMode) (unlock func(), err error) {
	return func() {}, nil
}
