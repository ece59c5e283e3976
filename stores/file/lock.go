package filestore

import (
	"context"
	"strings"
	"sync"
)

// Locking: SetIf, Touch, Set and Destroy of one session run one at a time
// among Go processes sharing the directory. Within a process a per-file
// mutex orders them; across processes an advisory lock (flock, where the
// system has it) on a lock file next to the session file does. The lock file
// is <sid><ext><lockSuffix>: its name never ends in the extension, so
// neither this store nor session-file-store (which lists the files whose
// names end in fileExtension) takes it for a session. Its holder removes it
// before releasing it, so lock files do not pile up; one is left behind
// only by a process killed while holding it, and the next lock of that
// session takes it over and removes it. Node's session-file-store takes no
// lock: against Node writes the store relies on atomic renames and a last
// check before its own rename (see the package documentation).

// lockSuffixFor returns the suffix of lock file names for the extension
// ext: ".lock", or ".lock_" when a name ending in ".lock" could end in ext.
func lockSuffixFor(ext string) string {
	for _, suf := range []string{".lock", ".lock_"} {
		// A lock file name ends in ext+suf; the last len(ext) bytes of that
		// are all that can make it look like a session file.
		if !strings.HasSuffix(ext+suf, ext) {
			return suf
		}
	}
	return ".lock" // unreachable: ext cannot end in both 'k' and '_'
}

// fileLocks is the process-wide table of held session locks, by lock file
// path, shared by every Store on a directory.
var fileLocks = keyedMutex{m: make(map[string]*keyLock)}

// keyedMutex is a set of mutexes by key whose Lock honours a context. An
// entry exists only while someone holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds a token while locked
	refs int           // holders and waiters
}

// lock waits for key's mutex, or returns ctx's error once ctx is done.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
	return func() {
		<-l.ch
		k.release(key, l)
	}, nil
}

func (k *keyedMutex) release(key string, l *keyLock) {
	k.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}

// lock takes the session's lock (see above) for the session file path.
func (s *Store) lock(ctx context.Context, path string) (unlock func(), err error) {
	lockPath := path + s.lockSuffix
	release, err := fileLocks.lock(ctx, lockPath)
	if err != nil {
		return nil, err
	}
	unlockFile, err := lockFile(ctx, lockPath, s.opts.FileMode)
	if err != nil {
		release()
		return nil, err
	}
	return func() {
		unlockFile()
		release()
	}, nil
}
