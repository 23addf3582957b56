package authserver

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/pages"
)

func TestParseBasicAuth(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name       string
		header     string
		id, secret string
		wantErr    string
	}{
		{"plain", "Basic " + enc("client_1:client_secret_1"), "client_1", "client_secret_1", ""},
		{"scheme is case-insensitive", "basic " + enc("a:b"), "a", "b", ""},
		{"form-encoded values are decoded", "Basic " + enc("my%3Aclient:p%40ss+word%25"), "my:client", "p@ss word%", ""},
		{"colon in the secret", "Basic " + enc("a:b:c"), "a", "b:c", ""},
		{"empty secret", "Basic " + enc("a:"), "a", "", ""},
		{"Bearer", "Bearer abc", "", "", "Basic scheme"},
		{"no credentials", "Basic", "", "", "Basic scheme"},
		{"not base64", "Basic !!!", "", "", "not valid base64"},
		{"no colon", "Basic " + enc("abc"), "", "", "no colon"},
		{"bad escape", "Basic " + enc("a%zz:b"), "", "", "client ID"},
		{"empty id", "Basic " + enc(":secret"), "", "", "empty client ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, err := parseBasicAuth(tt.header)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.id || secret != tt.secret {
				t.Errorf("got (%q, %q, %v), want (%q, %q, nil)", id, secret, err, tt.id, tt.secret)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"openid profile", []string{"openid", "profile"}, false},
		{"  openid   openid profile ", []string{"openid", "profile"}, false},
		{"", nil, false},
		{"urn:x:read https://api.example/write", []string{"urn:x:read", "https://api.example/write"}, false},
		{"openid\tprofile", nil, true},
		{`a"b`, nil, true},
		{`a\b`, nil, true},
		{"caf\u00e9", nil, true},
	}
	for _, tt := range tests {
		got, err := parseScope(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseScope(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCodeVerifierSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 43), true},
		{strings.Repeat("A0-._~", 22)[:128], true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "=", false},
	}
	for _, tt := range tests {
		if got := validCodeVerifier(tt.in); got != tt.want {
			t.Errorf("validCodeVerifier(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSafeDescription(t *testing.T) {
	got := safeDescription("redirect_uri \"x\\y\"\nis\u00e9 bad")
	if got != "redirect_uri 'x/y'?is? bad" {
		t.Errorf("got %q", got)
	}
}

func FuzzParseAuthRequest(f *testing.F) {
	dir := testDirectory(f)
	_, challenge := pkce("fuzz")
	for _, seed := range []string{
		authParams(challenge).Encode(),
		"response_type=code&client_id=client_1&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcallback&scope=profile&state=xyz123",
		"response_type=code&client_id=client_1&scope=profile",
		"response_type=code&client_id=spa&scope=openid&code_challenge=" + challenge + "&code_challenge_method=S256&prompt=none&max_age=0",
		"client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2F",
		"client_id=web&client_id=spa",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=openid&code_challenge=x&code_challenge_method=plain",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=%22&state=%00",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&prompt=none+login&scope=openid",
		"%zz=1&;;&&==",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, _ := url.ParseQuery(query)
		req, err := parseAuthRequest(q, dir.Client)
		var pe *pages.Error
		var re *redirectError
		switch {
		case err == nil:
			c := dir.Client(req.ClientID)
			if c == nil || !slices.Contains(c.RedirectURIs, req.Target) {
				t.Fatalf("accepted request targets %q, not registered for %q", req.Target, req.ClientID)
			}
			if req.RedirectURI != "" && req.RedirectURI != req.Target {
				t.Fatalf("redirect_uri %q but target %q", req.RedirectURI, req.Target)
			}
			if len(req.Scopes) == 0 || len(intersect(req.Scopes, c.Scopes)) != len(req.Scopes) {
				t.Fatalf("scopes %v not a non-empty subset of %v", req.Scopes, c.Scopes)
			}
			if req.CodeChallenge == "" && (c.Public() || c.RequirePKCE) {
				t.Fatalf("client %s accepted without PKCE", c.ID)
			}
			if req.CodeChallenge != "" && (req.CodeChallengeMethod != "S256" || !validS256Challenge(req.CodeChallenge)) {
				t.Fatalf("accepted challenge %q method %q", req.CodeChallenge, req.CodeChallengeMethod)
			}
			if req.PromptNone && (req.PromptLogin || req.PromptConsent) {
				t.Fatal("accepted prompt=none with other prompts")
			}
			if len(req.State) > maxStateLen || len(req.Nonce) > maxNonceLen {
				t.Fatal("accepted an oversized state or nonce")
			}
		case errors.As(err, &re):
			c := dir.Client(q.Get("client_id"))
			if c == nil || !slices.Contains(c.RedirectURIs, re.target) {
				t.Fatalf("error %v would redirect to unverified %q", err, re.target)
			}
			if len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 {
				t.Fatalf("redirected an error for a request with ambiguous client_id or redirect_uri")
			}
			if re.code == "" || re.description != safeDescription(re.description) {
				t.Fatalf("error code %q description %q", re.code, re.description)
			}
		case errors.As(err, &pe):
			if pe.Status != http.StatusBadRequest || pe.Detail == "" {
				t.Fatalf("page error %+v", pe)
			}
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	for _, seed := range []struct{ body, auth string }{
		{"grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcallback", basic("client_1", "client_secret_1")},
		{"grant_type=authorization_code&code=abc&client_id=spa&code_verifier=" + strings.Repeat("v", 43), ""},
		{"grant_type=refresh_token&refresh_token=xyz&scope=openid&client_id=post&client_secret=s", ""},
		{"grant_type=authorization_code&client_id=a&client_secret=b", basic("a", "b")},
		{"grant_type=password&username=x&password=y", "Basic Og=="},
		{"grant_type=authorization_code&code=a&code=b", "Bearer x"},
		{"scope=%22&client_id=x&grant_type=refresh_token", ""},
		{"%zz", "Basic !!!"},
		{"", ""},
	} {
		f.Add(seed.body, seed.auth)
	}
	f.Fuzz(func(t *testing.T, body, auth string) {
		var header []string
		if auth != "" {
			header = []string{auth}
		}
		var req *tokenRequest
		form, oerr := parseForm(body)
		if oerr == nil {
			req, oerr = parseTokenRequest(form, header)
		}
		if oerr != nil {
			switch {
			case oerr.code == codeInvalidClient && oerr.status == http.StatusUnauthorized:
			case (oerr.code == codeInvalidRequest || oerr.code == codeInvalidScope) && oerr.status == http.StatusBadRequest:
			default:
				t.Fatalf("unexpected error %q with status %d", oerr.code, oerr.status)
			}
			if oerr.challenge != "" && oerr.code != codeInvalidClient {
				t.Fatalf("challenge on %s", oerr.code)
			}
			return
		}
		if req.ClientID == "" || req.GrantType == "" {
			t.Fatalf("accepted request without client or grant: %+v", req)
		}
		switch req.AuthMethod {
		case directory.AuthClientSecretBasic:
			if auth == "" || form.Has("client_secret") {
				t.Fatal("Basic method without a lone Authorization header")
			}
		case directory.AuthClientSecretPost:
			if req.Secret != form.Get("client_secret") || req.ClientID != form.Get("client_id") {
				t.Fatal("post credentials differ from the form")
			}
		case directory.AuthNone:
			if req.Secret != "" {
				t.Fatal("public client with a secret")
			}
		default:
			t.Fatalf("auth method %q", req.AuthMethod)
		}

		// Whatever the ID and secret, encoding them as RFC 6749 §2.3.1
		// says and parsing gives them back.
		id, secret := req.ClientID, body
		gotID, gotSecret, err := parseBasicAuth(basic(id, secret))
		if err != nil || gotID != id || gotSecret != secret {
			t.Fatalf("Basic round trip of (%q, %q) gave (%q, %q, %v)", id, secret, gotID, gotSecret, err)
		}
	})
}

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []struct{ header, form string }{
		{"Bearer " + newSecret(), ""},
		{"bearer abc.def-ghi_jkl~mno+pqr/stu==", ""},
		{"", "tok"},
		{"Bearer a", "b"},
		{"Bearer", ""},
		{"Bearer  spaced", ""},
		{"Basic Og==", ""},
		{"Bearer a=b", ""},
		{"Bearer \x00", ""},
		{"", ""},
	} {
		f.Add(seed.header, seed.form)
	}
	f.Fuzz(func(t *testing.T, header, formToken string) {
		var headers []string
		if header != "" {
			headers = []string{header}
		}
		form := url.Values{}
		if formToken != "" {
			form.Set("access_token", formToken)
		}
		token, oerr := parseBearer(headers, form)
		if oerr != nil {
			if (oerr.code != codeInvalidToken || oerr.status != http.StatusUnauthorized) &&
				(oerr.code != codeInvalidRequest || oerr.status != http.StatusBadRequest) {
				t.Fatalf("unexpected error %q status %d", oerr.code, oerr.status)
			}
			return
		}
		if !isB64Token(token) {
			t.Fatalf("accepted malformed token %q", token)
		}
		if header != "" && formToken != "" {
			t.Fatal("accepted a token sent two ways")
		}
		if token != formToken && !strings.HasSuffix(header, " "+token) {
			t.Fatalf("token %q is neither the form value nor the header's credentials", token)
		}
	})
}

// TestOversizedParametersAreRefused checks that the form endpoints refuse
// a parameter beyond its limit with invalid_request, and the login form
// with a page, before looking anything up.
func TestOversizedParametersAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		path string
		form url.Values
		want string
	}{
		{PathToken, url.Values{"grant_type": {grantAuthorizationCode}, "code": {strings.Repeat("c", maxTokenLen+1)}}, "code is longer than 4096 bytes"},
		{PathToken, url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {"r"}, "scope": {strings.Repeat("s", maxScopeLen+1)}}, "scope is longer than 1024 bytes"},
		{PathToken, url.Values{"grant_type": {grantClientCredentials}, "x_extension": {strings.Repeat("x", maxParamLen+1)}}, "x_extension is longer than 2048 bytes"},
		{PathRevoke, url.Values{"token": {strings.Repeat("t", maxTokenLen+1)}}, "token is longer than 4096 bytes"},
		{PathIntrospect, url.Values{"token": {strings.Repeat("t", maxTokenLen+1)}}, "token is longer than 4096 bytes"},
	} {
		r := h.clientCall(tt.path, tt.form, "web", webSecret)
		wantOAuthError(t, r, http.StatusBadRequest, codeInvalidRequest)
		if got := r.json(t)["error_description"]; got != tt.want {
			t.Errorf("%s: error_description %q, want %q", tt.path, got, tt.want)
		}
	}

	b := h.browser()
	_, challenge := pkce("big")
	login := b.get(b.authorize(authParams(challenge)).location(t).String())
	form := hiddenFields(t, login)
	form.Set("user_id", "alice")
	form.Set("password", strings.Repeat("p", maxPasswordLen+1))
	if r := b.post(PathLogin, form); r.status != http.StatusBadRequest || r.header.Get("Set-Cookie") != "" {
		t.Errorf("oversized password: status %d, cookies %q; want 400 and no session", r.status, r.header.Get("Set-Cookie"))
	}
}
