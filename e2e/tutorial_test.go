package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
	"github.com/gatehouse/gatehouse/internal/config"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// The tutorial's addresses, hard-coded in its client.
const (
	tutorialAuthAddr   = "127.0.0.1:9000"
	tutorialClientAddr = "127.0.0.1:8000"
)

// tutorialClient rebuilds the tutorial's client.py from the seed text: its
// own lines, in order, with the indentation the printed text lost restored
// from testdata/tutorial_client.indent.
func tutorialClient(t *testing.T) string {
	t.Helper()
	seedDir := os.Getenv("GATEHOUSE_SEED_DIR")
	if seedDir == "" {
		seedDir = filepath.Join("..", "..", "shared", "seed")
	}
	seeds, _ := filepath.Glob(filepath.Join(seedDir, "*.txt"))
	if len(seeds) != 1 {
		t.Fatalf("want the tutorial text in %s (set GATEHOUSE_SEED_DIR to its folder); found %v", seedDir, seeds)
	}
	text, err := os.ReadFile(seeds[0])
	if err != nil {
		t.Fatal(err)
	}
	levels, err := os.ReadFile(filepath.Join("testdata", "tutorial_client.indent"))
	if err != nil {
		t.Fatal(err)
	}
	var digits string
	for sc := bufio.NewScanner(strings.NewReader(string(levels))); sc.Scan(); {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			digits = line
		}
	}
	lines := strings.Split(string(text), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "# client.py" {
			start = i
			break
		}
	}
	if start < 0 || start+len(digits) > len(lines) {
		t.Fatalf("the tutorial text has no client.py of %d lines", len(digits))
	}
	var b strings.Builder
	for i, d := range digits {
		b.WriteString(strings.Repeat("    ", int(d-'0')))
		b.WriteString(strings.TrimRight(lines[start+i], "\r"))
		b.WriteByte('\n')
	}
	if !strings.HasPrefix(strings.TrimSpace(lines[start+len(digits)-1]), "app.run(port=8000") {
		t.Fatalf("the tutorial's client.py does not end where testdata/tutorial_client.indent says")
	}
	return b.String()
}

// TestTutorialClient runs the tutorial's Flask client, unchanged, against
// gatehouse configured by examples/seed.yaml: login, consent, code exchange
// with Basic auth, and /api/me.
func TestTutorialClient(t *testing.T) {
	python := os.Getenv("GATEHOUSE_TEST_PYTHON")
	if python == "" {
		t.Skip("GATEHOUSE_TEST_PYTHON not set (a python3 with Flask and requests): skipping the tutorial client test")
	}
	// The client hard-codes both ports, so they must be free.
	authLn, err := net.Listen("tcp", tutorialAuthAddr)
	if err != nil {
		t.Fatalf("the tutorial's authorization server address %s is busy (is a gatehouse running?): %v", tutorialAuthAddr, err)
	}
	c, err := config.Load(filepath.Join("..", "examples", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.AuthServer(memory.New(), c.Logger(os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	as, err := authserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: as}
	go srv.Serve(authLn)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "client.py"), []byte(tutorialClient(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "client.py")
	cmd.Dir = dir
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Flask's debug mode forks a reloader child: stop the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("client.py output:\n%s", out.String())
		}
	})
	if err := waitForHTTP(ctx, "http://"+tutorialClientAddr+"/"); err != nil {
		t.Fatalf("the tutorial client did not start: %v\n%s", err, out.String())
	}

	// ①–⑰ as the tutorial's user: the client's Login link, our login page,
	// our consent page, and the client's profile page fed by /api/me.
	b := newBrowser(t)
	p := b.get("http://localhost:8000/")
	if !strings.Contains(p.Body, `href="/login"`) {
		t.Fatalf("client home page: %s", p.Body)
	}
	p = b.get("http://localhost:8000/login")
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": "id001", "password": "mypassword"}, "", "")
	if !strings.Contains(p.Body, "Tutorial client") || !strings.Contains(p.Body, "See your name") {
		t.Errorf("consent page does not name the client and the scope:\n%s", p.Body)
	}
	p = b.submit(p.formWith(t, "decision"), nil, "decision", "approve")
	if p.Status != http.StatusOK || p.URL.Path != "/profile" {
		t.Fatalf("after consent: at %s with %d, want the client's /profile:\n%s", p.URL, p.Status, p.Body)
	}
	for _, want := range []string{"Protected Resource Data:", "'client_id': 'client_1'", "'user_id': 'id001'", "'scope': 'profile'"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("profile page lacks %q:\n%s", want, p.Body)
		}
	}
}

func waitForHTTP(ctx context.Context, url string) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("last error: %w", err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
