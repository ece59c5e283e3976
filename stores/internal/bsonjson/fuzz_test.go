package bsonjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/bsonjson"
)

// FuzzAppendObject: any input is refused with an error or converted to
// valid BSON; Go's JSON view of that BSON is a fixed point (converting it
// and viewing it again gives it back), and converting the view with the
// document as hint gives the document back byte for byte.
func FuzzAppendObject(f *testing.F) {
	for _, s := range handPicked {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"a":{"b":[1,{"c":-0}]},"a":2}`, `{"x":1e400}`, `{"\u0000":1}`, `{"a":`, `[1]`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := bsonjson.AppendObject(nil, data, bson.RawValue{})
		if err != nil {
			if !errors.Is(err, bsonjson.ErrJSON) && !errors.Is(err, bsonjson.ErrKey) && !errors.Is(err, sessionjson.ErrTooDeep) {
				t.Fatalf("unexpected error %v", err)
			}
			if json.Valid(data) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && errors.Is(err, bsonjson.ErrJSON) {
				t.Fatalf("valid JSON object refused: %v", err)
			}
			return
		}
		if err := bson.Raw(doc).Validate(); err != nil {
			t.Fatalf("invalid BSON written: %v", err)
		}
		view, err := bsonjson.AppendJSON(nil, docValue(doc), -1)
		if err != nil {
			t.Fatalf("cannot view what was written: %v", err)
		}
		if !json.Valid(view) {
			t.Fatalf("view is not JSON: %s", view)
		}
		again, err := bsonjson.AppendObject(nil, view, bson.RawValue{})
		if err != nil {
			t.Fatal(err)
		}
		if view2, _ := bsonjson.AppendJSON(nil, docValue(again), -1); !bytes.Equal(view, view2) {
			t.Fatalf("view not a fixed point:\n%s\n%s", view, view2)
		}
		back, err := bsonjson.AppendObject(nil, view, docValue(doc))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, doc) {
			t.Fatalf("round trip with hint changed the document:\n%x\n%x", doc, back)
		}
	})
}

// FuzzAppendJSON: any bytes as a BSON document are refused or viewed as
// valid JSON; writing that JSON back with the document as hint gives a
// document whose view is the same (what Node sees does not change through
// Go), and the same bytes when the document has no undefined member, no
// repeated key and its keys in JavaScript's order.
func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte(exotic(f)))
	f.Add([]byte(marshal(f, bson.D{{Key: "b", Value: 1}, {Key: "1", Value: bson.A{2.5, "x"}}})))
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		view, err := bsonjson.AppendJSON(nil, docValue(data), 1<<16)
		if err != nil {
			return
		}
		if !json.Valid(view) {
			t.Fatalf("view is not JSON: %s", view)
		}
		back, err := bsonjson.AppendObject(nil, view, docValue(data))
		if err != nil {
			t.Fatalf("cannot write back the view %s: %v", view, err)
		}
		view2, err := bsonjson.AppendJSON(nil, docValue(back), -1)
		if err != nil || !bytes.Equal(view, view2) {
			t.Fatalf("view changed through Go:\n%s\n%s (%v)", view, view2, err)
		}
	})
}
