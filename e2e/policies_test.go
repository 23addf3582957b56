package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPoliciesExample runs examples/policies.yaml exactly as its comment
// says, on the ports it names, and checks each rule it teaches.
func TestPoliciesExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary on ports 9000, 8000 and 8081; skipped with -short")
	}
	for _, addr := range []string{"127.0.0.1:9000", "127.0.0.1:8000", "127.0.0.1:8081"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("examples/policies.yaml listens on %s, which is taken (%v); stop whatever runs there, such as a quickstart", addr, err)
		}
		ln.Close()
	}
	example, err := os.ReadFile("../examples/policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the very file, so its database lands in a temporary folder.
	dir := t.TempDir()
	configPath := filepath.Join(dir, "policies.yaml")
	if err := os.WriteFile(configPath, example, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildGatehouse(t)
	startGatehouse(t, bin, configPath, "http://localhost:8000/public/")
	const proxy = "http://localhost:8000"

	// public: no sign-in.
	anon := newBrowser(t)
	if p := anon.get(proxy + "/public/"); p.Status != http.StatusOK || !strings.Contains(p.Body, "gatehouse demo app") || strings.Contains(p.Body, "Hello, ") {
		t.Fatalf("/public/ without signing in: got %d at %s, want the demo app without an identity:\n%s", p.Status, p.URL, p.Body)
	}
	// skip_auth: GET /health without signing in; other methods need one.
	if p := anon.get(proxy + "/health"); p.Status != http.StatusOK {
		t.Fatalf("GET /health without signing in: got %d at %s, want 200", p.Status, p.URL)
	}
	if resp, err := http.Post(proxy+"/health", "text/plain", nil); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /health without signing in: got %v %v, want 401", resp.StatusCode, err)
	}

	// The default route: any signed-in person; /admin/ is for admins.
	demo := newBrowser(t)
	if p := signIn(t, demo, proxy+"/", "demo", "demo-password"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Hello, demo!") {
		t.Fatalf("demo signing in at /: ended at %s with %d:\n%s", p.URL, p.Status, p.Body)
	}
	p := demo.get(proxy + "/admin/")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "admins") || !strings.Contains(p.Body, "rule") {
		t.Fatalf("demo at /admin/: got %d, want a 403 page naming the rule:\n%s", p.Status, p.Body)
	}
	if p := demo.get(proxy + "/ADMIN/"); p.Status != http.StatusForbidden {
		t.Fatalf("demo at /ADMIN/: got %d, want 403", p.Status)
	}
	if p := demo.get(proxy + "/public/%2e%2e/admin/"); p.Status != http.StatusForbidden {
		t.Fatalf("demo at /public/%%2e%%2e/admin/: got %d, want 403", p.Status)
	}
	admin := newBrowser(t)
	if p := signIn(t, admin, proxy+"/admin/", "admin", "admin-password"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Hello, admin!") {
		t.Fatalf("admin signing in at /admin/: ended at %s with %d:\n%s", p.URL, p.Status, p.Body)
	}

	// explain, on the same file, agrees.
	out, err := exec.Command(bin, "explain", "--config", configPath, "--user", "demo", "--groups", "demo,staff", "GET", proxy+"/admin/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "refused by rule allow") || !strings.Contains(string(out), "403") {
		t.Fatalf("gatehouse explain: %v\n%s", err, out)
	}
}
