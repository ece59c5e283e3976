// Command ferretdb-server runs FerretDB v1 (a MongoDB wire-protocol server)
// with its SQLite backend, for tests that need a MongoDB-compatible server on
// machines where mongod is not available. It is a separate Go module so that
// the root module does not depend on FerretDB.
//
// Usage:
//
//	go build -o /tmp/ferretdb-server . && /tmp/ferretdb-server -listen 127.0.0.1:27017 -dir /tmp/ferretdb-data
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "", "data directory for the SQLite backend (required)")
	flag.Parse()

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetOutput(os.Stderr)

	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb-server: -dir is required")
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatalf("ferretdb-server: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatalf("ferretdb-server: %v", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/", // a directory: the trailing slash is required
	})
	if err != nil {
		log.Fatalf("ferretdb-server: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("ferretdb-server: listening on %s, data in %s", *listen, abs)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb-server: %v", err)
	}
	log.Printf("ferretdb-server: stopped")
}
