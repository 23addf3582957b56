package proxy

import (
	"net/http"
	"testing"
)

func TestSignOut(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t)
			b := newBrowser(t)
			e.signIn(b, "/")
			r := b.do(method, e.srv.URL+signOutPath+"?rd=%2Fbye", nil)
			if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/bye" {
				t.Fatalf("sign-out: got %d to %q, want 302 to /bye", r.StatusCode, r.Header.Get("Location"))
			}
			if c := findSetCookie(r.Response, "_gatehouse"); c == nil || c.MaxAge >= 0 {
				t.Fatalf("sign-out should delete the session cookie, got %+v", c)
			}
			if got := b.do(http.MethodGet, e.srv.URL+"/", nil); got.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after sign-out: got %d, want 401", got.StatusCode)
			}
		})
	}
	t.Run("PUT", func(t *testing.T) {
		e := newEnv(t)
		r := newBrowser(t).do(http.MethodPut, e.srv.URL+signOutPath, nil)
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("PUT sign-out: got %d Allow %q, want 405 Allow GET, POST", r.StatusCode, r.Header.Get("Allow"))
		}
	})
}
