// Command chat-server is the Go half of the sessionbridge demo: a socket.io
// v4 chat (github.com/zishang520/socket.io) and a /api/me endpoint that know
// who you are from the session of the Node app in examples/node-app, read
// from the same store. Logging out on the Node page disconnects the chat.
//
//	chat-server -listen 127.0.0.1:3001 -store file:///abs/sessions -secret S -origin http://localhost:3000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// The demo's users, as the Node app's passport serializes them (by id).
var users = map[int64]string{1: "Alice", 2: "Bob"}

type user struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// lookup is the Go side of passport.deserializeUser.
func lookup(_ context.Context, stored json.RawMessage) (any, error) {
	var id int64
	if err := json.Unmarshal(stored, &id); err != nil {
		return nil, err
	}
	name, ok := users[id]
	if !ok {
		return nil, passportuser.ErrNotLoggedIn
	}
	return user{ID: id, Name: name}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:3001", "address to serve the chat and /api/me on")
	storeURL := flag.String("store", "", "session store URL (see cmd/sessionbridge: file:, redis://, postgres://, mongodb://, memcached://)")
	secret := flag.String("secret", "", "express-session secret of the Node app")
	origin := flag.String("origin", "http://localhost:3000", "origin of the Node app's pages (CORS)")
	cookieName := flag.String("cookie-name", sessionbridge.DefaultCookieName, "session cookie name")
	revalidate := flag.Duration("revalidate", time.Second, "how often open sockets' sessions are re-checked")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config{listen: *listen, storeURL: *storeURL, secret: *secret, origin: *origin, cookieName: *cookieName, revalidate: *revalidate}
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("chat-server", "error", err)
		os.Exit(1)
	}
}

type config struct {
	listen, storeURL, secret, origin, cookieName string
	revalidate                                   time.Duration
}

// run serves until ctx ends. ready, if not nil, receives the listening
// address once the server accepts connections.
func run(ctx context.Context, c config, log *slog.Logger, ready chan<- string) error {
	listen, storeURL, secret, origin, cookieName, revalidate := c.listen, c.storeURL, c.secret, c.origin, c.cookieName, c.revalidate
	if storeURL == "" || secret == "" {
		return errors.New("-store and -secret are required")
	}
	if cookieName == "" {
		cookieName = sessionbridge.DefaultCookieName
	}
	if revalidate <= 0 {
		revalidate = time.Second
	}

	store, closer, err := storeurl.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer closer.Close()
	bridge, err := sessionbridge.New(sessionbridge.Config{CookieName: cookieName, Secrets: []string{secret}, Store: store, Logger: log})
	if err != nil {
		return err
	}
	auth, err := socketauth.New(socketauth.Config{Source: bridge, Deserialize: lookup, Logger: log})
	if err != nil {
		return err
	}
	tracker := socketauth.NewTracker(auth, socketauth.TrackerOptions{Interval: revalidate})
	go tracker.Run(ctx)
	if rs, ok := store.(*redisstore.Store); ok {
		// Redis also tells at once when a session is written or deleted
		// (if its keyspace notifications are on); Run catches the rest.
		go func() {
			if err := tracker.Watch(ctx, rs.Feed(redisstore.FeedOptions{Logger: log})); err != nil {
				log.Warn("no early revocation from Redis keyspace notifications", "error", err)
			}
		}()
	}

	opts := socket.DefaultServerOptions()
	opts.SetCors(&types.Cors{Origin: origin, Credentials: true})
	io := socket.NewServer(nil, opts)
	io.Use(socketio.Middleware(auth, socketio.Options{Tracker: tracker}))
	io.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		u, ok := socketio.User[user](s) // what lookup returned
		if !ok {
			s.Disconnect(false)
			return
		}
		_ = s.Emit("hello", map[string]any{"text": fmt.Sprintf("Hello, %s! The Go chat knows you from the Node session.", u.Name)})
		io.Emit("message", map[string]any{"from": "chat", "text": u.Name + " joined"})
		s.On("message", func(args ...any) {
			if len(args) == 0 {
				return
			}
			text, _ := args[0].(string)
			if text == "" || len(text) > 1000 {
				return
			}
			io.Emit("message", map[string]any{"from": u.Name, "text": text})
		})
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/api/me", cors(origin, bridge.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		sess, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			_ = json.NewEncoder(w).Encode(map[string]any{"loggedIn": false})
			return
		}
		u, err := passportuser.Load(r.Context(), sess, lookup)
		if err != nil {
			_ = json.NewEncoder(w).Encode(map[string]any{"loggedIn": false})
			return
		}
		who := u.(user) // lookup returns only user values
		_ = json.NewEncoder(w).Encode(map[string]any{"loggedIn": true, "user": who.ID, "name": who.Name})
	}))))

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("go chat server", "listen", "http://"+ln.Addr().String(), "origin", origin)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	done := make(chan struct{})
	io.Close(func(error) { close(done) })
	<-done
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// cors lets the Node app's pages call /api/me with their cookies.
func cors(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
