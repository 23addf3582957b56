package authserver

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// TestReloadDirectory checks that a reloaded directory takes effect at once
// on a running server: a new user signs in, a removed client's refresh
// token is refused, and a removed user's session and tokens stop working.
func TestReloadDirectory(t *testing.T) {
	h := newHarness(t)
	verifier, challenge := pkce("reload")
	alice := h.browser()
	code := alice.signIn(authParams(challenge), "alice", alicePassword).Get("code")
	tokens := h.exchange(code, verifier)
	refresh, _ := tokens["refresh_token"].(string)
	access, _ := tokens["access_token"].(string)
	if refresh == "" || access == "" {
		t.Fatalf("token response lacks a refresh or access token: %v", tokens)
	}

	const carolPassword = "carol's demo password"
	spa := url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect},
		"scope": {"openid profile"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	before := h.browser()
	if r := before.submitLogin(before.authorize(spa), "carol", carolPassword); r.status == http.StatusSeeOther {
		t.Fatalf("carol signed in before being added: redirected to %s", r.header.Get("Location"))
	}

	// The new directory: carol added, alice and client web removed.
	old := h.srv.directory()
	hash, err := bcrypt.GenerateFromPassword([]byte(carolPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.New(
		[]directory.User{*old.User("bob"), {ID: "carol", PasswordHash: hash}},
		[]directory.Client{*old.Client("spa"), *old.Client("client_1")})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Reload(dir)
	// in gives the harness to a subtest, to report there.
	in := func(t *testing.T) *harness { c := *h; c.t = t; return &c }

	t.Run("removed client's refresh token is refused", func(t *testing.T) {
		r := in(t).tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {refresh}}, "web", webSecret)
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("removed user's access token is refused", func(t *testing.T) {
		if r := in(t).bearerCall(http.MethodGet, PathUserInfo, access); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with alice's token: got status %d, want 401; body: %s", r.status, r.body)
		}
	})
	t.Run("removed user's login session ends", func(t *testing.T) {
		// Alice's browser still has her login cookie; a new request by
		// a remaining client must ask for a password again.
		r := alice.withT(t).authorize(spa)
		if loc := r.location(t); loc.Path != PathLogin {
			t.Errorf("alice's browser went to %s, want the login page", loc)
		}
	})
	t.Run("added user signs in", func(t *testing.T) {
		b := h.browser().withT(t)
		cb := b.signIn(spa, "carol", carolPassword)
		r := in(t).tokenCall(url.Values{
			"grant_type": {grantAuthorizationCode}, "code": {cb.Get("code")}, "redirect_uri": {spaRedirect},
			"client_id": {"spa"}, "code_verifier": {verifier},
		}, "", "")
		if r.status != http.StatusOK {
			t.Fatalf("carol's code exchange: got status %d, want 200; body: %s", r.status, r.body)
		}
		token, _ := r.json(t)["access_token"].(string)
		ui := in(t).bearerCall(http.MethodGet, PathUserInfo, token)
		if sub := ui.json(t)["sub"]; sub != "carol" {
			t.Errorf("userinfo sub: got %v, want carol", sub)
		}
	})
}
