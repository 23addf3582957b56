package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
	"github.com/gatehouse/gatehouse/internal/cookiecrypt"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// Endpoint paths, relative to the issuer's path.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathKeys       = "/keys"
	PathAuthorize  = "/authorize"
	PathLogin      = "/login"
	PathConsent    = "/consent"
	PathToken      = "/token"
	PathRevoke     = "/revoke"     // RFC 7009
	PathIntrospect = "/introspect" // RFC 7662
	PathEndSession = "/logout"     // OpenID Connect RP-Initiated Logout 1.0
	PathUserInfo   = "/userinfo"
	PathAPIMe      = "/api/me"
	PathHealth     = "/healthz"
	PathReady      = "/readyz"
)

// Cookie names. Browsers do not separate cookies by port, so when the
// authserver and the proxy share a host name (localhost:9000 and
// localhost:8000) each sees the other's cookies. These names differ from the
// proxy's own but share its default "_gatehouse" prefix, which the proxy
// never forwards upstream: an app behind it must not receive a login
// session it could replay here.
const (
	SessionCookie = "_gatehouse_auth"
	CSRFCookie    = "_gatehouse_csrf"
	LangCookie    = "_gatehouse_lang" // the language picked with ?lang=
)

// Defaults for zero Config fields, which internal/config also fills in
// so that `gatehouse check` shows them.
const (
	DefaultSigningAlgorithm  = keys.ES256
	DefaultKeyRotationPeriod = 30 * 24 * time.Hour
	DefaultAuthCodeTTL       = 60 * time.Second
	DefaultAccessTokenTTL    = time.Hour
	DefaultIDTokenTTL        = time.Hour
	DefaultRefreshTokenTTL   = 30 * 24 * time.Hour
	DefaultLoginSessionTTL   = 12 * time.Hour
	DefaultConsentTTL        = 30 * 24 * time.Hour
)

// pendingRequestTTL is how long a person has to get through the login and
// consent pages of one authorization request.
const pendingRequestTTL = 30 * time.Minute

// maintenanceInterval is how often Maintain collects garbage and checks
// the signing key.
const maintenanceInterval = time.Minute

// maxFormBytes bounds every form body the server reads.
const maxFormBytes = 64 << 10

// Server is the OAuth 2.0 authorization server and OpenID Provider. It is an
// http.Handler serving every endpoint below the issuer's path.
type Server struct {
	cfg    Config
	issuer string // without a trailing slash, for building URLs
	base   string // the issuer's path without a trailing slash
	secure bool   // cookies get the Secure attribute
	origin string // the issuer's scheme://host[:port], as browsers send Origin
	log    *slog.Logger
	now    func() time.Time
	keys   *keys.Manager
	ui     *pages.Set
	mux    *http.ServeMux
	// dir holds the users and clients: cfg.Directory until Reload
	// replaces it.
	dir atomic.Pointer[directory.Directory]
	// handler is mux in the shared middleware.
	handler http.Handler
	metrics *metrics

	sessionCodecs []securecookie.Codec
	csrfCodecs    []securecookie.Codec
	requestCodecs []securecookie.Codec
	retryCodecs   []securecookie.Codec // nil when RefreshRetryGrace is zero

	discovery []byte

	throttle  *loginThrottle
	hashSlots chan struct{} // see authenticate
}

// New checks cfg, fills in its defaults, loads or creates the signing key
// and returns a Server ready to serve.
func New(cfg Config) (*Server, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil || (issuer.Scheme != "https" && issuer.Scheme != "http") || issuer.Host == "" ||
		issuer.RawQuery != "" || issuer.Fragment != "" || issuer.User != nil || strings.ContainsAny(issuer.Path, "{}") {
		return nil, fmt.Errorf("authserver: issuer %q must be an absolute http or https URL without query, fragment or user info", cfg.Issuer)
	}
	s := &Server{
		cfg:    cfg,
		issuer: strings.TrimSuffix(cfg.Issuer, "/"),
		base:   strings.TrimSuffix(issuer.Path, "/"),
		secure: issuer.Scheme == "https",
		origin: webOrigin(issuer),
		log:    cfg.Logger,
		now:    cfg.Now,
		mux:    http.NewServeMux(),

		throttle:  newLoginThrottle(cfg.LoginThrottle),
		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		metrics:   newMetrics(cfg.Metrics),
	}
	if cfg.Metrics != nil {
		s.cfg.Store = countingStore{cfg.Store, httpx.StoreErrors(cfg.Metrics, serverName)}
	}
	s.dir.Store(cfg.Directory)
	for _, c := range []struct {
		codecs  *[]securecookie.Codec
		purpose string
		maxAge  time.Duration
	}{
		{&s.sessionCodecs, "authserver-session", cfg.LoginSessionTTL},
		{&s.csrfCodecs, "authserver-csrf", pendingRequestTTL},
		{&s.requestCodecs, "authserver-request", pendingRequestTTL},
	} {
		if *c.codecs, err = cookiecrypt.Codecs(c.purpose, cfg.CookieSecrets, int(c.maxAge/time.Second)); err != nil {
			return nil, fmt.Errorf("authserver: cookie secrets: %w", err)
		}
	}
	if cfg.RefreshRetryGrace > 0 {
		// The codec's own age check runs on the wall clock in whole
		// seconds; the grace itself is checked against the store's UsedAt.
		maxAge := int((cfg.RefreshRetryGrace + time.Second - 1) / time.Second)
		if s.retryCodecs, err = cookiecrypt.Codecs("authserver-refresh-retry", cfg.CookieSecrets, maxAge); err != nil {
			return nil, fmt.Errorf("authserver: cookie secrets: %w", err)
		}
	}
	ui := cfg.Pages
	ui.LangCookie = http.Cookie{Name: LangCookie, Path: s.cookiePath(), Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	ui.Now, ui.Log = cfg.Now, cfg.Logger
	if s.ui, err = pages.New(ui); err != nil {
		return nil, fmt.Errorf("authserver: pages: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.keys, err = keys.New(ctx, keys.Config{
		Store:            s.cfg.Store,
		Algorithm:        cfg.SigningAlgorithm,
		RotationPeriod:   cfg.KeyRotationPeriod,
		MaxTokenLifetime: max(cfg.IDTokenTTL, cfg.AccessTokenTTL), // JWT access tokens are signed too
		Now:              cfg.Now,
		Logger:           cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.routes()
	s.handler = httpx.Middleware(s.mux, httpx.Options{Logger: cfg.Logger, AccessLog: cfg.AccessLog, Metrics: s.metrics.httpMetrics()})
	return s, nil
}

// withDefaults checks cfg and replaces zero values by their defaults.
func withDefaults(cfg Config) (Config, error) {
	if cfg.Directory == nil {
		return cfg, errors.New("authserver: no directory of users and clients given")
	}
	if cfg.Store == nil {
		return cfg, errors.New("authserver: no store given")
	}
	if cfg.SigningAlgorithm == "" {
		// keys.New checks the value.
		cfg.SigningAlgorithm = DefaultSigningAlgorithm
	}
	for _, d := range []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"KeyRotationPeriod", &cfg.KeyRotationPeriod, DefaultKeyRotationPeriod},
		{"AuthCodeTTL", &cfg.AuthCodeTTL, DefaultAuthCodeTTL},
		{"AccessTokenTTL", &cfg.AccessTokenTTL, DefaultAccessTokenTTL},
		{"IDTokenTTL", &cfg.IDTokenTTL, DefaultIDTokenTTL},
		{"RefreshTokenTTL", &cfg.RefreshTokenTTL, DefaultRefreshTokenTTL},
		{"LoginSessionTTL", &cfg.LoginSessionTTL, DefaultLoginSessionTTL},
		{"ConsentTTL", &cfg.ConsentTTL, DefaultConsentTTL},
	} {
		switch {
		case *d.value < 0:
			return cfg, fmt.Errorf("authserver: %s must not be negative, got %v", d.name, *d.value)
		case *d.value == 0:
			*d.value = d.def
		case *d.value < time.Second:
			return cfg, fmt.Errorf("authserver: %s must be at least one second, got %v", d.name, *d.value)
		}
	}
	if cfg.BackchannelClient == nil {
		cfg.BackchannelClient = defaultBackchannelClient()
	}
	if g := cfg.RefreshRetryGrace; g < 0 || g > MaxRefreshRetryGrace {
		return cfg, fmt.Errorf("authserver: RefreshRetryGrace must be between 0 (off) and %v, got %v", MaxRefreshRetryGrace, g)
	}
	if cfg.LoginThrottle == (LoginThrottle{}) {
		cfg.LoginThrottle = DefaultLoginThrottle()
	}
	if err := cfg.LoginThrottle.check(); err != nil {
		return cfg, fmt.Errorf("authserver: LoginThrottle: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

func (s *Server) routes() {
	// Each endpoint's path pattern is its route in logs and metrics: a
	// bounded set, unlike the paths people send.
	byPath := map[string]*httpx.RouteMetrics{}
	handle := func(method, path string, h http.Handler) {
		route := s.base + path
		rm, ok := byPath[route]
		if !ok {
			rm = s.metrics.httpMetrics().Route(route)
			byPath[route] = rm
		}
		pattern := route
		if method != "" {
			pattern = method + " " + route
		}
		s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.RecordOf(r.Context()).SetRoute(route, rm)
			h.ServeHTTP(w, r)
		}))
	}
	handle("GET", PathDiscovery, http.HandlerFunc(s.handleDiscovery))
	handle("GET", PathKeys, s.api(s.handleKeys))
	handle("GET", PathAuthorize, s.html(s.handleAuthorize))
	handle("POST", PathAuthorize, s.html(s.handleAuthorize))
	handle("GET", PathLogin, s.html(s.handleLoginPage))
	handle("POST", PathLogin, s.html(s.handleLogin))
	handle("GET", PathConsent, s.html(s.handleConsentPage))
	handle("POST", PathConsent, s.html(s.handleConsent))
	// Any method, so that a wrong one still gets an OAuth error.
	handle("", PathToken, s.api(s.handleToken))
	handle("", PathRevoke, s.api(s.handleRevoke))
	handle("", PathIntrospect, s.api(s.handleIntrospect))
	handle("GET", PathUserInfo, s.api(s.handleUserInfo))
	handle("POST", PathUserInfo, s.api(s.handleUserInfo))
	handle("GET", PathAPIMe, s.api(s.handleAPIMe))
	handle("GET", PathEndSession, s.html(s.handleEndSession))
	handle("POST", PathEndSession, s.html(s.handleEndSession))
	handle("GET", PathHealth, http.HandlerFunc(s.handleHealth))
	handle("GET", PathReady, http.HandlerFunc(s.handleReady))
}

// ServeHTTP serves the authorization server's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.handler.ServeHTTP(w, r)
}

// Maintain runs the background work until ctx is done: every minute it
// removes expired rows from the store and lets the key manager rotate the
// signing key when it is due. Run it in one goroutine per process; several
// replicas may each run it, since both tasks are safe to run concurrently.
func (s *Server) Maintain(ctx context.Context) {
	ticker := time.NewTicker(maintenanceInterval)
	defer ticker.Stop()
	for {
		s.maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// maintain runs one round of background work.
func (s *Server) maintain(ctx context.Context) {
	res, err := s.cfg.Store.GarbageCollect(ctx, s.now())
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.ErrorContext(ctx, "garbage collection failed", "error", err)
	case err == nil:
		level := slog.LevelDebug
		if res.AuthCodes+res.RefreshTokens+res.AccessTokens+res.Consents+res.SigningKeys+res.RevokedFamilies > 0 {
			level = slog.LevelInfo
		}
		s.log.Log(ctx, level, "expired rows removed",
			"auth_codes", res.AuthCodes, "refresh_tokens", res.RefreshTokens, "access_tokens", res.AccessTokens,
			"consents", res.Consents, "signing_keys", res.SigningKeys, "revoked_families", res.RevokedFamilies)
	}
	if err := s.keys.Refresh(ctx); err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "signing key check failed", "error", err)
	}
}

// webOrigin is the origin of u as a browser serialises it: lower case,
// without the scheme's default port.
func webOrigin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	if p := u.Port(); p == "443" && u.Scheme == "https" || p == "80" && u.Scheme == "http" {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host
}

// url returns the absolute URL of an endpoint path.
func (s *Server) url(path string) string { return s.issuer + path }

// cookiePath scopes the server's cookies to the issuer's path.
func (s *Server) cookiePath() string { return s.base + "/" }

// handleHealth answers whether the server is alive: it is, if it answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpx.ServeChecks(w, r, nil)
}

// handleReady answers whether the server can serve sign-ins: its store
// must answer.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	httpx.ServeChecks(w, r, s.ReadyChecks())
}

// ReadyChecks are the conditions of readiness, for /readyz here and for
// the metrics listener's process-wide /readyz.
func (s *Server) ReadyChecks() []httpx.Check {
	return []httpx.Check{{Name: "authserver store", Run: s.cfg.Store.Ping}}
}
