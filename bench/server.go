package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// The Go servers run in their own process: the harness binary started
// again with -serve (see startGoServer), so that Go and Node are measured
// the same way, over the loopback, by the same load generator.

// startGoServer starts this binary as a server of the given kind.
func startGoServer(ctx context.Context, cfg *config, name string, args ...string) (*proc, string, error) {
	return startGoServerOn(ctx, cfg, name, nil, nil, args...)
}

// startGoServerOn is startGoServer pinned to cpus (all the harness's CPUs
// when nil) with GOMAXPROCS = len(cpus), and env added to its environment.
func startGoServerOn(ctx context.Context, cfg *config, name string, cpus []int, env []string, args ...string) (*proc, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	argv := append([]string{self, "-redis", cfg.redisAddr}, args...)
	if len(cpus) > 0 {
		argv = pinned(cpus, argv...)
		env = append(env, "GOMAXPROCS="+strconv.Itoa(len(cpus)))
	}
	return startServer(ctx, cfg, name, env, argv...)
}

// meHandler answers GET /me with the passport user as stored (no
// deserializer), 401 without one. The touch section and the RequestPath
// benchmarks use it; the http section uses userHandler.
func meHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			http.Error(w, `{"error":"not logged in"}`, http.StatusUnauthorized)
			return
		}
		user, err := passportuser.Raw(s)
		if err != nil {
			http.Error(w, `{"error":"not logged in"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(user)
	})
}

// benchUser is the application's user in the http section, on both sides
// (bench/node/http-server.js has the same table): what deserializeUser
// returns and GET /me answers as JSON.
type benchUser struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// benchUsers is the in-memory user table, ids 0..n-1.
func benchUsers(n int) map[int]*benchUser {
	users := make(map[int]*benchUser, n)
	for i := range n {
		users[i] = &benchUser{ID: i, Username: fmt.Sprintf("user%d", i), Name: fmt.Sprintf("User %d", i)}
	}
	return users
}

// userDeserializer is the Go twin of http-server.js's
// passport.deserializeUser((stored, done) => done(null, users.get(stored.id) || false)):
// the stored passport user's id looked up in the table.
func userDeserializer(users map[int]*benchUser) passportuser.Deserializer[*benchUser] {
	return func(_ context.Context, stored json.RawMessage) (*benchUser, error) {
		var ref struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal(stored, &ref); err != nil {
			return nil, err
		}
		u, ok := users[ref.ID]
		if !ok {
			return nil, passportuser.ErrNotLoggedIn
		}
		return u, nil
	}
}

// userHandler answers GET /me as http-server.js does: the deserialized
// user marshalled to JSON (res.json(req.user)), 401 when not logged in.
func userHandler(users map[int]*benchUser) http.Handler {
	deserialize := userDeserializer(users)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			http.Error(w, `{"error":"not logged in"}`, http.StatusUnauthorized)
			return
		}
		u, err := passportuser.Load(r.Context(), s, deserialize)
		switch {
		case errors.Is(err, passportuser.ErrNotLoggedIn):
			http.Error(w, `{"error":"not logged in"}`, http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
			return
		}
		body, err := json.Marshal(u)
		if err != nil {
			http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})
}

// httpServeModes are the Go servers of the http section (-serve <mode>):
// "http" reads the session only (Bridge.Middleware), "http-save" runs
// express-session's lifecycle (Bridge.LoadAndSave: touches the store like
// express-session with resave false, saveUninitialized false),
// "http-touchafter" is http-save with Config.TouchAfter = $TOUCH_AFTER.
var httpServeModes = []string{"http", "http-save", "http-touchafter"}

// meMux builds the http section's GET /me for mode on store, with users
// ids 0..users-1 and TouchAfter after (http-touchafter only).
func meMux(mode string, store sessionbridge.Store, users int, after time.Duration) (http.Handler, error) {
	cfg := sessionbridge.Config{
		Secrets: []string{benchSecret},
		Store:   store,
		// express-session's cookie in http-server.js: maxAge one day,
		// httpOnly, path /. resave and saveUninitialized false: the zero values.
		Cookie: sessionbridge.CookieOptions{MaxAge: 24 * time.Hour},
	}
	if mode == "http-touchafter" {
		cfg.TouchAfter = after
	}
	bridge, err := sessionbridge.New(cfg)
	if err != nil {
		return nil, err
	}
	h := userHandler(benchUsers(users))
	mux := http.NewServeMux()
	switch mode {
	case "http":
		mux.Handle("GET /me", bridge.Middleware(h))
	case "http-save", "http-touchafter":
		mux.Handle("GET /me", bridge.LoadAndSave(h))
	default:
		return nil, fmt.Errorf("unknown http mode %q", mode)
	}
	return mux, nil
}

// serve runs a server until SIGTERM or SIGINT: the http modes
// (httpServeModes; users from $USERS, TouchAfter from $TOUCH_AFTER) serve
// GET /me on the Redis store; "sio" is the socket.io server (see sio.go);
// "auth-raw" is the auth section's raw side (see authRawHandler).
func serve(kind, redisAddr string, sioAuth bool) {
	log.SetPrefix("bench server: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{Prefix: redisPrefix})
	var h http.Handler
	var shutdown func()
	var err error
	switch kind {
	case "http", "http-save", "http-touchafter":
		users, _ := strconv.Atoi(envOr("USERS", "1000"))
		after, _ := time.ParseDuration(envOr("TOUCH_AFTER", "0"))
		h, err = meMux(kind, store, users, after)
	case "auth-raw":
		h, err = authRawHandler(ctx, client)
	case "sio":
		var bridge *sessionbridge.Bridge
		bridge, err = sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: store})
		if err == nil {
			h, shutdown, err = sioServer(bridge, sioAuth)
		}
	default:
		err = fmt.Errorf("unknown server kind %q", kind)
	}
	if err != nil {
		log.Fatal(err)
	}
	listenAndServe(ctx, h, shutdown)
}

// listenAndServe serves h (and /debug/pprof/) on a free loopback port,
// printing "LISTENING <url>" for startServer, until ctx is done; then it
// runs shutdown (if not nil) and stops the server.
func listenAndServe(ctx context.Context, h http.Handler, shutdown func()) {
	// Profiles of the server under load: go tool pprof <url>/debug/pprof/profile
	top := http.NewServeMux()
	top.Handle("/", h)
	top.HandleFunc("/debug/pprof/", pprof.Index)
	top.HandleFunc("/debug/pprof/profile", pprof.Profile)
	h = top
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("LISTENING http://%s\n", ln.Addr())
	go func() {
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	if shutdown != nil {
		shutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
