package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
	"github.com/gatehouse/gatehouse/internal/cookiecrypt"
	"github.com/gatehouse/gatehouse/proxy"
)

// Defaults that belong to the file format itself: where servers listen
// and where data lives. The servers' own defaults come from their
// packages (authserver.Default*, proxy.Default*, directory.Default*).
const (
	DefaultAuthListen      = "127.0.0.1:9000"
	DefaultProxyListen     = "127.0.0.1:8000"
	DefaultDemoListen      = "127.0.0.1:8081"
	DefaultSQLitePath      = "gatehouse.db"
	DefaultRedisKeyPrefix  = "gatehouse:session:"
	DefaultReloadInterval  = 2 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	minReloadInterval      = 100 * time.Millisecond
)

const (
	grantAuthorizationCode = directory.GrantAuthorizationCode
	grantRefreshToken      = directory.GrantRefreshToken
	grantClientCredentials = directory.GrantClientCredentials
)

// secretPair enforces "value or value_file, not both" and reads the file.
func (l *loader) secretPair(field string, value *string, file string) {
	switch {
	case *value != "" && file != "":
		l.addf(field, "set either %s or %s_file, not both", lastPart(field), lastPart(field))
	case file != "":
		if v, ok := l.readSecretFile(field+"_file", file); ok {
			*value = v
		}
	}
}

// secretList appends the non-empty lines of file to list.
func (l *loader) secretList(field string, list *[]string, file string) {
	if file == "" {
		return
	}
	v, ok := l.readSecretFile(field+"_file", file)
	if !ok {
		return
	}
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			*list = append(*list, line)
		}
	}
}

func (l *loader) resolveFiles(f *File) {
	if a := f.AuthServer; a != nil {
		l.secretList("authserver.cookie_secrets", &a.CookieSecrets, a.CookieSecretsFile)
		if pg := a.Storage.Postgres; pg != nil {
			l.secretPair("authserver.storage.postgres.dsn", &pg.DSN, pg.DSNFile)
		}
		for i := range a.Users {
			u := &a.Users[i]
			l.secretPair(fmt.Sprintf("authserver.users[%d].password_hash", i), &u.PasswordHash, u.PasswordHashFile)
		}
		for i := range a.Clients {
			c := &a.Clients[i]
			l.secretPair(fmt.Sprintf("authserver.clients[%d].secret", i), &c.Secret, c.SecretFile)
		}
	}
	if p := f.Proxy; p != nil {
		l.secretPair("proxy.provider.client_secret", &p.Provider.ClientSecret, p.Provider.ClientSecretFile)
		l.secretList("proxy.cookie.secrets", &p.Cookie.Secrets, p.Cookie.SecretsFile)
		if r := p.SessionStore.Redis; r != nil {
			l.secretPair("proxy.session_store.redis.url", &r.URL, r.URLFile)
		}
		for i := range p.Routes {
			r := &p.Routes[i]
			field := fmt.Sprintf("proxy.routes[%d]", i)
			l.secretPair(field+".identity.basic_auth.password", &r.Identity.BasicAuth.Password, r.Identity.BasicAuth.PasswordFile)
			for _, f := range []*string{&r.TLS.CAFile, &r.TLS.CertFile, &r.TLS.KeyFile} {
				*f = l.resolvePath(*f)
			}
		}
	}
}

func (l *loader) applyDefaults(f *File) {
	setDefault(&f.Log.Level, "info")
	setDefault(&f.Log.Format, "text")
	setDefault(&f.Reload.Interval, DefaultReloadInterval)
	setDefault(&f.ShutdownTimeout, DefaultShutdownTimeout)
	if f.Log.Access == nil {
		on := true
		f.Log.Access = &on
	}
	if a := f.AuthServer; a != nil {
		setDefault(&a.Listen, DefaultAuthListen)
		setDefault(&a.SigningAlgorithm, authserver.DefaultSigningAlgorithm)
		setDefault(&a.KeyRotationPeriod, authserver.DefaultKeyRotationPeriod)
		lt := &a.Lifetimes
		setDefault(&lt.AuthorizationCode, authserver.DefaultAuthCodeTTL)
		setDefault(&lt.AccessToken, authserver.DefaultAccessTokenTTL)
		setDefault(&lt.IDToken, authserver.DefaultIDTokenTTL)
		setDefault(&lt.RefreshToken, authserver.DefaultRefreshTokenTTL)
		setDefault(&lt.LoginSession, authserver.DefaultLoginSessionTTL)
		setDefault(&lt.Consent, authserver.DefaultConsentTTL)
		th := &a.LoginThrottle
		if th.Enabled == nil {
			on := true
			th.Enabled = &on
		}
		dt := authserver.DefaultLoginThrottle()
		setDefault(&th.Window, dt.Window)
		setDefault(&th.BaseDelay, dt.BaseDelay)
		setDefault(&th.MaxDelay, dt.MaxDelay)
		setDefault(&th.LockDuration, dt.LockDuration)
		setDefault(&th.PerAccount.DelayAfter, dt.Account.DelayAfter)
		setDefault(&th.PerAccount.LockAfter, dt.Account.LockAfter)
		setDefault(&th.PerIP.DelayAfter, dt.IP.DelayAfter)
		setDefault(&th.PerIP.LockAfter, dt.IP.LockAfter)
		setDefault(&th.MaxEntries, dt.MaxEntries)
		setDefault(&a.Storage.Type, "sqlite")
		if a.Storage.Type == "sqlite" {
			if a.Storage.SQLite == nil {
				a.Storage.SQLite = &SQLite{}
			}
			setDefault(&a.Storage.SQLite.Path, DefaultSQLitePath)
			a.Storage.SQLite.Path = l.resolvePath(a.Storage.SQLite.Path)
		}
		for i := range a.Clients {
			c := &a.Clients[i]
			setDefault(&c.TokenEndpointAuthMethod, directory.AuthClientSecretBasic)
			if c.Scopes == nil {
				c.Scopes = directory.DefaultScopes()
			}
			if c.GrantTypes == nil {
				c.GrantTypes = directory.DefaultGrantTypes()
			}
			setDefault(&c.AccessTokenFormat, directory.AccessTokenOpaque)
		}
	}
	if p := f.Proxy; p != nil {
		setDefault(&p.Listen, DefaultProxyListen)
		if p.Provider.Scopes == nil {
			p.Provider.Scopes = proxy.DefaultScopes()
		}
		setDefault(&p.Cookie.Name, proxy.DefaultCookieName)
		setDefault(&p.Cookie.SessionTTL, proxy.DefaultSessionTTL)
		setDefault(&p.Provider.RefreshSkew, proxy.DefaultRefreshSkew)
		if p.Cookie.Secure == nil {
			secure := strings.HasPrefix(p.PublicURL, "https://")
			p.Cookie.Secure = &secure
		}
		setDefault(&p.SessionStore.Type, "cookie")
		setDefault(&p.Bearer.IntrospectionCacheTTL, proxy.DefaultIntrospectionCacheTTL)
		for i := range p.Routes {
			if p.Routes[i].Upstream == "" {
				continue // forward-auth only: nothing to connect to, and timeouts here are refused
			}
			t := &p.Routes[i].Timeouts
			setDefault(&t.Connect, proxy.DefaultConnectTimeout)
			setDefault(&t.TLSHandshake, proxy.DefaultTLSHandshakeTimeout)
		}
		if r := p.SessionStore.Redis; r != nil {
			setDefault(&r.KeyPrefix, DefaultRedisKeyPrefix)
			// Redis keeps a session as long as the session may last; a
			// shorter TTL would end sessions early without saying why.
			setDefault(&r.TTL, p.Cookie.SessionTTL)
		}
	}
	if d := f.DemoUpstream; d != nil {
		setDefault(&d.Listen, DefaultDemoListen)
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (l *loader) validate(f *File) {
	if f.AuthServer == nil && f.Proxy == nil && f.DemoUpstream == nil {
		l.addf("", "nothing to run: add an authserver:, proxy: or demo_upstream: section (see config.example.yaml)")
	}
	l.oneOf("log.level", f.Log.Level, "debug", "info", "warn", "error")
	l.oneOf("log.format", f.Log.Format, "text", "json")
	if f.Reload.Interval < minReloadInterval {
		l.addf("reload.interval", "%s is too short; poll at most every %s, or use SIGHUP", f.Reload.Interval, minReloadInterval)
	}
	l.positive("shutdown_timeout", f.ShutdownTimeout)
	if f.AuthServer != nil {
		l.validateAuthServer(f.AuthServer)
	}
	if f.Proxy != nil {
		l.validateProxy(f.Proxy)
	}
	if f.DemoUpstream != nil {
		l.hostPort("demo_upstream.listen", f.DemoUpstream.Listen)
	}
	if f.Metrics != nil {
		l.validateMetrics(f)
	}
	if f.AuthServer != nil && f.Proxy != nil {
		l.matchProxyToClient(f.AuthServer, f.Proxy)
	}
	l.pages, l.warnings = l.validatePages(&f.Pages)
}

// matchProxyToClient checks, when the proxy signs in at this file's own
// authserver, that the two halves agree: otherwise every sign-in fails at
// /authorize or /token, long after the file was accepted.
func (l *loader) matchProxyToClient(a *AuthServer, p *Proxy) {
	if strings.TrimSuffix(p.Provider.Issuer, "/") != strings.TrimSuffix(a.Issuer, "/") || p.Provider.ClientID == "" {
		return
	}
	i := slices.IndexFunc(a.Clients, func(c Client) bool { return c.ID == p.Provider.ClientID })
	if i < 0 {
		ids := make([]string, len(a.Clients))
		for j, c := range a.Clients {
			ids[j] = c.ID
		}
		l.addf("proxy.provider.client_id", "%q is not in authserver.clients (ids: %s); register the proxy there or fix client_id", p.Provider.ClientID, strings.Join(ids, ", "))
		return
	}
	c, field := a.Clients[i], fmt.Sprintf("authserver.clients[%d]", i)
	if p.PublicURL != "" {
		redirect := strings.TrimSuffix(p.PublicURL, "/") + proxy.CallbackPath
		if !slices.Contains(c.RedirectURIs, redirect) {
			l.addf("proxy.public_url", "the proxy's redirect URI %s is not in %s.redirect_uris (registered: %s); add it there or fix public_url", redirect, field, strings.Join(c.RedirectURIs, ", "))
		}
	}
	if !slices.Contains(c.Scopes, "openid") {
		l.addf(field+".scopes", "lacks openid, which the proxy (proxy.provider.client_id %s) needs to get an ID token; add it", c.ID)
	}
	switch {
	case c.TokenEndpointAuthMethod == directory.AuthNone:
	case p.Provider.ClientSecret == "":
		l.addf("proxy.provider.client_secret", "is required: %s is a confidential client (token_endpoint_auth_method %s); set client_secret or client_secret_file", field, c.TokenEndpointAuthMethod)
	case c.SecretHash != "":
		if bcrypt.CompareHashAndPassword([]byte(c.SecretHash), []byte(p.Provider.ClientSecret)) == bcrypt.ErrMismatchedHashAndPassword {
			l.addf("proxy.provider.client_secret", "does not match %s.secret_hash; set the same secret on both sides", field)
		}
	case c.Secret != "" && c.Secret != p.Provider.ClientSecret:
		l.addf("proxy.provider.client_secret", "differs from %s.secret; set the same secret on both sides", field)
	}
}

func (l *loader) validateAuthServer(a *AuthServer) {
	l.hostPort("authserver.listen", a.Listen)
	if u := l.absURL("authserver.issuer", a.Issuer); u != nil {
		if u.RawQuery != "" || u.Fragment != "" {
			l.addf("authserver.issuer", "an issuer has no query or fragment (OpenID Connect Discovery §3)")
		}
		l.requireTLS("authserver.issuer", u, a.InsecureAllowHTTP)
	}
	l.oneOf("authserver.signing_algorithm", a.SigningAlgorithm, keys.Supported()...)
	l.positive("authserver.key_rotation_period", a.KeyRotationPeriod)
	lt := a.Lifetimes
	for name, d := range map[string]time.Duration{
		"authorization_code": lt.AuthorizationCode, "access_token": lt.AccessToken, "id_token": lt.IDToken,
		"refresh_token": lt.RefreshToken, "login_session": lt.LoginSession, "consent": lt.Consent,
	} {
		l.positive("authserver.lifetimes."+name, d)
	}
	if lt.AuthorizationCode > 10*time.Minute {
		l.addf("authserver.lifetimes.authorization_code", "%s is too long; RFC 6749 §4.1.2 recommends at most 10m", lt.AuthorizationCode)
	}
	if g := a.RefreshRetryGrace; g < 0 || g > authserver.MaxRefreshRetryGrace {
		l.addf("authserver.refresh_retry_grace", "%s is out of range: use 0 (off) or at most %s, which is ample to retry a lost response; a longer grace lets a stolen refresh token yield tokens instead of revoking the grant",
			g, authserver.MaxRefreshRetryGrace)
	}
	l.cookieSecrets("authserver.cookie_secrets", a.CookieSecrets)
	l.validateStorage(&a.Storage)
	l.validateLoginThrottle(&a.LoginThrottle)

	if len(a.Users) == 0 {
		l.addf("authserver.users", "no users are configured, so nobody can sign in; add at least one (password hashes come from `gatehouse hash-password`)")
	}
	// People sign in with what directory.CanonicalID makes of what they
	// type, so IDs equal in that form would be one account.
	seenUsers := map[string]int{}
	for i, u := range a.Users {
		field := fmt.Sprintf("authserver.users[%d]", i)
		key := directory.CanonicalID(u.ID)
		prev, dup := seenUsers[key]
		switch {
		case key == "":
			l.addf(field+".id", "is required")
		case dup && a.Users[prev].ID == u.ID:
			l.addf(field+".id", "user id %q is used twice", u.ID)
		case dup:
			l.addf(field+".id", "%q and users[%d].id %q are the same user id once case, width and spaces are ignored; rename one", u.ID, prev, a.Users[prev].ID)
		}
		if !dup {
			seenUsers[key] = i
		}
		l.passwordHash(field+".password_hash", u.PasswordHash)
	}
	isUser := func(id string) bool {
		_, ok := seenUsers[directory.CanonicalID(id)]
		return ok
	}

	if len(a.Clients) == 0 {
		l.addf("authserver.clients", "no clients are configured, so no application can sign people in; add at least one")
	}
	seenClients := map[string]bool{}
	for i := range a.Clients {
		field := fmt.Sprintf("authserver.clients[%d]", i)
		l.validateClient(field, &a.Clients[i], seenClients)
		l.validateClientLogout(field, &a.Clients[i], a.InsecureAllowHTTP)
		if c := a.Clients[i]; slices.Contains(c.GrantTypes, grantClientCredentials) && isUser(c.ID) {
			// The client is the subject of its own tokens (RFC 9068 §2.2),
			// which must not be mistaken for the user's (§5).
			l.addf(field+".id", "%q is also a user id, and tokens this client gets with client_credentials have it as subject; rename the client or the user", c.ID)
		}
	}
}

func (l *loader) validateStorage(s *Storage) {
	switch s.Type {
	case "sqlite", "memory":
	case "postgres":
		if s.Postgres == nil || s.Postgres.DSN == "" {
			l.addf("authserver.storage.postgres.dsn", "is required when storage.type is postgres, e.g. postgres://gatehouse@db:5432/gatehouse")
		}
	default:
		l.addf("authserver.storage.type", "%q is not a store; use sqlite, postgres or memory", s.Type)
	}
}

func (l *loader) validateClient(field string, c *Client, seen map[string]bool) {
	switch {
	case c.ID == "":
		l.addf(field+".id", "is required")
	case seen[c.ID]:
		l.addf(field+".id", "client id %q is used twice", c.ID)
	}
	seen[c.ID] = true
	if len(c.RedirectURIs) == 0 && slices.Contains(c.GrantTypes, grantAuthorizationCode) {
		l.addf(field+".redirect_uris", "list at least one redirect URI")
	}
	l.redirectURIs(field+".redirect_uris", c.RedirectURIs)
	if c.IDTokenSignedResponseAlg != "" { // empty: authserver.signing_algorithm
		l.oneOf(field+".id_token_signed_response_alg", c.IDTokenSignedResponseAlg, keys.Supported()...)
	}
	l.oneOf(field+".token_endpoint_auth_method", c.TokenEndpointAuthMethod,
		directory.AuthClientSecretBasic, directory.AuthClientSecretPost, directory.AuthNone)
	secrets := 0
	for _, s := range []string{c.Secret, c.SecretHash} {
		if s != "" {
			secrets++
		}
	}
	if c.TokenEndpointAuthMethod == directory.AuthNone {
		if secrets > 0 {
			l.addf(field, "a public client (token_endpoint_auth_method: none) has no secret; remove secret/secret_hash")
		}
		if c.RequirePKCE != nil && !*c.RequirePKCE {
			l.addf(field+".require_pkce", "public clients always need PKCE; remove require_pkce: false")
		}
	} else {
		switch {
		case secrets == 0:
			l.addf(field+".secret", "a confidential client needs one of secret, secret_file or secret_hash")
		case secrets > 1:
			l.addf(field+".secret", "set only one of secret, secret_file or secret_hash")
		case c.SecretHash != "":
			l.bcryptHash(field+".secret_hash", c.SecretHash)
		}
	}
	l.validateGrantTypes(field, c)
	l.oneOf(field+".access_token_format", c.AccessTokenFormat, directory.AccessTokenOpaque, directory.AccessTokenJWT)
	if len(c.AccessTokenAudience) > 0 && c.AccessTokenFormat != directory.AccessTokenJWT {
		l.addf(field+".access_token_audience", "applies only to access_token_format: jwt; opaque tokens carry no audience")
	}
	for j, a := range c.AccessTokenAudience {
		if a == "" {
			l.addf(fmt.Sprintf("%s.access_token_audience[%d]", field, j), "is empty; name the resource servers that accept the tokens, or remove access_token_audience for the client id")
		}
	}
	for j, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			l.addf(fmt.Sprintf("%s.scopes[%d]", field, j), "%q is not a valid scope token (RFC 6749 §3.3)", s)
		}
	}
}

// redirectURIs checks a list of URIs the browser is sent to, which clients
// name exactly: absolute http(s) URLs without a fragment (RFC 6749 §3.1.2,
// OpenID Connect RP-Initiated Logout 1.0 §3.1).
func (l *loader) redirectURIs(field string, uris []string) {
	for j, raw := range uris {
		rf := fmt.Sprintf("%s[%d]", field, j)
		if u := l.absURL(rf, raw); u != nil && u.Fragment != "" {
			l.addf(rf, "a redirect URI must not contain a fragment (RFC 6749 §3.1.2)")
		}
	}
}

// validateClientLogout checks where a client hears of logouts. The
// back-channel URI receives logout tokens from this server, so like the
// issuer it needs TLS off this machine.
func (l *loader) validateClientLogout(field string, c *Client, allowHTTP bool) {
	l.redirectURIs(field+".post_logout_redirect_uris", c.PostLogoutRedirectURIs)
	if c.BackchannelLogoutURI == "" {
		return
	}
	bf := field + ".backchannel_logout_uri"
	if u := l.absURL(bf, c.BackchannelLogoutURI); u != nil {
		if u.Fragment != "" {
			// OpenID Connect Back-Channel Logout 1.0 §2.2.
			l.addf(bf, "must not contain a fragment")
		}
		l.requireTLS(bf, u, allowHTTP)
	}
}

// validateGrantTypes checks a client's grant types: known ones, at least
// one that issues tokens, refresh tokens only with the code flow that
// yields them, and client_credentials only for clients with a secret.
func (l *loader) validateGrantTypes(field string, c *Client) {
	for j, g := range c.GrantTypes {
		gf := fmt.Sprintf("%s.grant_types[%d]", field, j)
		l.oneOf(gf, g, grantAuthorizationCode, grantRefreshToken, grantClientCredentials)
		if g == grantClientCredentials && c.TokenEndpointAuthMethod == directory.AuthNone {
			l.addf(gf, "a public client (token_endpoint_auth_method: none) cannot use client_credentials: anyone knowing its id could; give it a secret or remove the grant")
		}
	}
	code, service := slices.Contains(c.GrantTypes, grantAuthorizationCode), slices.Contains(c.GrantTypes, grantClientCredentials)
	switch {
	case !code && !service:
		l.addf(field+".grant_types", "must include authorization_code (people sign in) or client_credentials (the client acts for itself)")
	case !code && slices.Contains(c.GrantTypes, grantRefreshToken):
		l.addf(field+".grant_types", "refresh_token needs authorization_code, the only grant that issues refresh tokens")
	}
}

func (l *loader) validateProxy(p *Proxy) {
	l.hostPort("proxy.listen", p.Listen)
	if u := l.absURL("proxy.public_url", p.PublicURL); u != nil {
		if strings.Trim(u.Path, "/") != "" {
			l.addf("proxy.public_url", "must be an origin without a path, e.g. https://app.example.com")
		}
		l.requireTLS("proxy.public_url", u, p.InsecureAllowHTTP)
	}
	if u := l.absURL("proxy.provider.issuer", p.Provider.Issuer); u != nil {
		l.requireTLS("proxy.provider.issuer", u, p.InsecureAllowHTTP)
	}
	if p.Provider.ClientID == "" {
		l.addf("proxy.provider.client_id", "is required: the client id registered for this proxy at the provider")
	}
	if !slices.Contains(p.Provider.Scopes, "openid") {
		l.addf("proxy.provider.scopes", "must include openid: the proxy signs people in with an ID token")
	}
	l.cookieSecrets("proxy.cookie.secrets", p.Cookie.Secrets)
	l.positive("proxy.cookie.session_ttl", p.Cookie.SessionTTL)
	if p.Cookie.SessionIdleTTL < 0 {
		l.addf("proxy.cookie.session_idle_ttl", "must not be negative; 0 turns idle expiry off")
	}
	l.positive("proxy.provider.refresh_skew", p.Provider.RefreshSkew)
	switch p.SessionStore.Type {
	case "memory":
		if p.SessionStore.Redis != nil {
			l.addf("proxy.session_store.redis", "applies to the cookie and redis stores, not memory")
		}
	case "cookie":
		if p.SessionStore.Redis != nil && p.SessionStore.Redis.URL == "" {
			l.addf("proxy.session_store.redis.url", "is required to share sign-outs between replicas, e.g. redis://127.0.0.1:6379/0")
		}
	case "redis":
		if p.SessionStore.Redis == nil || p.SessionStore.Redis.URL == "" {
			l.addf("proxy.session_store.redis.url", "is required when session_store.type is redis, e.g. redis://127.0.0.1:6379/0")
		} else {
			l.positive("proxy.session_store.redis.ttl", p.SessionStore.Redis.TTL)
		}
	default:
		l.addf("proxy.session_store.type", "%q is not a session store; use cookie, memory or redis", p.SessionStore.Type)
	}
	l.validateRoutes(p)
}

// validateRoutes has the proxy package check routes, policies, trusted
// proxies, redirect domains and bearer tokens, the rules it owns, and
// places each problem on its line. An allow or deny written with nothing after it is caught
// here: YAML reads it as absent, which would admit everyone.
func (l *loader) validateRoutes(p *Proxy) {
	for i, r := range p.Routes {
		for _, rules := range []struct {
			name string
			list *Rules
		}{{"allow", r.Allow}, {"deny", r.Deny}} {
			field := fmt.Sprintf("proxy.routes[%d].%s", i, rules.name)
			if _, written := l.lines[field]; written && rules.list == nil {
				l.addf(field, "is empty; list users, emails, email_domains, groups or claims, or remove %s", rules.name)
			}
		}
	}
	cfg, err := proxyConfig(p)
	if err != nil {
		return // public_url is reported above
	}
	var errs proxy.ConfigErrors
	if errors.As(proxy.Check(cfg), &errs) {
		for _, e := range errs {
			l.addf("proxy."+e.Field, "%s", e.Msg)
		}
	}
}

func (l *loader) cookieSecrets(field string, secrets []string) {
	if len(secrets) == 0 {
		l.addf(field, "add at least one secret of %d+ characters (e.g. from `openssl rand -base64 32`); the first encrypts, all decrypt", cookiecrypt.MinSecretLen)
	}
	for i, s := range secrets {
		if len(s) < cookiecrypt.MinSecretLen {
			l.addf(fmt.Sprintf("%s[%d]", field, i), "is %d characters; use at least %d (e.g. from `openssl rand -base64 32`)", len(s), cookiecrypt.MinSecretLen)
		}
	}
}

func (l *loader) absURL(field, raw string) *url.URL {
	if raw == "" {
		l.addf(field, "is required")
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.addf(field, "%q is not an absolute http(s) URL", raw)
		return nil
	}
	return u
}

// requireTLS refuses plain-http URLs that leave the machine: passwords,
// codes, tokens and session cookies would cross the network readable by
// anyone on the path. Loopback hosts are exempt, which is what local
// development and a sidecar next to its app use.
func (l *loader) requireTLS(field string, u *url.URL, allowHTTP bool) {
	if u.Scheme == "https" || allowHTTP || isLoopback(u.Hostname()) {
		return
	}
	l.addf(field, "%s uses http on a host other than this machine; use https, or set insecure_allow_http: true in this section if TLS ends in front of gatehouse on a network you trust", u.Redacted())
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *loader) validateMetrics(f *File) {
	addr := f.Metrics.Listen
	if addr == "" {
		l.addf("metrics.listen", "is required: the address to serve /metrics on, e.g. 127.0.0.1:9100; remove metrics: to turn metrics off")
		return
	}
	l.hostPort("metrics.listen", addr)
	type listener struct{ field, addr string }
	var others []listener
	if a := f.AuthServer; a != nil {
		others = append(others, listener{"authserver.listen", a.Listen})
	}
	if p := f.Proxy; p != nil {
		others = append(others, listener{"proxy.listen", p.Listen})
	}
	if d := f.DemoUpstream; d != nil {
		others = append(others, listener{"demo_upstream.listen", d.Listen})
	}
	for _, o := range others {
		if o.addr == addr {
			l.addf("metrics.listen", "%q is also %s; give metrics an address of its own", addr, o.field)
		}
	}
}

func (l *loader) hostPort(field, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		l.addf(field, "%q is not host:port (e.g. 127.0.0.1:9000 or :9000)", addr)
	}
}

func (l *loader) oneOf(field, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		l.addf(field, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
	}
}

func (l *loader) positive(field string, d time.Duration) {
	if d <= 0 {
		l.addf(field, "must be a positive duration such as 90s, 15m or 12h")
	}
}

func (l *loader) bcryptHash(field, hash string) {
	if hash == "" {
		l.addf(field, "is required; make one with `gatehouse hash-password`")
		return
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		l.addf(field, "is not a bcrypt hash; make one with `gatehouse hash-password`")
	}
}

func (l *loader) validateLoginThrottle(t *LoginThrottle) {
	const field = "authserver.login_throttle"
	for name, d := range map[string]time.Duration{"window": t.Window, "base_delay": t.BaseDelay, "max_delay": t.MaxDelay, "lock_duration": t.LockDuration} {
		l.positive(field+"."+name, d)
	}
	if t.MaxDelay > 0 && t.MaxDelay < t.BaseDelay {
		l.addf(field+".max_delay", "%s is shorter than base_delay %s", t.MaxDelay, t.BaseDelay)
	}
	if t.MaxEntries < 1 {
		l.addf(field+".max_entries", "must be a positive number")
	}
	for name, lim := range map[string]ThrottleLimits{"per_account": t.PerAccount, "per_ip": t.PerIP} {
		switch {
		case lim.DelayAfter < 1:
			l.addf(field+"."+name+".delay_after", "must be at least 1")
		case lim.LockAfter <= lim.DelayAfter:
			l.addf(field+"."+name+".lock_after", "must be more than delay_after (%d), or the delays never happen", lim.DelayAfter)
		}
	}
}

// passwordHash accepts what directory.New can verify: bcrypt or argon2id.
func (l *loader) passwordHash(field, hash string) {
	if hash == "" {
		l.addf(field, "is required; make one with `gatehouse hash-password`")
		return
	}
	if err := directory.ParsePasswordHash(hash); err != nil {
		l.addf(field, "%v", err)
	}
}

func lastPart(field string) string {
	return field[strings.LastIndex(field, ".")+1:]
}
