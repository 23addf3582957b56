package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// Proxy signs people in with an OpenID Provider and forwards their requests
// to upstream applications. It is an http.Handler; build it with New.
type Proxy struct {
	cfg        Config
	now        func() time.Time
	log        *slog.Logger
	store      SessionStore
	codecs     codecs
	cookieName string
	discovery  *discovery
	routes     []*route // longest prefix first
}

// New checks cfg and builds a Proxy. It does not contact the provider:
// discovery happens on the first sign-in, and is retried until it succeeds.
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
		cfg.Provider.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(cfg.Provider.Scopes, "openid") {
		return nil, fmt.Errorf("Provider.Scopes %q must include openid: the proxy signs people in with an ID token", cfg.Provider.Scopes)
	}
	if cfg.Provider.HTTPClient == nil {
		cfg.Provider.HTTPClient = defaultProviderClient()
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = "_gatehouse"
	}
	if err := (&http.Cookie{Name: cfg.Cookie.Name, Value: "v"}).Valid(); err != nil {
		return nil, fmt.Errorf("Cookie.Name %q: %w", cfg.Cookie.Name, err)
	}
	if cfg.Cookie.SessionTTL < 0 {
		return nil, fmt.Errorf("Cookie.SessionTTL %s must not be negative", cfg.Cookie.SessionTTL)
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
	p := &Proxy{
		cfg:        cfg,
		now:        cfg.Now,
		log:        cfg.Logger,
		store:      cfg.Sessions,
		codecs:     cs,
		cookieName: cfg.Cookie.Name,
		discovery: &discovery{
			cfg:         cfg.Provider,
			redirectURL: strings.TrimSuffix(pub.String(), "/") + callbackPath,
			now:         cfg.Now,
		},
	}
	if p.routes, err = p.newRoutes(cfg.Routes); err != nil {
		return nil, err
	}
	return p, nil
}

// ServeHTTP serves the proxy's own pages under /oauth2/ and forwards every
// other request that has a valid session to its route's upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Routing and the reserved paths see the cleaned path, computed once,
	// so "/app/../oauth2/start" is the proxy's and "/a/../b" goes to /b's
	// upstream.
	clean := cleanPath(r.URL.Path)
	if clean == "/oauth2" || strings.HasPrefix(clean, reservedPrefix) {
		p.serveReserved(w, r, clean)
		return
	}
	rt := p.match(clean)
	if rt == nil {
		p.fail(w, r, &pageError{
			status:  http.StatusNotFound,
			title:   "Not found",
			message: "No application is configured at this address.",
		})
		return
	}
	value, rest, own := splitCookies(r.Header["Cookie"], p.cookieName)
	s, err := p.loadSession(r.Context(), value)
	if err != nil {
		s, err = p.loadShadowedSession(r.Context(), r.Header["Cookie"], value, err)
	}
	if err != nil {
		p.unauthenticated(w, r, err)
		return
	}
	fw := &forward{session: s, cookie: rest, stripCookies: own, path: forwardPath(r.URL.Path, clean)}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, fw)))
}

func (p *Proxy) serveReserved(w http.ResponseWriter, r *http.Request, clean string) {
	var err error
	switch clean {
	case startPath:
		err = p.start(w, r)
	case callbackPath:
		err = p.callback(w, r)
	case signOutPath:
		err = p.signOut(w, r)
	case userinfoPath:
		err = p.userinfo(w, r)
	default:
		err = &pageError{
			status:  http.StatusNotFound,
			title:   "Not found",
			message: "Paths under /oauth2/ belong to the sign-in proxy, and this one does not exist.",
		}
	}
	if err != nil {
		p.fail(w, r, err)
	}
}

// cleanPath is p as routes see it: rooted, without dot segments or
// repeated slashes.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return path.Clean(p)
}

// forwardPath is the path to send upstream when the request's own path is
// not clean: the upstream gets exactly the path that was routed (keeping a
// trailing slash). It is empty when the request's path can be sent as is.
func forwardPath(orig, clean string) string {
	if orig == clean || len(orig) == len(clean)+1 && orig[len(clean)] == '/' && orig[:len(clean)] == clean {
		return ""
	}
	if strings.HasSuffix(orig, "/") && clean != "/" {
		return clean + "/"
	}
	return clean
}

// maxShadowingCookies bounds the further session cookies tried when the
// first is unusable; more than one stray cookie of that name is unusual.
const maxShadowingCookies = 3

// Reasons a request has no usable session. Their text is shown to API
// clients.
var (
	errNoSession      = errors.New("no session")
	errSessionInvalid = errors.New("session cookie is not valid")
	errSessionExpired = errors.New("session expired")
	errSessionEnded   = errors.New("session has ended")
)

// storeError is a session store failure, which is not the visitor's fault.
type storeError struct{ err error }

func (e *storeError) Error() string { return "session store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// loadSession reads the session named by the session cookie's value. With
// the cookie store this is a local decryption only: no lock, no I/O.
func (p *Proxy) loadSession(ctx context.Context, value string) (*session, error) {
	if value == "" {
		return nil, errNoSession
	}
	var s *session
	if p.store == nil {
		b, err := decode(p.codecs.identity, p.cookieName, value)
		if err != nil {
			return nil, errSessionInvalid
		}
		if s, err = decodeIdentity(b); err != nil {
			return nil, errSessionInvalid
		}
	} else {
		id, err := decode(p.codecs.id, p.cookieName, value)
		if err != nil {
			return nil, errSessionInvalid
		}
		rec, err := p.store.Load(ctx, string(id))
		if errors.Is(err, ErrSessionNotFound) {
			return nil, errSessionEnded
		}
		if err != nil {
			return nil, &storeError{err}
		}
		b, err := decode(p.codecs.record, recordName(string(id)), string(rec))
		if err != nil {
			return nil, errSessionInvalid
		}
		if s, err = decodeRecord(b); err != nil || s.id != string(id) {
			return nil, errSessionInvalid
		}
	}
	if !p.now().Before(s.expiry) {
		return nil, errSessionExpired
	}
	return s, nil
}

// loadShadowedSession tries the session cookies after the first, whose
// value failed with err. A browser sends every cookie of that name, longest
// Path first, then oldest: a parent-domain cookie planted by a sibling site,
// or one left from an earlier Domain setting, would otherwise hide the real
// session and send the person round a sign-in loop. It returns err when no
// other cookie holds a usable session. Only a few are tried, so a request
// stuffed with cookies cannot make the proxy decrypt (or look up) each one.
func (p *Proxy) loadShadowedSession(ctx context.Context, lines []string, first string, err error) (*session, error) {
	if _, unreachable := err.(*storeError); unreachable {
		return nil, err
	}
	tries := 0
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if n != p.cookieName || v == "" || v == first {
				continue
			}
			if tries++; tries > maxShadowingCookies {
				return nil, err
			}
			if s, e := p.loadSession(ctx, v); e == nil {
				return s, nil
			}
		}
	}
	return nil, err
}

// recordName binds a stored record to its id, so one record cannot be
// moved under another id.
func recordName(id string) string { return "record/" + id }

// saveSession keeps s and sets the session cookie.
func (p *Proxy) saveSession(w http.ResponseWriter, r *http.Request, s *session) error {
	maxAge := p.cookieMaxAge(s.expiry)
	if p.store == nil {
		err := p.cookieSession(w, r, s, maxAge)
		if tooLarge := (*cookieTooLargeError)(nil); errors.As(err, &tooLarge) {
			return &pageError{
				status:  http.StatusInternalServerError,
				title:   "Your session is too large for a cookie",
				message: "You signed in, but " + tooLarge.Error() + ".",
				hint:    "The site's operator can keep sessions in Redis instead (session_store: redis), which has no such limit.",
				cause:   err,
			}
		}
		return err
	}
	rec, err := encode(p.codecs.record, recordName(s.id), encodeRecord(s))
	if err != nil {
		return err
	}
	if err := p.store.Save(r.Context(), s.id, []byte(rec), s.expiry.Sub(p.now())); err != nil {
		return &pageError{
			status:  http.StatusServiceUnavailable,
			title:   "Your session could not be saved",
			message: "You signed in, but the session store is unreachable.",
			hint:    "Try again in a moment.",
			cause:   err,
		}
	}
	value, err := encode(p.codecs.id, p.cookieName, []byte(s.id))
	if err != nil {
		return err
	}
	// The session this browser had before is replaced: end it, so a copy
	// of its cookie stops working too. Failing that, it expires by itself.
	old, _, _ := splitCookies(r.Header["Cookie"], p.cookieName)
	if id, err := decode(p.codecs.id, p.cookieName, old); err == nil {
		if err := p.store.Delete(r.Context(), string(id)); err != nil {
			p.log.WarnContext(r.Context(), "could not end the replaced session", "error", err)
		}
	}
	http.SetCookie(w, p.cookie(p.cookieName, value, maxAge))
	// Token chunks of an earlier cookie-store session are not needed.
	p.clearCookies(w, r, func(name string) bool { return p.chunkIndex(name) > 0 })
	return nil
}

// unauthenticated answers a request without a usable session: a browser
// navigating to a page is sent to sign in, anything else gets 401.
func (p *Proxy) unauthenticated(w http.ResponseWriter, r *http.Request, why error) {
	var se *storeError
	if errors.As(why, &se) {
		p.fail(w, r, &pageError{
			status:  http.StatusServiceUnavailable,
			title:   "Sessions are unavailable",
			message: "The proxy cannot reach its session store, so it cannot tell who you are.",
			hint:    "Try again in a moment.",
			cause:   se,
		})
		return
	}
	p.log.DebugContext(r.Context(), "no usable session", "path", r.URL.Path, "reason", why.Error())
	if !browserNavigation(r) {
		p.unauthorized(w, r, why.Error())
		return
	}
	if err := p.signIn(w, r, p.returnTarget(r, r.URL.RequestURI())); err != nil {
		p.fail(w, r, err)
	}
}

// browserNavigation reports whether r looks like a person opening a page,
// who can follow a redirect to sign in, rather than a script or API client.
// Scripts often ask for HTML too (htmx, Turbo, jQuery's load), but a
// redirect to the provider only fails in them, and each would start a sign-in
// flow that crowds out the person's own; browsers mark such requests with
// Sec-Fetch-Mode, and XMLHttpRequest libraries with X-Requested-With.
func browserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" || r.Header.Get("X-Requested-With") != "" {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
