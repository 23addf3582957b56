package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const serviceSecret = "e2e-service-secret-test-only"

// serviceStackYAML is stackYAML with three service clients: one whose JWT
// access tokens name the proxy as audience, one whose JWTs are for
// itself, and one with opaque tokens.
var serviceStackYAML = strings.Replace(stackYAML, "proxy:\n  public_url", `    - id: reports-job
      secret: `+serviceSecret+`
      grant_types: [client_credentials]
      scopes: [reports.read]
      access_token_format: jwt
      access_token_audience: [proxy]
    - id: own-audience-job
      secret: `+serviceSecret+`
      grant_types: [client_credentials]
      scopes: [reports.read]
      access_token_format: jwt
    - id: opaque-job
      secret: `+serviceSecret+`
      grant_types: [client_credentials]
      scopes: [reports.read]
proxy:
  public_url`, 1)

// TestServiceClientBearerThroughProxy has services get tokens from the
// authserver with client_credentials, as golang.org/x/oauth2 does, and
// call the app through the proxy: the proxy verifies JWT access tokens for
// its audience offline and passes the client on as the user; tokens for
// another audience, and opaque ones without introspection, are refused.
func TestServiceClientBearerThroughProxy(t *testing.T) {
	s := startStackFrom(t, serviceStackYAML, "")
	tests := []struct {
		client   string
		status   int
		wantUser string
	}{
		{"reports-job", http.StatusOK, "reports-job"},
		{"own-audience-job", http.StatusUnauthorized, ""},
		{"opaque-job", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: tt.client, ClientSecret: serviceSecret, TokenURL: s.authURL + "/token"}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, http.DefaultClient)
			if _, err := cc.Token(ctx); err != nil {
				t.Fatalf("client_credentials at the authserver: %v", err)
			}
			api := &browser{t: t, client: cc.Client(ctx)}
			if tt.status != http.StatusOK {
				req, _ := http.NewRequest(http.MethodGet, s.proxyURL+"/whoami", nil)
				req.Header.Set("Accept", "application/json")
				resp, err := api.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("got %d with WWW-Authenticate %q, want %d invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status)
				}
				return
			}
			if got := identity(t, api, s.proxyURL, nil)["X-Forwarded-User"]; got != tt.wantUser {
				t.Errorf("upstream got X-Forwarded-User %q, want %q", got, tt.wantUser)
			}
		})
	}
}
