package proxy

import (
	"context"
	"fmt"
	"net/http"
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
}

// discovery finds the provider on first need rather than at start, so the
// proxy can start before its provider does and a provider outage never
// touches requests that already have a session.
type discovery struct {
	cfg         ProviderConfig
	redirectURL string
	now         func() time.Time

	found atomic.Pointer[provider]

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
	p := &provider{
		oidc: op,
		oauth2: oauth2.Config{
			ClientID:     d.cfg.ClientID,
			ClientSecret: d.cfg.ClientSecret,
			Endpoint:     op.Endpoint(),
			RedirectURL:  d.redirectURL,
			Scopes:       d.cfg.Scopes,
		},
		// The signing algorithms come from discovery; go-oidc never accepts
		// "none" or a symmetric algorithm keyed by the client secret.
		verifier: op.Verifier(&oidc.Config{ClientID: d.cfg.ClientID, Now: d.now}),
	}
	d.found.Store(p)
	d.failure = nil
	return p, nil
}

func defaultProviderClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second}
}
