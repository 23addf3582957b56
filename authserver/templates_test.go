package authserver

import (
	"flag"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestPagesGolden renders each page with fixed data and compares it with
// testdata/*.golden.html; run with -update after an intended change.
func TestPagesGolden(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	tests := []struct {
		name string
		tmpl *template.Template
		data any
	}{
		{"login", s.tmpl.login, loginPage{
			page: s.page("Sign in"), ClientName: "Web <App>", Action: PathLogin, Request: "sealed+request=",
			CSRF: "csrf-token", UserID: `al"ice`, Error: "The user ID or password is incorrect. Check them and try again.",
		}},
		{"consent", s.tmpl.consent, consentPage{
			page: s.page("Allow access to Web App"), ClientName: "Web App", UserName: "Alice Example (alice)",
			Scopes:      []string{describeScope("openid"), describeScope("profile"), describeScope("custom:scope")},
			Destination: "https://app.example", Action: PathConsent, Request: "sealed", CSRF: "csrf-token",
		}},
		{"error", s.tmpl.errorPage, errorPage{
			page:    s.page("This sign-in request can't be processed"),
			Message: "redirect_uri https://evil.example/cb is not registered for client web; registered: https://app.example/callback.",
			Hint:    "Tell the application's developers what this page says.",
		}},
		{"logout_confirm", s.tmpl.logout, logoutPage{
			page: s.page("Sign out?"), UserName: "Alice Example (alice)", ClientName: "Web <App>", Action: PathEndSession,
			Fields: []hiddenField{{"csrf_token", "csrf-token"}, {"state", `a"b`}},
		}},
		{"signed_out", s.tmpl.logout, logoutPage{
			page: s.page("You are signed out"), Message: "You are signed out of this service. You can close this window.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.render(rec, http.StatusOK, tt.tmpl, tt.data)
			golden := filepath.Join("testdata", tt.name+".golden.html")
			if *update {
				if err := os.WriteFile(golden, rec.Body.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestPagesGolden -update to create it)", err)
			}
			if got := rec.Body.String(); got != string(want) {
				t.Errorf("rendered %s page differs from %s:\n%s", tt.name, golden, got)
			}
		})
	}
}
