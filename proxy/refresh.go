package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/internal/pages"
)

const (
	// renewGrace is how long a refreshed session is handed to requests
	// still carrying the cookie it replaced: those the browser sent before
	// it had the new one.
	renewGrace = time.Minute
	// refreshLockTTL bounds a refresh lock, should its holder die.
	refreshLockTTL = 30 * time.Second
	// refreshWait is how long a request waits for another replica's
	// refresh of its session before giving up on it.
	refreshWait  = 5 * time.Second
	refreshPoll  = 50 * time.Millisecond
	refreshLimit = 20 * time.Second
	// maxRenewed bounds the refreshed sessions remembered for renewGrace.
	maxRenewed = 10000
)

// refresher makes sure each session is refreshed once, however many
// requests find it due at the same time: one per process (single-flight),
// one per deployment with a Locker.
type refresher struct {
	flight singleflight.Group

	mu      sync.Mutex
	renewed map[string]renewal // by session id
}

type renewal struct {
	s  *session
	at time.Time
}

// recent returns the refresh of session id past generation gen done in
// the last renewGrace, or nil.
func (f *refresher) recent(id string, gen uint64, now time.Time) *session {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.renewed[id]; ok && r.s.generation > gen && now.Sub(r.at) < renewGrace {
		return r.s
	}
	return nil
}

func (f *refresher) remember(s *session, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.renewed == nil {
		f.renewed = map[string]renewal{}
	}
	if len(f.renewed) >= maxRenewed {
		for id, r := range f.renewed {
			if now.Sub(r.at) >= renewGrace {
				delete(f.renewed, id)
			}
		}
	}
	if len(f.renewed) < maxRenewed {
		f.renewed[s.id] = renewal{s, now}
	}
}

// refreshError is a refresh that failed for now (provider unreachable,
// lock held too long): the session is still good until its tokens expire.
type refreshError struct{ err error }

func (e *refreshError) Error() string { return "refreshing the session: " + e.err.Error() }
func (e *refreshError) Unwrap() error { return e.err }

// refresh renews s with its refresh token and sets the renewed session's
// cookies on w. When the provider refuses (the grant was revoked, or the
// person changed), the session ends. When it cannot be reached, s is kept
// until its tokens expire, then the session ends too: nothing is forwarded
// with an identity the provider no longer vouches for.
func (p *Proxy) refresh(w http.ResponseWriter, r *http.Request, s *session) (*session, error) {
	if !s.tokensLoaded {
		if err := p.loadCookieTokens(r, s); err != nil {
			return nil, err
		}
	}
	v, err, _ := p.refresher.flight.Do(s.id, func() (any, error) {
		// The first request's client may go away; the others still wait.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), refreshLimit)
		defer cancel()
		return p.renew(ctx, r, s)
	})
	if err != nil {
		var transient *refreshError
		if errors.As(err, &transient) && p.now().Before(s.renewAt) {
			p.log.WarnContext(r.Context(), "session not refreshed; using it until its tokens expire", "user", s.Subject, "error", err)
			return s, nil
		}
		p.log.InfoContext(r.Context(), "session ended: it could not be refreshed", "user", s.Subject, "error", err)
		return nil, fmt.Errorf("%w: %w", errRefreshFailed, err)
	}
	renewed := *v.(*session) // shared with the other waiters: copy
	p.log.InfoContext(r.Context(), "session refreshed", "user", renewed.Subject, "generation", renewed.generation)
	if p.store == nil {
		if err := p.cookieSession(w, r, &renewed, p.cookieMaxAge(renewed.expiry)); err != nil {
			return nil, err
		}
	}
	return &renewed, nil
}

// renew returns s refreshed, by this request or, when one is under way or
// just done, by another.
func (p *Proxy) renew(ctx context.Context, r *http.Request, s *session) (*session, error) {
	if done := p.refresher.recent(s.id, s.generation, p.now()); done != nil {
		return done, nil
	}
	if locker := p.locker(); locker != nil {
		unlock, done, err := p.lockRefresh(ctx, locker, s)
		if done != nil || err != nil {
			return done, err
		}
		defer unlock()
		// Another replica may have finished between our load and the lock.
		if done := p.renewedElsewhere(ctx, s); done != nil {
			return done, nil
		}
	}
	renewed, err := p.redeemRefresh(ctx, r, s)
	if err != nil {
		var transient *refreshError
		if !errors.As(err, &transient) {
			p.metrics.refreshed(refreshFailed)
			p.revoke(ctx, s)
		} else {
			p.metrics.refreshed(refreshTransient)
		}
		return nil, err
	}
	p.metrics.refreshed(refreshRenewed)
	if err := p.publishRenewal(ctx, renewed); err != nil {
		return nil, &refreshError{err}
	}
	p.refresher.remember(renewed, p.now())
	return renewed, nil
}

// lockRefresh takes s's refresh lock, waiting while another replica holds
// it; or it returns that replica's result, done, once there is one.
func (p *Proxy) lockRefresh(ctx context.Context, locker Locker, s *session) (unlock func(), done *session, err error) {
	deadline := time.Now().Add(refreshWait)
	for {
		unlock, err := locker.Lock(ctx, "refresh/"+s.id, refreshLockTTL)
		if !errors.Is(err, ErrLocked) {
			if err != nil {
				return nil, nil, &refreshError{err}
			}
			return unlock, nil, nil
		}
		if done := p.renewedElsewhere(ctx, s); done != nil {
			return nil, done, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, &refreshError{errors.New("another replica is still refreshing this session")}
		}
		select {
		case <-ctx.Done():
			return nil, nil, &refreshError{ctx.Err()}
		case <-time.After(refreshPoll):
		}
	}
}

// locker is what keeps replicas from refreshing one session twice.
func (p *Proxy) locker() Locker {
	if p.shared != nil {
		return p.shared
	}
	l, _ := p.store.(Locker)
	return l
}

// renewalKey names a refreshed cookie-store session in Shared.
func renewalKey(id string) string { return "renewed/" + id }

// publishRenewal makes a refreshed session available to the replicas: in
// the SessionStore it replaces the session; in cookie mode with Shared it
// is kept briefly for the requests still carrying the old cookie.
func (p *Proxy) publishRenewal(ctx context.Context, s *session) error {
	switch {
	case p.store != nil:
		return p.saveRecord(ctx, s)
	case p.shared != nil:
		rec, err := encode(p.codecs.record, renewalKey(s.id), encodeRecord(s))
		if err != nil {
			return err
		}
		return p.shared.Save(ctx, renewalKey(s.id), []byte(rec), renewGrace)
	}
	return nil
}

// renewedElsewhere returns s as another replica refreshed it, or nil.
func (p *Proxy) renewedElsewhere(ctx context.Context, s *session) *session {
	var done *session
	switch {
	case p.store != nil:
		done, _ = p.loadRecord(ctx, s.id)
	case p.shared != nil:
		if rec, err := p.shared.Load(ctx, renewalKey(s.id)); err == nil {
			done, _ = p.decodeRecord(renewalKey(s.id), rec)
		}
	}
	if done == nil || done.id != s.id || done.generation <= s.generation {
		return nil
	}
	return done
}

// redeemRefresh asks the provider for fresh tokens and re-reads the
// person's claims, so changes (a group removed) take effect.
func (p *Proxy) redeemRefresh(ctx context.Context, r *http.Request, s *session) (*session, error) {
	ctx = p.discovery.context(ctx)
	op, err := p.discovery.get(ctx)
	if err != nil {
		return nil, &refreshError{err}
	}
	// No access token: x/oauth2 then always asks the token endpoint.
	tok, err := op.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: s.tokens.refresh}).Token()
	if err != nil {
		err = redactTokenError(err, s.tokens.refresh, p.cfg.Provider.ClientSecret)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client") {
			return nil, fmt.Errorf("the provider refused the refresh token: %w", err)
		}
		return nil, &refreshError{err}
	}
	who, err := p.identify(r.WithContext(ctx), op, tok, "", s)
	if err != nil {
		if pe, ok := errors.AsType[*pages.Error](err); ok && !errors.Is(err, errAnotherPerson) && pe.Status == http.StatusBadGateway {
			return nil, &refreshError{err}
		}
		return nil, err
	}
	renewed := *s
	renewed.generation++
	renewed.Identity = who.Identity
	t := tokens{access: tok.AccessToken, refresh: tok.RefreshToken, id: who.idToken, accessExpiry: p.accessExpiry(tok)}
	// A provider may keep the refresh token, or leave the ID token out
	// (RFC 6749 section 6, OIDC Core 12.2): the old ones stay good, as
	// does the provider's session id when the new ID token has none.
	t.refresh = cmp.Or(t.refresh, s.tokens.refresh)
	t.id = cmp.Or(t.id, s.tokens.id)
	renewed.sid = cmp.Or(who.sid, s.sid)
	renewed.setTokens(t, who.renewAt, p.keep(op))
	renewed.touched = p.now()
	return &renewed, nil
}
