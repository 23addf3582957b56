package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestBearerEndpointsRefuseBadTokens(t *testing.T) {
	h := newHarness(t)
	code, verifier := freshCode(t, h.browser(), "openid")
	expired := str(h.exchange(code, verifier)["access_token"])
	h.clk.Advance(h.srv.cfg.AccessTokenTTL)
	code, verifier = freshCode(t, h.browser(), "openid profile")
	good := str(h.exchange(code, verifier)["access_token"])

	tests := []struct {
		name   string
		header []string // Authorization header values
		form   url.Values
		query  string
		status int
		code   string
	}{
		{"no token", nil, nil, "", http.StatusUnauthorized, codeInvalidToken},
		{"unknown token", []string{"Bearer " + newSecret()}, nil, "", http.StatusUnauthorized, codeInvalidToken},
		{"Basic scheme", []string{"Basic " + good}, nil, "", http.StatusUnauthorized, codeInvalidToken},
		{"malformed token", []string{"Bearer a,b"}, nil, "", http.StatusUnauthorized, codeInvalidToken},
		{"empty bearer", []string{"Bearer "}, nil, "", http.StatusUnauthorized, codeInvalidToken},
		{"token in the query is ignored", nil, nil, "access_token=" + good, http.StatusUnauthorized, codeInvalidToken},
		{"two headers", []string{"Bearer " + good, "Bearer " + good}, nil, "", http.StatusBadRequest, codeInvalidRequest},
		{"header and form", []string{"Bearer " + good}, url.Values{"access_token": {good}}, "", http.StatusBadRequest, codeInvalidRequest},
		{"expired token", []string{"Bearer " + expired}, nil, "", http.StatusUnauthorized, codeInvalidToken},
	}
	for _, path := range []string{PathAPIMe, PathUserInfo} {
		for _, tt := range tests {
			if tt.form != nil && path == PathAPIMe {
				continue // /api/me is GET only: it takes no form
			}
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				method := http.MethodGet
				body := strings.NewReader("")
				if tt.form != nil {
					method = http.MethodPost
					body = strings.NewReader(tt.form.Encode())
				}
				target := h.ts.URL + path
				if tt.query != "" {
					target += "?" + tt.query
				}
				req, _ := http.NewRequest(method, target, body)
				if tt.form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				for _, v := range tt.header {
					req.Header.Add("Authorization", v)
				}
				r := do(t, h.ts.Client(), req)
				wantOAuthError(t, r, tt.status, tt.code)
				// RFC 6750 §3: every refusal of a request without a usable
				// token carries a Bearer challenge naming the error.
				if want := `Bearer error="` + tt.code + `"`; r.header.Get("WWW-Authenticate") != want {
					t.Errorf("WWW-Authenticate = %q, want %s", r.header.Get("WWW-Authenticate"), want)
				}
			})
		}
	}

	t.Run("valid token", func(t *testing.T) {
		for _, path := range []string{PathAPIMe, PathUserInfo} {
			if r := h.bearerCall(http.MethodGet, path, good); r.status != http.StatusOK {
				t.Errorf("%s with a valid token: status %d body %s", path, r.status, r.body)
			}
		}
		// RFC 6750 §2.2: the token in a form body.
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathUserInfo, strings.NewReader(url.Values{"access_token": {good}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r := do(t, h.ts.Client(), req); r.status != http.StatusOK || r.json(t)["preferred_username"] != "alice" {
			t.Errorf("POST userinfo with a form token: status %d body %s", r.status, r.body)
		}
	})
}

func TestUserInfoRefusesAMalformedForm(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathUserInfo, strings.NewReader("access_token=abc&bad=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := do(t, h.ts.Client(), req)
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidRequest)
	if got, want := r.header.Get("WWW-Authenticate"), `Bearer error="invalid_request"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %s", got, want)
	}
}
