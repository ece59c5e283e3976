package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// TestDemoInChromium drives the demo in a real headless Chromium: log in on
// the Node page, see the Go chat greet the user by name and show Go's
// /api/me, send a message, log out on the Node page and see the Go chat
// disconnect. The Node app (examples/node-app) and the Go chat server run
// as in `make demo`, on the file store.
func TestDemoInChromium(t *testing.T) {
	chromium := ""
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		nodetest.Unavailable(t, "chromium", "apt-get install -y chromium (make test installs it)")
	}
	nodetest.RequireNode(t)
	appDir := filepath.Join(nodetest.Root(t), "examples", "node-app")
	if _, err := os.Stat(filepath.Join(appDir, "node_modules", "express-session")); err != nil {
		nodetest.Unavailable(t, "examples/node-app/node_modules", "make node-deps")
	}

	sessions := t.TempDir()
	const secret = "browser test secret"
	nodePort := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The Go chat server, in process.
	ready := make(chan string, 1)
	goErr := make(chan error, 1)
	go func() {
		goErr <- run(ctx, config{listen: "127.0.0.1:0", storeURL: "file://" + sessions, secret: secret,
			origin: fmt.Sprintf("http://localhost:%d", nodePort), revalidate: 300 * time.Millisecond},
			slog.New(slog.NewTextHandler(io.Discard, nil)), ready)
	}()
	var goAddr string
	select {
	case goAddr = <-ready:
	case err := <-goErr:
		t.Fatalf("chat server: %v", err)
	}
	_, goPort, _ := net.SplitHostPort(goAddr)

	// The Node app.
	node := exec.Command("node", "app.js")
	node.Dir = appDir
	node.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", nodePort), "STORE=file", "SESSION_DIR="+sessions,
		"SECRET="+secret, "CHAT_URL=http://localhost:"+goPort)
	out, _ := node.StdoutPipe()
	var nodeErr strings.Builder
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = node.Process.Signal(syscall.SIGTERM); _ = node.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "node app on") {
		t.Fatalf("node app did not start: %q %v\n%s", line, err, nodeErr.String())
	}
	base := fmt.Sprintf("http://localhost:%d", nodePort)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(browser, 60*time.Second)
	defer cancelTimeout()

	fail := func(name string, err error) {
		t.Helper()
		html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage: %.2000s\nnode: %s", name, err, html, nodeErr.String())
	}
	text := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			fail("read #"+id, err)
		}
		return v
	}
	waitFor := func(name, expr string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			fail(name, err)
		}
	}

	// Log in on the Node page.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SetValue(chromedp.ID("username"), "alice"),
		chromedp.SetValue(chromedp.ID("password"), "alice"),
	); err != nil {
		fail("open the login page", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("login")))); err != nil {
		fail("log in", err)
	}
	// The Go chat greets Alice; Go's /api/me knows her too.
	waitFor("the Go chat greets Alice", `document.getElementById('log').textContent.includes('Hello, Alice!')`)
	waitFor("Go's /api/me", `document.getElementById('goMe').textContent.includes('Alice')`)
	t.Logf("chat status %q; Go /api/me says %q", text("status"), text("goMe"))

	// Send a message: it comes back with the sender's name.
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("msg"), "hello from chromium"),
		chromedp.Click(chromedp.CSS("#send button")), // a click fires the submit event; form.submit() would not
	); err != nil {
		fail("send a message", err)
	}
	waitFor("the message comes back", `document.getElementById('log').textContent.includes('Alice: hello from chromium')`)

	// Log out on the Node page: the Go chat disconnects the socket.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("logout"))); err != nil {
		fail("log out", err)
	}
	waitFor("the chat disconnects", `document.getElementById('status').textContent.includes('disconnected')`)
	logText := text("log")
	if !strings.Contains(logText, "Go ended the chat") {
		t.Fatalf("no revocation message in the chat log: %q", logText)
	}
	t.Logf("after the Node logout: status %q; chat log %q", text("status"), logText)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
