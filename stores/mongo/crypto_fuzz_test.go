package mongostore_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// FuzzPlaintextJSON: the step after decryption never panics, refuses with
// ErrMalformed, and gives back the session JSON of any string literal
// JSON.stringify writes.
func FuzzPlaintextJSON(f *testing.F) {
	for _, s := range []string{`"{\"cookie\":{}}"`, `{"cookie":{}}`, ` "x"`, `"`, `"\ud800"`, ``, `"\u00e9" trailing`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pt []byte) {
		out, err := mongostore.PlaintextJSON(pt)
		if err != nil {
			if !errors.Is(err, sessionjson.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var s string
		if json.Unmarshal(pt, &s) == nil && string(jsjson.AppendString(nil, s)) == string(pt) && string(out) != s {
			t.Fatalf("literal %q gave %q", pt, out)
		}
	})
}
