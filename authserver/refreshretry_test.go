package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
)

func withGrace(d time.Duration) func(*Config) {
	return func(c *Config) { c.RefreshRetryGrace = d }
}

// refreshCall refreshes with token as client "web", with scope when set.
func (h *harness) refreshCall(token, scope string) *response {
	h.t.Helper()
	form := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {token}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return h.clientCall(PathToken, form, "web", webSecret)
}

func TestRefreshRetryGrace(t *testing.T) {
	const grace = 10 * time.Second
	tests := []struct {
		name  string
		grace time.Duration
		// again presents g.rt1, which the setup's refresh used, once more.
		again func(h *harness, g webGrant) *response
		// same: the answer is the setup refresh's again; else invalid_grant.
		same bool
		// familyLive: at2 and rt2 still work afterwards.
		familyLive bool
	}{
		{"grace off: the grant is revoked", 0, func(h *harness, g webGrant) *response {
			return h.refreshCall(g.rt1, "")
		}, false, false},
		{"within the grace: the same answer", grace, func(h *harness, g webGrant) *response {
			h.clk.Advance(grace)
			return h.refreshCall(g.rt1, "")
		}, true, true},
		{"after the grace: the grant is revoked", grace, func(h *harness, g webGrant) *response {
			h.clk.Advance(grace + time.Millisecond)
			return h.refreshCall(g.rt1, "")
		}, false, false},
		{"another client: refused, nothing changes", grace, func(h *harness, g webGrant) *response {
			return h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {g.rt1}, "client_id": {"spa"}}, "", "")
		}, false, true},
		{"another scope: not a retry, the grant is revoked", grace, func(h *harness, g webGrant) *response {
			return h.refreshCall(g.rt1, "openid")
		}, false, false},
		{"new refresh token already used: the grant is revoked", grace, func(h *harness, g webGrant) *response {
			if r := h.refreshCall(g.rt2, ""); r.status != http.StatusOK {
				h.t.Fatalf("refresh with rt2: status %d body %s", r.status, r.body)
			}
			return h.refreshCall(g.rt1, "")
		}, false, false},
		{"grant revoked meanwhile: nothing comes back", grace, func(h *harness, g webGrant) *response {
			if r := h.clientCall(PathRevoke, url.Values{"token": {g.rt2}}, "web", webSecret); r.status != http.StatusOK {
				h.t.Fatalf("revoke: status %d body %s", r.status, r.body)
			}
			return h.refreshCall(g.rt1, "")
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withGrace(tt.grace))
			code, verifier := freshCode(t, h.browser(), "openid profile")
			first := h.exchange(code, verifier)
			r := h.refreshCall(str(first["refresh_token"]), "")
			if r.status != http.StatusOK {
				t.Fatalf("refresh: status %d body %s", r.status, r.body)
			}
			answer := r.json(t)
			g := webGrant{str(first["access_token"]), str(first["refresh_token"]), str(answer["access_token"]), str(answer["refresh_token"])}

			r = tt.again(h, g)
			if tt.same {
				if r.status != http.StatusOK {
					t.Fatalf("retry: status %d body %s, want 200", r.status, r.body)
				}
				again := r.json(t)
				for _, k := range []string{"access_token", "refresh_token", "id_token", "token_type", "scope"} {
					if again[k] != answer[k] {
						t.Errorf("retry answered %s %v, want the first answer's %v", k, again[k], answer[k])
					}
				}
				if got, want := again["expires_in"], float64(int64((h.srv.cfg.AccessTokenTTL-grace)/time.Second)); got != want {
					t.Errorf("retry answered expires_in %v, want %v (what is left of the access token)", got, want)
				}
			} else {
				wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
			}

			if tt.familyLive {
				if r := h.bearerCall(http.MethodGet, PathUserInfo, g.at2); r.status != http.StatusOK {
					t.Errorf("at2 at /userinfo: status %d body %s, want 200", r.status, r.body)
				}
				if r := h.refreshCall(g.rt2, ""); r.status != http.StatusOK {
					t.Errorf("refresh with rt2: status %d body %s, want 200", r.status, r.body)
				}
				return
			}
			wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, g.at2), http.StatusUnauthorized, codeInvalidToken)
			wantOAuthError(t, h.refreshCall(g.rt2, ""), http.StatusBadRequest, codeInvalidGrant)
		})
	}
}

// TestConcurrentRefreshRetry presents one refresh token from several
// goroutines at once, as a client that double-submits does. With the grace
// on, all get the same new pair and the grant lives; with it off, at most
// one wins and the grant is revoked, as before.
func TestConcurrentRefreshRetry(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace time.Duration
	}{{"grace on", 5 * time.Second}, {"grace off", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withGrace(tt.grace))
			code, verifier := freshCode(t, h.browser(), "openid")
			rt := str(h.exchange(code, verifier)["refresh_token"])
			body := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt}}.Encode()

			const n = 4
			type result struct {
				status int
				tok    map[string]any
			}
			results := make([]result, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth("web", url.QueryEscape(webSecret))
					<-start
					resp, err := h.ts.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					results[i].status = resp.StatusCode
					_ = json.NewDecoder(resp.Body).Decode(&results[i].tok)
				}()
			}
			close(start)
			wg.Wait()

			var winners []map[string]any
			for _, r := range results {
				switch {
				case r.status == http.StatusOK:
					winners = append(winners, r.tok)
				case r.status != http.StatusBadRequest || r.tok["error"] != codeInvalidGrant:
					t.Errorf("a refresh: status %d body %v, want 200 or 400 invalid_grant", r.status, r.tok)
				}
			}
			if tt.grace == 0 {
				if len(winners) > 1 {
					t.Errorf("%d concurrent refreshes of one token succeeded, want at most one", len(winners))
				}
				for _, w := range winners {
					wantOAuthError(t, h.refreshCall(str(w["refresh_token"]), ""), http.StatusBadRequest, codeInvalidGrant)
				}
				return
			}
			if len(winners) != n {
				t.Fatalf("%d of %d concurrent refreshes succeeded, want all with the grace on", len(winners), n)
			}
			for _, w := range winners[1:] {
				if w["access_token"] != winners[0]["access_token"] || w["refresh_token"] != winners[0]["refresh_token"] {
					t.Errorf("concurrent refreshes answered different pairs")
				}
			}
			if r := h.bearerCall(http.MethodGet, PathUserInfo, str(winners[0]["access_token"])); r.status != http.StatusOK {
				t.Errorf("the shared access token at /userinfo: status %d body %s", r.status, r.body)
			}
			if r := h.refreshCall(str(winners[0]["refresh_token"]), ""); r.status != http.StatusOK {
				t.Errorf("refresh with the shared refresh token: status %d body %s", r.status, r.body)
			}
		})
	}
}

// interleavingStore is a memory store that runs between the first refresh
// token lookup and everything after it, once, another whole request, as a
// second replica serving the same refresh at that moment would.
type interleavingStore struct {
	*memory.Store
	armed atomic.Bool
	other func()
}

func (s *interleavingStore) GetRefreshToken(ctx context.Context, id string, now time.Time) (storage.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, id, now)
	if s.armed.CompareAndSwap(true, false) {
		s.other()
	}
	return t, err
}

// TestRefreshRetryLosingTheRotation checks the request that looked the
// token up as unused but lost the rotation to another: with the grace on it
// answers with the winner's tokens, and its own are not left behind.
func TestRefreshRetryLosingTheRotation(t *testing.T) {
	store := &interleavingStore{Store: memory.New()}
	h := newHarness(t, withGrace(5*time.Second), func(c *Config) { c.Store = store })
	code, verifier := freshCode(t, h.browser(), "openid")
	rt := str(h.exchange(code, verifier)["refresh_token"])
	var winner *response
	store.other = func() { winner = h.refreshCall(rt, "") }
	store.armed.Store(true)

	loser := h.refreshCall(rt, "")
	if winner == nil || winner.status != http.StatusOK || loser.status != http.StatusOK {
		t.Fatalf("winner %+v, loser %+v; want both 200", winner, loser)
	}
	w, l := winner.json(t), loser.json(t)
	if l["access_token"] != w["access_token"] || l["refresh_token"] != w["refresh_token"] || l["id_token"] != w["id_token"] {
		t.Errorf("the loser answered other tokens than the winner")
	}
	// Collecting at the access tokens' expiry counts every one stored.
	res, err := store.GarbageCollect(t.Context(), h.clk.Now().Add(h.srv.cfg.AccessTokenTTL))
	if err != nil {
		t.Fatal(err)
	}
	if res.AccessTokens != 2 {
		t.Errorf("%d access tokens were stored, want 2 (the code's and the winner's)", res.AccessTokens)
	}
}

// losingTransport serves requests but, while lose is set, throws the
// response away after reading it, as a connection that breaks on the way
// back does.
type losingTransport struct {
	mu   sync.Mutex
	lose bool
	lost []byte // the last response body thrown away
}

func (l *losingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || !l.lose {
		return resp, err
	}
	defer resp.Body.Close()
	l.lose = false
	l.lost, _ = io.ReadAll(resp.Body)
	return nil, errors.New("connection reset after the request was served")
}

// TestRefreshRetryWithStandardClient shows golang.org/x/oauth2 recovering
// from a lost refresh response: its next try gets the tokens it lost.
func TestRefreshRetryWithStandardClient(t *testing.T) {
	h := newHarness(t, withGrace(5*time.Second))
	code, verifier := freshCode(t, h.browser(), "openid profile")
	transport := &losingTransport{}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: transport})
	cfg := oauth2.Config{
		ClientID: "web", ClientSecret: webSecret, RedirectURL: webRedirect,
		Endpoint: oauth2.Endpoint{TokenURL: h.ts.URL + PathToken, AuthStyle: oauth2.AuthStyleInHeader},
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	tok.Expiry = time.Now().Add(-time.Minute) // due for a refresh
	ts := cfg.TokenSource(ctx, tok)

	transport.mu.Lock()
	transport.lose = true
	transport.mu.Unlock()
	if _, err := ts.Token(); err == nil {
		t.Fatal("the refresh whose response was lost succeeded")
	}
	var lost map[string]any
	if err := json.Unmarshal(transport.lost, &lost); err != nil || lost["access_token"] == nil {
		t.Fatalf("lost response %s: %v", transport.lost, err)
	}

	got, err := ts.Token()
	if err != nil {
		t.Fatalf("the retried refresh: %v", err)
	}
	if got.AccessToken != lost["access_token"] || got.RefreshToken != lost["refresh_token"] || got.Extra("id_token") != lost["id_token"] {
		t.Errorf("the retry answered other tokens than the lost response")
	}
	if !got.Valid() {
		t.Errorf("the retried token is not valid to the client: expiry %v", got.Expiry)
	}
	if r := h.bearerCall(http.MethodGet, PathUserInfo, got.AccessToken); r.status != http.StatusOK {
		t.Errorf("the retried access token at /userinfo: status %d body %s", r.status, r.body)
	}
	got.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, got).Token(); err != nil {
		t.Errorf("refreshing with the retried refresh token: %v", err)
	}
}

func TestRefreshRetryGraceBounds(t *testing.T) {
	for _, tt := range []struct {
		grace time.Duration
		ok    bool
	}{
		{0, true}, {500 * time.Millisecond, true}, {MaxRefreshRetryGrace, true},
		{-time.Second, false}, {MaxRefreshRetryGrace + time.Second, false},
	} {
		h := newHarness(t)
		cfg := h.srv.cfg
		cfg.RefreshRetryGrace = tt.grace
		_, err := New(cfg)
		if gotOK := err == nil; gotOK != tt.ok {
			t.Errorf("RefreshRetryGrace %v: New returned %v, want accepted %v", tt.grace, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "RefreshRetryGrace") {
			t.Errorf("RefreshRetryGrace %v: error %q does not name the field", tt.grace, err)
		}
	}
}
