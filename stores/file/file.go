// Package filestore reads and writes express-session records as files,
// exactly as session-file-store 1.5.0 does, so a Go service and a Node app
// share one session directory.
//
//	import filestore "github.com/sessionbridge/sessionbridge/stores/file"
//
// Layout and rules, read from session-file-store's source and checked
// against it running:
//   - one file per session, <dir>/<sid>.json, holding JSON.stringify of the
//     session (no spaces) plus "__lastAccess": the epoch milliseconds of
//     the last write. set adds that key to the session object itself, so it
//     follows JavaScript property order: appended after the existing keys
//     the first time, kept in place afterwards (keys added later come after
//     it). Node's req.session carries it too, and so does the record Go
//     reads: it is an ordinary member of the [sessionjson.Session];
//   - expiry ignores cookie.expires: a session is expired when
//     __lastAccess + (cookie.originalMaxAge, or the TTL option when that is
//     null or 0) < now, in milliseconds. Get reports such a session as
//     sessionbridge.ErrNotFound (Node's get returns null) and leaves the
//     file for Node's reaper;
//   - set writes atomically (write-file-atomic: a temporary file in the same
//     directory, fsync, rename); touch reads the file, replaces its cookie
//     with the session's, and sets it again with a new __lastAccess;
//     destroy removes the file.
//
// Conditional writes ([Store.SetIf], the [sessionbridge.ConditionalStore]
// the Bridge uses to merge concurrent changes) compare the file's bytes: the
// Version's Tag is their SHA-256, and SetIf writes only if the file it
// reads again still has those bytes, else it fails with
// [sessionbridge.ErrConflict]. SetIf, Touch, Set and Destroy of a session
// take its lock first: a per-file mutex within the process and, where the
// system has flock (Linux, macOS, the BSDs), an advisory flock on a lock
// file next to the session file, <sid>.json.lock (or <sid><ext>.lock_
// for the rare extension such a name could end in), so Go processes sharing the
// directory write one session one at a time. Its name does not end in the
// extension, so session-file-store never takes it for a session (its reaper
// and length list only names ending in fileExtension), and the holder
// removes it before releasing it (a process killed while holding it leaves
// it behind until the session's next write). Touch, holding the lock,
// rewrites the record it finds with the caller's cookie and a new
// __lastAccess, never the caller's data. Version.Touched is the file's
// __lastAccess, which session-file-store's expiry counts from.
//
// session-file-store takes no lock, so Node's writes are not serialised
// with Go's. Both sides replace a file by renaming a complete new one over
// it, so neither ever reads a torn file, and before its rename a
// conditional Go write (SetIf, Touch) checks that the file is still the one
// it read (the same inode, which it holds open meanwhile so that no new
// file can reuse it): a Node write that lands earlier makes SetIf conflict
// and Touch read again. Only a Node
// rename falling between that check and Go's rename, a few microseconds,
// goes unseen; Node's own touch (read, then write with no check) leaves a
// far wider window. Node's destroy can likewise be undone by a Go write
// that checked just before it.
//
// Session ids become file names, so before any disk access Go refuses ids
// that are empty, longer than [MaxIDLength] or hold anything but
// A-Z a-z 0-9 _ - (uid-safe ids, UUIDs and the like fit) with
// [ErrInvalidID].
//
// Deliberate differences from Node:
//   - a file that does not parse is reported (sessionjson.ErrMalformed);
//     Node deletes it. A missing file is ErrNotFound at once; Node retries
//     (5 times by default, 50-100 ms apart).
//   - a record without a numeric __lastAccess (session-file-store never
//     writes one) is refused with [ErrBadLastAccess]; Node's arithmetic
//     makes it never expire.
//   - Set of a session whose cookie has already expired deletes the file
//     instead of writing it with a fresh __lastAccess (which would revive
//     it for Node); Touch of an expired session reports ErrNotFound where
//     Node writes a file holding only the cookie.
//   - new files get mode 0600 (FileMode), not Node's 0666 &^ umask (0644
//     under the usual umask): session data should not be world-readable.
//     Like write-file-atomic, a rewrite keeps the mode of the file it
//     replaces. Set FileMode 0644 (or 0640 and a shared group) if the Node
//     app runs as another user.
//   - a symbolic link at <sid>.json is followed on read (as in Node) but
//     replaced by the new file on write, where Node writes through it.
//   - a directory at <sid>.json is an error ([ErrNotRegular]); Node's
//     destroy would delete it recursively.
//
// The encrypted format (the secret option) and custom encoders are not
// supported. Go never deletes expired files: leave that to Node's reaper.
package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/backoff"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

// Defaults, as session-file-store sets them (but see FileMode).
const (
	DefaultDir           = "./sessions"
	DefaultTTL           = 3600 * time.Second
	DefaultFileExtension = ".json"
	// DefaultFileMode is the mode of new session files.
	DefaultFileMode os.FileMode = 0o600
	// MaxIDLength is the longest session id accepted, in bytes.
	MaxIDLength = 200
	// LastAccessKey is the member session-file-store adds to every session.
	LastAccessKey = "__lastAccess"
)

// Errors of the file store. None contains a session id or a file name.
var (
	// ErrInvalidID means the session id cannot safely be a file name.
	ErrInvalidID = errors.New("filestore: invalid session id")
	// ErrNotRegular means something other than a regular file (such as a
	// directory) sits where the session file should be.
	ErrNotRegular = errors.New("filestore: session path is not a regular file")
	// ErrBadLastAccess means the record has no numeric __lastAccess, so its
	// expiry is unknown. It wraps sessionjson.ErrMalformed.
	ErrBadLastAccess = fmt.Errorf("%w: __lastAccess missing or not a number", sessionjson.ErrMalformed)
)

// Options mirror session-file-store's options. The zero value is its
// defaults, except FileMode.
type Options struct {
	// Dir is the session directory; default "./sessions". New creates it
	// if needed. (path)
	Dir string
	// TTL is session-file-store's ttl: the idle lifetime, counted from
	// __lastAccess, of a session whose cookie has no originalMaxAge (a
	// browser-session cookie); default one hour (DefaultTTL). Any other
	// session expires cookie.originalMaxAge after its last access, not at
	// cookie.expires. (ttl)
	TTL time.Duration
	// FileExtension is appended to the id to name the file; default
	// ".json". (fileExtension)
	FileExtension string
	// FileMode is the permission of new files, set exactly (the umask does
	// not apply); default 0600. A rewritten file keeps its mode. A created
	// directory gets the same bits plus x where r is set.
	FileMode os.FileMode
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock for __lastAccess and expiry; default time.Now.
	Now func() time.Time
}

// Store is a session-file-store compatible sessionbridge.Store.
type Store struct {
	opts       Options
	lockSuffix string
}

var _ sessionbridge.ConditionalStore = (*Store)(nil)

// touchAttempts bounds the reads and writes of one Touch while Node keeps
// replacing the file. Each attempt spans an fsync (milliseconds), so a Node
// app writing the session back to back fails a good share of them.
const touchAttempts = 16

// errChanged means the session file was replaced or removed between a read
// and the write that depends on it.
var errChanged = errors.New("filestore: the session file changed")

// New returns a store on opts.Dir, creating the directory (as
// session-file-store does) if it does not exist.
func New(opts Options) (*Store, error) {
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	opts.Dir = filepath.Clean(opts.Dir)
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.FileExtension == "" {
		opts.FileExtension = DefaultFileExtension
	}
	if len(opts.FileExtension) > 32 || strings.ContainsAny(opts.FileExtension, "/\\\x00") {
		return nil, errors.New("filestore: FileExtension must be a short name suffix without path separators")
	}
	if opts.FileMode == 0 {
		opts.FileMode = DefaultFileMode
	}
	opts.FileMode &= os.ModePerm
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dirMode := opts.FileMode | opts.FileMode&0o444>>2
	if err := os.MkdirAll(opts.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("filestore: session directory: %w", err)
	}
	return &Store{opts: opts, lockSuffix: lockSuffixFor(opts.FileExtension)}, nil
}

// Path returns the file of a session id, or ErrInvalidID.
func (s *Store) Path(sid string) (string, error) {
	if len(sid) == 0 || len(sid) > MaxIDLength {
		return "", ErrInvalidID
	}
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "", ErrInvalidID
		}
	}
	return filepath.Join(s.opts.Dir, sid+s.opts.FileExtension), nil
}

// Get implements sessionbridge.Store: read, decode, and apply
// session-file-store's expiry rule.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	path, err := s.Path(sid)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.load(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	return f.sess, nil
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the
// SHA-256 of the file's bytes as the Version's Tag and its __lastAccess,
// which is what session-file-store's expiry counts from, as Touched.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	path, err := s.Path(sid)
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, sessionbridge.Version{}, err
	}
	f, err := s.load(ctx, path, loadTag)
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	return f.sess, sessionbridge.Version{Tag: f.tag, Touched: f.lastAccess}, nil
}

// What load returns besides the record.
const (
	loadTag  = 1 << iota // the Tag of the file's bytes
	loadHold             // the file, still open (see readRaw)
)

// loaded is a session file as read: its record, its __lastAccess and, as
// load was asked, the Tag of its bytes and the file, still open.
type loaded struct {
	sess       *sessionjson.Session
	tag        string
	lastAccess time.Time
	file       *os.File
}

// load reads, decodes and checks the session file: a missing file, or one
// session-file-store considers expired, is sessionbridge.ErrNotFound. what
// holds loadTag and loadHold bits; with loadHold the caller closes the file.
func (s *Store) load(ctx context.Context, path string, what int) (_ loaded, err error) {
	hold := what&loadHold != 0
	data, file, err := s.readRaw(path, hold)
	if err != nil {
		return loaded{}, err
	}
	if hold {
		defer func() {
			if err != nil {
				_ = file.Close()
			}
		}()
	}
	var tag string
	if what&loadTag != 0 {
		tag = tagOf(data)
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, data) // read into a fresh buffer
	if err != nil {
		return loaded{}, fmt.Errorf("filestore: %w", err)
	}
	last, err := lastAccess(sess)
	if err != nil {
		return loaded{}, err
	}
	if s.expiredAt(sess, last, s.opts.Now()) {
		return loaded{}, sessionbridge.ErrNotFound
	}
	return loaded{sess: sess, tag: tag, lastAccess: jsdate.Time(int64(math.Floor(last))), file: file}, nil
}

// tagOf is the Version Tag of a file's bytes.
func tagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// readRaw reads the session file's bytes, no more than the Decoder's
// MaxBytes allows. With hold it also returns the file, open: as long as it
// stays open its inode cannot be reused, so [Store.unchanged] can tell it
// from any file renamed over it since (Node writes a new file, often of the
// same size, within the timestamp granularity). The caller closes it.
func (s *Store) readRaw(path string, hold bool) (_ []byte, held *os.File, err error) {
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, nil, ErrNotRegular
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, sessionbridge.ErrNotFound
	}
	if err != nil {
		return nil, nil, osError("get", err)
	}
	defer func() {
		if !hold || err != nil {
			_ = f.Close()
		}
	}()
	var r io.Reader = f
	if limit := reclimit.Of(s.opts.Decoder); limit >= 0 {
		// The size is known before reading: refuse a larger file unread.
		if n := fi.Size(); n > int64(limit) {
			return nil, nil, reclimit.Error("filestore", n, limit)
		}
		// A file that grows after Stat is still read no further than one
		// byte past the limit, so Decode reports ErrTooLarge.
		r = io.LimitReader(f, int64(limit)+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, osError("get", err)
	}
	if hold {
		return data, f, nil
	}
	return data, nil, nil
}

// idle is the idle lifetime in milliseconds: cookie.originalMaxAge, or the
// TTL option when that is null or 0 (session-file-store's isExpired).
func (s *Store) idle(sess *sessionjson.Session) int64 {
	if m := sess.Cookie.OriginalMaxAge; m != nil && *m != 0 {
		return *m
	}
	return s.opts.TTL.Milliseconds()
}

// lastAccess returns the record's __lastAccess, or ErrBadLastAccess when
// it has no numeric one.
func lastAccess(sess *sessionjson.Session) (float64, error) {
	raw, ok := sess.Raw(LastAccessKey)
	if !ok {
		return 0, ErrBadLastAccess
	}
	last, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, ErrBadLastAccess
	}
	return last, nil
}

// expired reports whether session-file-store considers the record expired
// at now: __lastAccess + idle lifetime < now. It returns ErrBadLastAccess
// when the record has no numeric __lastAccess.
func (s *Store) expired(sess *sessionjson.Session, now time.Time) (bool, error) {
	last, err := lastAccess(sess)
	if err != nil {
		return false, err
	}
	return s.expiredAt(sess, last, now), nil
}

func (s *Store) expiredAt(sess *sessionjson.Session, last float64, now time.Time) bool {
	return last+float64(s.idle(sess)) < float64(now.UnixMilli())
}

// Set implements sessionbridge.Store as session-file-store does: it sets
// sess's __lastAccess to now (in sess itself, where Node sets it in
// req.session) and writes the file atomically. A session whose cookie has
// already expired is not written; its file is removed.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	path, err := s.Path(sid)
	if err != nil {
		return err
	}
	unlock, err := s.lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = s.save(path, sess, nil)
	return err
}

// SetIf implements sessionbridge.ConditionalStore. Holding the session's
// lock (see the package documentation), it reads the file again and, if
// its bytes are still those GetVersion read with v, writes sess as Set
// does (setting its __lastAccess); otherwise, or if the file is gone, it
// changes nothing and returns an error wrapping sessionbridge.ErrConflict.
// It returns the Version of the file written, or an empty one if sess
// had expired and the file was removed.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	path, err := s.Path(sid)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	unlock, err := s.lock(ctx, path)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	defer unlock()
	data, file, err := s.readRaw(path, true)
	if err == nil {
		defer file.Close()
	}
	switch {
	case errors.Is(err, sessionbridge.ErrNotFound), errors.Is(err, sessionjson.ErrTooLarge):
		return sessionbridge.Version{}, fmt.Errorf("filestore: set: %w", sessionbridge.ErrConflict)
	case err != nil:
		return sessionbridge.Version{}, err
	case v.Tag == "" || tagOf(data) != v.Tag:
		return sessionbridge.Version{}, fmt.Errorf("filestore: set: %w", sessionbridge.ErrConflict)
	}
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, err
	}
	ver, err := s.save(path, sess, file)
	if errors.Is(err, errChanged) {
		return sessionbridge.Version{}, fmt.Errorf("filestore: set: %w", sessionbridge.ErrConflict)
	}
	return ver, err
}

// save writes sess to path with a new __lastAccess, or removes the file
// when the session has expired, and sets the same __lastAccess in sess
// once it is written. When was is not nil, the write happens only if path
// is still that file, open since it was read (else errChanged). It returns
// the Version of the file written (empty when it removed the file).
func (s *Store) save(path string, sess *sessionjson.Session, was *os.File) (sessionbridge.Version, error) {
	now := s.opts.Now()
	if sess.Expired(now) || s.idle(sess) < 0 {
		if err := s.unchanged(path, was); err != nil {
			return sessionbridge.Version{}, err
		}
		return sessionbridge.Version{}, s.remove(path)
	}
	last := strconv.AppendInt(nil, now.UnixMilli(), 10)
	c := sess.Clone()
	if err := c.SetRaw(LastAccessKey, last); err != nil {
		return sessionbridge.Version{}, fmt.Errorf("filestore: %w", err)
	}
	data, err := c.Encode()
	if err != nil {
		return sessionbridge.Version{}, fmt.Errorf("filestore: %w", err)
	}
	if err := s.write(path, data, was); err != nil {
		return sessionbridge.Version{}, err
	}
	_ = sess.SetRaw(LastAccessKey, last) // cannot fail: the clone took it
	return sessionbridge.Version{Tag: tagOf(data), Touched: jsdate.Time(now.UnixMilli())}, nil
}

// unchanged returns errChanged unless was is nil or path is still the file
// was, which the caller has held open since it read it (so no other file
// can have taken its inode). Node and Go replace a session file by
// renaming a new one over it, so a write in between shows as another file.
func (s *Store) unchanged(path string, was *os.File) error {
	if was == nil {
		return nil
	}
	held, err := was.Stat()
	if err != nil {
		return osError("set", err)
	}
	cur, err := os.Stat(path) // as readRaw, through a symbolic link
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errChanged
	case err != nil:
		return osError("set", err)
	case !os.SameFile(cur, held):
		return errChanged
	}
	return nil
}

// write replaces path atomically: a temporary file in the same directory
// (named <sid>.json.go-<random>, unlike write-file-atomic's
// <sid>.json.<number>, and never ending in the extension), fsync, rename.
// When was is not nil, it renames only if path is still that file (checked
// just before the rename) and returns errChanged otherwise.
func (s *Store) write(path string, data []byte, was *os.File) (err error) {
	mode := s.opts.FileMode
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return ErrNotRegular
	case err == nil:
		mode = fi.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return osError("set", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".go-*")
	if err != nil {
		return osError("set", err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return osError("set", err)
	}
	if err = f.Chmod(mode); err != nil {
		return osError("set", err)
	}
	if err = f.Sync(); err != nil {
		return osError("set", err)
	}
	if err = f.Close(); err != nil {
		return osError("set", err)
	}
	if err = s.unchanged(path, was); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return osError("set", err)
	}
	renamed = true
	return nil
}

// Touch implements sessionbridge.Store as session-file-store does: holding
// the session's lock, it reads the file, replaces its cookie with sess's,
// and writes it with a new __lastAccess; the rest of the stored data is
// kept (never sess's) and sess is not changed. If Node replaces the file
// meanwhile it reads it again after a short random pause (up to 16
// attempts; then the error wraps sessionbridge.ErrConflict). A missing or expired session is
// sessionbridge.ErrNotFound and is not created.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	path, err := s.Path(sid)
	if err != nil {
		return err
	}
	unlock, err := s.lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	for attempt := range touchAttempts {
		if attempt > 0 {
			if err := backoff.Wait(ctx, attempt); err != nil {
				return err
			}
		}
		f, err := s.load(ctx, path, loadHold)
		if err != nil {
			return err
		}
		if err = ctx.Err(); err == nil {
			f.sess.Cookie = sess.Cookie
			_, err = s.save(path, f.sess, f.file)
		}
		_ = f.file.Close()
		if !errors.Is(err, errChanged) {
			return err
		}
	}
	return fmt.Errorf("filestore: touch: %w (still changing after %d attempts)", sessionbridge.ErrConflict, touchAttempts)
}

// Destroy implements sessionbridge.Store: it removes the file; a missing
// file is fine, a directory is ErrNotRegular.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	path, err := s.Path(sid)
	if err != nil {
		return err
	}
	unlock, err := s.lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.remove(path)
}

func (s *Store) remove(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return osError("destroy", err)
	case fi.IsDir():
		return ErrNotRegular
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return osError("destroy", err)
	}
	return nil
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: Get applies
// session-file-store's __lastAccess rule, which Node relies on alone.
func (s *Store) EnforcesExpiry() bool { return true }

// osError drops the path (which holds the session id) from an os error,
// keeping the cause for errors.Is (fs.ErrPermission, ...).
func osError(op string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("filestore: %s: %w", op, err)
}
