package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
)

// with returns a copy of v with the changes applied; an empty value
// removes the parameter.
func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

func TestAuthorizeErrorsAreShownNotRedirected(t *testing.T) {
	h := newServiceHarness(t)
	_, challenge := pkce("x")
	base := authParams(challenge)
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"missing client_id", with(base, "client_id", ""), "client_id is missing"},
		{"unknown client", with(base, "client_id", "nobody"), `"nobody" is not registered`},
		{"client without the code grant", with(base, "client_id", "svc", "redirect_uri", ""), `"svc" may not sign people in here: its grant types are client_credentials, without authorization_code.`},
		{"unregistered redirect_uri", with(base, "redirect_uri", "https://evil.example/cb"),
			"redirect_uri https://evil.example/cb is not registered for client web; registered: https://app.example/callback, https://app.example/other."},
		{"redirect_uri differs in case", with(base, "redirect_uri", "https://app.example/Callback"), "is not registered for client web"},
		{"redirect_uri with extra query", with(base, "redirect_uri", webRedirect+"?x=1"), "is not registered for client web"},
		{"omitted redirect_uri, two registered", with(base, "redirect_uri", ""), "has 2 redirect URIs registered"},
		{"repeated redirect_uri", func() url.Values { v := with(base); v.Add("redirect_uri", webRedirect); return v }(), "redirect_uri more than once"},
		{"openid without redirect_uri, one registered",
			url.Values{"response_type": {"code"}, "client_id": {"spa"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}},
			"redirect_uri is missing; OpenID Connect requests (scope openid) must name it, and client spa has registered: " + spaRedirect},
		{"huge redirect_uri", with(base, "redirect_uri", webRedirect+"?"+strings.Repeat("x", 4000)), "redirect_uri is longer than 2048 bytes"},
		{"huge client_id", with(base, "client_id", strings.Repeat("c", 300)), "client_id is longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.browser().authorize(tt.params)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("got status %d Location %q, want 400 and no redirect", r.status, r.header.Get("Location"))
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q, want an HTML page", r.header.Get("Content-Type"))
			}
			if !strings.Contains(r.body, htmlEscape(tt.want)) {
				t.Errorf("page does not say %q; body: %s", tt.want, r.body)
			}
		})
	}
}

// TestOversizedStateIsNotEchoed checks that an error for a huge state goes
// back without it, so the Location header stays small.
func TestOversizedStateIsNotEchoed(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce("x")
	r := h.browser().authorize(with(authParams(challenge), "state", strings.Repeat("s", maxStateLen+1)))
	q := callback(t, r, webRedirect)
	if q.Get("error") != codeInvalidRequest || !strings.Contains(q.Get("error_description"), "state is longer than 2048 bytes") {
		t.Errorf("error %q %q, want invalid_request about state", q.Get("error"), q.Get("error_description"))
	}
	if q.Has("state") || len(r.header.Get("Location")) > 1024 {
		t.Errorf("Location of %d bytes echoes state", len(r.header.Get("Location")))
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer(`"`, "&#34;", "'", "&#39;", "&", "&amp;").Replace(s)
}

func TestAuthorizeErrorsAreRedirected(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce("x")
	base := authParams(challenge)
	legacy := url.Values{"response_type": {"code"}, "client_id": {"client_1"}, "scope": {"profile"}, "state": {"s"}}
	tests := []struct {
		name     string
		params   url.Values
		redirect string
		code     string
		desc     string
	}{
		{"missing response_type", with(base, "response_type", ""), webRedirect, codeInvalidRequest, "response_type is missing"},
		{"implicit flow", with(base, "response_type", "token"), webRedirect, codeUnsupportedResponseType, "response_type token is not supported"},
		{"form_post", with(base, "response_mode", "form_post"), webRedirect, codeInvalidRequest, "response_mode form_post"},
		{"no PKCE for a client that requires it", with(base, "code_challenge", "", "code_challenge_method", ""), webRedirect, codeInvalidRequest, "client web must use PKCE"},
		{"plain PKCE", with(base, "code_challenge_method", "plain"), webRedirect, codeInvalidRequest, "code_challenge_method plain is not accepted"},
		{"PKCE method defaults to plain", with(base, "code_challenge_method", ""), webRedirect, codeInvalidRequest, "plain (the default"},
		{"method without challenge", with(base, "code_challenge", ""), webRedirect, codeInvalidRequest, "without code_challenge"},
		{"short challenge", with(base, "code_challenge", "abc"), webRedirect, codeInvalidRequest, "43-character"},
		{"public client without PKCE", url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "scope": {"openid"}, "state": {"s"}},
			spaRedirect, codeInvalidRequest, "public client and must use PKCE"},
		{"no scope", with(base, "scope", ""), webRedirect, codeInvalidScope, "scope is missing"},
		{"no allowed scope", with(base, "scope", "admin write"), webRedirect, codeInvalidScope,
			"none of the requested scopes (admin write) is allowed for client web; allowed: openid profile email groups"},
		{"malformed scope", with(base, "scope", "openid \\bad"), webRedirect, codeInvalidScope, "not allowed in a scope token"},
		{"unknown prompt", with(base, "prompt", "maybe"), webRedirect, codeInvalidRequest, "prompt value 'maybe'"},
		{"prompt none with login", with(base, "prompt", "none login"), webRedirect, codeInvalidRequest, "prompt=none cannot be combined"},
		{"negative max_age", with(base, "max_age", "-1"), webRedirect, codeInvalidRequest, "max_age"},
		{"request object", with(base, "request", "eyJ..."), webRedirect, codeRequestNotSupported, "request objects"},
		{"request_uri", with(base, "request_uri", "urn:x"), webRedirect, codeRequestURINotSupported, "request_uri"},
		{"repeated scope", func() url.Values { v := with(base); v.Add("scope", "email"); return v }(), webRedirect, codeInvalidRequest, "scope is given more than once"},
		{"prompt=none without a session", with(base, "prompt", "none"), webRedirect, codeLoginRequired, "must sign in"},
		{"omitted redirect_uri, one registered", with(legacy, "response_type", "token"), legacyRedirect, codeUnsupportedResponseType, "token"},
		{"claims parameter", with(base, "claims", `{"id_token":{"email":null}}`), webRedirect, codeInvalidRequest, "the claims parameter is not supported"},
		{"acr_values alone is fine but an oversized one is not", with(base, "acr_values", strings.Repeat("a", 3000)), webRedirect, codeInvalidRequest, "acr_values is longer than 2048 bytes"},
		{"oversized login_hint", with(base, "login_hint", strings.Repeat("a", 300)), webRedirect, codeInvalidRequest, "login_hint is longer than 256 bytes"},
		{"oversized nonce", with(base, "nonce", strings.Repeat("n", 600)), webRedirect, codeInvalidRequest, "nonce is longer than 512 bytes"},
		{"oversized scope", with(base, "scope", "openid "+strings.Repeat("s", 1100)), webRedirect, codeInvalidRequest, "scope is longer than 1024 bytes"},
		{"oversized unknown parameter", with(base, "x_custom", strings.Repeat("u", 2100)), webRedirect, codeInvalidRequest, "x_custom is longer than 2048 bytes"},
		{"too many parameters", func() url.Values {
			v := with(base)
			for i := range maxParams {
				v.Set(fmt.Sprintf("p%d", i), "1")
			}
			return v
		}(), webRedirect, codeInvalidRequest, "at most 64 are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.browser().authorize(tt.params)
			q := callback(t, r, tt.redirect)
			if q.Get("error") != tt.code {
				t.Errorf("error = %q, want %q", q.Get("error"), tt.code)
			}
			if !strings.Contains(q.Get("error_description"), tt.desc) {
				t.Errorf("error_description = %q, want it to contain %q", q.Get("error_description"), tt.desc)
			}
			if q.Get("state") != tt.params.Get("state") {
				t.Errorf("state = %q, want %q", q.Get("state"), tt.params.Get("state"))
			}
			if q.Get("iss") != h.ts.URL {
				t.Errorf("iss = %q, want %q", q.Get("iss"), h.ts.URL)
			}
			if q.Has("code") {
				t.Error("an error response carries a code")
			}
		})
	}
}

func TestAuthorizeByPost(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("post")
	r := b.post(PathAuthorize, authParams(challenge))
	if loc := r.location(t); loc.Path != PathLogin {
		t.Fatalf("POST /authorize redirected to %s, want the login page", loc)
	}
	q := callback(t, b.decide(b.submitLogin(r, "alice", alicePassword), "approve"), webRedirect)
	if q.Get("code") == "" || q.Get("state") != "state-123" {
		t.Errorf("callback = %v, want a code and the state", q)
	}
}

func TestRedirectURIKeepsItsQuery(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Directory = testDirectory(t, directory.Client{
			ID: "querying", Secret: "s", RedirectURIs: []string{"https://q.example/cb?tenant=a"}, Scopes: []string{"profile"},
			AuthMethod: directory.AuthClientSecretBasic, GrantTypes: []string{grantAuthorizationCode},
		})
	})
	b := h.browser()
	r := b.authorize(url.Values{"response_type": {"code"}, "client_id": {"querying"}, "scope": {"profile"}, "state": {"s1"}})
	r = b.decide(b.submitLogin(r, "alice", alicePassword), "approve")
	loc := r.location(t)
	if loc.Host != "q.example" || loc.Query().Get("tenant") != "a" || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
		t.Errorf("redirected to %s, want the registered URI with its tenant=a plus code and state", loc)
	}
}

func TestConsentIsRememberedAndPromptsAreHonoured(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("consent")
	base := with(authParams(challenge), "scope", "openid profile")
	first := b.signIn(base, "alice", alicePassword)
	if first.Get("code") == "" {
		t.Fatal("no code from the first sign-in")
	}

	t.Run("same scopes skip login and consent", func(t *testing.T) {
		q := callback(t, b.authorize(base), webRedirect)
		if q.Get("code") == "" || q.Get("state") != "state-123" {
			t.Errorf("callback = %v", q)
		}
	})
	t.Run("fewer scopes skip consent", func(t *testing.T) {
		q := callback(t, b.authorize(with(base, "scope", "openid")), webRedirect)
		if q.Get("code") == "" {
			t.Errorf("callback = %v", q)
		}
	})
	t.Run("prompt=none with session and consent", func(t *testing.T) {
		q := callback(t, b.authorize(with(base, "prompt", "none")), webRedirect)
		if q.Get("code") == "" {
			t.Errorf("callback = %v, want a code", q)
		}
	})
	t.Run("prompt=none needing consent", func(t *testing.T) {
		q := callback(t, b.authorize(with(base, "prompt", "none", "scope", "openid email")), webRedirect)
		if q.Get("error") != codeConsentRequired {
			t.Errorf("error = %q, want consent_required", q.Get("error"))
		}
	})
	t.Run("more scopes ask again", func(t *testing.T) {
		r := b.authorize(with(base, "scope", "openid email"))
		if loc := r.location(t); loc.Path != PathConsent {
			t.Fatalf("redirected to %s, want the consent page", loc)
		}
		callback(t, b.decide(r, "approve"), webRedirect)
		// Both grants are now remembered together.
		q := callback(t, b.authorize(with(base, "scope", "openid profile email")), webRedirect)
		if q.Get("code") == "" {
			t.Errorf("after approving email too, openid profile email still asks: %v", q)
		}
	})
	t.Run("prompt=consent forces the page", func(t *testing.T) {
		r := b.authorize(with(base, "prompt", "consent"))
		if loc := r.location(t); loc.Path != PathConsent {
			t.Errorf("redirected to %s, want the consent page", loc)
		}
	})
	t.Run("prompt=login forces the login page once", func(t *testing.T) {
		r := b.authorize(with(base, "prompt", "login"))
		r = b.submitLogin(r, "alice", alicePassword)
		if q := callback(t, r, webRedirect); q.Get("code") == "" {
			t.Errorf("after the forced login, callback = %v", q)
		}
	})
	t.Run("max_age exceeded forces login", func(t *testing.T) {
		h.clk.Advance(2 * time.Minute)
		r := b.authorize(with(base, "max_age", "60"))
		if loc := r.location(t); loc.Path != PathLogin {
			t.Errorf("redirected to %s, want the login page", loc)
		}
		q := callback(t, b.authorize(with(base, "max_age", "600")), webRedirect)
		if q.Get("code") == "" {
			t.Errorf("within max_age, callback = %v", q)
		}
	})
	t.Run("consent expires", func(t *testing.T) {
		h.clk.Advance(h.srv.cfg.ConsentTTL)
		// The login session has expired by now too.
		r := b.submitLogin(b.authorize(base), "alice", alicePassword)
		if loc := r.location(t); loc.Path != PathConsent {
			t.Errorf("after the consent expired, redirected to %s, want the consent page", loc)
		}
	})
}

func TestLoginSessionExpires(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("session")
	b.signIn(authParams(challenge), "alice", alicePassword)
	h.clk.Advance(h.srv.cfg.LoginSessionTTL)
	r := b.authorize(authParams(challenge))
	if loc := r.location(t); loc.Path != PathLogin {
		t.Errorf("after the session TTL, redirected to %s, want the login page", loc)
	}
}

func TestIDTokenHint(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("hint")
	base := authParams(challenge)
	tok := h.exchange(b.signIn(base, "alice", alicePassword).Get("code"), verifier)
	idToken := str(tok["id_token"])

	t.Run("matching hint", func(t *testing.T) {
		q := callback(t, b.authorize(with(base, "prompt", "none", "id_token_hint", idToken)), webRedirect)
		if q.Get("code") == "" {
			t.Errorf("callback = %v, want a code", q)
		}
	})
	t.Run("hint for another user", func(t *testing.T) {
		bob := h.browser()
		bob.signIn(base, "bob", "bob password")
		q := callback(t, bob.authorize(with(base, "prompt", "none", "id_token_hint", idToken)), webRedirect)
		if q.Get("error") != codeLoginRequired {
			t.Errorf("error = %q, want login_required", q.Get("error"))
		}
	})
	t.Run("hint for another client", func(t *testing.T) {
		r := b.authorize(url.Values{"response_type": {"code"}, "client_id": {"client_1"}, "scope": {"profile"}, "id_token_hint": {idToken}})
		if q := callback(t, r, legacyRedirect); q.Get("error") != codeInvalidRequest {
			t.Errorf("error = %q, want invalid_request", q.Get("error"))
		}
	})
	t.Run("hint signed with HS256", func(t *testing.T) {
		// The same claims, MACed with a key the attacker chose.
		parts := strings.Split(idToken, ".")
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		mac := hmac.New(sha256.New, []byte("attacker key"))
		mac.Write([]byte(header + "." + parts[1]))
		forged := header + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		q := callback(t, b.authorize(with(base, "prompt", "none", "id_token_hint", forged)), webRedirect)
		if q.Get("error") != codeInvalidRequest {
			t.Errorf("error = %q, want invalid_request", q.Get("error"))
		}
	})
	t.Run("hint with alg none", func(t *testing.T) {
		parts := strings.Split(idToken, ".")
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		q := callback(t, b.authorize(with(base, "prompt", "none", "id_token_hint", forged)), webRedirect)
		if q.Get("error") != codeInvalidRequest {
			t.Errorf("error = %q, want invalid_request", q.Get("error"))
		}
	})
	t.Run("claims of the hint", func(t *testing.T) {
		payload, err := h.srv.keys.Verify(context.Background(), idToken, keys.TypeIDToken)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c["aud"] != "web" || c["azp"] != "web" || c["sub"] != "alice" {
			t.Errorf("claims = %v", c)
		}
	})
}

// TestMaxAgeCountsFractionsOfSeconds checks that an elapsed time even a
// fraction of a second beyond max_age forces a new login, and that max_age=0
// always does (OpenID Connect Core §3.1.2.1).
func TestMaxAgeCountsFractionsOfSeconds(t *testing.T) {
	tests := []struct {
		name      string
		elapsed   time.Duration
		maxAge    string
		wantLogin bool
	}{
		{"max_age=0 right after login", 0, "0", true},
		{"max_age=0 half a second after login", 500 * time.Millisecond, "0", true},
		{"exactly max_age", 60 * time.Second, "60", false},
		{"half a second beyond max_age", 60*time.Second + 500*time.Millisecond, "60", true},
		{"within max_age", 59 * time.Second, "60", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			_, challenge := pkce("maxage")
			base := authParams(challenge)
			b.signIn(base, "alice", alicePassword)
			h.clk.Advance(tt.elapsed)
			r := b.authorize(with(base, "max_age", tt.maxAge))
			if gotLogin := r.location(t).Path == PathLogin; gotLogin != tt.wantLogin {
				t.Errorf("after %v with max_age=%s: login page %v, want %v (Location %s)",
					tt.elapsed, tt.maxAge, gotLogin, tt.wantLogin, r.header.Get("Location"))
			}
		})
	}
}

// TestLoginHintFillsTheForm checks that login_hint pre-fills the user ID on
// the login page, escaped, and that the hint alone signs nobody in.
func TestLoginHintFillsTheForm(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce("hint")
	for _, tt := range []struct{ hint, want string }{
		{"alice", `value="alice"`},
		{`"><script>`, `value="&#34;&gt;&lt;script&gt;"`},
	} {
		b := h.browser()
		r := b.authorize(with(authParams(challenge), "login_hint", tt.hint))
		page := b.get(r.location(t).String())
		if page.status != http.StatusOK || !strings.Contains(page.body, tt.want) {
			t.Errorf("login_hint %q: status %d, page lacks %s", tt.hint, page.status, tt.want)
		}
	}
}
