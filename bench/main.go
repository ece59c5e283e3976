// Command bench is the comparison harness behind `make bench`: Go against
// Node and against the limits, both sides measured in one invocation, on
// one machine, against the same store. It prints markdown tables and, with
// -out, writes them to a file (docs/benchmarks.md).
//
//	make bench                    # = cd bench && go run . -sections all -out ../docs/benchmarks.md
//	cd bench && go run . -sections unsign,http -duration 1s
//
// It is a module of its own (github.com/sessionbridge/sessionbridge/bench)
// that uses the library in this checkout through a replace directive, so
// nothing the harness needs enters the library's go.mod.
//
// Sections (each a function in its own file):
//
//	unsign  Signer.Unsign vs npm cookie-signature 1.0.7, and vs bare HMAC-SHA256
//	load    Bridge.Load + passport user vs the raw driver read, per store
//	http    GET /me per server core with equal work: Node (express-session + passport,
//	        connect-redis) vs Go (Middleware read-only, LoadAndSave, TouchAfter),
//	        closed-loop capacity and open-loop latency (HDR histograms)
//	sio     socket.io handshakes/s: zishang520 + socketauth vs Node socket.io 4.8
//	memory  heap per authorized socket with and without socketauth
//	touch   store writes saved by Config.TouchAfter under LoadAndSave (Redis,
//	        PostgreSQL), and the request throughput with and without it
//	instr   instructions per operation (callgrind, or perf where it counts),
//	        Go vs Node: unsign, decode, encode, the request path without I/O
//	auth    forward-auth decisions per core: `sessionbridge serve` GET /auth vs the
//	        same check in express-session + passport, and vs the raw Redis commands
//
// The services must be running (make services); Node dependencies come from
// bench/node (npm ci). Every process the harness starts is stopped before it
// exits, also on Ctrl-C. Ratios are what to compare: absolute numbers on a
// shared machine are noisy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

var allSections = []string{"unsign", "load", "http", "sio", "memory", "touch", "instr", "auth"}

// config is the harness's flags.
type config struct {
	sections   []string
	out        string
	duration   time.Duration // one measured run in load, http and sio
	warmup     time.Duration
	sessions   int // distinct sessions seeded
	httpConns  int
	sioConc    int // concurrent connects per Node load client
	sioClients int // Node load client processes
	memSockets int
	stores     []string
	redisAddr  string
	pgURL      string
	mongoURL   string
	memcAddr   string
	root       string // repository root
	tmp        string // build outputs and logs

	// The touch section (see touch.go).
	touchSessions int
	touchSpeed    int
	touchRun      time.Duration // simulated
	touchRuns     int

	// quick is the bench-quick preset: about a minute in all, for
	// development; too few repetitions for verdicts, which then read
	// "inconclusive".
	quick bool
	// reps is the number of alternating repetitions per comparison
	// (at least minReps for a verdict).
	reps int
	// plan puts the server under test on cores of its own.
	plan cpuPlan
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	var cfg config
	var root string
	sections := flag.String("sections", "all", "comma-separated sections to run: "+strings.Join(allSections, ",")+", or all")
	stores := flag.String("stores", "redis,postgres,mongo,memcached,mariadb,sqlite", "stores for the load section")
	flag.StringVar(&cfg.out, "out", "", "also write the report (markdown) to this file")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured time per side and case in load; http and sio measure 2.5× this per server")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up before the measured runs of a server")
	flag.IntVar(&cfg.sessions, "sessions", 1000, "distinct sessions seeded in each store")
	flag.IntVar(&cfg.httpConns, "http-conns", 64, "keep-alive connections of the HTTP load generator")
	flag.IntVar(&cfg.sioConc, "sio-concurrency", 64, "concurrent connects per socket.io load client")
	flag.IntVar(&cfg.sioClients, "sio-clients", 2, "socket.io load client processes (Node)")
	flag.IntVar(&cfg.memSockets, "mem-sockets", 2000, "sockets held open for the memory section")
	flag.IntVar(&cfg.touchSessions, "touch-sessions", 100, "touch: logged-in sessions per TouchAfter configuration")
	flag.IntVar(&cfg.touchSpeed, "touch-speed", 10, "touch: simulated seconds per real second (every duration of the traffic is divided by it)")
	flag.DurationVar(&cfg.touchRun, "touch-run", 20*time.Minute, "touch: simulated traffic per configuration")
	flag.IntVar(&cfg.touchRuns, "touch-runs", 8, "touch: throughput turns per server (at least 5)")
	flag.StringVar(&cfg.redisAddr, "redis", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address")
	flag.StringVar(&cfg.pgURL, "postgres", envOr("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL URL")
	flag.StringVar(&cfg.mongoURL, "mongo", envOr("MONGO_URL", "mongodb://127.0.0.1:27017"), "MongoDB-wire URL")
	flag.StringVar(&cfg.memcAddr, "memcached", envOr("MEMCACHED_ADDR", "127.0.0.1:11211"), "memcached address")
	serveKind := flag.String("serve", "", "internal: run a Go server (http or sio) instead of the harness")
	sioAuth := flag.Bool("sio-auth", true, "internal: with -serve sio, authorize with socketauth")
	touchStore := flag.String("touch-store", "redis", "internal: with -serve touch, the store (redis or postgres)")
	touchName := flag.String("touch-name", redisPrefix, "internal: with -serve touch, the Redis key prefix or the PostgreSQL table")
	touchMaxAge := flag.Duration("touch-maxage", 30*time.Minute, "internal: with -serve touch, the cookie maxAge")
	touchAfter := flag.Duration("touch-after", 0, "internal: with -serve touch, Config.TouchAfter")
	flag.BoolVar(&cfg.quick, "quick", false, "the bench-quick preset: short runs and 2 repetitions (no verdicts), about a minute")
	flag.IntVar(&cfg.reps, "reps", minReps, "alternating repetitions per comparison (verdicts need at least 5)")
	flag.Parse()
	if *serveKind == "touch" {
		serveTouch(*touchStore, cfg.redisAddr, cfg.pgURL, *touchName, *touchMaxAge, *touchAfter)
		return
	}
	if *serveKind != "" {
		serve(*serveKind, cfg.redisAddr, *sioAuth)
		return
	}

	cfg.sections = strings.Split(*sections, ",")
	if *sections == "all" {
		cfg.sections = allSections
	}
	for _, s := range cfg.sections {
		if !slices.Contains(allSections, s) {
			log.Fatalf("unknown section %q (have %s)", s, strings.Join(allSections, ","))
		}
	}
	cfg.stores = strings.Split(*stores, ",")
	if cfg.quick {
		cfg.applyQuick()
	}
	plan, err := planCPUs(1)
	if err != nil {
		log.Fatal(err)
	}
	cfg.plan = plan
	if err := pinSelf(plan.rest); err != nil {
		log.Fatal(err)
	}

	root, err = repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	cfg.root = root
	if cfg.tmp, err = os.MkdirTemp("", "sessionbridge-bench-"); err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cfg)
	stop()
	stopAll()
	os.RemoveAll(cfg.tmp)
	os.Exit(code)
}

func run(ctx context.Context, cfg *config) int {
	start := time.Now()
	rep := &report{machine: describeMachine(cfg)}
	fmt.Println(rep.machine.markdown())
	fns := map[string]func(context.Context, *config) ([]table, error){
		"unsign": benchUnsign,
		"instr":  benchInstr,
		"load":   benchLoad,
		"http":   benchHTTP,
		"sio":    benchSocketIO,
		"memory": benchMemory,
		"touch":  benchTouch,
		"auth":   benchAuth,
	}
	code := 0
	for _, name := range cfg.sections {
		if ctx.Err() != nil {
			return 1
		}
		log.Printf("section %s", name)
		t0 := time.Now()
		tables, err := fns[name](ctx, cfg)
		stopAll() // a section leaves nothing running
		if err != nil {
			log.Printf("section %s failed: %v", name, err)
			tables = append(tables, table{Title: sectionTitles[name], Note: "Not measured: " + err.Error()})
			code = 1
		}
		for _, t := range tables {
			fmt.Println(t.markdown())
			rep.tables = append(rep.tables, t)
		}
		log.Printf("section %s done in %s", name, time.Since(t0).Round(time.Second))
	}
	rep.elapsed = time.Since(start)
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
			log.Print(err)
			return 1
		}
		if err := os.WriteFile(cfg.out, []byte(rep.markdown()), 0o644); err != nil {
			log.Print(err)
			return 1
		}
		log.Printf("wrote %s in %s", cfg.out, rep.elapsed.Round(time.Second))
	}
	return code
}

var sectionTitles = map[string]string{
	"unsign": "1. Unsign a session cookie",
	"load":   "2. Session load vs the raw driver read",
	"http":   "3. HTTP GET /me",
	"sio":    "4. socket.io handshakes",
	"memory": "5. Memory per authorized socket",
	"touch":  "6. TouchAfter: store writes saved",
	"auth":   "8. /auth decisions (`sessionbridge serve`)",
}

// applyQuick shortens every section for bench-quick.
func (cfg *config) applyQuick() {
	cfg.duration = 500 * time.Millisecond
	cfg.warmup = 200 * time.Millisecond
	cfg.sessions = 200
	cfg.memSockets = 300
	cfg.touchSessions = 20
	cfg.touchRun = 5 * time.Minute
	cfg.touchRuns = 2
	cfg.reps = 2
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// repoRoot finds the repository's root (the directory holding
// bench/node), from the working directory up: the harness is its own module
// in bench/, so it runs from the root (make bench) or from bench/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "bench", "node")); err == nil && fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no bench/node above the working directory")
		}
		dir = parent
	}
}
