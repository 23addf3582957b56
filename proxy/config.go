package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// DefaultCookieName is the session cookie's name when Config leaves it empty.
const DefaultCookieName = "_gatehouse"

// DefaultScopes returns the scopes asked for when Config leaves them empty.
func DefaultScopes() []string { return []string{"openid", "profile", "email"} }

// Config is everything a Proxy needs. Zero values mean the documented
// defaults, which New resolves; problems are reported by New (and Check)
// with the field named as in the configuration file.
type Config struct {
	// PublicURL is where browsers reach the proxy, e.g. http://localhost:8000.
	// The OAuth redirect URI is PublicURL + "/oauth2/callback".
	PublicURL *url.URL

	// Provider is the OpenID Provider the proxy signs people in with.
	Provider ProviderConfig

	Cookie CookieConfig

	// Session says how long sessions last and when they are renewed.
	Session SessionConfig

	// Sessions keeps sessions; nil means the encrypted cookie itself holds
	// the whole session.
	Sessions SessionStore

	// Shared is state that replicas keeping sessions in cookies share
	// (Redis): sign-outs, so a copied cookie stops working everywhere, and
	// refreshes in progress, so two replicas never rotate one refresh
	// token. Nil keeps both in this process. It must be nil when Sessions
	// is set: a SessionStore that replicas share may implement Locker.
	Shared Shared

	// Routes send requests to upstreams and say who may pass. The most
	// specific match wins: an exact host before a wildcard host before no
	// host, then the longest path prefix. With no routes at all the proxy
	// is a pure forward-auth service that admits every signed-in person.
	Routes []Route

	// TrustedProxies are the networks (CIDRs or single addresses) of edge
	// proxies in front of this one. Only requests from them may say, in
	// X-Forwarded-For/Proto/Host, who the client is, or, at /oauth2/auth,
	// which request to decide on.
	TrustedProxies []string

	// AllowedRedirectDomains are the hosts, besides PublicURL's, that a
	// return target (rd) may lead to after sign-in or sign-out:
	// "app.example.com" exactly, ".example.com" for any host below it.
	AllowedRedirectDomains []string

	// Bearer says which tokens API clients may send as
	// "Authorization: Bearer <token>" instead of a session cookie.
	Bearer BearerConfig

	// Pages are the look and languages of the proxy's pages (sign-out,
	// signed out, errors); the zero value is the built-in look. Its
	// LangCookie, Now and Log are set by New.
	Pages pages.Options

	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives structured logs; slog.Default() when nil.
	Logger *slog.Logger
	// AccessLog writes one line per request to Logger at info.
	AccessLog bool
	// Metrics, when set, gets the proxy's metric families; nil counts
	// nothing and costs nothing.
	Metrics prometheus.Registerer
}

// ProviderConfig names the OpenID Provider and this proxy's registration there.
type ProviderConfig struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	Scopes       []string // DefaultScopes when empty
	// InsecureAssumeEmailVerified lets the emails and email_domains of
	// allow rules trust addresses that the provider does not say it
	// verified (no email_verified claim, as from Entra ID). Anyone who can
	// set their own address there can then claim any address.
	InsecureAssumeEmailVerified bool
	// SkipLogout keeps sign-out at the proxy: the browser is not sent to
	// the provider's end_session_endpoint, so the provider's own login
	// stays and the next visit signs in again without a password.
	SkipLogout bool
	// HTTPClient talks to the provider (discovery, JWKS, token endpoint);
	// a client with a 10s timeout when nil.
	HTTPClient *http.Client
}

// BearerConfig says which bearer tokens stand in for a session cookie. A
// JWT (an ID token, or an RFC 9068 access token) signed by the provider is
// verified offline against its published keys; other tokens are checked at
// the provider only with Introspection.
type BearerConfig struct {
	// Audiences are the audiences a token may be for: its aud must name
	// one of them. By default only the proxy's own client id, so tokens
	// the provider issued to other applications do not get in.
	Audiences []string
	// Introspection checks tokens that are not JWTs at the provider's
	// introspection endpoint (RFC 7662), authenticated as the proxy's
	// client, which then needs a ClientSecret. Off by default: each new
	// token costs a call to the provider.
	Introspection bool
	// IntrospectionCacheTTL is how long an introspection answer is reused;
	// DefaultIntrospectionCacheTTL when zero. An answer never outlives the
	// token's exp, but a revoked token keeps working for up to this long.
	IntrospectionCacheTTL time.Duration
}

// DefaultIntrospectionCacheTTL is BearerConfig.IntrospectionCacheTTL's
// default.
const DefaultIntrospectionCacheTTL = 30 * time.Second

// CookieConfig controls the proxy's cookies.
type CookieConfig struct {
	Name   string // session cookie name; DefaultCookieName when empty
	Domain string
	Secure bool
	// Secrets encrypt and authenticate the cookies: the first encodes, all
	// decode (for rotation). Each is at least 32 bytes.
	Secrets [][]byte
}

// SessionConfig bounds sessions and says when their tokens are renewed.
// Every limit is checked against values inside the encrypted session, never
// against a cookie's own expiry, which the browser controls.
type SessionConfig struct {
	// TTL is how long a session lasts after signing in, however often it is
	// refreshed; DefaultSessionTTL when 0.
	TTL time.Duration
	// IdleTTL ends a session that has not been used for this long; 0 turns
	// idle expiry off. Use is recorded at most every tenth of IdleTTL, so a
	// session may end up to that much early.
	IdleTTL time.Duration
	// RefreshSkew is how long before the provider's tokens expire the proxy
	// refreshes them; DefaultRefreshSkew when 0.
	RefreshSkew time.Duration
}

// Session defaults.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultRefreshSkew = time.Minute
)

// Route is one application behind the proxy, or, without an Upstream, a
// part of a site that an edge proxy asks about at /oauth2/auth.
type Route struct {
	// Name appears in logs, denials and `gatehouse explain`; by default
	// the host and path.
	Name string
	// Host is matched against the request's host, ignoring case, port and
	// a trailing dot: "app.example.com" exactly, or "*.example.com" for
	// one label below example.com. Empty matches every host.
	Host string
	// Path is a path prefix matched on whole segments, ignoring case, so
	// an upstream that ignores case cannot be reached around it: "/app"
	// matches /app, /APP/x and /app/x but not /apple.
	Path string
	// Upstream is http://host[:port][/base], https://..., or
	// unix:/path/to.sock. Empty makes the route forward-auth only.
	Upstream string
	// TLS configures an https upstream.
	TLS UpstreamTLS
	// PreserveHost sends the client's Host header upstream; HostHeader
	// sends the given one. By default the upstream's own host is sent.
	PreserveHost bool
	HostHeader   string
	// StripPrefix removes Path from the path sent upstream, and says so in
	// X-Forwarded-Prefix.
	StripPrefix bool
	// SetHeaders are extra request headers for the upstream.
	SetHeaders map[string]string
	Timeouts   Timeouts

	// Public routes need no sign-in; identity headers are still removed.
	Public bool
	// SkipAuth exempts requests matching any rule from signing in.
	SkipAuth []SkipRule
	// Allow and Deny say who may pass; see policy.Policy.
	Allow *policy.Rules
	Deny  *policy.Rules

	// Identity says what the upstream learns about the person.
	Identity Identity
}

// UpstreamTLS configures the connection to an https upstream.
type UpstreamTLS struct {
	// CAFile holds the PEM certificates that sign the upstream's; the
	// system's roots when empty.
	CAFile string
	// CertFile and KeyFile are a client certificate, for upstreams that
	// require one.
	CertFile, KeyFile string
	// ServerName is the name to verify, when it differs from the URL's host.
	ServerName string
}

// Timeouts bound the stages of reaching an upstream. Zero means the default.
type Timeouts struct {
	Connect      time.Duration // default 10s
	TLSHandshake time.Duration // default 10s
	// ResponseHeader is how long the upstream may think before it starts
	// answering; a slower answer is a 504. By default it may take as long
	// as the client waits: long polls need that, and a timer per request
	// would cost every request a few per cent of the proxy's time.
	ResponseHeader time.Duration
}

// Default timeouts.
const (
	DefaultConnectTimeout      = 10 * time.Second
	DefaultTLSHandshakeTimeout = 10 * time.Second
)

// SkipRule exempts requests from signing in: those whose method is one of
// Methods and whose whole canonical path matches the regular expression
// Path (it is anchored at both ends).
type SkipRule struct {
	Methods []string
	Path    string
}

// Identity says which headers carry which claims to the upstream, and
// which credentials it gets.
type Identity struct {
	// Preset is the starting set of headers: "forwarded" (the default:
	// X-Forwarded-User, -Email, -Preferred-Username, -Groups), "grafana",
	// "gitea", "remote-user" or "none". See HeaderPresets.
	Preset string
	// Headers add to the preset or replace its entries: header name to
	// claim name. Lists (groups) are joined with commas.
	Headers map[string]string
	// Authorization is what the upstream gets as Authorization:
	// "" (the client's own), "id_token" or "access_token" (Bearer), or
	// "basic" (the BasicAuthUserClaim and BasicAuthPassword).
	Authorization string
	// BasicAuthUserClaim is the claim sent as the Basic user name;
	// preferred_username by default.
	BasicAuthUserClaim string
	BasicAuthPassword  string
	// AccessTokenHeader sends the access token in X-Forwarded-Access-Token.
	AccessTokenHeader bool
}

// HeaderPresets are the named header sets for common applications.
var HeaderPresets = map[string]map[string]string{
	"forwarded": {
		"X-Forwarded-User":               policy.ClaimSubject,
		"X-Forwarded-Email":              policy.ClaimEmail,
		"X-Forwarded-Preferred-Username": policy.ClaimPreferredUsername,
		"X-Forwarded-Groups":             policy.ClaimGroups,
	},
	// Grafana's auth proxy (header_name X-WEBAUTH-USER, header_property
	// username, headers Email:X-WEBAUTH-EMAIL Name:X-WEBAUTH-NAME
	// Groups:X-WEBAUTH-GROUPS).
	"grafana": {
		"X-Webauth-User":   policy.ClaimPreferredUsername,
		"X-Webauth-Email":  policy.ClaimEmail,
		"X-Webauth-Name":   policy.ClaimName,
		"X-Webauth-Groups": policy.ClaimGroups,
	},
	// Gitea and Forgejo's reverse-proxy authentication.
	"gitea": {
		"X-Webauth-User":     policy.ClaimPreferredUsername,
		"X-Webauth-Email":    policy.ClaimEmail,
		"X-Webauth-Fullname": policy.ClaimName,
	},
	// The Remote-* family (Nextcloud's user_saml environment mode, many
	// PHP and WSGI apps through REMOTE_USER).
	"remote-user": {
		"Remote-User":   policy.ClaimPreferredUsername,
		"Remote-Email":  policy.ClaimEmail,
		"Remote-Name":   policy.ClaimName,
		"Remote-Groups": policy.ClaimGroups,
	},
	"none": {},
}

// ConfigError is a problem with one field of a Config. Field is named as in
// the configuration file's proxy section, e.g. "routes[2].allow.groups[0]".
type ConfigError struct {
	Field string
	Msg   string
}

// ConfigErrors lists every problem New found.
type ConfigErrors []ConfigError

func (e ConfigErrors) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.Field + ": " + p.Msg
	}
	return strings.Join(parts, "; ")
}

// problems collects ConfigErrors.
type problems struct{ list ConfigErrors }

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}
