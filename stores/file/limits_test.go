package filestore_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

// TestHugeLifetimes: Node (session-file-store) writes sessions whose
// cookie lives 1000 years and 10^15 ms; Go reads, touches and saves them.
// session-file-store's expiry is __lastAccess + originalMaxAge in
// float64 milliseconds, which holds these; each Go write must keep the
// file with a fresh __lastAccess.
func TestHugeLifetimes(t *testing.T) {
	for _, maxAge := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
		t.Run(strconv.FormatInt(maxAge, 10), func(t *testing.T) {
			dir := t.TempDir()
			st := store(t, filestore.Options{Dir: dir})
			app := nodetest.StartApp(t, map[string]string{"STORE": "file", "FILE_DIR": dir, "MAX_AGE_MS": strconv.FormatInt(maxAge, 10)})
			cookie := app.Login("alice", "secret")
			storetest.Peer{App: app, Bridge: bridge(t, st)}.LongLived(t, cookie, func(t *testing.T, s *sessionbridge.Session) {
				t.Helper()
				rec, err := sessionjson.Decode([]byte(readFile(t, st, s.ID)))
				if err != nil {
					t.Fatal(err)
				}
				expired, err := st.Expired(rec, time.Now().AddDate(500, 0, 0))
				if err != nil || expired {
					t.Fatalf("the stored session counts as expired in 500 years: %v %v", expired, err)
				}
			})
		})
	}
}

// TestSizeLimit: files just under and over the Decoder's limit, and a
// 64 MiB one, which must be refused from its size alone; the old code read
// limit+1 bytes of it (4 MiB and more, allocated) before refusing.
func TestSizeLimit(t *testing.T) {
	dir := t.TempDir()
	st := store(t, filestore.Options{Dir: dir})
	// session-file-store records carry __lastAccess; put makes room for it
	// in the padding, keeping the record's size.
	put := func(id string, rec []byte) {
		la := fmt.Sprintf(`"%s":%d,"pad":"`, filestore.LastAccessKey, time.Now().UnixMilli())
		pad := `"pad":"` + strings.Repeat("x", len(la)-len(`"pad":"`))
		writeFile(t, st, id, strings.Replace(string(rec), pad, la, 1))
	}
	for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
		max := limit
		if limit == sessionjson.DefaultMaxBytes {
			max = 0
		}
		storetest.SizeLimit(t, store(t, filestore.Options{Dir: dir, Decoder: sessionjson.Decoder{MaxBytes: max}}), limit, put)
	}
	// A sparse 64 MiB file: no disk space, and nothing to read but zeros.
	writeFile(t, st, "huge", "")
	if err := os.Truncate(path(t, st, "huge"), 64<<20); err != nil {
		t.Fatal(err)
	}
	var err error
	alloc := storetest.Allocated(func() { _, err = st.Get(t.Context(), "huge") })
	if !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Fatalf("64 MiB file: %v, want ErrTooLarge", err)
	}
	if alloc > 64<<10 {
		t.Fatalf("refusing a 64 MiB file allocated %d bytes; its size alone must refuse it", alloc)
	}
	t.Logf("64 MiB file refused (%v) after allocating %d bytes", err, alloc)
}
