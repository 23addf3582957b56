package config

import (
	"io"
	"log/slog"
	"net/url"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// Logger returns the logger the file asks for, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	return c.LoggerAt(w, c.LogLevel())
}

// LogLevel is the level log.level names.
func (c *Config) LogLevel() slog.Level {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.File.Log.Level)) // validated at load
	return level
}

// LoggerAt is Logger with the level given, such as a slog.LevelVar that a
// reload sets.
func (c *Config) LoggerAt(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if c.File.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// AuthServer returns the authserver's runtime configuration around store.
// It panics if the file has no authserver section.
func (c *Config) AuthServer(store storage.Store, logger *slog.Logger) (authserver.Config, error) {
	a := c.File.AuthServer
	dir, err := c.Directory()
	if err != nil {
		return authserver.Config{}, err
	}
	return authserver.Config{
		Issuer:            a.Issuer,
		Directory:         dir,
		Store:             store,
		SigningAlgorithm:  a.SigningAlgorithm,
		KeyRotationPeriod: a.KeyRotationPeriod,
		AuthCodeTTL:       a.Lifetimes.AuthorizationCode,
		AccessTokenTTL:    a.Lifetimes.AccessToken,
		IDTokenTTL:        a.Lifetimes.IDToken,
		RefreshTokenTTL:   a.Lifetimes.RefreshToken,
		LoginSessionTTL:   a.Lifetimes.LoginSession,
		ConsentTTL:        a.Lifetimes.Consent,
		RefreshRetryGrace: a.RefreshRetryGrace,
		CookieSecrets:     bytesList(a.CookieSecrets),
		LoginThrottle:     loginThrottle(a.LoginThrottle),
		Pages:             c.pages,
		Logger:            logger,
		AccessLog:         c.File.Log.AccessLog(),
	}, nil
}

// Directory returns the authserver's users and clients. It panics if the
// file has no authserver section.
func (c *Config) Directory() (*directory.Directory, error) {
	a := c.File.AuthServer
	return directory.New(users(a.Users), clients(a.Clients))
}

func loginThrottle(t LoginThrottle) authserver.LoginThrottle {
	if !*t.Enabled {
		return authserver.LoginThrottle{Disabled: true}
	}
	return authserver.LoginThrottle{
		Window:       t.Window,
		BaseDelay:    t.BaseDelay,
		MaxDelay:     t.MaxDelay,
		LockDuration: t.LockDuration,
		Account:      authserver.ThrottleLimits(t.PerAccount),
		IP:           authserver.ThrottleLimits(t.PerIP),
		MaxEntries:   t.MaxEntries,
	}
}

func users(in []User) []directory.User {
	out := make([]directory.User, len(in))
	for i, u := range in {
		out[i] = directory.User{
			ID:            u.ID,
			PasswordHash:  []byte(u.PasswordHash),
			Name:          u.Name,
			Email:         u.Email,
			EmailVerified: u.EmailVerified,
			Groups:        u.Groups,
		}
	}
	return out
}

func clients(in []Client) []directory.Client {
	out := make([]directory.Client, len(in))
	for i, c := range in {
		secret, isHash := c.Secret, false
		if c.SecretHash != "" {
			secret, isHash = c.SecretHash, true
		}
		out[i] = directory.Client{
			ID:           c.ID,
			Name:         c.Name,
			Secret:       secret,
			SecretIsHash: isHash,
			RedirectURIs: c.RedirectURIs,
			Scopes:       c.Scopes,
			AuthMethod:   c.TokenEndpointAuthMethod,
			GrantTypes:   c.GrantTypes,
			RequirePKCE:  c.RequirePKCE == nil || *c.RequirePKCE,

			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			BackchannelLogoutURI:   c.BackchannelLogoutURI,
			AccessTokenFormat:      c.AccessTokenFormat,
			AccessTokenAudience:    c.AccessTokenAudience,
			SigningAlg:             c.IDTokenSignedResponseAlg,
		}
	}
	return out
}

// Sessions is the proxy's session state, as backend.OpenSessions opens it.
type Sessions struct {
	// Store keeps sessions; nil when the cookie itself carries them.
	Store proxy.SessionStore
	// Shared is what cookie-session replicas share, or nil.
	Shared proxy.Shared
	// Close releases the connections; it is never nil.
	Close func() error
}

// Proxy returns the proxy's runtime configuration. sessions is what
// backend.OpenSessions opened; nil means sessions in cookies shared with no other
// replica. It panics if the file has no proxy section.
func (c *Config) Proxy(sessions *Sessions, logger *slog.Logger) (proxy.Config, error) {
	cfg, err := proxyConfig(c.File.Proxy)
	cfg.Pages = c.pages
	if sessions != nil {
		cfg.Sessions, cfg.Shared = sessions.Store, sessions.Shared
	}
	cfg.Logger = logger
	cfg.AccessLog = c.File.Log.AccessLog()
	return cfg, err
}

// proxyConfig converts the proxy section. The proxy package validates
// routes, policies and the rest itself (see validateProxy), so what it
// refuses is refused in one place.
func proxyConfig(p *Proxy) (proxy.Config, error) {
	public, err := url.Parse(p.PublicURL)
	if err != nil {
		return proxy.Config{}, err
	}
	routes := make([]proxy.Route, len(p.Routes))
	for i, r := range p.Routes {
		routes[i] = proxy.Route{
			Name:         r.Name,
			Host:         r.Host,
			Path:         r.Path,
			Upstream:     r.Upstream,
			TLS:          proxy.UpstreamTLS(r.TLS),
			PreserveHost: r.PreserveHost,
			HostHeader:   r.HostHeader,
			StripPrefix:  r.StripPrefix,
			SetHeaders:   r.SetHeaders,
			Timeouts:     proxy.Timeouts(r.Timeouts),
			Public:       r.Public,
			Allow:        (*policy.Rules)(r.Allow),
			Deny:         (*policy.Rules)(r.Deny),
			Identity: proxy.Identity{
				Preset:             r.Identity.Preset,
				Headers:            r.Identity.Headers,
				Authorization:      r.Identity.Authorization,
				BasicAuthUserClaim: r.Identity.BasicAuth.UserClaim,
				BasicAuthPassword:  r.Identity.BasicAuth.Password,
				AccessTokenHeader:  r.Identity.AccessTokenHeader,
			},
		}
		for _, s := range r.SkipAuth {
			routes[i].SkipAuth = append(routes[i].SkipAuth, proxy.SkipRule(s))
		}
	}
	return proxy.Config{
		PublicURL: public,
		Provider: proxy.ProviderConfig{
			IssuerURL:    p.Provider.Issuer,
			ClientID:     p.Provider.ClientID,
			ClientSecret: p.Provider.ClientSecret,
			Scopes:       p.Provider.Scopes,

			InsecureAssumeEmailVerified: p.Provider.InsecureAssumeEmailVerified,
			SkipLogout:                  p.Provider.Logout != nil && !*p.Provider.Logout,
		},
		Cookie: proxy.CookieConfig{
			Name:    p.Cookie.Name,
			Domain:  p.Cookie.Domain,
			Secure:  p.Cookie.Secure != nil && *p.Cookie.Secure,
			Secrets: bytesList(p.Cookie.Secrets),
		},
		Session: proxy.SessionConfig{
			TTL:         p.Cookie.SessionTTL,
			IdleTTL:     p.Cookie.SessionIdleTTL,
			RefreshSkew: p.Provider.RefreshSkew,
		},
		Routes:                 routes,
		TrustedProxies:         p.TrustedProxies,
		AllowedRedirectDomains: p.AllowedRedirectDomains,
		Bearer:                 proxy.BearerConfig(p.Bearer),
	}, nil
}

func bytesList(in []string) [][]byte {
	out := make([][]byte, len(in))
	for i, s := range in {
		out[i] = []byte(s)
	}
	return out
}
