package authserver

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// freshCode signs alice in with client "web" and returns a new code and its
// verifier.
func freshCode(t *testing.T, b *browser, scope string) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkce("tok")
	q := b.withT(t).signIn(with(authParams(challenge), "scope", scope), "alice", alicePassword)
	return q.Get("code"), verifier
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	codeForm := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	}
	tests := []struct {
		name    string
		call    func(code, verifier string) *response
		status  int
		errCode string
		// challenge is the WWW-Authenticate prefix, if any. Every 401 has
		// one (RFC 9110 §11.6.1); Basic is the scheme clients may use.
		challenge  string
		codeIsUsed bool // whether the code is consumed by the failed call
	}{
		{"wrong client secret", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "web", "wrong") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"unknown client", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "nobody", "x") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"secret not form-decoded by the client", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(codeForm(c, v).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", webSecret) // raw "%+" decodes to something else
			return do(t, h.ts.Client(), req)
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"secret in the form for a Basic client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_id", "web")
			f.Set("client_secret", webSecret)
			return h.tokenCall(f, "", "")
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"no authentication for a confidential client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_id", "web")
			return h.tokenCall(f, "", "")
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"no client at all", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "", "") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"Basic and client_secret together", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_secret", webSecret)
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"unsupported grant type", func(c, v string) *response {
			return h.tokenCall(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, "web", webSecret)
		}, http.StatusBadRequest, codeUnsupportedGrantType, "", false},
		{"missing grant type", func(c, v string) *response { return h.tokenCall(url.Values{"code": {c}}, "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", false},
		{"grant not allowed for the client", func(c, v string) *response {
			return h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {"x"}}, "client_1", tutorialSecret)
		}, http.StatusBadRequest, codeUnauthorizedClient, "", false},
		{"missing code", func(c, v string) *response { return h.tokenCall(codeForm("", v), "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", false},
		{"repeated parameter", func(c, v string) *response {
			f := codeForm(c, v)
			f.Add("code", "other")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"unknown code", func(c, v string) *response { return h.tokenCall(codeForm(newSecret(), v), "web", webSecret) },
			http.StatusBadRequest, codeInvalidGrant, "", false},
		{"wrong verifier", func(c, v string) *response {
			other, _ := pkce("other")
			return h.tokenCall(codeForm(c, other), "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"missing verifier", func(c, v string) *response { return h.tokenCall(codeForm(c, ""), "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", true},
		{"malformed verifier", func(c, v string) *response { return h.tokenCall(codeForm(c, "short"), "web", webSecret) },
			http.StatusBadRequest, codeInvalidGrant, "", true},
		{"wrong redirect_uri", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("redirect_uri", "https://app.example/other")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"missing redirect_uri", func(c, v string) *response {
			f := codeForm(c, v)
			f.Del("redirect_uri")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"code of another client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("redirect_uri", legacyRedirect)
			return h.tokenCall(f, "client_1", tutorialSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"wrong content type", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(`{"grant_type":"authorization_code"}`))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			return do(t, h.ts.Client(), req)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"GET", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+PathToken+"?"+codeForm(c, v).Encode(), nil)
			return do(t, h.ts.Client(), req)
		}, http.StatusMethodNotAllowed, codeInvalidRequest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := freshCode(t, b, "openid profile")
			r := tt.call(code, verifier)
			wantOAuthError(t, r, tt.status, tt.errCode)
			if r.json(t)["error_description"] == "" {
				t.Error("no error_description")
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got, tt.challenge)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("error response: Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			// A refusal before the code is claimed leaves it usable.
			retry := h.tokenCall(codeForm(code, verifier), "web", webSecret)
			if used := retry.status != http.StatusOK; used != tt.codeIsUsed {
				t.Errorf("after the failed call the code is used: %v, want %v (retry status %d)", used, tt.codeIsUsed, retry.status)
			}
		})
	}
}

func TestAuthMethodMustMatchRegistration(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("method")
	params := url.Values{"response_type": {"code"}, "client_id": {"post"}, "redirect_uri": {postRedirect}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	code := b.signIn(params, "alice", alicePassword).Get("code")
	form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {postRedirect}}
	// "post" is registered for client_secret_post; Basic with the right
	// secret is still refused.
	r := h.tokenCall(form, "post", postSecret)
	wantOAuthError(t, r, http.StatusUnauthorized, codeInvalidClient)
	if !strings.Contains(r.json(t)["error_description"].(string), "must authenticate with client_secret_post") {
		t.Errorf("description %q does not name the registered method", r.json(t)["error_description"])
	}
	form.Set("client_id", "post")
	form.Set("client_secret", postSecret)
	if r := h.tokenCall(form, "", ""); r.status != http.StatusOK {
		t.Errorf("with the registered method: status %d body %s", r.status, r.body)
	}
}

func TestPublicClientMustSendVerifier(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("public")
	code := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "scope": {"openid"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "alice", alicePassword).Get("code")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}}, "", "")
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidRequest)
}

func TestVerifierWithoutChallengeIsRefused(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	q := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"client_1"}, "scope": {"profile"}}, "id001", "mypassword")
	verifier, _ := pkce("downgrade")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {q.Get("code")}, "code_verifier": {verifier}}, "client_1", tutorialSecret)
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
}

// postForm posts a token request like harness.tokenCall, but may run in any
// goroutine: a transport error comes back as status 0 with the error as body.
func postForm(h *harness, form url.Values, id, secret string) *response {
	req, err := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		return &response{body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		return &response{body: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return &response{body: err.Error()}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// BenchmarkCodeExchange measures the token endpoint redeeming a code for
// an access token and a signed ID token, over HTTP, with the memory store.
func BenchmarkCodeExchange(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, func(c *Config) { c.SigningAlgorithm = alg })
			verifier, challenge := pkce("bench")
			client := h.ts.Client()
			b.ReportAllocs()
			for b.Loop() {
				code := newSecret()
				err := h.store.CreateAuthCode(context.Background(), storage.AuthCode{
					ID: hashSecret(code), ClientID: "web", RedirectURI: webRedirect, Scopes: []string{"openid", "profile"},
					CodeChallenge: challenge, CodeChallengeMethod: "S256", Subject: "alice",
					AuthTime: h.clk.Now(), ExpiresAt: h.clk.Now().Add(time.Minute),
				})
				if err != nil {
					b.Fatal(err)
				}
				form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
				req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("web", url.QueryEscape(webSecret))
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
