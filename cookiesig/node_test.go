package cookiesig_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// TestNodeAcceptsGoCookies hands values Go signed and cookie headers Go built
// to the real cookie-signature and express-session, which must agree with
// Go on every one: Node's sign equals Go's, Node unsigns what Go signed, and
// express-session looks up exactly the id Go extracts (or none when Go
// refuses).
func TestNodeAcceptsGoCookies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	type vec struct {
		value   string
		secrets []string
		header  string
	}
	var vecs []vec
	for i := 0; i < 60; i++ {
		secrets := []string{randString(r, 1+r.IntN(80))}
		if i%3 == 0 {
			secrets = append(secrets, randString(r, 1+r.IntN(20)))
		}
		value := randString(r, 1+r.IntN(40))
		if i%2 == 0 {
			value = randSid(r)
		}
		signWith := secrets[0]
		if i%3 == 0 && i%2 == 0 {
			signWith = secrets[1] // an old secret that still verifies
		}
		old, _ := cookiesig.NewSigner(signWith)
		header := "a=1; connect.sid=" + old.CookieValue(value) + "; z=2"
		if i%5 == 0 {
			// forge: sign with a secret that is not listed
			forged, _ := cookiesig.NewSigner(signWith + "x")
			header = "connect.sid=" + forged.CookieValue(value)
		}
		vecs = append(vecs, vec{value: value, secrets: secrets, header: header})
	}
	var ops []nodetest.Op
	for _, v := range vecs {
		ops = append(ops,
			nodetest.Op{Op: "sign", Args: map[string]any{"value": v.value, "secret": v.secrets[0]}},
			nodetest.Op{Op: "unsign", Args: map[string]any{"input": cookiesig.Sign(v.value, v.secrets[0]), "secrets": v.secrets}},
			nodetest.Op{Op: "getcookie", Args: map[string]any{"header": v.header, "name": "connect.sid", "secrets": v.secrets}},
		)
	}
	res := nodetest.Oracle(t, ops)
	confirmed := 0
	for i, v := range vecs {
		var sign struct{ Signed107, Signed122 string }
		res[3*i].Decode(t, &sign)
		if got := cookiesig.Sign(v.value, v.secrets[0]); got != sign.Signed107 || got != sign.Signed122 {
			t.Errorf("vec %d: go signs %q, node %q / %q", i, got, sign.Signed107, sign.Signed122)
		} else {
			confirmed++
		}
		var uns struct{ Result any }
		res[3*i+1].Decode(t, &uns)
		if uns.Result != v.value {
			t.Errorf("vec %d: node unsigns Go's value to %v, want %q", i, uns.Result, v.value)
		} else {
			confirmed++
		}
		var gc struct{ Sid *string }
		res[3*i+2].Decode(t, &gc)
		s, _ := cookiesig.NewSigner(v.secrets...)
		sid, err := s.SessionID(v.header, "connect.sid")
		switch {
		case gc.Sid == nil && err == nil:
			t.Errorf("vec %d: go accepts a cookie express-session refuses", i)
		case gc.Sid != nil && (err != nil || sid != *gc.Sid):
			t.Errorf("vec %d: express-session looked up %q, go %q %v", i, *gc.Sid, sid, err)
		default:
			confirmed++
		}
	}
	t.Logf("Node confirmed %d of %d cookie-signature/express-session vectors", confirmed, len(ops))
}

func randSid(r *rand.Rand) string {
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 32)
	for i := range b {
		b[i] = b64url[r.IntN(64)]
	}
	return string(b)
}
