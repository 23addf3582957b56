package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCheckLogoutClaims: the claims section 2.6 leaves to the proxy, once
// signature, issuer and audience are verified.
func TestCheckLogoutClaims(t *testing.T) {
	now := time.Unix(1800000000, 0)
	const event = `"events":{"http://schemas.openid.net/event/backchannel-logout":{}}`
	iat := `"iat":1800000000`
	for _, tt := range []struct {
		name    string
		claims  string
		want    logoutNotice // when valid
		wantErr string
	}{
		{"sid and sub", `{"sid":"s1","sub":"u",` + iat + `,"exp":1800000120,"jti":"j",` + event + `}`,
			logoutNotice{sid: "s1", sub: "u", jti: "j", lapses: now.Add(2*time.Minute + logoutLeeway)}, ""},
		{"sub only, no exp: accepted for maxLogoutTokenAge", `{"sub":"u",` + iat + `,"jti":"j",` + event + `}`,
			logoutNotice{sub: "u", jti: "j", lapses: now.Add(maxLogoutTokenAge + logoutLeeway)}, ""},
		{"exp past maxLogoutTokenAge", `{"sid":"s",` + iat + `,"exp":1900000000,"jti":"j",` + event + `}`,
			logoutNotice{sid: "s", jti: "j", lapses: now.Add(maxLogoutTokenAge + logoutLeeway)}, ""},
		{"event with members", `{"sid":"s",` + iat + `,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":{"x":1},"urn:other":{}}}`,
			logoutNotice{sid: "s", jti: "j", lapses: now.Add(maxLogoutTokenAge + logoutLeeway)}, ""},
		{"iat within the leeway ahead", `{"sid":"s","iat":1800000020,"jti":"j",` + event + `}`,
			logoutNotice{sid: "s", jti: "j", lapses: now.Add(20*time.Second + maxLogoutTokenAge + logoutLeeway)}, ""},
		{"not JSON", `{`, logoutNotice{}, "malformed"},
		{"sub not a string", `{"sub":42,` + iat + `,"jti":"j",` + event + `}`, logoutNotice{}, "malformed"},
		{"no iat", `{"sid":"s","jti":"j",` + event + `}`, logoutNotice{}, "no valid iat"},
		{"iat a string", `{"sid":"s","iat":"1800000000","jti":"j",` + event + `}`, logoutNotice{}, "malformed"},
		{"iat huge", `{"sid":"s","iat":1e300,"jti":"j",` + event + `}`, logoutNotice{}, "no valid iat"},
		{"iat in the future", `{"sid":"s","iat":1800000100,"jti":"j",` + event + `}`, logoutNotice{}, "in the future"},
		{"expired", `{"sid":"s","iat":1799999000,"exp":1799999100,"jti":"j",` + event + `}`, logoutNotice{}, "expired"},
		{"too old without exp", `{"sid":"s","iat":1799990000,"jti":"j",` + event + `}`, logoutNotice{}, "expired"},
		{"exp not a time", `{"sid":"s",` + iat + `,"exp":-1,"jti":"j",` + event + `}`, logoutNotice{}, "exp is not a time"},
		{"no events", `{"sid":"s",` + iat + `,"jti":"j"}`, logoutNotice{}, "not a logout token"},
		{"event null", `{"sid":"s",` + iat + `,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":null}}`, logoutNotice{}, "not a logout token"},
		{"event a string", `{"sid":"s",` + iat + `,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":"x"}}`, logoutNotice{}, "malformed"},
		{"events a list", `{"sid":"s",` + iat + `,"jti":"j","events":["http://schemas.openid.net/event/backchannel-logout"]}`, logoutNotice{}, "malformed"},
		{"nonce", `{"sid":"s",` + iat + `,"jti":"j","nonce":"n",` + event + `}`, logoutNotice{}, "has a nonce"},
		{"nonce null", `{"sid":"s",` + iat + `,"jti":"j","nonce":null,` + event + `}`, logoutNotice{}, "has a nonce"},
		{"neither sub nor sid", `{` + iat + `,"jti":"j",` + event + `}`, logoutNotice{}, "neither sub nor sid"},
		{"empty sub and sid", `{"sub":"","sid":"",` + iat + `,"jti":"j",` + event + `}`, logoutNotice{}, "neither sub nor sid"},
		{"no jti", `{"sid":"s",` + iat + `,` + event + `}`, logoutNotice{}, "no jti"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkLogoutClaims([]byte(tt.claims), now)
			if tt.wantErr != "" {
				var refusal *logoutRefusal
				if !errors.As(err, &refusal) || refusal.code != "invalid_request" || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an invalid_request containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestLogoutTokenOf: the form of a back-channel logout request.
func TestLogoutTokenOf(t *testing.T) {
	for _, tt := range []struct {
		name, contentType, body, want string
	}{
		{"form", "application/x-www-form-urlencoded", "logout_token=a.b.c", "a.b.c"},
		{"with charset, other fields", "application/x-www-form-urlencoded; charset=UTF-8", "x=1&logout_token=a.b.c", "a.b.c"},
		{"upper case type", "Application/X-WWW-Form-Urlencoded", "logout_token=a.b.c", "a.b.c"},
		{"no type", "", "logout_token=a.b.c", ""},
		{"multipart", "multipart/form-data; boundary=x", "logout_token=a.b.c", ""},
		{"none", "application/x-www-form-urlencoded", "", ""},
		{"empty", "application/x-www-form-urlencoded", "logout_token=", ""},
		{"two", "application/x-www-form-urlencoded", "logout_token=a&logout_token=b", ""},
		{"bad escape", "application/x-www-form-urlencoded", "logout_token=%zz", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logoutTokenOf(tt.contentType, strings.NewReader(tt.body))
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestUsedTokensInProcess: a token is used once until it lapses; a
// released one may be used again.
func TestUsedTokensInProcess(t *testing.T) {
	now := time.Unix(1800000000, 0)
	u := newUsedTokens(func() time.Time { return now }, nil)
	ctx := context.Background()
	lapses := now.Add(time.Minute)
	if _, err := u.claim(ctx, "a", lapses); err != nil {
		t.Fatal(err)
	}
	if _, err := u.claim(ctx, "a", lapses); !errors.Is(err, errReplayed) {
		t.Fatalf("a second use: got %v, want errReplayed", err)
	}
	release, err := u.claim(ctx, "b", lapses)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := u.claim(ctx, "b", lapses); err != nil {
		t.Fatalf("a use after release: %v", err)
	}
	now = lapses
	if _, err := u.claim(ctx, "a", now.Add(time.Minute)); err != nil {
		t.Fatalf("a use after the token lapsed: %v", err)
	}
}

// TestRefreshKeepsProviderSession: a refreshed session is still ended by
// a logout of the provider session it began in, whether the refreshed ID
// token repeats the sid, leaves it out, or does not come at all.
func TestRefreshKeepsProviderSession(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   func(tp *testProvider)
	}{
		{"ID token with the sid", func(tp *testProvider) {}},
		{"ID token without sid", func(tp *testProvider) {
			tp.editIDToken = func(c map[string]any) {
				if c["nonce"] == nil { // a refresh's
					delete(c, "sid")
				}
			}
		}},
		{"no ID token", func(tp *testProvider) { tp.refreshWithoutIDToken = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute; tt.op(tp) })
			b := newBrowser(t)
			e.signIn(b, "/")
			sid := e.LastSID()
			e.clock.Advance(9*time.Minute + time.Second)
			if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 {
				t.Fatalf("got %d with %d refreshes, want 200 after one", r.StatusCode, e.op.refreshCalls.Load())
			}
			form := url.Values{"logout_token": {e.op.logoutToken(e.op.logoutClaims(sid))}}
			resp, err := http.Post(e.srv.URL+BackchannelLogoutPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: got %d, want 200", resp.StatusCode)
			}
			if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("the refreshed session after its provider session's logout: got %d, want 401", r.StatusCode)
			}
		})
	}
}

// FuzzLogoutForm feeds arbitrary requests to the form reader: a token
// comes out only of a form with exactly one, non-empty.
func FuzzLogoutForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "logout_token=a.b.c")
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "logout_token=a&logout_token=b")
	f.Add("multipart/form-data; boundary=\"", "%%")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		token, err := logoutTokenOf(contentType, strings.NewReader(body))
		if err != nil {
			return
		}
		form, _ := url.ParseQuery(body)
		if token == "" || len(form["logout_token"]) != 1 || form.Get("logout_token") != token {
			t.Fatalf("token %q from %q", token, body)
		}
	})
}

// FuzzLogoutClaims feeds arbitrary claims to the checks: what passes names
// a sid or sub, has a jti, no nonce and the logout event, and lapses within
// the accepted age.
func FuzzLogoutClaims(f *testing.F) {
	now := time.Unix(1800000000, 0)
	f.Add(`{"sid":"s","sub":"u","iat":1800000000,"exp":1800000120,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
	f.Add(`{"sub":"u","iat":1.8e9,"jti":"j","nonce":null,"events":{"http://schemas.openid.net/event/backchannel-logout":null}}`)
	f.Add(`{"iat":-1,"exp":1e400}`)
	f.Fuzz(func(t *testing.T, claims string) {
		n, err := checkLogoutClaims([]byte(claims), now)
		if err != nil {
			return
		}
		var c map[string]json.RawMessage
		if json.Unmarshal([]byte(claims), &c) != nil {
			t.Fatalf("accepted claims that are not an object: %q", claims)
		}
		if _, nonce := c["nonce"]; nonce || n.jti == "" || n.sid == "" && n.sub == "" {
			t.Fatalf("accepted %q as %+v", claims, n)
		}
		if !n.lapses.After(now) || n.lapses.After(now.Add(maxLogoutTokenAge+2*logoutLeeway)) {
			t.Fatalf("%q lapses at %s, outside (now, now+%s]", claims, n.lapses, maxLogoutTokenAge+2*logoutLeeway)
		}
	})
}

// FuzzBackchannelLogout feeds arbitrary requests to the whole logout path,
// against a real test provider: only a token the provider signed is ever
// accepted, and only once.
func FuzzBackchannelLogout(f *testing.F) {
	e := newEnv(f)
	minted := e.op.logoutToken(e.op.logoutClaims("sid-1"))
	f.Add("application/x-www-form-urlencoded", "logout_token="+minted)
	f.Add("application/x-www-form-urlencoded", "logout_token="+strings.Replace(minted, ".", "x.", 1))
	f.Add("application/x-www-form-urlencoded", "logout_token=eyJhbGciOiJub25lIn0.e30.")
	f.Add("text/plain", "logout_token=a.b.c")
	accepted := 0
	f.Fuzz(func(t *testing.T, contentType, body string) {
		err := e.proxy.logOut(context.Background(), contentType, strings.NewReader(body))
		var refusal *logoutRefusal
		switch {
		case err == nil:
			if form, _ := url.ParseQuery(body); form.Get("logout_token") != minted {
				t.Fatalf("accepted %q, which the provider did not sign", body)
			}
			if accepted++; accepted > 1 {
				t.Fatalf("accepted the token %d times", accepted)
			}
		case !errors.As(err, &refusal):
			t.Fatalf("error %v is not a logoutRefusal", err)
		}
	})
}
