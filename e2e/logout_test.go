package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestSignOutAtTheAuthserverEndsProxySessions checks the back-channel path
// between gatehouse's two roles: a person who signs out at the authserver
// itself, not through the proxy, is signed out of the proxy too, because
// the authserver sends the proxy a logout token and the proxy ends the
// session on the server side. A copy of the old proxy cookie stops
// working, in cookie mode (revocation list) and with Redis sessions, while
// another person's session stays.
func TestSignOutAtTheAuthserverEndsProxySessions(t *testing.T) {
	modes := []struct{ name, proxyExtra string }{{"cookie sessions", ""}}
	if redisURL := os.Getenv("GATEHOUSE_TEST_REDIS_URL"); redisURL != "" {
		prefix := "gatehouse-e2e-" + rand.Text()[:10] + ":"
		modes = append(modes, struct{ name, proxyExtra string }{"redis sessions",
			fmt.Sprintf("  session_store: {type: redis, redis: {url: %q, key_prefix: %q}}\n", redisURL, prefix)})
	} else {
		t.Log("GATEHOUSE_TEST_REDIS_URL not set: checking cookie sessions only")
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			s := startStack(t, mode.proxyExtra)
			alice, other := newBrowser(t), newBrowser(t)
			signIn(t, alice, s.proxyURL+"/", testUser, testPassword)
			signIn(t, other, s.proxyURL+"/", testUser, testPassword)
			kept := alice.client.Jar.Cookies(mustURL(t, s.proxyURL))

			// No id_token_hint: the authserver asks before signing out.
			p := alice.get(s.authURL + "/logout")
			p = alice.submit(p.formWith(t, "csrf_token"), nil, "", "")
			if p.Status != http.StatusOK || !strings.Contains(p.Body, "signed out") {
				t.Fatalf("after confirming at the authserver: %d at %s:\n%s", p.Status, p.URL, p.Body)
			}

			ask := func(cookies []*http.Cookie) int {
				req, _ := http.NewRequest(http.MethodGet, s.proxyURL+"/whoami", nil)
				req.Header.Set("Accept", "application/json")
				for _, c := range cookies {
					req.AddCookie(c)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := ask(kept); got != http.StatusUnauthorized {
				t.Errorf("the proxy cookie of the signed-out session: got %d, want 401", got)
			}
			if got := ask(other.client.Jar.Cookies(mustURL(t, s.proxyURL))); got != http.StatusOK {
				t.Errorf("another login session's proxy cookie: got %d, want 200", got)
			}
		})
	}
}
