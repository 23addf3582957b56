package proxy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// Reserved paths. CallbackPath, under PublicURL, is the redirect URI to
// register at the provider, BackchannelLogoutPath its back-channel logout
// URI.
const (
	reservedPrefix        = "/oauth2/"
	startPath             = "/oauth2/start"
	CallbackPath          = "/oauth2/callback"
	signOutPath           = "/oauth2/sign_out"
	userinfoPath          = "/oauth2/userinfo"
	BackchannelLogoutPath = "/oauth2/backchannel_logout"
	// HealthPath answers whether the proxy is alive, ReadyPath whether it
	// can sign people in.
	HealthPath = "/oauth2/healthz"
	ReadyPath  = "/oauth2/readyz"
)

// reservedPaths are the proxy's own endpoints, each its own route in logs
// and metrics.
var reservedPaths = [...]string{startPath, CallbackPath, signOutPath, signedOutPath, userinfoPath,
	BackchannelLogoutPath, authPath, HealthPath, ReadyPath}

const (
	// flowTTL is how long a person has to sign in at the provider.
	flowTTL = 10 * time.Minute
	// maxFlows bounds concurrent sign-ins (one per tab) per browser.
	maxFlows = 5
	// flowNameChars of the state name a flow's cookie, enough to tell
	// concurrent flows apart.
	flowNameChars = 16
)

// flow is a sign-in in progress, kept in its own cookie between the redirect
// to the provider and the callback.
type flow struct {
	state    string
	nonce    string
	verifier string // PKCE code verifier
	returnTo string
	created  time.Time
}

func (f *flow) encode() []byte {
	b := appendString(nil, f.state)
	b = appendString(b, f.nonce)
	b = appendString(b, f.verifier)
	b = appendString(b, f.returnTo)
	return binary.AppendUvarint(b, uint64(f.created.Unix()))
}

func decodeFlow(b []byte) (*flow, error) {
	d := decoder{s: string(b)}
	f := &flow{state: d.string(), nonce: d.string(), verifier: d.string(), returnTo: d.string(), created: d.time()}
	if d.bad || d.s != "" || f.state == "" || f.created.IsZero() {
		return nil, errMalformed
	}
	return f, nil
}

// flowCookieName names the cookie of the flow with this state: one cookie
// per flow, so sign-ins started in two tabs do not overwrite each other.
func (p *Proxy) flowCookieName(state string) string {
	return p.cookieName + flowInfix + state[:min(len(state), flowNameChars)]
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return base64.RawURLEncoding.EncodeToString(b)
}

// start handles /oauth2/start: sign in, then return to rd.
func (p *Proxy) start(w http.ResponseWriter, r *http.Request, c *compiled) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	// A language picked here carries on to the provider's pages.
	lang := r.URL.Query().Get("lang")
	if !p.ui.Remember(w, lang) {
		lang = p.ui.Chosen(r)
	}
	return p.signIn(w, r, p.returnTarget(r, c, r.URL.Query().Get("rd")), lang)
}

// signIn sends the browser to the provider's authorization endpoint with a
// fresh state, nonce and PKCE challenge, remembered in a flow cookie, and
// the language the person picked on the proxy's pages, if any, as
// ui_locales (OpenID Connect Core section 3.1.2.1).
func (p *Proxy) signIn(w http.ResponseWriter, r *http.Request, returnTo, lang string) error {
	op, err := p.discovery.get(r.Context())
	if err != nil {
		return &pages.Error{Status: http.StatusServiceUnavailable, Kind: "provider_down",
			Detail: "The provider's discovery document at " + p.cfg.Provider.IssuerURL + " could not be fetched.", Cause: err}
	}
	f := &flow{
		state:    randomToken(),
		nonce:    randomToken(),
		verifier: oauth2.GenerateVerifier(),
		returnTo: returnTo,
		created:  p.now(),
	}
	name := p.flowCookieName(f.state)
	value, err := encode(p.codecs.flow, name, f.encode())
	if err != nil {
		return err
	}
	p.pruneFlows(w, r)
	// Whatever session this browser had ends here: the one signing in now
	// gets a new one, never one that someone else planted (fixation).
	if old := p.sessionCookie(r); old != "" {
		if s, err := p.readSession(r.Context(), old); err == nil {
			p.revoke(r.Context(), s)
		}
		p.clearSession(w, r)
	}
	http.SetCookie(w, p.cookie(name, value, int(flowTTL.Seconds())))
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}
	if lang != "" {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", lang))
	}
	p.log.DebugContext(r.Context(), "sign-in started", "provider", p.cfg.Provider.IssuerURL, "ui_locales", lang)
	redirect(w, op.oauth2.AuthCodeURL(f.state, opts...))
	return nil
}

// pruneFlows keeps the number of flow cookies bounded: it deletes the ones
// that are unreadable or expired and, if too many remain, the oldest, so a
// new flow fits.
func (p *Proxy) pruneFlows(w http.ResponseWriter, r *http.Request) {
	prefix := p.cookieName + flowInfix
	var live []*http.Cookie
	var created []time.Time
	for _, c := range p.ownCookies(r) {
		if !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		f, err := p.readFlowCookie(c)
		if err != nil || p.now().Sub(f.created) > flowTTL {
			http.SetCookie(w, p.cookie(c.Name, "", -1))
			continue
		}
		live = append(live, c)
		created = append(created, f.created)
	}
	for len(live) >= maxFlows {
		oldest := 0
		for i := range created {
			if created[i].Before(created[oldest]) {
				oldest = i
			}
		}
		http.SetCookie(w, p.cookie(live[oldest].Name, "", -1))
		live = slices.Delete(live, oldest, oldest+1)
		created = slices.Delete(created, oldest, oldest+1)
	}
}

// readFlowCookie decrypts and parses a flow cookie.
func (p *Proxy) readFlowCookie(c *http.Cookie) (*flow, error) {
	b, err := decode(p.codecs.flow, c.Name, c.Value)
	if err != nil {
		return nil, err
	}
	f, err := decodeFlow(b)
	if err != nil {
		return nil, err
	}
	// The cookie's name is derived from the state it carries; a cookie
	// renamed by hand fails the MAC above, this catches our own mistakes.
	if p.flowCookieName(f.state) != c.Name {
		return nil, errMalformed
	}
	return f, nil
}

// flowFor finds and checks the flow cookie for state.
func (p *Proxy) flowFor(r *http.Request, state string) (*flow, *pages.Error) {
	c, err := r.Cookie(p.flowCookieName(state))
	if err != nil {
		return nil, &pages.Error{Status: http.StatusBadRequest, Kind: "flow_unknown", Cause: fmt.Errorf("no flow cookie for state %.8s…", state)}
	}
	f, err := p.readFlowCookie(c)
	if err != nil {
		return nil, &pages.Error{Status: http.StatusBadRequest, Kind: "flow_cookie", Cause: fmt.Errorf("flow cookie: %w", err)}
	}
	if subtle.ConstantTimeCompare([]byte(f.state), []byte(state)) != 1 {
		return nil, &pages.Error{Status: http.StatusBadRequest, Kind: "flow_mismatch", Cause: errors.New("state does not match the flow cookie")}
	}
	if age := p.now().Sub(f.created); age > flowTTL || age < -time.Minute {
		return nil, startAgain(&pages.Error{Status: http.StatusBadRequest, Kind: "flow_expired", Args: []any{"duration", flowTTL},
			Cause: fmt.Errorf("flow is %s old", age.Round(time.Second))}, f.returnTo)
	}
	return f, nil
}
