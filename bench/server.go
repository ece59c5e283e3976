package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
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
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	argv := append([]string{self, "-redis", cfg.redisAddr}, args...)
	return startServer(ctx, cfg, name, nil, argv...)
}

// meHandler answers GET /me with the passport user as JSON, 401 without one.
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

// serve runs a server until SIGTERM or SIGINT: "http" is GET /me behind
// Bridge.Middleware on the Redis store; "sio" is the socket.io server (see
// sio.go).
func serve(kind, redisAddr string, sioAuth bool) {
	log.SetPrefix("bench server: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{Prefix: redisPrefix})
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	var h http.Handler
	var shutdown func()
	switch kind {
	case "http":
		mux := http.NewServeMux()
		mux.Handle("GET /me", bridge.Middleware(meHandler()))
		h = mux
	case "sio":
		h, shutdown, err = sioServer(bridge, sioAuth)
		if err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("unknown server kind %q", kind)
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
