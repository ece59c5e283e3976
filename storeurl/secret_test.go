package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

const urlSecret = "Hunter2!Crypto#99"

// TestSecretRefusedInURL: an encryption secret in the URL, in any of the
// forms a query writes connect-mongo's crypto: {secret} or
// connect-memcached's secret, is refused with a message that says how to
// pass it and never quotes it.
func TestSecretRefusedInURL(t *testing.T) {
	v := url.QueryEscape(urlSecret)
	for _, u := range []string{
		"mongodb://h/db?crypto=" + v,
		"mongodb://h/db?crypto.secret=" + v,
		"mongodb://h/db?Crypto.Secret=" + v,
		"mongodb://h/db?crypto%5Bsecret%5D=" + v,
		"mongodb://h/db?crypto[secret]=" + v,
		"mongodb://h/db?collectionName=s&crypto.secret=" + v + "&crypto.hashing=sha512",
		"mongodb+srv://u:pw@h/db?crypto.secret=" + v,
		"memcached://h?secret=" + v,
		"memcached://h?prefix=sess:&secret=" + v,
	} {
		_, err := storeurl.Parse(u)
		if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "Spec.SetSecret") || !strings.Contains(err.Error(), "--store-secret-file") {
			t.Errorf("%s: %v, want ErrBadURL saying how to pass the secret", u, err)
			continue
		}
		for _, form := range []string{urlSecret, v, "Hunter2"} {
			if strings.Contains(err.Error(), form) {
				t.Errorf("%s: the message quotes the secret: %v", u, err)
			}
		}
	}
	// Names that merely begin like crypto are not the option: the driver
	// refuses them as unknown (its own message), still without the value.
	_, err := storeurl.Parse("mongodb://h/db?cryptox=" + v)
	if err == nil || strings.Contains(err.Error(), "SetSecret") || strings.Contains(err.Error(), urlSecret) {
		t.Errorf("cryptox: %v", err)
	}
}

// TestSetSecret: SetSecret sets the store option of the URL's kind, and is
// refused for an empty secret or a kind without (supported) encryption;
// neither its errors nor printing the Spec shows the secret.
func TestSetSecret(t *testing.T) {
	for _, u := range []string{"mongodb://h/db?collectionName=s", "memcached://h:11211"} {
		s, err := storeurl.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetSecret(""); !errors.Is(err, storeurl.ErrBadURL) {
			t.Fatalf("%s: empty secret: %v", u, err)
		}
		if s.Mongo.Crypto != nil || s.Memcached.Crypto != nil {
			t.Fatal("an empty secret was set")
		}
		if err := s.SetSecret(urlSecret); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		switch s.Kind {
		case storeurl.Mongo:
			if s.Mongo.Crypto == nil || s.Mongo.Crypto.Secret != urlSecret {
				t.Fatal("Mongo.Crypto not set")
			}
		case storeurl.Memcached:
			if s.Memcached.Crypto == nil || s.Memcached.Crypto.Secret != urlSecret {
				t.Fatal("Memcached.Crypto not set")
			}
		}
		for _, out := range []string{
			fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprintf("%v %+v", *s, *s),
			fmt.Sprintf("%+v %#v", s.Mongo, s.Memcached), fmt.Sprint(s.Mongo.Crypto, s.Memcached.Crypto),
		} {
			if strings.Contains(out, urlSecret) {
				t.Fatalf("%s: printing shows the secret: %s", u, out)
			}
		}
	}
	for _, u := range []string{"redis://h/0", "postgres://u@h/db", "file:/tmp/x"} {
		s, err := storeurl.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		err = s.SetSecret(urlSecret)
		if !errors.Is(err, storeurl.ErrBadURL) || strings.Contains(err.Error(), urlSecret) {
			t.Fatalf("%s: SetSecret: %v, want ErrBadURL without the secret", u, err)
		}
		t.Logf("%s: %v", u, err)
	}
}

// TestLiveSecret: a MongoDB and a memcached store opened from a URL with
// SetSecret write encrypted sessions: the store of the same secret reads
// them, one without crypto refuses them as encrypted, one with another
// secret as undecryptable. (The formats themselves are checked against
// connect-mongo and connect-memcached in the stores' own tests.)
func TestLiveSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = sess.Set("passport", map[string]any{"user": 7})

	t.Run("mongodb", func(t *testing.T) {
		base, _ := services.MongoURL(t)
		c, err := mongo.Connect(options.Client().ApplyURI(base))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Disconnect(context.Background()) }()
		db, coll := c.Database("sessionbridge_test"), uniq(t)
		t.Cleanup(func() { _ = db.Collection(coll).Drop(context.Background()) })
		sid := openSecretSet(t, ctx, strings.TrimSuffix(base, "/")+"/sessionbridge_test?collectionName="+coll, sess)
		check(t, ctx, sid,
			mongostore.New(db, mongostore.Options{Collection: coll, Crypto: &mongostore.CryptoOptions{Secret: urlSecret}}),
			mongostore.New(db, mongostore.Options{Collection: coll}), mongostore.ErrEncrypted,
			mongostore.New(db, mongostore.Options{Collection: coll, Crypto: &mongostore.CryptoOptions{Secret: "other"}}), mongostore.ErrDecrypt)
	})
	t.Run("memcached", func(t *testing.T) {
		addr := services.MemcachedAddr(t)
		p := uniq(t) + ":"
		sid := openSecretSet(t, ctx, "memcached://"+addr+"?prefix="+p, sess)
		c := memcache.New(addr)
		defer c.Close()
		check(t, ctx, sid,
			memcachedstore.New(c, memcachedstore.Options{Prefix: p, Crypto: &memcachedstore.CryptoOptions{Secret: urlSecret}}),
			memcachedstore.New(c, memcachedstore.Options{Prefix: p}), memcachedstore.ErrEncrypted,
			memcachedstore.New(c, memcachedstore.Options{Prefix: p, Crypto: &memcachedstore.CryptoOptions{Secret: "other"}}), memcachedstore.ErrDecrypt)
	})
}

func openSecretSet(t *testing.T, ctx context.Context, rawURL string, sess *sessionjson.Session) string {
	t.Helper()
	spec, err := storeurl.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.SetSecret(urlSecret); err != nil {
		t.Fatal(err)
	}
	st, closer, err := spec.Open(ctx)
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	sid, _ := sessionbridge.NewID()
	if err := st.Set(ctx, sid, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, sid); err != nil {
		t.Fatalf("reading back: %v", err)
	}
	return sid
}

func check(t *testing.T, ctx context.Context, sid string, same, clear sessionbridge.Store, clearErr error, other sessionbridge.Store, otherErr error) {
	t.Helper()
	if _, err := same.Get(ctx, sid); err != nil {
		t.Fatalf("the same secret: %v", err)
	}
	if _, err := clear.Get(ctx, sid); !errors.Is(err, clearErr) {
		t.Fatalf("without crypto: %v, want %v", err, clearErr)
	}
	if _, err := other.Get(ctx, sid); !errors.Is(err, otherErr) {
		t.Fatalf("another secret: %v, want %v", err, otherErr)
	}
}
