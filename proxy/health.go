package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// healthz answers that the proxy is alive.
func (p *Proxy) healthz(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	httpx.ServeChecks(w, r, nil)
	return nil
}

// readyz answers whether the proxy can sign people in (see ReadyChecks).
func (p *Proxy) readyz(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	httpx.ServeChecks(w, r, p.ReadyChecks())
	return nil
}

// ReadyChecks are the conditions of readiness: the provider discovered and
// its signing keys fetched (asking for them now if that has not happened
// yet), and the session store answering when there is one. Once the
// provider has been reached it is not asked again: signed-in people are
// served without it, so its outage must not take every replica out.
func (p *Proxy) ReadyChecks() []httpx.Check {
	checks := []httpx.Check{{Name: "provider", Run: p.discovery.ready}}
	for _, s := range []struct {
		name  string
		store SessionStore
	}{{"session store", p.store}, {"shared session state", p.shared}} {
		if s.store != nil {
			checks = append(checks, httpx.Check{Name: s.name, Run: func(ctx context.Context) error { return pingSessions(ctx, s.store) }})
		}
	}
	return checks
}

// pingSessions reads a session that does not exist: a store that answers
// "not found" is reachable.
func pingSessions(ctx context.Context, s SessionStore) error {
	_, err := s.Load(ctx, "gatehouse-readiness-probe")
	if err == nil || errors.Is(err, ErrSessionNotFound) {
		return nil
	}
	return err
}

// ready discovers the provider if that has not succeeded yet, and fetches
// its key set once, so that the first sign-in after a start does not find
// the provider's keys unreachable.
func (d *discovery) ready(ctx context.Context) error {
	op, err := d.get(ctx)
	if err != nil {
		return err
	}
	if d.keysFetched.Load() {
		return nil
	}
	var meta struct {
		KeysURL string `json:"jwks_uri"`
	}
	if err := op.oidc.Claims(&meta); err != nil || meta.KeysURL == "" {
		return fmt.Errorf("the discovery document of %s names no jwks_uri", d.cfg.IssuerURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.KeysURL, nil)
	if err != nil {
		return fmt.Errorf("jwks_uri %q: %w", meta.KeysURL, err)
	}
	res, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the provider's keys: %w", err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the provider's keys from %s: %s", meta.KeysURL, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil || len(set.Keys) == 0 {
		return fmt.Errorf("the provider's key set at %s holds no keys", meta.KeysURL)
	}
	d.keysFetched.Store(true)
	return nil
}
