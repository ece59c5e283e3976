package sessionbridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// TestFastifyInteropSharedStore: one store shared by an express-session
// app and a @fastify/session app set up to share its cookie (cookieName
// 'connect.sid', cookiePrefix 's:'), with Go in both formats reading,
// touching and changing records either wrote. Every record keeps the
// layout of whoever wrote it, and both Node apps read back everything Go
// wrote.
func TestFastifyInteropSharedStore(t *testing.T) {
	for _, st := range liveStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ls := st.start(t)
			env := map[string]string{"SECRETS": `["` + fastifySecret + `"]`}
			for k, v := range ls.env {
				env[k] = v
			}
			express := nodetest.StartApp(t, env)
			fastify := startFastify(t, ls, map[string]string{"COOKIE_NAME": "connect.sid", "COOKIE_PREFIX": "s:"})
			goE, err := sessionbridge.New(sessionbridge.Config{
				Secrets: []string{fastifySecret}, Store: ls.store, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour},
			})
			if err != nil {
				t.Fatal(err)
			}
			goF := fastifyPeer(t, ls, sessionbridge.Config{CookieName: "connect.sid", CookiePrefix: "s:"})
			ctx := context.Background()
			i := &interop{t: t, ls: ls, express: express, fastify: fastify}

			set := func(b *sessionbridge.Bridge, sid, key string, touch bool) {
				t.Helper()
				err := b.Update(ctx, sid, func(s *sessionbridge.Session) error {
					if touch {
						s.Record.Touch(time.Now())
					}
					return s.Record.Set(key, 1)
				})
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
			}

			t.Run("express writes", func(t *testing.T) {
				i.t = t
				cookie := i.nodeData(express, "byExpress")
				sid := i.load(goE, cookie).ID
				if f := i.load(goF, cookie); f.ID != sid {
					t.Fatal("the formats read different ids")
				}
				i.wantLayout(sid, sessionjson.ExpressLayout)
				set(goE, sid, "goExpress", true)
				i.wantLayout(sid, sessionjson.ExpressLayout)
				before := i.raw(sid)
				time.Sleep(5 * time.Millisecond)
				if err := goF.KeepAlive(ctx, sid); err != nil {
					t.Fatal(err)
				}
				after := i.raw(sid)
				if after == before || jsonPath(t, after, "cookie", "originalExpires") != "" {
					t.Fatalf("Go's fastify-format touch of an express record:\n%s\n%s", before, after)
				}
				i.wantLayout(sid, sessionjson.ExpressLayout)
				set(goF, sid, "goFastify", false)
				i.wantLayout(sid, sessionjson.ExpressLayout)
				i.nodeSees(cookie, sid, "byExpress", "goExpress", "goFastify")
			})

			t.Run("fastify writes", func(t *testing.T) {
				i.t = t
				cookie := i.nodeData(fastify, "byFastify")
				if !strings.HasPrefix(cookie, "s:") {
					t.Fatalf("fastify's cookie %q is not raw", cookie)
				}
				sid := i.load(goE, cookie).ID
				i.wantLayout(sid, sessionjson.FastifyLayout)
				loaded := jsonPath(t, i.raw(sid), "cookie", "expires")
				set(goE, sid, "goExpress", true)
				i.wantLayout(sid, sessionjson.FastifyLayout)
				if got := jsonPath(t, i.raw(sid), "cookie", "originalExpires"); got != loaded {
					t.Fatalf("express-format change of a fastify record: originalExpires %s, want %s", got, loaded)
				}
				set(goF, sid, "goFastify", false)
				if err := goF.KeepAlive(ctx, sid); err != nil {
					t.Fatal(err)
				}
				i.wantLayout(sid, sessionjson.FastifyLayout)
				i.nodeSees(cookie, sid, "byFastify", "goExpress", "goFastify")
			})

			for name, b := range map[string]*sessionbridge.Bridge{"go express format": goE, "go fastify format": goF} {
				t.Run(name+" creates", func(t *testing.T) {
					i.t = t
					_, setCookie := goServer(t, b, func(w http.ResponseWriter, r *http.Request) {
						s, _ := sessionbridge.FromContext(r.Context())
						_ = s.Record.Set("byGo", 1)
					})(nil)
					cookie := setCookieValue(t, setCookie, "connect.sid")
					want := sessionjson.ExpressLayout
					if b == goF {
						want = sessionjson.FastifyLayout
						if !strings.HasPrefix(cookie, "s:") {
							t.Fatalf("cookie %q", cookie)
						}
					} else if !strings.HasPrefix(cookie, "s%3A") {
						t.Fatalf("cookie %q", cookie)
					}
					sid := i.load(goE, cookie).ID
					i.wantLayout(sid, want)
					i.nodeSees(cookie, sid, "byGo")
				})
			}
		})
	}
}

type interop struct {
	t                *testing.T
	ls               liveStore
	express, fastify *nodetest.App
}

// nodeData creates a session on app by setting key, and returns its cookie.
func (i *interop) nodeData(app *nodetest.App, key string) string {
	i.t.Helper()
	st, body, cookie := app.Do("POST", "/data", "", map[string]any{"set": map[string]any{key: 1}})
	if st != 200 || cookie == "" {
		i.t.Fatalf("%s /data: %d %s", app, st, body)
	}
	return cookie
}

func (i *interop) load(b *sessionbridge.Bridge, cookie string) *sessionbridge.Session {
	i.t.Helper()
	s, err := loadCookie(b, "connect.sid="+cookie)
	if err != nil {
		i.t.Fatalf("Go reads %q: %v", cookie, err)
	}
	return s
}

func (i *interop) raw(sid string) string {
	i.t.Helper()
	return rawRecord(i.t, i.ls.store, sid)
}

// wantLayout checks the stored record's cookie layout by its bytes.
func (i *interop) wantLayout(sid string, want sessionjson.Layout) {
	i.t.Helper()
	raw := i.raw(sid)
	fastify := strings.HasPrefix(raw, `{"cookie":{"expires":`) && strings.Contains(raw, `"sameSite":null`) && strings.Contains(raw, `"domain":null`)
	express := strings.HasPrefix(raw, `{"cookie":{"originalMaxAge":`) && !strings.Contains(raw, "originalExpires")
	if want == sessionjson.FastifyLayout && !fastify || want == sessionjson.ExpressLayout && !express {
		i.t.Fatalf("record not in layout %d: %s", want, raw)
	}
}

// nodeSees checks that express-session, then @fastify/session (whose
// rolling re-save rewrites the record in its layout), load the session of
// cookie with the keys set.
func (i *interop) nodeSees(cookie, sid string, keys ...string) {
	i.t.Helper()
	for _, app := range []*nodetest.App{i.express, i.fastify} {
		m := app.Me(cookie)
		var s map[string]json.RawMessage
		if err := json.Unmarshal(m.Session, &s); err != nil {
			i.t.Fatal(err)
		}
		if m.Sid != sid {
			i.t.Fatalf("%s: session %q, want %q", app, m.Sid, sid)
		}
		for _, k := range keys {
			if string(s[k]) != "1" {
				i.t.Fatalf("%s: %s missing from %s", app, k, m.Session)
			}
		}
	}
}
