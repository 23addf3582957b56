package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

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

// session is what the proxy knows about a signed-in person.
type session struct {
	// id is random. With a SessionStore it names the stored record; with
	// the cookie store it binds the token cookies to this session cookie,
	// so tokens from one session cannot be paired with another's identity.
	id     string
	expiry time.Time

	policy.Identity

	// tokens are filled only where the proxy reads the whole session: they
	// are not needed to forward a request.
	tokens tokens
}

// tokens are the provider's tokens for a session.
type tokens struct {
	access       string
	refresh      string
	id           string
	accessExpiry time.Time
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

// sessionFor loads the session of r, whose first session cookie has the
// value given.
func (p *Proxy) sessionFor(r *http.Request, value string) (*session, error) {
	s, err := p.loadSession(r.Context(), value)
	if err != nil {
		s, err = p.loadShadowedSession(r.Context(), r.Header["Cookie"], value, err)
	}
	return s, err
}

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
