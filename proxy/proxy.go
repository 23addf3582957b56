package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/proxy/canonical"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// Proxy signs people in with an OpenID Provider and forwards their requests
// to upstream applications. It is an http.Handler; build it with New.
type Proxy struct {
	// cfg is the configuration New was given. Its Routes, TrustedProxies,
	// AllowedRedirectDomains and Bearer are those of the first state only:
	// what requests use of them is in state, which Reload replaces.
	cfg        Config
	now        func() time.Time
	log        *slog.Logger
	store      SessionStore
	shared     Shared
	sessionCfg SessionConfig
	revoked    *revocations
	refresher  refresher
	codecs     codecs
	cookieName string
	ui         *pages.Set
	discovery  *discovery
	// usedLogouts are the back-channel logout tokens already used.
	usedLogouts *usedTokens

	// state is what the configuration says about requests. A request
	// loads it once and uses that one throughout, whatever reloads happen
	// meanwhile.
	state atomic.Pointer[compiled]
	// reloadMu serialises Reload, so that two reloads cannot both close
	// the transports of the state they replace.
	reloadMu sync.Mutex

	// checker checks tokens against the discovered provider, whose
	// settings a reload does not change; checkerMu serialises building it.
	checkerMu sync.Mutex
	checker   atomic.Pointer[tokenChecker]

	// handler is serve in the shared middleware.
	handler http.Handler
	metrics *metrics
}

// compiled is what compile makes of the parts of a Config that Reload may
// replace. It is never changed once built, so requests read it without
// locks.
type compiled struct {
	routes     *routeTable
	headers    *headerFilter
	trusted    trustedProxies
	redirects  redirectPolicy
	claimNames []string // the non-standard claims sessions keep
	// routeTokens are the tokens some route passes upstream.
	routeTokens tokenSet
	bearer      *bearerAuth
	// transports are the upstream connection pools the routes use.
	transports []*http.Transport
}

// New checks cfg and builds a Proxy. It does not contact the provider:
// discovery happens on the first sign-in, and is retried until it succeeds.
// Problems with routes, trusted proxies and redirect domains are returned
// together as ConfigErrors.
func New(cfg Config) (*Proxy, error) {
	pub := cfg.PublicURL
	if pub == nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, errors.New("PublicURL must be an absolute http or https URL, e.g. http://localhost:8000")
	}
	if strings.Trim(pub.Path, "/") != "" || pub.RawQuery != "" || pub.Fragment != "" {
		return nil, fmt.Errorf("PublicURL %s must be an origin without path or query: the proxy owns every path", pub)
	}
	if cfg.Provider.IssuerURL == "" || cfg.Provider.ClientID == "" {
		return nil, errors.New("Provider.IssuerURL and Provider.ClientID are required")
	}
	if len(cfg.Provider.Scopes) == 0 {
		cfg.Provider.Scopes = DefaultScopes()
	}
	if !slices.Contains(cfg.Provider.Scopes, "openid") {
		return nil, fmt.Errorf("Provider.Scopes %q must include openid: the proxy signs people in with an ID token", cfg.Provider.Scopes)
	}
	if cfg.Provider.HTTPClient == nil {
		cfg.Provider.HTTPClient = defaultProviderClient()
	}
	// The provider's logs of a sign-in then carry the request id of the
	// proxy's.
	providerClient := *cfg.Provider.HTTPClient
	providerClient.Transport = httpx.PassRequestID(providerClient.Transport)
	cfg.Provider.HTTPClient = &providerClient
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = DefaultCookieName
	}
	if err := (&http.Cookie{Name: cfg.Cookie.Name, Value: "v"}).Valid(); err != nil {
		return nil, fmt.Errorf("Cookie.Name %q: %w", cfg.Cookie.Name, err)
	}
	sc := &cfg.Session
	if sc.TTL < 0 || sc.IdleTTL < 0 || sc.RefreshSkew < 0 {
		return nil, fmt.Errorf("Session durations must not be negative: TTL %s, IdleTTL %s, RefreshSkew %s", sc.TTL, sc.IdleTTL, sc.RefreshSkew)
	}
	sc.TTL = cmp.Or(sc.TTL, DefaultSessionTTL)
	sc.RefreshSkew = cmp.Or(sc.RefreshSkew, DefaultRefreshSkew)
	if cfg.Sessions != nil && cfg.Shared != nil {
		return nil, errors.New("Shared is for sessions kept in cookies; with a SessionStore, leave it nil")
	}
	if pub.Scheme == "https" && cfg.Cookie.Domain == "" && !strings.HasPrefix(cfg.Cookie.Name, "__") {
		// The browser then refuses the cookie unless it is Secure, for
		// this host only and for every path: no sibling host or plain-HTTP
		// page can plant or shadow it.
		cfg.Cookie.Name, cfg.Cookie.Secure = hostPrefix+cfg.Cookie.Name, true
	}
	cs, err := newCodecs(cfg.Cookie.Secrets)
	if err != nil {
		return nil, fmt.Errorf("Cookie.Secrets: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := newMetrics(cfg.Metrics)
	cfg.Sessions = m.countErrors(cfg.Sessions)
	if cfg.Shared != nil {
		cfg.Shared = m.countErrors(cfg.Shared).(Shared)
	}
	// A store that replicas share shares back-channel logouts too.
	revocationsShared := cfg.Shared
	if shared, ok := cfg.Sessions.(Shared); ok {
		revocationsShared = shared
	}
	p := &Proxy{
		cfg:        cfg,
		now:        cfg.Now,
		log:        cfg.Logger,
		store:      cfg.Sessions,
		shared:     cfg.Shared,
		sessionCfg: cfg.Session,
		revoked:    newRevocations(cfg.Now, revocationsShared),
		codecs:     cs,
		cookieName: cfg.Cookie.Name,
		metrics:    m,
		discovery: &discovery{
			cfg:         cfg.Provider,
			redirectURL: strings.TrimSuffix(pub.String(), "/") + CallbackPath,
			now:         cfg.Now,
		},
	}
	p.usedLogouts = newUsedTokens(cfg.Now, p.locker())
	ui := cfg.Pages
	ui.LangCookie = *p.cookie(p.cookieName+"_lang", "", 0)
	ui.Now, ui.Log = cfg.Now, cfg.Logger
	if p.ui, err = pages.New(ui); err != nil {
		return nil, fmt.Errorf("proxy: pages: %w", err)
	}
	c, err := p.compile(&cfg, nil)
	if err != nil {
		return nil, err
	}
	p.state.Store(c)
	p.handler = httpx.Middleware(http.HandlerFunc(p.serve), httpx.Options{Logger: cfg.Logger, AccessLog: cfg.AccessLog, Metrics: m.httpMetrics()})
	return p, nil
}

// Check reports the problems New would find in cfg's routes, trusted
// proxies and redirect domains, as ConfigErrors, without building anything
// else.
func Check(cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, cookieName: cmp.Or(cfg.Cookie.Name, DefaultCookieName)}
	_, err := p.compile(&cfg, nil)
	return err
}

// compile prepares everything cfg says about requests. prev is the state
// it replaces, if any, whose stateful parts carry over.
func (p *Proxy) compile(cfg *Config, prev *compiled) (*compiled, error) {
	var ps problems
	c := &compiled{routes: compileRoutes(cfg.Routes, &ps)}
	var headerNames []string
	for _, rt := range c.routes.inOrder {
		for _, h := range rt.forward.headers {
			headerNames = append(headerNames, h.name)
		}
	}
	// Every route's identity headers are removed from every request, so
	// no client can send one to an app that trusts it.
	c.headers = newHeaderFilter(headerNames)
	// Transports are always new, so that a reload also rereads the
	// upstreams' CA and client certificate files.
	pool := newUpstreamPool(p.log)
	for i, rt := range c.routes.inOrder {
		var rc Route
		if i < len(cfg.Routes) {
			rc = cfg.Routes[i]
		}
		rt.headers = c.headers
		compileForwarding(rt, rc, c.headers, &ps)
		p.compileUpstream(rt, rc, pool, &ps)
		rt.metrics = p.metrics.route(rt.name)
		if rt.policy != nil {
			c.claimNames = appendNew(c.claimNames, rt.policy.ClaimNames()...)
		}
		c.claimNames = appendNew(c.claimNames, rt.forward.claimNames()...)
		c.routeTokens |= rt.forward.tokens()
	}
	for _, tr := range pool.transports {
		c.transports = append(c.transports, tr)
	}
	c.trusted = compileTrustedProxies(cfg.TrustedProxies, &ps)
	c.redirects = compileRedirects(cfg.PublicURL, cfg.AllowedRedirectDomains, &ps)
	c.checkCookieReach(cfg, &ps)
	var prevBearer *bearerAuth
	if prev != nil {
		prevBearer = prev.bearer
	}
	c.bearer = compileBearer(cfg, prevBearer, &ps)
	return c, ps.err()
}

// closeIdle closes the idle upstream connections of c's transports.
func (c *compiled) closeIdle() {
	for _, tr := range c.transports {
		tr.CloseIdleConnections()
	}
}

// checkCookieReach refuses routes on hosts that the session cookie is not
// sent to: everyone would be sent round a sign-in loop there.
func (c *compiled) checkCookieReach(cfg *Config, ps *problems) {
	if cfg.PublicURL == nil {
		return
	}
	public := cfg.PublicURL.Hostname()
	domain := strings.ToLower(strings.TrimPrefix(cfg.Cookie.Domain, "."))
	for _, rt := range c.routes.inOrder {
		if rt.host == "" || rt.host == public {
			continue
		}
		host := strings.TrimPrefix(rt.host, ".")
		if rt.wildcard {
			host = "*" + rt.host
		}
		// A wildcard route is checked with a host it matches.
		sample := rt.host
		if rt.wildcard {
			sample = "x" + rt.host
		}
		if domain == "" || sample != domain && !strings.HasSuffix(sample, "."+domain) {
			ps.add(rt.field+".host", "%s does not receive the session cookie, which is set for %s only; set cookie.domain to a domain above both (e.g. %s)", host, public, parentDomain(public))
			continue
		}
		if !c.redirects.allowsHost(sample) {
			ps.add(rt.field+".host", "%s is not in allowed_redirect_domains, so people signing in there would land on %s instead; add .%s there", host, public, domain)
		}
	}
}

func parentDomain(host string) string {
	if _, rest, ok := strings.Cut(host, "."); ok && strings.Contains(rest, ".") {
		return rest
	}
	return "example.com"
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// target is what routing made of a request: its canonical host and path,
// the route that serves it, and why it needs no sign-in, if it does not.
type target struct {
	method string
	host   string // canonical; "" when no route names a host
	path   string // canonical
	route  *route
	// exact is the route an exact-case match of the path picks, when that
	// is another: a case-sensitive upstream reads the request as exact's,
	// so exact's policy must admit the person too.
	exact     *route
	exemption string
}

// errNoRoute is a request no route serves.
var errNoRoute = errors.New("no route matches")

// resolve finds the route for a request to host (a Host header or URL
// authority) with the path as sent on the wire. The proxy's routing,
// forward-auth and explain all go through it. It fails with a
// *canonical.Error for a path or host that cannot be canonicalised, and
// with errNoRoute.
func (c *compiled) resolve(method, host, rawPath string) (target, error) {
	t := target{method: method}
	var err error
	if t.path, err = canonical.Path(rawPath); err != nil {
		return t, err
	}
	// A request without Host (HTTP/1.0) can only match routes without one.
	if c.routes.anyHosts && host != "" {
		if t.host, err = canonical.Host(host); err != nil {
			return t, err
		}
	}
	if isReserved(t.path) {
		return t, nil
	}
	if t.route = c.routes.match(t.host, t.path); t.route == nil {
		return t, errNoRoute
	}
	if !matchSegments(t.path, t.route.segs, exactly) {
		if exact := c.routes.matchExact(t.host, t.path); exact != t.route {
			t.exact = exact
		}
	}
	t.exemption = t.route.exemption(method, t.path)
	return t, nil
}

// authorize applies the target's route policies to a signed-in person and
// returns the decision and the route whose policy made it.
func (p *Proxy) authorize(ctx context.Context, t *target, id *policy.Identity) (policy.Decision, *route) {
	rt := t.route
	d := rt.policy.Decide(id)
	if d.Allowed && t.exact != nil {
		if de := t.exact.policy.Decide(id); !de.Allowed {
			d, rt = de, t.exact
		}
	}
	level := slog.LevelInfo
	msg := "access denied"
	if d.Allowed {
		level, msg = slog.LevelDebug, "access allowed"
	} else {
		p.metrics.denied(rt.name, d.Rule)
	}
	if p.log.Enabled(ctx, level) {
		p.log.LogAttrs(ctx, level, msg,
			slog.String("route", rt.name), slog.String("rule", d.Rule), slog.String("reason", d.Reason()),
			slog.String("user", id.Subject), slog.String("method", t.method), slog.String("path", t.path))
	}
	return d, rt
}

// ServeHTTP serves the proxy's own pages under /oauth2/ and forwards every
// other request that its route admits to the route's upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.handler.ServeHTTP(w, r)
}

// serve is ServeHTTP inside the middleware.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	c := p.state.Load()
	raw := requestPath(r)
	t, err := c.resolve(r.Method, r.Host, raw)
	if err != nil {
		p.misrouted(w, r, err)
		return
	}
	if t.route == nil {
		p.serveReserved(w, r, c, t.path)
		return
	}
	rt := t.route
	rec := httpx.RecordOf(r.Context())
	rec.SetRoute(rt.name, rt.metrics)
	if rt.proxy == nil {
		p.fail(w, r, notFound("This address is only checked for an edge proxy (forward-auth); no application is served here."))
		return
	}
	value, rest, own := splitCookies(r.Header["Cookie"], p.cookieName)
	fw := &forward{route: rt, cookie: rest, stripCookies: own, trusted: c.trusted.contains(r.RemoteAddr)}
	if t.exemption != "" {
		if p.log.Enabled(r.Context(), slog.LevelDebug) {
			p.log.DebugContext(r.Context(), "no sign-in needed", "route", rt.name, "rule", t.exemption, "method", r.Method, "path", t.path)
		}
	} else {
		s, err := p.authenticate(w, r, value, rt.forward.tokens() != 0, true)
		if value == "" {
			s, err = p.bearerInstead(r, c.bearer, s, err)
			if p.bearerFailed(w, r, err) {
				return
			}
		}
		if err != nil {
			p.unauthenticated(w, r, c, &t, err)
			return
		}
		rec.SetUser(s.Subject)
		if d, by := p.authorize(r.Context(), &t, &s.Identity); !d.Allowed {
			p.forbidden(w, r, by, s, d, p.requestURL(r, &t))
			return
		}
		fw.session = s
	}
	// The upstream gets the canonical path, so it reads the request the
	// way routing and policy did.
	if up := rt.upstreamPath(t.path); up != raw {
		fw.path = up
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, fw)))
}

// requestPath is the path of r's target as the client sent it, still
// percent-encoded. An absolute-form target ("GET http://host/path") is
// routed by its path like any other: the upstream is always the route's,
// never the URL's host, so the proxy is no open proxy. Any other form
// ("*", CONNECT's host:port) is returned as is, for routing to refuse.
func requestPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" { // a request built in process
		return r.URL.EscapedPath()
	}
	if i := strings.Index(uri, "://"); i > 0 && !strings.ContainsAny(uri[:i], "/?") {
		rest := uri[i+len("://"):]
		j := strings.IndexAny(rest, "/?#")
		if j < 0 || rest[j] != '/' {
			return "/"
		}
		uri = rest[j:]
	}
	if strings.HasPrefix(uri, "/") {
		path, _, _ := strings.Cut(uri, "?")
		return path
	}
	return uri
}

// misrouted answers a request that resolve could not place.
func (p *Proxy) misrouted(w http.ResponseWriter, r *http.Request, err error) {
	if pe := ambiguous(err); pe != nil {
		p.fail(w, r, pe)
		return
	}
	p.fail(w, r, notFound("No application is configured at this address."))
}

// ambiguous is the 400 for a path or host without a canonical form, or nil
// when err is another error.
func ambiguous(err error) *pages.Error {
	var ce *canonical.Error
	if !errors.As(err, &ce) {
		return nil
	}
	return &pages.Error{Status: http.StatusBadRequest, Kind: "ambiguous", Detail: "The address is ambiguous: " + ce.Reason + ".", Cause: err}
}

func notFound(detail string) *pages.Error {
	return &pages.Error{Status: http.StatusNotFound, Kind: "not_found", Detail: detail}
}

func (p *Proxy) serveReserved(w http.ResponseWriter, r *http.Request, c *compiled, clean string) {
	httpx.RecordOf(r.Context()).SetRoute(p.metrics.reservedRoute(clean))
	var err error
	switch clean {
	case startPath:
		err = p.start(w, r, c)
	case CallbackPath:
		err = p.callback(w, r)
		p.metrics.signIn(err)
	case HealthPath:
		err = p.healthz(w, r)
	case ReadyPath:
		err = p.readyz(w, r)
	case signOutPath:
		err = p.signOut(w, r, c)
	case signedOutPath:
		err = p.signedOut(w, r, c)
	case userinfoPath:
		err = p.userinfo(w, r, c)
	case BackchannelLogoutPath:
		err = p.backchannelLogout(w, r)
	case authPath:
		err = p.forwardAuth(w, r, c)
	default:
		err = notFound("Paths under /oauth2/ belong to the sign-in proxy, and this one does not exist.")
	}
	if err != nil {
		p.fail(w, r, err)
	}
}

// unauthenticated answers a request without a usable session: a browser
// navigating to a page is sent to sign in, anything else gets 401.
func (p *Proxy) unauthenticated(w http.ResponseWriter, r *http.Request, c *compiled, t *target, why error) {
	var se *storeError
	if errors.As(why, &se) {
		p.fail(w, r, &pages.Error{Status: http.StatusServiceUnavailable, Kind: "sessions_down", Cause: se})
		return
	}
	p.log.DebugContext(r.Context(), "no usable session", "path", t.path, "reason", why.Error())
	if !browserNavigation(r.Method, r.Header) {
		// A cookie that cannot be used again goes; signIn does the same.
		p.clearSession(w, r)
		p.unauthorized(w, r, why.Error())
		return
	}
	if err := p.signIn(w, r, p.returnTarget(r, c, p.requestURL(r, t)), p.ui.Chosen(r)); err != nil {
		p.fail(w, r, err)
	}
}

// requestURL is where to return to after signing in for a request: its path
// and query on the proxy's own host, or its whole URL on another.
func (p *Proxy) requestURL(r *http.Request, t *target) string {
	// The canonical path, escaped again: "/a%3Fb" must not come back as
	// "/a?b".
	uri := (&url.URL{Path: t.path}).EscapedPath()
	if r.URL.RawQuery != "" {
		uri += "?" + r.URL.RawQuery
	}
	if t.host == "" || t.host == p.cfg.PublicURL.Hostname() {
		return uri
	}
	return p.cfg.PublicURL.Scheme + "://" + r.Host + uri
}

// forbidden answers a signed-in person whom the policy of rt refuses,
// offering to sign in as someone else and return to back.
func (p *Proxy) forbidden(w http.ResponseWriter, r *http.Request, rt *route, s *session, d policy.Decision, back string) {
	who := cmp.Or(s.PreferredUsername, s.Email, s.Subject)
	p.fail(w, r, &pages.Error{
		Status:  http.StatusForbidden,
		Kind:    "forbidden",
		Args:    []any{"user", who, "route", rt.name},
		Detail:  fmt.Sprintf("Route %s, rule %s: %s.", rt.name, d.Rule, d.Reason()),
		Actions: []pages.Action{{Key: "action.sign_in_other", URL: signOutPath + "?rd=" + url.QueryEscape(back)}},
		Code:    "access_denied",
	})
}

// browserNavigation reports whether a request with this method and these
// headers looks like a person opening a page, who can follow a redirect to
// sign in, rather than a script or API client. Scripts often ask for HTML
// too (htmx, Turbo, jQuery's load), but a redirect to the provider only fails
// in them, and each would start a sign-in flow that crowds out the person's
// own; browsers mark such requests with Sec-Fetch-Mode, and XMLHttpRequest
// libraries with X-Requested-With.
func browserNavigation(method string, h http.Header) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	if mode := h.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" || h.Get("X-Requested-With") != "" {
		return false
	}
	// A protocol upgrade (WebSocket) cannot follow a redirect, even when
	// its client asks for HTML.
	if h.Get("Upgrade") != "" || strings.Contains(strings.ToLower(strings.Join(h["Connection"], ",")), "upgrade") {
		return false
	}
	return strings.Contains(h.Get("Accept"), "text/html")
}
