package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// This file is the session lifecycle: load, renew, save, end. Everything
// that reads or writes a session goes through it; cookies.go and codec.go
// only say how values are carried.

// SessionStore keeps sessions on the server, so the session cookie carries
// only an encrypted random session id. That keeps cookies small whatever the
// provider's tokens weigh, and lets sign-out revoke a session everywhere at
// once. Values are opaque to the store: the proxy encrypts them before Save.
type SessionStore interface {
	// Save stores value under id for ttl, replacing any earlier value.
	Save(ctx context.Context, id string, value []byte, ttl time.Duration) error
	// Load returns the value stored under id, or ErrSessionNotFound when
	// there is none or it has expired.
	Load(ctx context.Context, id string) ([]byte, error)
	// Delete removes id; deleting an id that is not stored is not an error.
	Delete(ctx context.Context, id string) error
}

// ErrSessionNotFound is returned by SessionStore.Load for an unknown or
// expired session id.
var ErrSessionNotFound = errors.New("session not found")

// Locker is implemented by stores that several replicas share. It keeps
// two of them from refreshing one session at once: a provider that rotates
// refresh tokens would take the second use of one for theft and end the
// session.
type Locker interface {
	// Lock takes the lock called name for at most ttl. It returns
	// ErrLocked when someone else holds it. unlock releases it if it is
	// still this caller's.
	Lock(ctx context.Context, name string, ttl time.Duration) (unlock func(), err error)
}

// ErrLocked is returned by Locker.Lock for a lock someone else holds.
var ErrLocked = errors.New("locked")

// Shared is what replicas keeping sessions in cookies share: a store for
// short-lived values (a refreshed session, for the replicas still seeing
// the cookie before it), locks, and the list of ended sessions.
type Shared interface {
	SessionStore
	Locker
	// Revoke records that id ended: a session id, or a provider session
	// or subject ("sid:…", "sub:…", any bytes after the prefix) that a
	// back-channel logout ended. It is remembered until.
	Revoke(ctx context.Context, id string, until time.Time) error
	// WatchRevocations calls add for every revoked session still
	// remembered and then for each new one, until ctx ends. It returns
	// only when ctx ends, retrying what fails in between.
	WatchRevocations(ctx context.Context, add func(id string, until time.Time))
}

// session is what the proxy knows about a signed-in person.
type session struct {
	// id is random. With a SessionStore it names the stored record; with
	// the cookie store it binds the token cookies to this session cookie,
	// so tokens from one session cannot be paired with another's identity,
	// and names the session in the revocation list.
	id string
	// generation counts refreshes: a cookie of an earlier generation was
	// replaced, though it may still be in flight.
	generation uint64
	// expiry is the absolute end, Session.TTL after signing in.
	expiry time.Time
	// touched is when use of the session was last recorded, for
	// Session.IdleTTL; zero when not known (older sessions).
	touched time.Time
	// renewAt is when the provider's tokens expire: the identity is
	// refreshed shortly before, or the session ends then without a refresh
	// token.
	renewAt time.Time
	// kept says which tokens the session holds: only those needed.
	kept tokenSet
	// sid is the provider's session id (the ID token's sid), which its
	// back-channel logout names; empty when the provider sends none.
	sid string

	policy.Identity

	// tokens are filled only where the proxy reads the whole session: they
	// are not needed to forward most requests.
	tokens       tokens
	tokensLoaded bool
}

// tokens are the provider's tokens for a session.
type tokens struct {
	access       string
	refresh      string
	id           string
	accessExpiry time.Time
}

// tokenSet says which tokens a session keeps.
type tokenSet byte

const (
	keepAccess tokenSet = 1 << iota
	keepRefresh
	keepID
	keepAll = keepAccess | keepRefresh | keepID
)

func (k tokenSet) has(t tokenSet) bool { return k&t != 0 }

// only returns t without the tokens k does not keep.
func (k tokenSet) only(t tokens) tokens {
	if !k.has(keepAccess) {
		t.access = ""
	}
	if !k.has(keepRefresh) {
		t.refresh = ""
	}
	if !k.has(keepID) {
		t.id = ""
	}
	return t
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
	errSessionIdle    = errors.New("session ended after a time without use")
	errSessionEnded   = errors.New("session has ended")
	errRefreshFailed  = errors.New("session could not be renewed with the provider")
)

// storeError is a session store failure, which is not the visitor's fault.
type storeError struct{ err error }

func (e *storeError) Error() string { return "session store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// authenticate returns the session of r, whose first session cookie has
// the value given, renewed first if that is due: its tokens refreshed
// shortly before they expire, its use recorded for idle expiry. A renewed
// session's cookies are set on w, whatever the response. With needTokens
// the tokens are read too. In cookie mode, a request that renews nothing
// costs a decryption and no I/O.
//
// forBrowser says that w's cookies reach the browser. Forward-auth answers
// reach an edge proxy, which does not pass them on; there a cookie-mode
// session is not renewed, since the browser would keep the old cookie.
func (p *Proxy) authenticate(w http.ResponseWriter, r *http.Request, value string, needTokens, forBrowser bool) (*session, error) {
	s, err := p.loadSession(r.Context(), value)
	if err != nil {
		s, err = p.loadShadowedSession(r.Context(), r.Header["Cookie"], value, err)
	}
	if err != nil {
		return nil, err
	}
	now := p.now()
	cookieUnseen := p.store == nil && !forBrowser
	switch {
	case cookieUnseen && s.kept.has(keepRefresh) && !now.Before(s.renewAt):
		return nil, errSessionExpired
	case cookieUnseen:
	case s.kept.has(keepRefresh) && !now.Before(s.renewAt.Add(-p.sessionCfg.RefreshSkew)):
		if s, err = p.refresh(w, r, s); err != nil {
			return nil, err
		}
	case p.sessionCfg.IdleTTL > 0 && now.Sub(s.touched) >= p.sessionCfg.IdleTTL/10:
		s.touched = now
		if err := p.touch(w, r, s); err != nil {
			// The session is still good; recording its use is retried on
			// the next request.
			p.log.WarnContext(r.Context(), "could not record session use", "error", err)
		}
	}
	if needTokens && !s.tokensLoaded {
		if err := p.loadCookieTokens(r, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// loadSession reads the session named by the session cookie's value and
// checks that it is still live.
func (p *Proxy) loadSession(ctx context.Context, value string) (*session, error) {
	s, err := p.readSession(ctx, value)
	if err != nil {
		return nil, err
	}
	return s, p.live(s)
}

// readSession reads the session named by the session cookie's value,
// live or not. With the cookie store this is a local decryption only.
func (p *Proxy) readSession(ctx context.Context, value string) (*session, error) {
	if value == "" {
		return nil, errNoSession
	}
	if p.store == nil {
		b, err := decode(p.codecs.identity, p.cookieName, value)
		if err != nil {
			return nil, errSessionInvalid
		}
		s, err := decodeIdentity(b)
		if err != nil {
			return nil, errSessionInvalid
		}
		return s, nil
	}
	id, err := decode(p.codecs.id, p.cookieName, value)
	if err != nil {
		return nil, errSessionInvalid
	}
	return p.loadRecord(ctx, string(id))
}

// loadRecord reads a session from the SessionStore.
func (p *Proxy) loadRecord(ctx context.Context, id string) (*session, error) {
	rec, err := p.store.Load(ctx, id)
	if errors.Is(err, ErrSessionNotFound) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, &storeError{err}
	}
	s, err := p.decodeRecord(recordName(id), rec)
	if err != nil || s.id != id {
		return nil, errSessionInvalid
	}
	return s, nil
}

// live checks the session's limits against the clock and the revocation
// list.
func (p *Proxy) live(s *session) error {
	now := p.now()
	switch {
	case !now.Before(s.expiry):
		return errSessionExpired
	case !s.kept.has(keepRefresh) && !now.Before(s.renewAt):
		return errSessionExpired
	case p.sessionCfg.IdleTTL > 0 && !s.touched.IsZero() && !now.Before(s.touched.Add(p.sessionCfg.IdleTTL)):
		return errSessionIdle
	case p.revoked.ended(s):
		return errSessionEnded
	}
	return nil
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

// newSession starts a session for a person who just signed in.
func (p *Proxy) newSession(who identified, t tokens, kept tokenSet) *session {
	now := p.now()
	s := &session{
		id:           randomToken(),
		expiry:       now.Add(p.sessionCfg.TTL),
		touched:      now,
		sid:          who.sid,
		Identity:     who.Identity,
		tokensLoaded: true,
	}
	s.setTokens(t, who.renewAt, kept)
	return s
}

// setTokens gives s new tokens, valid until renewAt, keeping only those
// in kept, and the refresh token only when the session outlives renewAt.
func (s *session) setTokens(t tokens, renewAt time.Time, kept tokenSet) {
	if t.refresh == "" || !renewAt.Before(s.expiry) {
		kept &^= keepRefresh
	}
	if t.access == "" {
		kept &^= keepAccess
	}
	if t.id == "" {
		kept &^= keepID
	}
	s.kept, s.renewAt, s.tokens = kept, renewAt, kept.only(t)
}

// keep says which tokens new sessions keep: those some route passes
// upstream, the ID token as the hint for the provider's logout, and the
// refresh token (which setTokens drops when the session does not outlive
// the tokens). It reads the latest routes, which the session will meet.
func (p *Proxy) keep(op *provider) tokenSet {
	k := keepRefresh | p.state.Load().routeTokens
	if op.endSession != "" {
		k |= keepID
	}
	return k
}

// saveSession keeps a new session and sets its cookie, ending the session
// this browser had before.
func (p *Proxy) saveSession(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := p.writeSession(w, r, s); err != nil {
		return err
	}
	in := "cookie"
	if p.store != nil {
		in = "session store"
	}
	p.log.DebugContext(r.Context(), "session stored", "user", s.Subject, "in", in, "expires", s.expiry)
	if old, err := p.readSession(r.Context(), p.sessionCookie(r)); err == nil && old.id != s.id {
		p.revoke(r.Context(), old)
	}
	return nil
}

// writeSession stores s (in its cookies, or in the SessionStore with its
// id in the cookie) and sets the cookies on w.
func (p *Proxy) writeSession(w http.ResponseWriter, r *http.Request, s *session) error {
	maxAge := p.cookieMaxAge(s.expiry)
	if p.store == nil {
		err := p.cookieSession(w, r, s, maxAge)
		if tooLarge := (*cookieTooLargeError)(nil); errors.As(err, &tooLarge) {
			return &pages.Error{Status: http.StatusInternalServerError, Kind: "session_too_large", Detail: tooLarge.Error() + ".", Cause: err}
		}
		return err
	}
	if err := p.saveRecord(r.Context(), s); err != nil {
		return &pages.Error{Status: http.StatusServiceUnavailable, Kind: "session_not_saved", Cause: err}
	}
	value, err := encode(p.codecs.id, p.cookieName, []byte(s.id))
	if err != nil {
		return err
	}
	http.SetCookie(w, p.cookie(p.cookieName, value, maxAge))
	// Token chunks of an earlier cookie-store session are not needed.
	p.clearChunks(w, r, 0)
	return nil
}

// saveRecord writes s to the SessionStore.
func (p *Proxy) saveRecord(ctx context.Context, s *session) error {
	rec, err := encode(p.codecs.record, recordName(s.id), encodeRecord(s))
	if err != nil {
		return err
	}
	return p.store.Save(ctx, s.id, []byte(rec), s.expiry.Sub(p.now()))
}

// decodeRecord parses an encrypted record made by saveRecord.
func (p *Proxy) decodeRecord(name string, rec []byte) (*session, error) {
	b, err := decode(p.codecs.record, name, string(rec))
	if err != nil {
		return nil, err
	}
	s, err := decodeRecord(b)
	if err != nil {
		return nil, err
	}
	s.tokensLoaded = true
	return s, nil
}

// touch records a use of s. In cookie mode only the small session cookie
// changes: the token cookies are bound to the session id, which stays.
func (p *Proxy) touch(w http.ResponseWriter, r *http.Request, s *session) error {
	if p.store != nil {
		return p.saveRecord(r.Context(), s)
	}
	return p.identityCookie(w, s, p.cookieMaxAge(s.expiry))
}

// endSession ends the browser's session: it is revoked server-side and
// every cookie of the proxy is cleared. It returns the session that ended,
// live or not, for the provider's logout, or nil if there was none.
func (p *Proxy) endSession(w http.ResponseWriter, r *http.Request) (*session, error) {
	s, err := p.readSession(r.Context(), p.sessionCookie(r))
	var se *storeError
	if errors.As(err, &se) {
		return nil, err
	}
	if s != nil {
		if p.store == nil && s.kept.has(keepID) {
			// The ID token is the hint for the provider's logout; a
			// missing or damaged token cookie only loses the hint.
			p.loadCookieTokens(r, s)
		}
		if err := p.revokeOrFail(r.Context(), s); err != nil {
			return nil, err
		}
	}
	p.clearCookies(w, r, func(string) bool { return true })
	return s, nil
}

// revoke ends s server-side, logging a failure: the caller goes on, and
// the session expires by itself.
func (p *Proxy) revoke(ctx context.Context, s *session) {
	if err := p.revokeOrFail(ctx, s); err != nil {
		p.log.WarnContext(ctx, "could not end the replaced session", "error", err)
	}
}

// revokeOrFail ends s server-side: its record is deleted, or, in cookie
// mode, its id is listed as ended until it would have expired, so a copy
// of its cookie stops working too.
func (p *Proxy) revokeOrFail(ctx context.Context, s *session) error {
	if p.store != nil {
		return p.store.Delete(ctx, s.id)
	}
	return p.revoked.add(ctx, s.id, s.expiry)
}

// sessionCookie is the value of the request's first session cookie.
func (p *Proxy) sessionCookie(r *http.Request) string {
	v, _, _ := splitCookies(r.Header["Cookie"], p.cookieName)
	return v
}
