// Package build holds the recipe of the binary gatehouse ships
// (static.sh) and tests of that binary as the container runs it: static,
// stripped, within its size budget, and serving with nothing writable but
// its data directory.
package build

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sizeBudget is the most the stripped linux/amd64 binary may weigh, in
// bytes. The image adds about 2 MB (distroless/static) to it and must stay
// under 25 MB, so this is the binary's share, not a guess with a margin.
// Measured when it was set (Go 1.26): 20.40 MB, and 22.90 MB with
// prometheus/client_golang linked as the metrics use it. A dependency that
// drags in megabytes fails here: `go tool nm -size -sort size` on an
// unstripped build shows which package grew (text/template's method
// lookup keeps every exported method of every type put in an interface,
// so a library with a method per operation weighs megabytes).
const sizeBudget = 23_000_000

const version = "static-test"

// binary is the path of the binary static.sh built for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-static-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gatehouse")
	cmd := exec.Command("sh", "static.sh", binary, version)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build/static.sh:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestStaticAndStripped(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked and needs a libc the image does not have; build with CGO_ENABLED=0", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if _, err := f.Symbols(); err != elf.ErrNoSymbols {
		t.Errorf("the binary has a symbol table (err %v); static.sh strips it with -ldflags -s", err)
	}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("the binary has DWARF section %s; static.sh drops it with -ldflags -w", s.Name)
		}
	}
}

func TestSizeBudget(t *testing.T) {
	if runtime.GOOS+"/"+runtime.GOARCH != "linux/amd64" {
		t.Skipf("the budget is for linux/amd64, the image's platform, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	fi, err := os.Stat(binary)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stripped static binary: %d bytes (%.2f MB), budget %.2f MB", fi.Size(), float64(fi.Size())/1e6, sizeBudget/1e6)
	if fi.Size() > sizeBudget {
		t.Errorf("the binary is %.2f MB, over its budget of %.2f MB (the image must stay under 25 MB); find what grew with go tool nm -size -sort size on a build without -s -w", float64(fi.Size())/1e6, sizeBudget/1e6)
	}
}

// needRoot skips a test that chroots or changes user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root (CI runs as root): skipping")
	}
}

func TestVersionInEmptyRoot(t *testing.T) {
	needRoot(t)
	// The root holds the binary and nothing else: no libc, no loader, no
	// /etc, no /tmp.
	root := t.TempDir()
	copyFile(t, binary, filepath.Join(root, "gatehouse"), 0o555)
	cmd := exec.Command("/gatehouse", "version")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir, cmd.Env = "/", []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gatehouse version in an empty root: %v\n%s", err, out)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if want := "gatehouse " + version; first != want {
		t.Fatalf("got %q, want a first line %q (static.sh sets main.version)", out, want)
	}
}

func TestServesWithOnlyDataWritable(t *testing.T) {
	needRoot(t)
	// The image's layout, run as its user (65532, distroless's nonroot)
	// in a root where only /var/lib/gatehouse belongs to that user: what
	// a read-only root filesystem with one data volume allows. Anything
	// gatehouse wrote elsewhere (a temporary file, SQLite's journal)
	// would fail and stop it.
	const uid = 65532
	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/gatehouse", "var/lib/gatehouse"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(root, "var/lib/gatehouse")
	if err := os.Chown(data, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, binary, filepath.Join(root, "usr/local/bin/gatehouse"), 0o555)
	// Docker gives every container an /etc/hosts; the quickstart's issuer
	// is http://localhost:….
	writeFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n")

	auth, proxy, app := freePort(t), freePort(t), freePort(t)
	example, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := strings.NewReplacer(":9000", ":"+auth, ":8000", ":"+proxy, ":8081", ":"+app,
		"path: gatehouse.db", "path: /var/lib/gatehouse/gatehouse.db").Replace(string(example))
	writeFile(t, filepath.Join(root, "etc/gatehouse/config.yaml"), config)
	for _, d := range []string{"", "usr", "usr/local", "etc", "var", "var/lib"} {
		if err := os.Chmod(filepath.Join(root, d), 0o555); err != nil {
			t.Fatal(err)
		}
	}

	var logs bytes.Buffer
	cmd := exec.Command("/usr/local/bin/gatehouse", "serve", "--config", "/etc/gatehouse/config.yaml")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	cmd.Dir = "/"
	cmd.Env = []string{"TMPDIR=/var/lib/gatehouse"} // as the Dockerfile sets it
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	get := func(url string) (int, error) {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// Waiting for a process to start listening has no event to wait on:
	// poll, bounded, and fail with its log if it exits instead.
	discovery := "http://127.0.0.1:" + auth + "/.well-known/openid-configuration"
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, err := get(discovery)
		if err == nil && status == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("gatehouse exited (%v) with only its data directory writable:\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("discovery did not answer 200 (last: %d, %v):\n%s", status, err, logs.String())
		}
	}
	// A person opening the app is sent through the proxy (which fetches
	// the provider's discovery and keys) to the authserver's login page.
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+proxy+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("opening the app through the proxy: %v\n%s", err, logs.String())
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`id="login"`)) {
		t.Errorf("opening the app through the proxy: got %d at %s, want the login page\n%s", resp.StatusCode, resp.Request.URL, logs.String())
	}
	if _, err := os.Stat(filepath.Join(data, "gatehouse.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("gatehouse stopped with %v on SIGTERM:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("gatehouse did not stop on SIGTERM:\n%s", logs.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestDockerfileBuildsWithRecipe(t *testing.T) {
	// CI cannot run Docker; these tests check static.sh's binary, which
	// is only the image's binary if the Dockerfile builds with static.sh.
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	recipe := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "build/static.sh") {
			recipe = true
		}
		if strings.Contains(line, "go build") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Errorf("the Dockerfile runs go build itself (%q); build with build/static.sh so CI checks the same binary", line)
		}
	}
	if !recipe {
		t.Error("the Dockerfile does not RUN build/static.sh")
	}
}
