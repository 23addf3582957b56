package authserver

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// FuzzParseTokenQuery runs the form and credential parsers of the
// revocation and introspection endpoints on arbitrary bodies and
// Authorization headers.
func FuzzParseTokenQuery(f *testing.F) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	for _, seed := range []struct{ body, auth string }{
		{"token=" + newSecret() + "&token_type_hint=refresh_token", basic("web", "s e=%+")},
		{"token=abc&client_id=spa", ""},
		{"token=abc&client_id=post&client_secret=s", ""},
		{"token=abc&client_secret=s", ""},
		{"token=abc&token=def", basic("a", "b")},
		{"token=abc&client_id=b", basic("a", "b")},
		{"token=" + strings.Repeat("x", maxTokenLen+1), basic("a", "b")},
		{"token_type_hint=id_token", "Bearer x"},
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
		var q *tokenQuery
		form, oerr := parseForm(body)
		if oerr == nil {
			q, oerr = parseTokenQuery(form, header)
		}
		if oerr != nil {
			switch {
			case oerr.code == codeInvalidClient && oerr.status == http.StatusUnauthorized && oerr.challenge != "":
			case oerr.code == codeInvalidRequest && oerr.status == http.StatusBadRequest && oerr.challenge == "":
			default:
				t.Fatalf("unexpected error %q, status %d, challenge %q", oerr.code, oerr.status, oerr.challenge)
			}
			return
		}
		if name := repeated(form); name != "" {
			t.Fatalf("accepted a repeated %s", name)
		}
		if q.Token == "" || len(q.Token) > maxTokenLen || q.Token != form.Get("token") || q.Hint != form.Get("token_type_hint") {
			t.Fatalf("token %q, hint %q do not match the form %v", q.Token, q.Hint, form)
		}
		if q.ClientID == "" {
			t.Fatal("accepted a request without client")
		}
		switch q.AuthMethod {
		case directory.AuthClientSecretBasic:
			if auth == "" || form.Has("client_secret") {
				t.Fatal("Basic method without a lone Authorization header")
			}
		case directory.AuthClientSecretPost:
			if q.Secret != form.Get("client_secret") || q.ClientID != form.Get("client_id") {
				t.Fatal("post credentials differ from the form")
			}
		case directory.AuthNone:
			if q.Secret != "" || auth != "" {
				t.Fatal("public client with a secret")
			}
		default:
			t.Fatalf("auth method %q", q.AuthMethod)
		}
	})
}
