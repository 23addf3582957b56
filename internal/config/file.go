package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// File is the YAML configuration file as written by people. Each section
// that is present starts the corresponding server. Field comments here are
// terse; config.example.yaml documents every option for users.
//
// The redact tag says what `gatehouse check` hides when it prints the
// file: "secret" the whole value, "url" the password in a URL or DSN,
// "headers" the values of headers that look like credentials, "-" nothing
// (the name looks secret but the value is not). A test fails when a field
// whose name looks secret has no tag; X_file fields are paths, and print
// as a comment on X.
type File struct {
	AuthServer   *AuthServer   `yaml:"authserver"`
	Proxy        *Proxy        `yaml:"proxy"`
	DemoUpstream *DemoUpstream `yaml:"demo_upstream"`
	Pages        Pages         `yaml:"pages"`
	Log          Log           `yaml:"log"`
	Metrics      *Metrics      `yaml:"metrics"`
	Reload       Reload        `yaml:"reload"`
	// ShutdownTimeout is how long in-flight requests may finish after
	// SIGTERM before their connections are closed.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Reload says when the configuration is read again; SIGHUP always does.
type Reload struct {
	Watch    bool          `yaml:"watch"`    // also poll the file for changes
	Interval time.Duration `yaml:"interval"` // how often to poll
}

// Pages is the look and languages of both servers' pages; pages.Theme
// documents the fields.
type Pages struct {
	ProductName     Text         `yaml:"product_name"`
	Logo            string       `yaml:"logo"` // a file, or a data: URL
	PrimaryColor    string       `yaml:"primary_color"`
	FooterLinks     []FooterLink `yaml:"footer_links"`
	TemplatesDir    string       `yaml:"templates_dir"`
	DefaultLanguage string       `yaml:"default_language"`
}

// FooterLink is one entry of pages.footer_links.
type FooterLink struct {
	Text Text   `yaml:"text"`
	URL  string `yaml:"url" redact:"-"`
}

// Text is a text for every language ("Help") or one per language
// ({en: Help, ja: ヘルプ}).
type Text map[string]string

// UnmarshalYAML reads either form.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Text{"": n.Value}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*t = m
	return nil
}

// Log selects the log format and level.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
	Access *bool  `yaml:"access"` // one line per request; default true
}

// AccessLog reports whether to write the access log: unless switched off.
func (l Log) AccessLog() bool { return l.Access == nil || *l.Access }

// Metrics is the `metrics:` section: a listener of its own for Prometheus
// (/metrics) and the process's health (/healthz, /readyz). Off when absent.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// AuthServer is the `authserver:` section.
type AuthServer struct {
	Listen            string        `yaml:"listen"`
	Issuer            string        `yaml:"issuer"`
	InsecureAllowHTTP bool          `yaml:"insecure_allow_http"`
	SigningAlgorithm  string        `yaml:"signing_algorithm"`
	KeyRotationPeriod time.Duration `yaml:"key_rotation_period"`
	Lifetimes         Lifetimes     `yaml:"lifetimes"`
	// RefreshRetryGrace: see authserver.Config.
	RefreshRetryGrace time.Duration `yaml:"refresh_retry_grace"`
	CookieSecrets     []string      `yaml:"cookie_secrets" redact:"secret"`
	CookieSecretsFile string        `yaml:"cookie_secrets_file"`
	Storage           Storage       `yaml:"storage"`
	LoginThrottle     LoginThrottle `yaml:"login_throttle"`
	Users             []User        `yaml:"users"`
	Clients           []Client      `yaml:"clients"`
}

// Lifetimes are the authserver's token and session lifetimes.
type Lifetimes struct {
	AuthorizationCode time.Duration `yaml:"authorization_code"`
	AccessToken       time.Duration `yaml:"access_token"`
	IDToken           time.Duration `yaml:"id_token"`
	RefreshToken      time.Duration `yaml:"refresh_token"`
	LoginSession      time.Duration `yaml:"login_session"`
	Consent           time.Duration `yaml:"consent"`
}

// LoginThrottle limits password guessing; authserver.LoginThrottle
// documents each field.
type LoginThrottle struct {
	Enabled      *bool          `yaml:"enabled"` // true when not set
	Window       time.Duration  `yaml:"window"`
	BaseDelay    time.Duration  `yaml:"base_delay"`
	MaxDelay     time.Duration  `yaml:"max_delay"`
	LockDuration time.Duration  `yaml:"lock_duration"`
	PerAccount   ThrottleLimits `yaml:"per_account"`
	PerIP        ThrottleLimits `yaml:"per_ip"`
	MaxEntries   int            `yaml:"max_entries"`
}

// ThrottleLimits are failure counts of login_throttle.
type ThrottleLimits struct {
	DelayAfter int `yaml:"delay_after"`
	LockAfter  int `yaml:"lock_after"`
}

// Storage selects and configures the authserver's store.
type Storage struct {
	Type     string    `yaml:"type"` // sqlite (default), postgres, memory
	SQLite   *SQLite   `yaml:"sqlite"`
	Postgres *Postgres `yaml:"postgres"`
}

// SQLite configures the embedded database.
type SQLite struct {
	Path string `yaml:"path"`
}

// Postgres configures the shared database.
type Postgres struct {
	DSN     string `yaml:"dsn" redact:"url"`
	DSNFile string `yaml:"dsn_file"`
	Schema  string `yaml:"schema"`
}

// User is one entry of `authserver.users`.
type User struct {
	ID               string   `yaml:"id"`
	PasswordHash     string   `yaml:"password_hash" redact:"secret"`
	PasswordHashFile string   `yaml:"password_hash_file"`
	Name             string   `yaml:"name"`
	Email            string   `yaml:"email"`
	EmailVerified    bool     `yaml:"email_verified"`
	Groups           []string `yaml:"groups"`
}

// Client is one entry of `authserver.clients`.
type Client struct {
	ID                      string   `yaml:"id"`
	Name                    string   `yaml:"name"`
	Secret                  string   `yaml:"secret" redact:"secret"`
	SecretFile              string   `yaml:"secret_file"`
	SecretHash              string   `yaml:"secret_hash" redact:"secret"`
	RedirectURIs            []string `yaml:"redirect_uris" redact:"-"`
	Scopes                  []string `yaml:"scopes"`
	TokenEndpointAuthMethod string   `yaml:"token_endpoint_auth_method" redact:"-"`
	GrantTypes              []string `yaml:"grant_types"`
	RequirePKCE             *bool    `yaml:"require_pkce"`
	PostLogoutRedirectURIs  []string `yaml:"post_logout_redirect_uris" redact:"-"`
	BackchannelLogoutURI    string   `yaml:"backchannel_logout_uri" redact:"-"`
	AccessTokenFormat       string   `yaml:"access_token_format" redact:"-"`   // opaque (default) or jwt
	AccessTokenAudience     []string `yaml:"access_token_audience" redact:"-"` // aud of JWT access tokens; the client id when empty
	// IDTokenSignedResponseAlg: see directory.Client.SigningAlg.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg" redact:"-"`
}

// Proxy is the `proxy:` section.
type Proxy struct {
	Listen                 string       `yaml:"listen"`
	PublicURL              string       `yaml:"public_url" redact:"-"`
	InsecureAllowHTTP      bool         `yaml:"insecure_allow_http"`
	Provider               Provider     `yaml:"provider"`
	Cookie                 Cookie       `yaml:"cookie"`
	SessionStore           SessionStore `yaml:"session_store"`
	TrustedProxies         []string     `yaml:"trusted_proxies"`
	AllowedRedirectDomains []string     `yaml:"allowed_redirect_domains"`
	Bearer                 Bearer       `yaml:"bearer"`
	Routes                 []Route      `yaml:"routes"`
}

// Bearer says which bearer tokens API clients may send; proxy.BearerConfig
// documents each field.
type Bearer struct {
	Audiences             []string      `yaml:"audiences"`
	Introspection         bool          `yaml:"introspection"`
	IntrospectionCacheTTL time.Duration `yaml:"introspection_cache_ttl"`
}

// Provider names the OpenID Provider the proxy uses.
type Provider struct {
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" redact:"secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	// InsecureAssumeEmailVerified: see proxy.ProviderConfig.
	InsecureAssumeEmailVerified bool `yaml:"insecure_assume_email_verified"`
	// RefreshSkew: see proxy.SessionConfig.
	RefreshSkew time.Duration `yaml:"refresh_skew"`
	// Logout sends the browser to the provider's end_session_endpoint at
	// sign-out; true when not set.
	Logout *bool `yaml:"logout"`
}

// Cookie configures the proxy's cookies.
type Cookie struct {
	Name        string   `yaml:"name"`
	Domain      string   `yaml:"domain"`
	Secure      *bool    `yaml:"secure"`
	Secrets     []string `yaml:"secrets" redact:"secret"`
	SecretsFile string   `yaml:"secrets_file"`
	// SessionTTL and SessionIdleTTL: see proxy.SessionConfig.
	SessionTTL     time.Duration `yaml:"session_ttl"`
	SessionIdleTTL time.Duration `yaml:"session_idle_ttl"`
}

// SessionStore selects where proxy sessions live.
type SessionStore struct {
	Type string `yaml:"type"` // cookie (default), memory or redis
	// Redis keeps the sessions with type redis; with type cookie it holds
	// what replicas share (sign-outs, refresh locks).
	Redis *Redis `yaml:"redis"`
}

// Redis configures the Redis session store.
type Redis struct {
	URL       string        `yaml:"url" redact:"url"`
	URLFile   string        `yaml:"url_file"`
	KeyPrefix string        `yaml:"key_prefix" redact:"-"`
	TTL       time.Duration `yaml:"ttl"`
}

// Route is one entry of `proxy.routes`; proxy.Route documents each field.
type Route struct {
	Name         string            `yaml:"name"`
	Host         string            `yaml:"host"`
	Path         string            `yaml:"path"`
	Upstream     string            `yaml:"upstream" redact:"-"`
	TLS          UpstreamTLS       `yaml:"tls"`
	PreserveHost bool              `yaml:"preserve_host"`
	HostHeader   string            `yaml:"host_header" redact:"-"`
	StripPrefix  bool              `yaml:"strip_prefix"`
	SetHeaders   map[string]string `yaml:"set_headers" redact:"headers"`
	Timeouts     Timeouts          `yaml:"timeouts"`
	Public       bool              `yaml:"public"`
	SkipAuth     []SkipRule        `yaml:"skip_auth"`
	Allow        *Rules            `yaml:"allow"`
	Deny         *Rules            `yaml:"deny"`
	Identity     Identity          `yaml:"identity"`
}

// UpstreamTLS configures an https upstream.
type UpstreamTLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file" redact:"-"`
	ServerName string `yaml:"server_name"`
}

// Timeouts bound reaching an upstream.
type Timeouts struct {
	Connect        time.Duration `yaml:"connect"`
	TLSHandshake   time.Duration `yaml:"tls_handshake"`
	ResponseHeader time.Duration `yaml:"response_header"`
}

// SkipRule exempts requests from signing in.
type SkipRule struct {
	Methods []string `yaml:"methods"`
	Path    string   `yaml:"path"`
}

// Rules list who a route's allow or deny matches.
type Rules struct {
	Users        []string            `yaml:"users"`
	Emails       []string            `yaml:"emails"`
	EmailDomains []string            `yaml:"email_domains"`
	Groups       []string            `yaml:"groups"`
	Claims       map[string][]string `yaml:"claims"`
}

// Identity says what a route's upstream learns about the person.
type Identity struct {
	Preset            string            `yaml:"preset"`
	Headers           map[string]string `yaml:"headers" redact:"-"`
	Authorization     string            `yaml:"authorization"`
	BasicAuth         BasicAuth         `yaml:"basic_auth"`
	AccessTokenHeader bool              `yaml:"access_token_header"`
}

// BasicAuth is the Authorization: Basic a route sends upstream.
type BasicAuth struct {
	UserClaim    string `yaml:"user_claim"`
	Password     string `yaml:"password" redact:"secret"`
	PasswordFile string `yaml:"password_file"`
}

// DemoUpstream is the built-in app that shows the identity it received.
type DemoUpstream struct {
	Listen string `yaml:"listen"`
}
