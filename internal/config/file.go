package config

import "time"

// File is the YAML configuration file as written by people. Each section
// that is present starts the corresponding server. Field comments here are
// terse; config.example.yaml documents every option for users.
type File struct {
	AuthServer   *AuthServer   `yaml:"authserver"`
	Proxy        *Proxy        `yaml:"proxy"`
	DemoUpstream *DemoUpstream `yaml:"demo_upstream"`
	Log          Log           `yaml:"log"`
}

// Log selects the log format and level.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// AuthServer is the `authserver:` section.
type AuthServer struct {
	Listen            string        `yaml:"listen"`
	Issuer            string        `yaml:"issuer"`
	InsecureAllowHTTP bool          `yaml:"insecure_allow_http"`
	SigningAlgorithm  string        `yaml:"signing_algorithm"`
	KeyRotationPeriod time.Duration `yaml:"key_rotation_period"`
	Lifetimes         Lifetimes     `yaml:"lifetimes"`
	CookieSecrets     []string      `yaml:"cookie_secrets"`
	CookieSecretsFile string        `yaml:"cookie_secrets_file"`
	Storage           Storage       `yaml:"storage"`
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
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	Schema  string `yaml:"schema"`
}

// User is one entry of `authserver.users`.
type User struct {
	ID               string   `yaml:"id"`
	PasswordHash     string   `yaml:"password_hash"`
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
	Secret                  string   `yaml:"secret"`
	SecretFile              string   `yaml:"secret_file"`
	SecretHash              string   `yaml:"secret_hash"`
	RedirectURIs            []string `yaml:"redirect_uris"`
	Scopes                  []string `yaml:"scopes"`
	TokenEndpointAuthMethod string   `yaml:"token_endpoint_auth_method"`
	GrantTypes              []string `yaml:"grant_types"`
	RequirePKCE             *bool    `yaml:"require_pkce"`
}

// Proxy is the `proxy:` section.
type Proxy struct {
	Listen            string       `yaml:"listen"`
	PublicURL         string       `yaml:"public_url"`
	InsecureAllowHTTP bool         `yaml:"insecure_allow_http"`
	Provider          Provider     `yaml:"provider"`
	Cookie            Cookie       `yaml:"cookie"`
	SessionStore      SessionStore `yaml:"session_store"`
	Routes            []Route      `yaml:"routes"`
}

// Provider names the OpenID Provider the proxy uses.
type Provider struct {
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
}

// Cookie configures the proxy's cookies.
type Cookie struct {
	Name        string        `yaml:"name"`
	Domain      string        `yaml:"domain"`
	Secure      *bool         `yaml:"secure"`
	Secrets     []string      `yaml:"secrets"`
	SecretsFile string        `yaml:"secrets_file"`
	SessionTTL  time.Duration `yaml:"session_ttl"`
}

// SessionStore selects where proxy sessions live.
type SessionStore struct {
	Type  string `yaml:"type"` // cookie (default), memory or redis
	Redis *Redis `yaml:"redis"`
}

// Redis configures the Redis session store.
type Redis struct {
	URL       string        `yaml:"url"`
	URLFile   string        `yaml:"url_file"`
	KeyPrefix string        `yaml:"key_prefix"`
	TTL       time.Duration `yaml:"ttl"`
}

// Route maps a path prefix to an upstream.
type Route struct {
	Path     string `yaml:"path"`
	Upstream string `yaml:"upstream"`
}

// DemoUpstream is the built-in app that shows the identity it received.
type DemoUpstream struct {
	Listen string `yaml:"listen"`
}
