package cookiesig_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

func TestKeygripKnownSignature(t *testing.T) {
	// cookie-session's cookies after a passport login, keys ['new-key','old-key'].
	kg, err := cookiesig.NewKeygrip("", "new-key", "old-key")
	if err != nil {
		t.Fatal(err)
	}
	data := "session=eyJwYXNzcG9ydCI6eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn19fQ=="
	if got := kg.Sign(data); got != "lBtbUG13VRajZMjfB9P5Cdehbps" {
		t.Fatalf("sign = %s", got)
	}
	old, _ := cookiesig.NewKeygrip("sha1", "old-key")
	if i := kg.Index(data, old.Sign(data)); i != 1 {
		t.Fatalf("old key's signature at index %d, want 1", i)
	}
	if i := kg.Index(data, old.Sign(data)+"="); i != -1 {
		t.Fatalf("a padded signature verified (index %d)", i)
	}
	header := "session=" + data[len("session="):] + "; session.sig=" + old.Sign(data)
	v, i, err := kg.Get(header, "session", 0)
	if err != nil || i != 1 || v != data[len("session="):] {
		t.Fatalf("Get = %q, %d, %v", v, i, err)
	}
}

func TestKeygripUsageErrors(t *testing.T) {
	if _, err := cookiesig.NewKeygrip("md4", "k"); !errors.Is(err, cookiesig.ErrUnknownAlgorithm) {
		t.Errorf("md4: %v", err)
	}
	if _, err := cookiesig.NewKeygrip("sha256"); !errors.Is(err, cookiesig.ErrNoSecret) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := cookiesig.NewKeygrip("sha256", "a", ""); !errors.Is(err, cookiesig.ErrNoSecret) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := cookiesig.NewKeygrip("SHA512", "k"); err != nil {
		t.Errorf("Node's hash names are case-insensitive: %v", err)
	}
	kg, _ := cookiesig.NewKeygrip("", "k")
	for _, name := range []string{"", "a;b", "a=b", "\u0100"} {
		if _, _, err := kg.Get("a=1", name, 0); !errors.Is(err, cookiesig.ErrMalformed) {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestKeygripGetErrors(t *testing.T) {
	kg, _ := cookiesig.NewKeygrip("", "k1", "k2")
	good := kg.Sign("session=e30=")
	other, _ := cookiesig.NewKeygrip("", "k1")
	cases := []struct {
		header string
		want   error
	}{
		{"", cookiesig.ErrNoCookie},
		{"other=1", cookiesig.ErrNoCookie},
		{"xsession=e30=; xsession.sig=" + good, cookiesig.ErrNoCookie},
		{"session=e30=", cookiesig.ErrNotSigned},
		{"session=e30=; session.sig=", cookiesig.ErrNotSigned},
		{"session=e30=; session.sig=" + good[1:], cookiesig.ErrBadSignature},
		{"session=e30=; session.sig=" + good + "=", cookiesig.ErrBadSignature},
		// A .sig made for another name does not verify.
		{"session=e30=; session.sig=" + other.Sign("koa.sess=e30="), cookiesig.ErrBadSignature},
		// Swapped cookies.
		{"session=" + good + "; session.sig=e30=", cookiesig.ErrBadSignature},
		{"session=e30=; session.sig=" + good, nil},
		// Tabs are not the spaces cookies skips.
		{"a=1;\tsession=e30=; session.sig=" + good, cookiesig.ErrNoCookie},
	}
	for _, c := range cases {
		_, _, err := kg.Get(c.header, "session", 0)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.header, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "e30") || strings.Contains(err.Error(), good)) {
			t.Errorf("error echoes the cookie: %v", err)
		}
	}
	header := "session=e30=; session.sig=" + good
	if _, _, err := kg.Get(header, "session", len(header)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, _, err := kg.Get(header, "session", len(header)-1); !errors.Is(err, cookiesig.ErrMalformed) {
		t.Errorf("over the limit: %v", err)
	}
}

// TestKeygripGetNoAlloc: verifying a signed cookie (cookie-session's and
// koa-session's read path) allocates nothing, with the signing key and with
// an older one, for every hash.
func TestKeygripGetNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	for _, alg := range []string{"sha1", "sha256", "sha512"} {
		kg, _ := cookiesig.NewKeygrip(alg, "new-key", "old-key")
		old, _ := cookiesig.NewKeygrip(alg, "old-key")
		for i, signer := range []*cookiesig.Keygrip{kg, old} {
			value := "eyJwYXNzcG9ydCI6eyJ1c2VyIjo0Mn19"
			header := "_ga=GA1.1.123; session=" + value + "; session.sig=" + signer.Sign("session="+value) + "; theme=dark"
			if n := testing.AllocsPerRun(100, func() {
				if v, k, err := kg.Get(header, "session", cookiesig.DefaultMaxHeaderBytes); err != nil || k != i || v != value {
					t.Fatalf("%s: %q %d %v", alg, v, k, err)
				}
			}); n != 0 {
				t.Errorf("%s, key %d: %v allocations per Get", alg, i, n)
			}
		}
	}
}

// TestKeygripAgainstNode runs the cookies package's get(name, {signed:
// true}) and keygrip's sign on random headers and requires the same value,
// the same verdict and the same .sig re-issue or clearing.
func TestKeygripAgainstNode(t *testing.T) {
	nodetest.RequireNode(t)
	r := rand.New(rand.NewPCG(15, 2))
	for _, alg := range []string{"sha1", "sha256", "sha512"} {
		keys := []string{"new-kéy", "old key"}
		kg, err := cookiesig.NewKeygrip(alg, keys...)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := cookiesig.NewKeygrip(alg, keys[1])
		stranger, _ := cookiesig.NewKeygrip(alg, "stranger")
		name := "session"
		var headers [][]byte
		for range 400 {
			headers = append(headers, randomKeygripHeader(r, name, kg, old, stranger))
		}
		b64 := make([]any, len(headers))
		for i, h := range headers {
			b64[i] = base64.StdEncoding.EncodeToString(h)
		}
		b64 = append(b64, nil)
		data := make([]string, 50)
		for i := range data {
			data[i] = randomText(r, 1+r.IntN(60))
		}
		res := nodetest.Oracle(t, []nodetest.Op{
			{Op: "cookiesGet", Args: map[string]any{"keys": keys, "algorithm": alg, "name": name, "headers": b64}},
			{Op: "keygripSign", Args: map[string]any{"keys": keys, "algorithm": alg, "data": data}},
		})
		var got struct {
			Results []struct {
				Value     *string  `json:"value"`
				SetCookie []string `json:"setCookie"`
			} `json:"results"`
		}
		res[0].Decode(t, &got)
		var sigs struct{ Sigs []string }
		res[1].Decode(t, &sigs)
		for i, d := range data {
			if s := kg.Sign(d); s != sigs.Sigs[i] {
				t.Fatalf("%s sign(%q) = %s, Node %s", alg, d, s, sigs.Sigs[i])
			}
		}
		agreed := map[string]int{}
		for i, h := range headers {
			n := got.Results[i]
			v, idx, err := kg.Get(string(h), name, 0)
			switch {
			case n.Value != nil:
				want, _ := base64.StdEncoding.DecodeString(*n.Value)
				if err != nil || v != string(want) {
					t.Fatalf("%s header %q: Go %q %v, Node %q", alg, h, v, err, want)
				}
				reissued := len(n.SetCookie) == 1 && strings.HasPrefix(n.SetCookie[0], name+".sig="+kg.Sign(name+"="+v)+";")
				if (idx > 0) != reissued {
					t.Fatalf("%s header %q: index %d, Node re-issued %v", alg, h, idx, n.SetCookie)
				}
				agreed[fmt.Sprint("valid, index ", idx)]++
			case len(n.SetCookie) == 1:
				if !errors.Is(err, cookiesig.ErrBadSignature) || !strings.HasPrefix(n.SetCookie[0], name+".sig=; ") {
					t.Fatalf("%s header %q: Go %v, Node cleared with %v", alg, h, err, n.SetCookie)
				}
				agreed["bad signature"]++
			default:
				if !errors.Is(err, cookiesig.ErrNoCookie) && !errors.Is(err, cookiesig.ErrNotSigned) {
					t.Fatalf("%s header %q: Go %q %v, Node none", alg, h, v, err)
				}
				agreed["no session"]++
			}
		}
		if _, _, err := kg.Get("", name, 0); !errors.Is(err, cookiesig.ErrNoCookie) || got.Results[len(headers)].Value != nil {
			t.Fatalf("no header: Go %v", err)
		}
		t.Logf("%s: %v", alg, agreed)
		for _, k := range []string{"valid, index 0", "valid, index 1", "bad signature", "no session"} {
			if agreed[k] < 10 {
				t.Errorf("%s: only %d headers where both say %q", alg, agreed[k], k)
			}
		}
	}
}

var keygripRunes = []rune("abcXYZ019+/=-_ .\"é\u00ff")

func randomText(r *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteRune(keygripRunes[r.IntN(len(keygripRunes))])
	}
	return sb.String()
}

// randomKeygripHeader makes a header with a session cookie (raw bytes, so
// latin1 characters appear as single bytes), its .sig signed by the current
// key, an old key, a stranger, or tampered, and noise around them.
func randomKeygripHeader(r *rand.Rand, name string, cur, old, stranger *cookiesig.Keygrip) []byte {
	value := randomText(r, r.IntN(24))
	value = strings.ReplaceAll(value, ";", "")
	lat, _ := latin1Bytes(value)
	quoted := r.IntN(8) == 0
	jsValue := value // what Node sees between the quotes
	wire := string(lat)
	if quoted {
		wire = `"` + wire + `"`
	}
	data := name + "=" + jsValue
	var sig string
	switch r.IntN(5) {
	case 0, 1:
		sig = cur.Sign(data)
	case 2:
		sig = old.Sign(data)
	case 3:
		sig = stranger.Sign(data)
	default:
		sig = cur.Sign(data)
		b := []byte(sig)
		b[r.IntN(len(b))] ^= 1
		sig = string(b)
	}
	parts := []string{name + "=" + wire}
	switch r.IntN(10) {
	case 0: // no .sig
	case 1:
		parts = append(parts, name+".sig=")
	default:
		parts = append(parts, name+".sig="+sig)
	}
	if r.IntN(3) == 0 {
		parts = append(parts, name+"=dup", name+".sig="+cur.Sign(name+"=dup"))
	}
	if r.IntN(3) == 0 {
		parts = append([]string{"x" + name + "=1", "other=2"}, parts...)
	}
	r.Shuffle(len(parts), func(i, j int) {
		if r.IntN(4) == 0 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	})
	sep := []string{"; ", ";", ";  "}[r.IntN(3)]
	return []byte(strings.Join(parts, sep))
}

func FuzzKeygripGet(f *testing.F) {
	kg, _ := cookiesig.NewKeygrip("", "k1", "k2")
	f.Add("session=e30=; session.sig=" + kg.Sign("session=e30="))
	f.Add(`session="e30="; session.sig=x`)
	f.Add(`session="; session.sig=`)
	f.Add("session=\xe9; session.sig=abc")
	f.Fuzz(func(t *testing.T, header string) {
		v, i, err := kg.Get(header, "session", 0)
		if err != nil {
			if v != "" || i != -1 {
				t.Fatalf("error %v with value %q index %d", err, v, i)
			}
			return
		}
		if i < 0 || i > 1 {
			t.Fatalf("index %d", i)
		}
		// Whatever verified must be the signature of what it returned.
		if kg.Index("session="+v, kg.Sign("session="+v)) != 0 {
			t.Fatal("sign and index disagree")
		}
	})
}
