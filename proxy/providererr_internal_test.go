package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestTokenEndpointRefusalsHideWhatWasSent: a token endpoint that repeats
// the request in its error answer must not get the code, the verifier or
// the client secret into the proxy's errors, which are logged.
func TestTokenEndpointRefusalsHideWhatWasSent(t *testing.T) {
	const (
		code     = "code-that-must-not-be-logged-0123456789"
		verifier = "verifier-that-must-not-be-logged-0123456789abcdef"
		secret   = "client-secret-that-must-not-be-logged"
	)
	for _, tt := range []struct {
		name        string
		contentType string
		body        func(form string) string
		want        string
	}{
		{"OAuth error repeating the request", "application/json",
			func(form string) string {
				return fmt.Sprintf(`{"error":"invalid_grant","error_description":"bad request %s","echo":%q}`, form, form)
			},
			"the token endpoint answered 400 Bad Request: invalid_grant"},
		{"HTML page repeating the request", "text/html",
			func(form string) string { return "<p>refused " + form + "</p>" },
			"the token endpoint answered 400 Bad Request without an OAuth error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				form, _ := url.QueryUnescape(string(b))
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, tt.body(form+" "+r.Header.Get("Authorization")))
			}))
			defer srv.Close()
			cfg := oauth2.Config{ClientID: "c", ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInParams}}
			_, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			if err == nil {
				t.Fatal("Exchange: got no error, want the endpoint's refusal")
			}
			err = redactTokenError(err, code, verifier, secret)
			msg := err.Error()
			for _, s := range []string{code, verifier, secret} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds %q", msg, s)
				}
			}
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("error %q, want it to start with %q", msg, tt.want)
			}
			if re := (*oauth2.RetrieveError)(nil); !errors.As(err, &re) {
				t.Errorf("errors.As(%v, *oauth2.RetrieveError): false, want the endpoint's error still there for callers", err)
			}
		})
	}
}

// TestIntrospectionRefusalsHideWhatWasSent is the same for the
// introspection endpoint's answers, read by the proxy itself.
func TestIntrospectionRefusalsHideWhatWasSent(t *testing.T) {
	const token = "bearer-token-that-must-not-be-logged-0123456789"
	for _, tt := range []struct {
		name, body, want string
	}{
		{"OAuth error", `{"error":"invalid_request","error_description":"no such token ` + token + `"}`,
			`the introspection endpoint answered 400 Bad Request: invalid_request ("no such token [redacted]")`},
		{"not JSON", "token=" + token, "the introspection endpoint answered 400 Bad Request without an OAuth error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusalOf("introspection endpoint", "400 Bad Request", []byte(tt.body), token).Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
