package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// idTokenClaims are the claims of an ID token the test provider issued to
// the proxy, valid for an hour from now.
func (e *env) idTokenClaims() map[string]any {
	c := maps.Clone(e.op.claims)
	c["iss"] = e.op.issuer()
	c["aud"] = e.op.clientID
	c["iat"] = e.clock.Now().Unix()
	c["exp"] = e.clock.Now().Add(time.Hour).Unix()
	return c
}

// accessTokenClaims are the claims of an RFC 9068 access token for the
// proxy.
func (e *env) accessTokenClaims() map[string]any {
	c := e.idTokenClaims()
	c["client_id"] = "script"
	c["jti"] = rand.Text()
	return c
}

// with returns c with changes applied; a nil value deletes the claim.
func with(c map[string]any, changes map[string]any) map[string]any {
	c = maps.Clone(c)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// api sends GET path as an API client would, with the given Authorization
// headers and no cookies.
func (e *env) api(t *testing.T, path string, authorization ...string) *response {
	t.Helper()
	h := http.Header{"Accept": {"application/json"}}
	if len(authorization) > 0 {
		h["Authorization"] = authorization
	}
	return newBrowser(t).do(http.MethodGet, e.srv.URL+path, h)
}

// wantRefused checks a refusal of a bearer token: the status, the RFC 6750
// challenge and JSON error, and that nothing reached the upstream.
func wantRefused(t *testing.T, e *env, r *response, status int, code, descriptionPart string, upstreamBefore int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("got %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if body.Error != code {
		t.Errorf("JSON error: got %q, want %q", body.Error, code)
	}
	if !strings.Contains(body.Description, descriptionPart) {
		t.Errorf("error_description %q lacks %q", body.Description, descriptionPart)
	}
	want := `Bearer realm="gatehouse", error="` + code + `", error_description="` + body.Description + `"`
	if got := r.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, want)
	}
	if r.Header.Get("Location") != "" {
		t.Errorf("got a redirect to %s, want none", r.Header.Get("Location"))
	}
	if n := e.up.count(); n != upstreamBefore {
		t.Errorf("the upstream received %d requests, want none", n-upstreamBefore)
	}
}

func TestBearerJWT(t *testing.T) {
	e := newEnv(t)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&e.op.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := e.clock.Now()
	b64 := func(v any) string {
		j, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(j)
	}

	for _, tc := range []struct {
		name  string
		token string
		// want is "" for a token that gets in, or the start of the
		// error_description of its 401.
		want string
	}{
		{"ID token", e.op.jwt(nil, e.idTokenClaims()), ""},
		{"access token (at+jwt)", e.op.jwt(map[string]any{"typ": "at+jwt"}, e.accessTokenClaims()), ""},
		{"access token (application/at+jwt)", e.op.jwt(map[string]any{"typ": "application/at+jwt"}, e.accessTokenClaims()), ""},
		{"audience in a list", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"aud": []string{"other", e.op.clientID}})), ""},
		{"expired within the leeway", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"exp": now.Add(-20 * time.Second).Unix()})), ""},
		{"expired", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"exp": now.Add(-time.Minute).Unix()})), "the token expired at " + now.Add(-time.Minute).UTC().Format(time.RFC3339)},
		{"no expiry", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"exp": nil})), "the token has no expiry"},
		{"wrong issuer", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"iss": "https://idp.example"})), "the token failed verification: id token issued by a different provider"},
		{"wrong audience", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"aud": "other-app"})), "the token is for other-app, not for this proxy, which accepts tokens for proxy-client"},
		{"no sub", e.op.jwt(nil, with(e.idTokenClaims(), map[string]any{"sub": nil})), "the token has no sub claim"},
		{"logout token", e.op.jwt(map[string]any{"typ": "logout+jwt"}, e.idTokenClaims()), "the token's type 'logout+jwt' is neither"},
		{"alg none", b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(e.idTokenClaims()) + ".", "the token is signed with alg 'none'; the provider signs with ES256"},
		{"HS256 keyed with the public key", signJWT(t, jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, (&jose.SignerOptions{}).WithHeader("kid", "k1"), e.idTokenClaims()), "the token is signed with alg 'HS256'"},
		{"unknown kid", signJWT(t, jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}, (&jose.SignerOptions{}).WithHeader("kid", "k2"), e.idTokenClaims()), "the token is signed with a key (kid 'k2') that the provider " + e.op.issuer() + " does not publish"},
		{"known kid, another key", signJWT(t, jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}, (&jose.SignerOptions{}).WithHeader("kid", "k1"), e.idTokenClaims()), "the token's signature is not valid"},
		{"garbage in JWT form", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "the token"},
		{"garbage", "garbage", "the token is not a JWT, and this proxy checks no other tokens (introspection is not enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.count()
			r := e.api(t, "/api/x", "Bearer "+tc.token)
			if tc.want != "" {
				wantRefused(t, e, r, http.StatusUnauthorized, "invalid_token", tc.want, before)
				return
			}
			if r.StatusCode != http.StatusOK {
				t.Fatalf("got %d, want 200; body %s", r.StatusCode, r.body)
			}
			up := e.up.last(t)
			for h, want := range map[string]string{headerUser: "user-42", headerEmail: "ada@example.com", headerPreferredUsername: "ada", headerGroups: "eng,ops"} {
				if got := up.Header.Get(h); got != want {
					t.Errorf("upstream %s: got %q, want %q", h, got, want)
				}
			}
			// The route sets no Authorization, so the client's own passes.
			if got := up.Header.Get("Authorization"); got != "Bearer "+tc.token {
				t.Errorf("upstream Authorization: got %q, want the client's", got)
			}
		})
	}
}

func TestBearerMalformedHeader(t *testing.T) {
	e := newEnv(t)
	token := e.op.jwt(nil, e.idTokenClaims())
	for _, tc := range []struct {
		name          string
		authorization []string
		want          string
	}{
		{"no token", []string{"Bearer"}, "no token after Bearer"},
		{"two tokens", []string{"Bearer a b"}, "the bearer token is malformed"},
		{"tab", []string{"Bearer\t" + token}, "the bearer token is malformed"},
		{"comma", []string{"Bearer a,b"}, "the bearer token is malformed"},
		{"padding inside", []string{"Bearer a=b"}, "the bearer token is malformed"},
		{"two headers", []string{"Bearer " + token, "Bearer " + token}, "2 Authorization headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.count()
			r := e.api(t, "/api/x", tc.authorization...)
			wantRefused(t, e, r, http.StatusBadRequest, "invalid_request", tc.want, before)
		})
	}
	t.Run("scheme in any case", func(t *testing.T) {
		if r := e.api(t, "/api/x", "bEARER  "+token); r.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200; body %s", r.StatusCode, r.body)
		}
	})
	t.Run("another scheme is no bearer token", func(t *testing.T) {
		r := e.api(t, "/api/x", "Basic YWRhOnB3")
		if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="gatehouse"` {
			t.Fatalf("got %d with %q, want the 401 of a request without credentials", r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a browser gets no redirect", func(t *testing.T) {
		before := e.up.count()
		b := newBrowser(t)
		r := b.do(http.MethodGet, e.srv.URL+"/app", http.Header{"Accept": {acceptHTML}, "Authorization": {"Bearer expired.x.y"}})
		wantRefused(t, e, r, http.StatusUnauthorized, "invalid_token", "the token", before)
	})
}

func TestBearerConfiguredAudiences(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Bearer.Audiences = []string{"https://api.example.com", "reports"} })
	for _, tc := range []struct {
		aud  any
		want int
	}{
		{"https://api.example.com", http.StatusOK},
		{[]string{"x", "reports"}, http.StatusOK},
		// The list replaces the default.
		{e.op.clientID, http.StatusUnauthorized},
	} {
		r := e.api(t, "/", "Bearer "+e.op.jwt(map[string]any{"typ": "at+jwt"}, with(e.accessTokenClaims(), map[string]any{"aud": tc.aud})))
		if r.StatusCode != tc.want {
			t.Errorf("aud %v: got %d, want %d; body %s", tc.aud, r.StatusCode, tc.want, r.body)
		}
	}
}

func TestBearerDeniedByPolicy(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes[0].Allow = &policy.Rules{Groups: []string{"admins"}}
	})
	r := e.api(t, "/", "Bearer "+e.op.jwt(nil, e.idTokenClaims()))
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, `"access_denied"`) {
		t.Fatalf("got %d %s, want 403 access_denied", r.StatusCode, r.body)
	}
	if e.up.count() != 0 {
		t.Error("the upstream received the request")
	}
	admin := with(e.idTokenClaims(), map[string]any{"groups": []string{"admins"}})
	if r := e.api(t, "/", "Bearer "+e.op.jwt(nil, admin)); r.StatusCode != http.StatusOK {
		t.Fatalf("an admin's token: got %d, want 200", r.StatusCode)
	}
}

// TestBearerCookieFirst checks that a session cookie decides, and that a
// bad bearer token does not spoil it: apps send their own Authorization.
func TestBearerCookieFirst(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.signIn(b, "/")
	r := b.do(http.MethodGet, e.srv.URL+"/app", http.Header{"Authorization": {"Bearer garbage"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want the cookie's session to serve it; body %s", r.StatusCode, r.body)
	}
	if got := e.up.last(t).Header.Get("Authorization"); got != "Bearer garbage" {
		t.Errorf("upstream Authorization: got %q, want the client's own", got)
	}
}

// TestBearerEndpoints checks the token at forward-auth and userinfo, and
// that a route forwarding the access token forwards the bearer's.
func TestBearerEndpoints(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Routes = append(c.Routes, Route{Path: "/tokens", Upstream: c.Routes[0].Upstream, Identity: Identity{Authorization: "access_token"}})
	})
	at := e.op.jwt(map[string]any{"typ": "at+jwt"}, e.accessTokenClaims())

	r := newBrowser(t).do(http.MethodGet, e.srv.URL+authPath, http.Header{
		"Authorization": {"Bearer " + at}, "X-Forwarded-Uri": {"/x"}, "X-Forwarded-Method": {"GET"},
	})
	if r.StatusCode != http.StatusOK || r.Header.Get(headerUser) != "user-42" {
		t.Errorf("forward-auth: got %d with user %q, want 200 user-42", r.StatusCode, r.Header.Get(headerUser))
	}
	r = newBrowser(t).do(http.MethodGet, e.srv.URL+authPath, http.Header{
		"Authorization": {"Bearer not-a-jwt"}, "X-Forwarded-Uri": {"/x"}, "X-Forwarded-Method": {"GET"},
	})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || r.Header.Get(signInHeader) != "" {
		t.Errorf("forward-auth with a bad token: got %d, %q, sign-in %q; want 401 invalid_token without a sign-in URL",
			r.StatusCode, r.Header.Get("WWW-Authenticate"), r.Header.Get(signInHeader))
	}

	r = e.api(t, userinfoPath, "Bearer "+at)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `"sub":"user-42"`) {
		t.Errorf("userinfo: got %d %s", r.StatusCode, r.body)
	}
	r = e.api(t, userinfoPath, "Bearer x.y.z")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with a bad token: got %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}

	if r := e.api(t, "/tokens", "Bearer "+at); r.StatusCode != http.StatusOK {
		t.Fatalf("route forwarding the access token: got %d %s", r.StatusCode, r.body)
	}
	if got := e.up.last(t).Header.Get("Authorization"); got != "Bearer "+at {
		t.Errorf("upstream Authorization: got %q, want the bearer's access token", got)
	}
}

// TestBearerKeyRefetch checks that tokens with unknown kids or bad
// signatures cannot make the proxy fetch the provider's keys per request.
func TestBearerKeyRefetch(t *testing.T) {
	e := newEnv(t)
	good := e.op.jwt(nil, e.idTokenClaims())
	if r := e.api(t, "/", "Bearer "+good); r.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want 200", r.StatusCode)
	}
	if n := e.op.jwksCalls.Load(); n != 1 {
		t.Fatalf("after the first token: %d key fetches, want 1", n)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forge := func(kid string) string {
		return signJWT(t, jose.SigningKey{Algorithm: jose.ES256, Key: other}, (&jose.SignerOptions{}).WithHeader("kid", kid), e.idTokenClaims())
	}
	for range 5 {
		e.api(t, "/", "Bearer "+forge("k1"))
	}
	if n := e.op.jwksCalls.Load(); n != 1 {
		t.Errorf("bad signatures under a known kid: %d key fetches, want still 1", n)
	}
	e.clock.Advance(keyRefetchInterval) // an unknown kid may fetch again now, once
	for i := range 5 {
		e.api(t, "/", "Bearer "+forge("k"+string(rune('a'+i))))
	}
	if n := e.op.jwksCalls.Load(); n != 2 {
		t.Errorf("unknown kids: %d key fetches, want 2", n)
	}
	e.clock.Advance(keyRefetchInterval)
	e.api(t, "/", "Bearer "+forge("kz"))
	if n := e.op.jwksCalls.Load(); n != 3 {
		t.Errorf("an unknown kid after the interval: %d key fetches, want 3", n)
	}
	if r := e.api(t, "/", "Bearer "+good); r.StatusCode != http.StatusOK {
		t.Errorf("the good token after all that: got %d, want 200", r.StatusCode)
	}
}

func TestBearerProviderDown(t *testing.T) {
	e := newEnv(t)
	e.op.down.Store(true)
	r := e.api(t, "/", "Bearer "+e.op.jwt(nil, e.idTokenClaims()))
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "temporarily_unavailable") {
		t.Fatalf("got %d %s, want 503 temporarily_unavailable", r.StatusCode, r.body)
	}
}

func TestBearerIntrospection(t *testing.T) {
	const ttl = 30 * time.Second
	e := newEnv(t, func(c *Config) { c.Bearer = BearerConfig{Introspection: true, IntrospectionCacheTTL: ttl} })
	now := e.clock.Now()
	active := map[string]any{
		"active": true, "sub": "user-42", "username": "ada", "client_id": e.op.clientID,
		"exp": now.Add(time.Hour).Unix(), "iss": e.op.issuer(), "token_type": "Bearer", "groups": []string{"eng"},
	}
	e.op.set(func(tp *testProvider) {
		tp.introspect["opaque-active"] = active
		tp.introspect["opaque-inactive"] = map[string]any{"active": false}
		tp.introspect["opaque-expired"] = with(active, map[string]any{"exp": now.Add(-time.Minute).Unix()})
		tp.introspect["opaque-other-audience"] = with(active, map[string]any{"aud": []string{"other-api"}})
		tp.introspect["opaque-other-client"] = with(active, map[string]any{"client_id": "other-app"})
		tp.introspect["opaque-other-issuer"] = with(active, map[string]any{"iss": "https://idp.example"})
		tp.introspect["opaque-refresh"] = with(active, map[string]any{"token_type": "refresh_token"})
		tp.introspect["opaque-soon"] = with(active, map[string]any{"exp": now.Add(10 * time.Second).Unix()})
	})
	calls := func() int32 { return e.op.introspections.Load() }

	t.Run("active", func(t *testing.T) {
		before := calls()
		r := e.api(t, "/", "Bearer opaque-active")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.StatusCode, r.body)
		}
		up := e.up.last(t)
		if up.Header.Get(headerUser) != "user-42" || up.Header.Get(headerPreferredUsername) != "ada" || up.Header.Get(headerGroups) != "eng" {
			t.Errorf("upstream identity: got %v", up.Header)
		}
		if r := e.api(t, "/", "Bearer opaque-active"); r.StatusCode != http.StatusOK {
			t.Fatalf("again: got %d, want 200", r.StatusCode)
		}
		if n := calls() - before; n != 1 {
			t.Errorf("two requests made %d introspection calls, want 1", n)
		}
		e.clock.Advance(ttl)
		if r := e.api(t, "/", "Bearer opaque-active"); r.StatusCode != http.StatusOK {
			t.Fatalf("after the cache TTL: got %d, want 200", r.StatusCode)
		}
		if n := calls() - before; n != 2 {
			t.Errorf("after the cache TTL: %d introspection calls, want 2", n)
		}
	})
	t.Run("an answer does not outlive the token", func(t *testing.T) {
		before := calls()
		e.api(t, "/", "Bearer opaque-soon")
		e.clock.Advance(11 * time.Second) // past exp, within the cache TTL
		e.api(t, "/", "Bearer opaque-soon")
		if n := calls() - before; n != 2 {
			t.Errorf("%d introspection calls, want 2", n)
		}
	})
	for _, tc := range []struct{ token, want string }{
		{"opaque-inactive", "the provider says the token is not active"},
		{"opaque-unknown", "the provider says the token is not active"},
		{"opaque-expired", "the token expired at"},
		{"opaque-other-audience", "the token is for other-api, not for this proxy"},
		{"opaque-other-client", "the token was issued to client other-app"},
		{"opaque-other-issuer", "the token was issued by https://idp.example"},
		{"opaque-refresh", "the token is a refresh_token, not an access token"},
	} {
		t.Run(tc.token, func(t *testing.T) {
			before, upBefore := calls(), e.up.count()
			for range 2 {
				r := e.api(t, "/", "Bearer "+tc.token)
				wantRefused(t, e, r, http.StatusUnauthorized, "invalid_token", tc.want, upBefore)
			}
			if n := calls() - before; n != 1 {
				t.Errorf("two requests made %d introspection calls, want 1 (refusals are cached too)", n)
			}
		})
	}
	t.Run("a refusal is remembered briefly", func(t *testing.T) {
		before := calls()
		e.api(t, "/", "Bearer opaque-inactive")
		e.clock.Advance(refusalTTL)
		e.op.set(func(tp *testProvider) { tp.introspect["opaque-inactive"] = active })
		if r := e.api(t, "/", "Bearer opaque-inactive"); r.StatusCode != http.StatusOK {
			t.Errorf("once the refusal expired and the provider changed its mind: got %d, want 200", r.StatusCode)
		}
		if n := calls() - before; n != 1 {
			t.Errorf("%d introspection calls, want 1", n)
		}
	})
	t.Run("JWTs are still verified offline", func(t *testing.T) {
		before := calls()
		if r := e.api(t, "/", "Bearer "+e.op.jwt(nil, e.idTokenClaims())); r.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200", r.StatusCode)
		}
		if calls() != before {
			t.Error("a JWT was introspected")
		}
	})
}

func TestBearerIntrospectionProviderTrouble(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Bearer.Introspection = true
		c.Provider.ClientSecret = "wrong"
	})
	for range 2 {
		r := e.api(t, "/", "Bearer opaque")
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("introspection refusing the proxy's client: got %d %s, want 503", r.StatusCode, r.body)
		}
	}
	if n := e.op.introspections.Load(); n != 2 {
		t.Errorf("got %d introspection calls, want 2: a failure is not cached", n)
	}
}

func TestBearerConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  BearerConfig
		want string
	}{
		{"empty audience", BearerConfig{Audiences: []string{"a", " "}}, "bearer.audiences[1]: is empty"},
		{"negative TTL", BearerConfig{IntrospectionCacheTTL: -time.Second}, "bearer.introspection_cache_ttl: must not be negative"},
		{"introspection without a secret", BearerConfig{Introspection: true}, "bearer.introspection: needs provider.client_secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(Config{Provider: ProviderConfig{IssuerURL: "https://idp.example", ClientID: "c"}, Bearer: tc.cfg})
			var errs ConfigErrors
			if !errors.As(err, &errs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ConfigErrors with %q", err, tc.want)
			}
		})
	}
}

func TestIntrospectionCacheBounded(t *testing.T) {
	c := newIntrospectionCache(3)
	now := time.Unix(1800000000, 0)
	for i := range 10 {
		c.put([32]byte{byte(i)}, cacheEntry{until: now.Add(time.Minute)}, now)
		if len(c.entries) > 3 {
			t.Fatalf("after %d entries the cache holds %d, want at most 3", i+1, len(c.entries))
		}
	}
	if _, ok := c.get([32]byte{9}, now); !ok {
		t.Error("the newest entry is missing")
	}
	if _, ok := c.get([32]byte{9}, now.Add(time.Minute)); ok {
		t.Error("an entry outlived its time")
	}
}

// FuzzBearerToken checks that whatever bearerToken accepts is a
// well-formed b64token from a single Bearer header, and that what it
// refuses is an invalid_request.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"Bearer abc", "bearer abc", "BEARER  abc==", "Bearer", "Bearer ", "Bearer a b", "Bearer\tabc",
		"Bearer a=b", "Bearer ===", "Basic YWRhOnB3", "Bearerabc", "Bearer eyJ.eyJ.sig", "Bearer a,b",
		"Bearer a\x00", "Bearer é", "", " Bearer x", "Bearer -._~+/=",
	} {
		f.Add(s, false)
	}
	f.Add("Bearer abc", true)
	f.Fuzz(func(t *testing.T, value string, twice bool) {
		h := http.Header{"Authorization": {value}}
		if twice {
			h["Authorization"] = append(h["Authorization"], value)
		}
		token, present, err := bearerToken(h)
		if err != nil {
			var be *bearerError
			if !errors.As(err, &be) || be.status != http.StatusBadRequest || be.code != "invalid_request" || !present {
				t.Fatalf("%q: got %v (present %v), want an invalid_request", value, err, present)
			}
			return
		}
		if twice {
			t.Fatalf("%q twice: accepted", value)
		}
		if !present {
			if token != "" {
				t.Fatalf("%q: a token %q that is not present", value, token)
			}
			return
		}
		if !isB64token(token) || !strings.HasSuffix(value, " "+token) || !strings.EqualFold(value[:len("Bearer")], "Bearer") {
			t.Fatalf("%q: accepted the token %q", value, token)
		}
		if strings.ContainsAny(token, " \t,\"\\") {
			t.Fatalf("%q: the token %q has a separator", value, token)
		}
	})
}
