package proxy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// discoveryRetryAfter is how long a failed discovery is remembered, so a
// provider that is down is not asked again by every waiting request.
const discoveryRetryAfter = 2 * time.Second

// provider is the OpenID Provider as discovered: the OAuth 2.0 client
// configuration and the ID token verifier.
type provider struct {
	oidc     *oidc.Provider
	oauth2   oauth2.Config
	verifier *oidc.IDTokenVerifier
	// endSession is the provider's end_session_endpoint (OIDC RP-Initiated
	// Logout 1.0), where sign-out also ends the provider's login; empty
	// when it has none or the configuration skips it.
	endSession string
}

// discovery finds the provider on first need rather than at start, so the
// proxy can start before its provider does and a provider outage never
// touches requests that already have a session.
type discovery struct {
	cfg         ProviderConfig
	redirectURL string
	now         func() time.Time

	found atomic.Pointer[provider]
	// keysFetched is set once readiness fetched the provider's key set.
	keysFetched atomic.Bool

	mu       sync.Mutex // serialises attempts; held during one
	failedAt time.Time
	failure  error
}

// context carries the provider HTTP client to go-oidc and x/oauth2.
func (d *discovery) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, d.cfg.HTTPClient)
}

// get returns the provider, discovering it if that has not succeeded yet.
func (d *discovery) get(ctx context.Context) (*provider, error) {
	if p := d.found.Load(); p != nil {
		return p, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.found.Load(); p != nil {
		return p, nil
	}
	if d.failure != nil && d.now().Sub(d.failedAt) < discoveryRetryAfter {
		return nil, d.failure
	}
	op, err := oidc.NewProvider(d.context(ctx), d.cfg.IssuerURL)
	if err != nil {
		d.failedAt, d.failure = d.now(), fmt.Errorf("discovering OpenID Provider %s: %w", d.cfg.IssuerURL, err)
		return nil, d.failure
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		EndSession  string   `json:"end_session_endpoint"`
	}
	if err := op.Claims(&meta); err != nil {
		d.failedAt, d.failure = d.now(), fmt.Errorf("reading discovery document of %s: %w", d.cfg.IssuerURL, err)
		return nil, d.failure
	}
	endpoint := op.Endpoint()
	endpoint.AuthStyle = d.authStyle(meta.AuthMethods)
	p := &provider{
		oidc: op,
		oauth2: oauth2.Config{
			ClientID:     d.cfg.ClientID,
			ClientSecret: d.cfg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  d.redirectURL,
			Scopes:       d.cfg.Scopes,
		},
		// The signing algorithms come from discovery; go-oidc never accepts
		// "none" or a symmetric algorithm keyed by the client secret.
		verifier: op.Verifier(&oidc.Config{ClientID: d.cfg.ClientID, Now: d.now}),
	}
	if !d.cfg.SkipLogout {
		p.endSession = meta.EndSession
	}
	d.found.Store(p)
	d.failure = nil
	return p, nil
}

// authStyle picks how to authenticate at the token endpoint from what the
// provider advertises, rather than letting x/oauth2 guess: a guess retries a
// failed exchange the other way, which turns a clear "invalid_grant" into a
// misleading "invalid_client".
func (d *discovery) authStyle(methods []string) oauth2.AuthStyle {
	switch {
	case d.cfg.ClientSecret == "":
		return oauth2.AuthStyleInParams // a public client sends only client_id
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		// client_secret_basic is the default when none is advertised
		// (OpenID Connect Discovery 1.0, section 3).
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

func defaultProviderClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second}
}
