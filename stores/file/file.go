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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
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
	opts Options
}

var _ sessionbridge.Store = (*Store)(nil)

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
	return &Store{opts: opts}, nil
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
	sess, err := s.read(ctx, path)
	if err != nil {
		return nil, err
	}
	expired, err := s.expired(sess, s.opts.Now())
	if err != nil {
		return nil, err
	}
	if expired {
		return nil, sessionbridge.ErrNotFound
	}
	return sess, nil
}

func (s *Store) read(ctx context.Context, path string) (*sessionjson.Session, error) {
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, sessionbridge.ErrNotFound
	}
	if err != nil {
		return nil, osError("get", err)
	}
	defer f.Close()
	var r io.Reader = f
	if limit := reclimit.Of(s.opts.Decoder); limit >= 0 {
		// The size is known before reading: refuse a larger file unread.
		if n := fi.Size(); n > int64(limit) {
			return nil, reclimit.Error("filestore", n, limit)
		}
		// A file that grows after Stat is still read no further than one
		// byte past the limit, so Decode reports ErrTooLarge.
		r = io.LimitReader(f, int64(limit)+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, osError("get", err)
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, data) // read into a fresh buffer
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	return sess, nil
}

// idle is the idle lifetime in milliseconds: cookie.originalMaxAge, or the
// TTL option when that is null or 0 (session-file-store's isExpired).
func (s *Store) idle(sess *sessionjson.Session) int64 {
	if m := sess.Cookie.OriginalMaxAge; m != nil && *m != 0 {
		return *m
	}
	return s.opts.TTL.Milliseconds()
}

// expired reports whether session-file-store considers the record expired
// at now: __lastAccess + idle lifetime < now. It returns ErrBadLastAccess
// when the record has no numeric __lastAccess.
func (s *Store) expired(sess *sessionjson.Session, now time.Time) (bool, error) {
	raw, ok := sess.Raw(LastAccessKey)
	if !ok {
		return false, ErrBadLastAccess
	}
	last, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return false, ErrBadLastAccess
	}
	return last+float64(s.idle(sess)) < float64(now.UnixMilli()), nil
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
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.save(path, sess)
}

func (s *Store) save(path string, sess *sessionjson.Session) error {
	now := s.opts.Now()
	if sess.Expired(now) || s.idle(sess) < 0 {
		return s.remove(path)
	}
	if err := sess.SetRaw(LastAccessKey, strconv.AppendInt(nil, now.UnixMilli(), 10)); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	data, err := sess.Encode()
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	return s.write(path, data)
}

// write replaces path atomically: a temporary file in the same directory
// (named <sid>.json.go-<random>, unlike write-file-atomic's
// <sid>.json.<number>, and never ending in the extension), fsync, rename.
func (s *Store) write(path string, data []byte) (err error) {
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
	defer func() {
		if err != nil {
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
	if err = os.Rename(tmp, path); err != nil {
		return osError("set", err)
	}
	return nil
}

// Touch implements sessionbridge.Store as session-file-store does: it reads
// the file, replaces its cookie with sess's, and writes it with a new
// __lastAccess; the rest of the stored data is kept and sess is not
// changed. A missing or expired session is sessionbridge.ErrNotFound.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	stored, err := s.Get(ctx, sid)
	if err != nil {
		return err
	}
	path, _ := s.Path(sid) // valid: Get checked it
	stored.Cookie = sess.Cookie
	return s.save(path, stored)
}

// Destroy implements sessionbridge.Store: it removes the file; a missing
// file is fine, a directory is ErrNotRegular.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	path, err := s.Path(sid)
	if err != nil {
		return err
	}
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
