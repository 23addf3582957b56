package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// durableYAML runs only the authserver, on SQLite, with one confidential
// client whose redirect URI is a capture server of the test.
const durableYAML = `log: {level: warn}
authserver:
  listen: %[1]s
  issuer: http://%[1]s
  cookie_secrets: ["e2e durability cookie secret, test only"]
  storage: {type: sqlite, sqlite: {path: %[2]s}}
  users:
    - {id: alice, password_hash: "%[4]s", email: alice@example.com}
  clients:
    - id: app
      secret: e2e-app-secret
      redirect_uris: ["%[3]s/cb"]
      scopes: [openid, profile, email]
`

// buildGatehouse compiles the real binary once per test run.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/gatehouse").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running gatehouse binary.
type process struct {
	cmd *exec.Cmd
	out *syncbuf.Buffer
}

func startGatehouse(t *testing.T, bin, configPath, healthURL string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, "serve", "--config", configPath), out: &syncbuf.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitForHTTP(ctx, healthURL); err != nil {
		t.Fatalf("gatehouse did not become ready: %v\n%s", err, p.out.String())
	}
	return p
}

func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// codeFlow signs alice in through the login and consent pages and exchanges
// the code, returning the token response.
func codeFlow(t *testing.T, ctx context.Context, oc *oauth2.Config) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	p := b.get(oc.AuthCodeURL("state-"+oauth2.GenerateVerifier()[:8], oauth2.S256ChallengeOption(verifier), oidc.Nonce("n")))
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": testPassword}, "", "")
	if _, ok := findForm(p, "decision"); ok {
		p = b.submit(p.formWith(t, "decision"), nil, "decision", "approve")
	}
	code := p.URL.Query().Get("code")
	if code == "" {
		t.Fatalf("no code at %s:\n%s", p.URL, p.Body)
	}
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func refresh(ctx context.Context, oc *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
}

// TestSQLiteSurvivesSIGKILL kills a gatehouse process with SIGKILL while it
// issues and rotates tokens, restarts it on the same database, and checks
// that what it acknowledged before the kill is still there: refresh tokens
// work and ID tokens still verify against the published keys.
func TestSQLiteSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := buildGatehouse(t)
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "code received")
	}))
	defer capture.Close()

	dir := t.TempDir()
	addr := freeAddr(t)
	configPath := filepath.Join(dir, "gatehouse.yaml")
	yaml := fmt.Sprintf(durableYAML, addr, filepath.Join(dir, "gatehouse.db"), capture.URL, testPasswordHash)
	if err := os.WriteFile(configPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + addr
	gh := startGatehouse(t, bin, configPath, issuer+"/healthz")

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	oc := &oauth2.Config{
		ClientID: "app", ClientSecret: "e2e-app-secret", Endpoint: provider.Endpoint(),
		RedirectURL: capture.URL + "/cb", Scopes: []string{oidc.ScopeOpenID, "email"},
	}

	// Tokens issued before the load; nothing touches them until the restart.
	var kept []*oauth2.Token
	for range 3 {
		kept = append(kept, codeFlow(t, ctx, oc))
	}

	// Load: workers rotate their own refresh token families as fast as they
	// can while the process is killed.
	var rotations atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		tok := codeFlow(t, ctx, oc)
		wg.Go(func() {
			for loadCtx.Err() == nil {
				next, err := refresh(loadCtx, oc, tok.RefreshToken)
				if err != nil {
					return // the kill
				}
				tok = next
				rotations.Add(1)
			}
		})
	}
	for rotations.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	gh.kill()
	stopLoad()
	wg.Wait()
	t.Logf("killed with SIGKILL after %d acknowledged rotations under load", rotations.Load())

	startGatehouse(t, bin, configPath, issuer+"/healthz")
	provider, err = oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "app", SkipExpiryCheck: false})
	for i, tok := range kept {
		raw, _ := tok.Extra("id_token").(string)
		if _, err := verifier.Verify(ctx, raw); err != nil {
			t.Errorf("token %d: the ID token issued before the kill no longer verifies: %v", i, err)
		}
		next, err := refresh(ctx, oc, tok.RefreshToken)
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re):
			t.Errorf("token %d: refresh after restart: %s %s", i, re.ErrorCode, re.ErrorDescription)
		case err != nil:
			t.Errorf("token %d: refresh after restart: %v", i, err)
		case next.AccessToken == "" || next.RefreshToken == "":
			t.Errorf("token %d: refresh after restart returned %+v", i, next)
		}
	}
	// And the restarted server still does whole sign-ins.
	codeFlow(t, ctx, oc)
}
