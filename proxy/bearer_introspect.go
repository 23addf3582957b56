package proxy

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// maxIntrospectionEntries bounds the introspection cache: with a few
	// KiB per session, some tens of MiB at most.
	maxIntrospectionEntries = 10_000
	// refusalTTL is how long at most a refusal is remembered: long enough
	// to spare the provider a client retrying one bad token, short enough
	// that entries for a flood of made-up tokens soon make room.
	refusalTTL = 5 * time.Second
)

// introspect checks a token that is not a JWT at the provider's
// introspection endpoint (RFC 7662), reusing answers for a while.
func (p *Proxy) introspect(r *http.Request, b *bearerAuth, token string) (*session, error) {
	if b.cache == nil {
		return nil, invalidToken(nil, "the token is not a JWT, and this proxy checks no other tokens (introspection is not enabled: proxy.bearer.introspection); send a JWT access token or ID token from %s", p.cfg.Provider.IssuerURL)
	}
	key := sha256.Sum256([]byte(token))
	now := p.now()
	if e, ok := b.cache.get(key, now); ok {
		if e.refusal != nil {
			return nil, e.refusal
		}
		s := *e.session // a copy, so nothing a request does reaches the cache
		return &s, nil
	}
	s, be := p.askProvider(r, b, token, now)
	switch {
	case be == nil:
		until := now.Add(b.cacheTTL)
		if s.expiry.Before(until) {
			until = s.expiry // an answer never outlives the token
		}
		b.cache.put(key, cacheEntry{session: s, until: until}, now)
		c := *s
		return &c, nil
	case be.status < 500: // not when the provider could not answer
		b.cache.put(key, cacheEntry{refusal: be, until: now.Add(min(b.cacheTTL, refusalTTL))}, now)
	}
	return nil, be
}

// introspection is the part of an RFC 7662 answer the proxy checks; the
// identity claims are read from it as from an ID token.
type introspection struct {
	Active    bool        `json:"active"`
	Exp       *float64    `json:"exp"` // some providers write seconds as 1.7e9
	Iss       string      `json:"iss"`
	Aud       stringOrSet `json:"aud"`
	ClientID  string      `json:"client_id"`
	TokenType string      `json:"token_type"`
	Username  string      `json:"username"`
}

// askProvider introspects token, authenticated as the proxy's client with
// client_secret_basic, as at the token endpoint.
func (p *Proxy) askProvider(r *http.Request, b *bearerAuth, token string, now time.Time) (*session, *bearerError) {
	tc, err := p.tokenChecker(p.discovery.context(r.Context()))
	if err != nil {
		return nil, providerTrouble(err, "the provider could not be reached to check the token")
	}
	if tc.introspection == "" {
		return nil, &bearerError{status: http.StatusInternalServerError, code: "server_error",
			description: "the provider offers no token introspection (no introspection_endpoint in its discovery document), so the proxy cannot check tokens that are not JWTs"}
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, tc.introspection, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, providerTrouble(err, "the provider's introspection endpoint is not a URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1 form-encodes both parts before Basic does.
	req.SetBasicAuth(url.QueryEscape(p.cfg.Provider.ClientID), url.QueryEscape(p.cfg.Provider.ClientSecret))
	resp, err := p.cfg.Provider.HTTPClient.Do(req)
	if err != nil {
		return nil, providerTrouble(err, "the provider could not be reached to check the token")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse))
	if err != nil {
		return nil, providerTrouble(err, "the provider's answer about the token could not be read")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, providerTrouble(refusalOf("introspection endpoint "+tc.introspection, resp.Status, body, token, p.cfg.Provider.ClientSecret),
			"the provider did not answer about the token")
	}
	var in introspection
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providerTrouble(err, "the provider's answer about the token is not valid JSON")
	}
	if !in.Active {
		return nil, invalidToken(nil, "the provider says the token is not active: it expired, was revoked or is unknown; get a new one")
	}
	expiry := now.Add(b.cacheTTL)
	if in.Exp != nil {
		expiry = time.Unix(int64(*in.Exp), 0)
	}
	switch {
	case in.TokenType != "" && !strings.EqualFold(in.TokenType, "Bearer") && in.TokenType != "access_token":
		return nil, invalidToken(nil, "the token is a %.40s, not an access token", in.TokenType)
	case in.Iss != "" && in.Iss != p.cfg.Provider.IssuerURL:
		return nil, invalidToken(nil, "the token was issued by %.200s, not by this proxy's provider %s", in.Iss, p.cfg.Provider.IssuerURL)
	case !expiry.Add(bearerLeeway).After(now):
		return nil, invalidToken(nil, "the token expired at %s; get a new one", expiry.UTC().Format(time.RFC3339))
	case len(in.Aud) > 0 && !slices.ContainsFunc(in.Aud, func(a string) bool { return slices.Contains(b.audiences, a) }):
		return nil, invalidToken(nil, "the token is for %s, not for this proxy, which accepts tokens for %s", strings.Join(in.Aud, ", "), strings.Join(b.audiences, ", "))
	case len(in.Aud) == 0 && in.ClientID != "" && !slices.Contains(b.audiences, in.ClientID):
		return nil, invalidToken(nil, "the token was issued to client %.100s, not to one this proxy accepts tokens of (%s)", in.ClientID, strings.Join(b.audiences, ", "))
	}
	var c claims
	decode := func(v any) error { return json.Unmarshal(body, v) }
	if err := decode(&c); err != nil {
		return nil, invalidToken(err, "the provider's answer about the token has unreadable claims")
	}
	if c.PreferredUsername == "" {
		c.PreferredUsername = in.Username // RFC 7662's name for it
	}
	if err := p.readExtraClaims(r, decode, &c); err != nil {
		return nil, invalidToken(err, "the provider's answer about the token has unreadable claims")
	}
	if be := checkTokenClaims(&c); be != nil {
		return nil, be
	}
	return &session{
		expiry:   expiry,
		Identity: p.identityOf(r, &c),
		tokens:   tokens{access: token, accessExpiry: expiry},
	}, nil
}

// introspectionCache keeps recent introspection answers, keyed by a hash
// of the token so the keys are no credentials.
type introspectionCache struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cacheEntry
}

// cacheEntry is a session, or the refusal of a token, until a time.
type cacheEntry struct {
	session *session
	refusal *bearerError
	until   time.Time
}

func newIntrospectionCache(max int) *introspectionCache {
	return &introspectionCache{max: max, entries: map[[sha256.Size]byte]cacheEntry{}}
}

func (c *introspectionCache) get(key [sha256.Size]byte, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !now.Before(e.until) {
		delete(c.entries, key)
		return cacheEntry{}, false
	}
	return e, ok
}

// put adds an entry, making room if the cache is full.
func (c *introspectionCache) put(key [sha256.Size]byte, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
}

// evict drops the expired entries among a few it looks at, or else the
// first of them. Map order is random, so a flood of made-up tokens cannot
// choose whose answers go, and no put scans the whole cache.
func (c *introspectionCache) evict(now time.Time) {
	var first [sha256.Size]byte
	looked, dropped := 0, 0
	for k, e := range c.entries {
		if looked == 0 {
			first = k
		}
		if !now.Before(e.until) {
			delete(c.entries, k)
			dropped++
		}
		if looked++; looked == 16 {
			break
		}
	}
	if dropped == 0 {
		delete(c.entries, first)
	}
}
