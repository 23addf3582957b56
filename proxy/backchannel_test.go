package proxy_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

// postLogout posts a back-channel logout as a provider would.
func postLogout(t *testing.T, base, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+proxy.BackchannelLogoutPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", cc)
	}
	return resp.StatusCode, b.String()
}

const formType = "application/x-www-form-urlencoded"

func logoutForm(token string) string { return url.Values{"logout_token": {token}}.Encode() }

// eventually waits for the session of browser at base to answer want, as
// a replica hears of a revocation through Redis a moment later.
func eventually(t *testing.T, b interface{ Get(string) (int, string) }, base string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body := b.Get(base + "/")
		if status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/: got %d %s, want %d", base, status, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBackchannelLogout: in every deployment, a logout token with a sid
// ends the proxy sessions of that provider session only, and one with only
// a sub every session of the person, at every replica that shares
// sign-outs; the person can sign in again at once; a replayed token is
// refused.
func TestBackchannelLogout(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			option := d.open(t)
			a := proxy.NewTestEnvConfig(t, option)
			b := a.ReplicaConfig(option)
			a.Maintain(t)
			b.Maintain(t)
			// Each browser signs in at the provider anew: another sid.
			first, second := proxy.NewTestBrowser(t), proxy.NewTestBrowser(t)
			a.SignIn(first)
			firstSID := a.LastSID()
			a.SignIn(second)
			replicas := []replica{{a, true}, {b, d.shared}}

			token := a.LogoutToken(nil, a.LogoutClaims(firstSID))
			if status, body := postLogout(t, a.URL(), formType, logoutForm(token)); status != http.StatusOK {
				t.Fatalf("logout of the first sid: got %d %s, want 200", status, body)
			}
			for _, r := range replicas {
				if r.shares {
					eventually(t, first, r.env.URL(), http.StatusUnauthorized)
				}
				if status, body := second.Get(r.env.URL() + "/"); status != http.StatusOK {
					t.Fatalf("the other provider session at %s: got %d %s, want 200", r.env.URL(), status, body)
				}
			}

			// Only a sub: every session of the person ends. Typed JWT, as
			// providers did before logout+jwt.
			everyone := a.LogoutClaims("")
			if status, body := postLogout(t, a.URL(), formType, logoutForm(a.LogoutToken(map[string]any{"typ": "JWT"}, everyone))); status != http.StatusOK {
				t.Fatalf("logout of the subject: got %d %s, want 200", status, body)
			}
			for _, r := range replicas {
				if r.shares {
					eventually(t, second, r.env.URL(), http.StatusUnauthorized)
				}
			}

			// Signing in after the logout is a new session, which it does
			// not end; sent again, the token is refused where it was used.
			a.Advance(time.Second)
			a.SignIn(first)
			again := a
			if d.shared {
				again = b
			}
			if status, body := postLogout(t, again.URL(), formType, logoutForm(a.LogoutToken(nil, everyone))); status != http.StatusBadRequest || !strings.Contains(body, "used already") {
				t.Fatalf("a replayed logout token: got %d %s, want 400 used already", status, body)
			}
			for _, r := range replicas {
				if status, body := first.Get(r.env.URL() + "/"); status != http.StatusOK {
					t.Fatalf("a session begun after the logout at %s: got %d %s, want 200", r.env.URL(), status, body)
				}
			}
		})
	}
}

// replica is a proxy of a test and whether it sees the revocations made
// at the first.
type replica struct {
	env    interface{ URL() string }
	shares bool
}

// TestBackchannelLogoutRefused: a request that is not a valid logout
// token of the provider for this proxy is refused with 400 (405 for GET),
// and revokes nothing, in every deployment.
func TestBackchannelLogoutRefused(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			option := d.open(t)
			e := proxy.NewTestEnvConfig(t, option)
			browser := proxy.NewTestBrowser(t)
			e.SignIn(browser)
			sid := e.LastSID()
			with := func(changes map[string]any) map[string]any {
				c := e.LogoutClaims(sid)
				for k, v := range changes {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
				}
				return c
			}
			valid := e.LogoutToken(nil, with(nil))
			parts := strings.Split(valid, ".")
			other := strings.Split(e.LogoutToken(nil, with(map[string]any{"sid": "another"})), ".")
			now := e.Now()

			for _, tt := range []struct {
				name        string
				method      string
				contentType string
				body        string
				want        int
			}{
				{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
				{"no content type", http.MethodPost, "", logoutForm(valid), http.StatusBadRequest},
				{"JSON", http.MethodPost, "application/json", `{"logout_token":"` + valid + `"}`, http.StatusBadRequest},
				{"oversized body", http.MethodPost, formType, logoutForm(valid) + "&pad=" + strings.Repeat("x", 64<<10), http.StatusBadRequest},
				{"no logout_token", http.MethodPost, formType, "token=" + valid, http.StatusBadRequest},
				{"two logout_tokens", http.MethodPost, formType, logoutForm(valid) + "&" + logoutForm(valid), http.StatusBadRequest},
				{"not a JWT", http.MethodPost, formType, logoutForm("opaque"), http.StatusBadRequest},
				{"bad signature", http.MethodPost, formType, logoutForm(parts[0] + "." + other[1] + "." + parts[2]), http.StatusBadRequest},
				{"another key", http.MethodPost, formType, logoutForm(e.ForgedLogoutToken("other-key", with(nil))), http.StatusBadRequest},
				{"HS256 with the client secret", http.MethodPost, formType, logoutForm(e.ForgedLogoutToken("HS256", with(nil))), http.StatusBadRequest},
				{"alg none", http.MethodPost, formType, logoutForm(e.ForgedLogoutToken("none", with(nil))), http.StatusBadRequest},
				{"typ of an access token", http.MethodPost, formType, logoutForm(e.LogoutToken(map[string]any{"typ": "at+jwt"}, with(nil))), http.StatusBadRequest},
				{"wrong aud", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"aud": "another-client"}))), http.StatusBadRequest},
				{"wrong iss", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"iss": "https://op.example"}))), http.StatusBadRequest},
				{"no events", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"events": nil}))), http.StatusBadRequest},
				{"another event", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"events": map[string]any{"urn:other": map[string]any{}}}))), http.StatusBadRequest},
				{"event not an object", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}}))), http.StatusBadRequest},
				{"nonce present", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"nonce": "n"}))), http.StatusBadRequest},
				{"neither sub nor sid", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"sub": nil, "sid": nil}))), http.StatusBadRequest},
				{"no jti", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"jti": nil}))), http.StatusBadRequest},
				{"no iat", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"iat": nil}))), http.StatusBadRequest},
				{"iat in the future", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}))), http.StatusBadRequest},
				{"expired", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Hour + 2*time.Minute).Unix()}))), http.StatusBadRequest},
				{"old, without exp", http.MethodPost, formType, logoutForm(e.LogoutToken(nil, with(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": nil}))), http.StatusBadRequest},
			} {
				t.Run(tt.name, func(t *testing.T) {
					req, err := http.NewRequest(tt.method, e.URL()+proxy.BackchannelLogoutPath, strings.NewReader(tt.body))
					if err != nil {
						t.Fatal(err)
					}
					if tt.contentType != "" {
						req.Header.Set("Content-Type", tt.contentType)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var body strings.Builder
					io.Copy(&body, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tt.want || resp.Header.Get("Cache-Control") != "no-store" {
						t.Fatalf("got %d (Cache-Control %q) %s, want %d, no-store", resp.StatusCode, resp.Header.Get("Cache-Control"), body.String(), tt.want)
					}
					if tt.want == http.StatusBadRequest && !strings.Contains(body.String(), `"error":"invalid_request"`) {
						t.Fatalf("body %s, want error invalid_request", body.String())
					}
					if n := e.Revocations(); n != 0 {
						t.Fatalf("a refused logout listed %d revocations", n)
					}
					if status, _ := browser.Get(e.URL() + "/"); status != http.StatusOK {
						t.Fatalf("the session after a refused logout: got %d, want 200", status)
					}
				})
			}
			// The valid token was never used: it still works, once.
			if status, body := postLogout(t, e.URL(), formType, logoutForm(valid)); status != http.StatusOK {
				t.Fatalf("the valid token after the refusals: got %d %s, want 200", status, body)
			}
			if status, _ := browser.Get(e.URL() + "/"); status != http.StatusUnauthorized {
				t.Fatalf("the session after its logout: got %d, want 401", status)
			}
		})
	}
}
