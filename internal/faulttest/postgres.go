package faulttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// pgInstance is a private PostgreSQL cluster run with initdb and pg_ctl as
// the OS user postgres when the tests run as root (PostgreSQL refuses root),
// as ourselves otherwise.
type pgInstance struct {
	bin  string // directory of initdb, pg_ctl
	top  string // owned by postgres: data/, the log, the socket
	data string
	port string
	cred *syscall.Credential // nil: run as ourselves
}

// StartPostgres initdb's a trust-auth cluster in a new directory under
// StateDir()/faulttest (t.TempDir() is not reachable by user postgres) and
// starts it with pg_ctl. The data survives Stop and Start.
func StartPostgres(tb testing.TB) *Server {
	tb.Helper()
	bin := pgBinDir()
	if bin == "" {
		nodetest.Unavailable(tb, "PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin)", hint)
	}
	pg := &pgInstance{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			nodetest.Unavailable(tb, "the OS user postgres", hint)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	base := filepath.Join(StateDir(), "faulttest")
	if err := os.MkdirAll(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	// User postgres must be able to reach the directory (services.sh does the same).
	for _, d := range []string{StateDir(), base} {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(d, fi.Mode().Perm()|0o001)
		}
	}
	top, err := os.MkdirTemp(base, "pg-")
	if err != nil {
		tb.Fatal(err)
	}
	pg.top, pg.data = top, filepath.Join(top, "data")
	s := &Server{Name: "postgres", Dir: pg.data, tb: tb, log: filepath.Join(top, "postgres.log"), pg: pg}
	tb.Cleanup(s.cleanup) // before chown: removes top even if initdb fails
	if pg.cred != nil {
		if err := os.Chown(top, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(freePort(tb))
	pg.port = port(s.Addr)
	s.URL = "postgres://postgres@" + s.Addr + "/postgres?sslmode=disable"
	if out, err := pg.run("initdb", "-D", pg.data, "--auth=trust", "-U", "postgres",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"); err != nil {
		tb.Fatalf("faulttest: initdb: %v\n%s", err, out)
	}
	s.Start()
	return s
}

// pgBinDir returns the newest /usr/lib/postgresql/<v>/bin with initdb and
// pg_ctl, or the directory of initdb on PATH, or "".
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "pg_ctl")) {
		return filepath.Dir(p)
	}
	return ""
}

func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// run runs one of the PostgreSQL programs as user postgres.
func (pg *pgInstance) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(pg.bin, prog), args...)
	cmd.Dir = pg.top
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
		cmd.Env = append(cmd.Env, "HOME="+pg.top, "USER=postgres", "LOGNAME=postgres")
	}
	// A file, not a pipe: the postmaster pg_ctl starts must not hold our pipe.
	out, err := os.CreateTemp("", "faulttest-pg-*.out")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, err
}

func (pg *pgInstance) start(s *Server) error {
	opts := "-c listen_addresses=127.0.0.1 -p " + pg.port + " -c unix_socket_directories=" + pg.top +
		" -c fsync=off -c shared_buffers=16MB -c max_connections=50"
	out, err := pg.run("pg_ctl", "-D", pg.data, "-l", s.log, "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)),
		"-o", opts, "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, bytes.TrimSpace(out))
	}
	deadline := time.Now().Add(startTimeout)
	for !s.accepting() {
		if time.Now().After(deadline) {
			return fmt.Errorf("does not answer on %s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// stop is PostgreSQL's crash stop: every backend quits at once, the next
// start runs crash recovery.
func (pg *pgInstance) stop() error {
	out, err := pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "-t", "20", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// postmasterPID reads the first line of postmaster.pid.
func (pg *pgInstance) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(pg.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}
