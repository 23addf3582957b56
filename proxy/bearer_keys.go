package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keyRefetchInterval is how often at most the provider's keys are fetched
// again for a token signed with a key the proxy does not know. A provider
// that rotates keys publishes the new one before signing with it, so a
// fetch per interval finds it.
const keyRefetchInterval = 30 * time.Second

// keySet is the provider's public signing keys, for go-oidc to verify
// bearer tokens with. go-oidc's own RemoteKeySet fetches the JWKS again
// whenever a token does not verify with the keys it has, bad signature or
// unknown kid alike, with no pause between fetches: on a public endpoint
// anyone could then make the proxy fetch the provider's keys once per
// request. This one fetches again only for a kid it does not know, at most
// once per keyRefetchInterval.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	algs   []jose.SignatureAlgorithm

	keys atomic.Pointer[[]jose.JSONWebKey]

	fetching  sync.Mutex // held during a fetch, so waiting requests share it
	fetchedAt time.Time  // of the last attempt, successful or not
}

func newKeySet(url string, client *http.Client, now func() time.Time, algs []string) *keySet {
	k := &keySet{url: url, client: client, now: now}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// keyOutcome tells verifyJWT, through the context, what became of the
// signature check: go-oidc keeps only the text of a KeySet's error.
type keyOutcome int

const (
	keyVerified keyOutcome = iota
	keyUnknown
	keyBadSignature
	keysUnavailable
)

type keyOutcomeKey struct{}

var (
	errUnknownKey    = errors.New("no key of the provider has the token's kid")
	errBadSignature  = errors.New("the signature does not verify with the provider's key")
	errFetchedRecent = errors.New("the provider's keys were fetched moments ago")
)

// VerifySignature implements oidc.KeySet. The verifier has checked the
// algorithm and that there is exactly one signature.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	outcome := func(o keyOutcome) {
		if p, ok := ctx.Value(keyOutcomeKey{}).(*keyOutcome); ok {
			*p = o
		}
	}
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	sig := jws.Signatures[0]
	payload, err := verifyWith(k.cached(), jws, sig.Header.KeyID)
	if errors.Is(err, errUnknownKey) {
		if err = k.refresh(ctx, sig.Header.KeyID); err == nil {
			payload, err = verifyWith(k.cached(), jws, sig.Header.KeyID)
		} else if !errors.Is(err, errFetchedRecent) || len(k.cached()) == 0 {
			outcome(keysUnavailable)
			return nil, err
		} else {
			err = errUnknownKey
		}
	}
	switch {
	case errors.Is(err, errUnknownKey):
		outcome(keyUnknown)
	case err != nil:
		outcome(keyBadSignature)
	}
	return payload, err
}

func (k *keySet) cached() []jose.JSONWebKey {
	if keys := k.keys.Load(); keys != nil {
		return *keys
	}
	return nil
}

// verifyWith verifies jws with the key named kid, or, for a token without
// a kid, with any key. It fails with errUnknownKey when no key has the kid,
// or none verifies a token without one; errBadSignature otherwise.
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid string) ([]byte, error) {
	alg := jws.Signatures[0].Header.Algorithm
	known := false
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid {
			continue
		}
		known = true
		if key.Algorithm != "" && key.Algorithm != alg {
			continue // a key is for the one algorithm it names
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	if !known || kid == "" {
		return nil, errUnknownKey
	}
	return nil, errBadSignature
}

// refresh fetches the keys again for a token signed with the unknown key
// kid, unless they were fetched less than keyRefetchInterval ago (or,
// while there are none, discoveryRetryAfter).
func (k *keySet) refresh(ctx context.Context, kid string) error {
	k.fetching.Lock()
	defer k.fetching.Unlock()
	// The fetch this request waited for may have brought the key.
	for _, key := range k.cached() {
		if kid != "" && key.KeyID == kid {
			return nil
		}
	}
	pause := keyRefetchInterval
	if len(k.cached()) == 0 {
		pause = discoveryRetryAfter
	}
	if !k.fetchedAt.IsZero() && k.now().Sub(k.fetchedAt) < pause {
		return errFetchedRecent
	}
	k.fetchedAt = k.now()
	// The fetch serves every request waiting for it, so it does not end
	// with the request that started it; the client's timeout bounds it.
	keys, err := k.fetch(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	k.keys.Store(&keys)
	return nil
}

// fetch reads the provider's JWKS. Keys the proxy cannot use are left out,
// as RFC 7517 section 5 asks of key types it does not know: encryption
// keys, and symmetric keys, which a public document cannot keep secret.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("the provider's jwks_uri %q: %w", k.url, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache") // a cached copy may lack the new key
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the provider's keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse))
	if err != nil {
		return nil, fmt.Errorf("fetching the provider's keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the provider's keys from %s: %s", k.url, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("reading the provider's keys from %s: %w", k.url, err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) != nil || key.Use == "enc" {
			continue
		}
		switch key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, key)
		}
	}
	return keys, nil
}
