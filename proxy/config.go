package proxy

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config is everything a Proxy needs, with defaults already resolved by the
// caller (internal/config) except where a zero value says otherwise.
type Config struct {
	// PublicURL is where browsers reach the proxy, e.g. http://localhost:8000.
	// The OAuth redirect URI is PublicURL + "/oauth2/callback".
	PublicURL *url.URL

	// Provider is the OpenID Provider the proxy signs people in with.
	Provider ProviderConfig

	Cookie CookieConfig

	// Sessions keeps sessions; nil means the encrypted cookie itself holds
	// the whole session.
	Sessions SessionStore

	// Routes map path prefixes to upstreams; the longest matching prefix wins.
	Routes []Route

	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives structured logs; slog.Default() when nil.
	Logger *slog.Logger
}

// ProviderConfig names the OpenID Provider and this proxy's registration there.
type ProviderConfig struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	Scopes       []string // default: openid profile email
	// HTTPClient talks to the provider (discovery, JWKS, token endpoint);
	// a client with a 10s timeout when nil.
	HTTPClient *http.Client
}

// CookieConfig controls the proxy's cookies.
type CookieConfig struct {
	Name   string // session cookie name; "_gatehouse" when empty
	Domain string
	Secure bool
	// Secrets encrypt and authenticate the cookies: the first encodes, all
	// decode (for rotation). Each is at least 32 bytes.
	Secrets [][]byte
	// SessionTTL caps a session's life regardless of token expiry; 0 means
	// the ID token's expiry alone decides.
	SessionTTL time.Duration
}

// Route sends requests whose path starts with PathPrefix to Upstream.
type Route struct {
	PathPrefix string
	Upstream   *url.URL
}
