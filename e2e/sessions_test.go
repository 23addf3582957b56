package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestRedisSessionsAcrossProxyReplicas runs two proxy replicas on one Redis
// with the same cookie secrets: a session made at one is honoured by the
// other, the cookie carries only a session id, and signing out at one ends
// the session at both, even for a copy of the cookie kept from before.
func TestRedisSessionsAcrossProxyReplicas(t *testing.T) {
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL not set: skipping the Redis session store test")
	}
	prefix := "gatehouse-e2e-" + rand.Text()[:10] + ":"
	s := startStack(t, fmt.Sprintf("  session_store: {type: redis, redis: {url: %q, key_prefix: %q}}\n", redisURL, prefix))
	replicaB := httptest.NewServer(s.newProxy(t))
	defer replicaB.Close()

	b := newBrowser(t)
	signIn(t, b, s.proxyURL+"/", testUser, testPassword)
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(mustURL(t, s.proxyURL)) {
		if c.Name == "_gatehouse" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no _gatehouse cookie after sign-in")
	}
	if len(session.Value) > 200 {
		t.Errorf("with Redis the cookie should carry only a session id; it is %d bytes", len(session.Value))
	}

	ask := func(base string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/whoami", nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ask(replicaB.URL); got != http.StatusOK {
		t.Fatalf("replica B with A's session cookie: got %d, want 200", got)
	}

	// The person confirms the sign-out on the proxy's page.
	out := b.get(s.proxyURL + "/oauth2/sign_out")
	if out = b.submit(out.formWith(t, "token"), nil, "", ""); !strings.Contains(out.Body, "You are signed out") {
		t.Fatalf("after confirming sign-out: %d at %s:\n%s", out.Status, out.URL, out.Body)
	}
	for name, base := range map[string]string{"A": s.proxyURL, "B": replicaB.URL} {
		if got := ask(base); got != http.StatusUnauthorized {
			t.Errorf("replica %s with a copy of the signed-out cookie: got %d, want 401", name, got)
		}
	}
}
