package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSignOut(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.signIn(b, "/")
	r := b.signOut(e.srv.URL, "/bye")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/bye" {
		t.Fatalf("sign-out: got %d to %q, want 302 to /bye", r.StatusCode, r.Header.Get("Location"))
	}
	if c := findSetCookie(r.Response, "_gatehouse"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out should delete the session cookie, got %+v", c)
	}
	if got := b.do(http.MethodGet, e.srv.URL+"/", nil); got.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out: got %d, want 401", got.StatusCode)
	}
	if got := b.get(e.srv.URL + signedOutPath); got.StatusCode != http.StatusOK || !strings.Contains(got.body, "signed out") {
		t.Fatalf("signed-out page: got %d %s", got.StatusCode, got.body)
	}
}

// TestSignOutNeedsTheForm: a GET only asks, and a POST without the
// confirmation page's token, or from another site, changes nothing.
func TestSignOutNeedsTheForm(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.signIn(b, "/")
	page := b.get(e.srv.URL + signOutPath + "?rd=%2Fbye")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `<form id="signout" method="post" action="/oauth2/sign_out">`) {
		t.Fatalf("GET sign-out: got %d, want 200 with the confirmation form:\n%s", page.StatusCode, page.body)
	}
	token := formValue(t, page.body, "token")
	if rd := formValue(t, page.body, "rd"); rd != "/bye" {
		t.Fatalf("the form's rd: got %q, want /bye", rd)
	}
	other := newBrowser(t)
	e.signIn(other, "/")
	otherToken := formValue(t, other.get(e.srv.URL+signOutPath).body, "token")

	for _, tt := range []struct {
		name    string
		form    url.Values
		headers http.Header
	}{
		{"no token", url.Values{"rd": {"/bye"}}, nil},
		{"garbage token", url.Values{"token": {"x"}}, nil},
		{"another session's token", url.Values{"token": {otherToken}}, nil},
		{"cross-site", url.Values{"token": {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"foreign origin", url.Values{"token": {token}}, http.Header{"Origin": {"https://evil.example"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+signOutPath, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", acceptHTML)
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			r := b.send(req)
			if r.StatusCode != http.StatusForbidden || r.Header.Get("Set-Cookie") != "" || !strings.Contains(r.body, "<form") {
				t.Fatalf("got %d (Set-Cookie %q), want 403 with the form again and no cookie change:\n%s", r.StatusCode, r.Header.Get("Set-Cookie"), r.body)
			}
			if got := b.do(http.MethodGet, e.srv.URL+"/", nil); got.StatusCode != http.StatusOK {
				t.Fatalf("the session after a refused sign-out: got %d, want 200", got.StatusCode)
			}
		})
	}
	if r := b.do(http.MethodPut, e.srv.URL+signOutPath, nil); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("PUT sign-out: got %d Allow %q, want 405 Allow GET, HEAD, POST", r.StatusCode, r.Header.Get("Allow"))
	}
}
