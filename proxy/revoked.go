package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// revocations lists what ended before its time: cookie-store sessions by
// id (signed out, replaced, refused by the provider), each until it would
// have expired; and, in every mode, the provider sessions and subjects that
// the provider's back-channel logout ended. With Shared, sign-outs at any
// replica reach every replica's list through WatchRevocations, so checking
// stays a local map lookup.
type revocations struct {
	now    func() time.Time
	shared Shared

	// count lets has skip the lock while nothing is revoked.
	count     atomic.Int64
	mu        sync.RWMutex
	ids       map[string]time.Time
	nextSweep int
}

// minRevocationSweep is the list size below which expired entries wait.
const minRevocationSweep = 1024

func newRevocations(now func() time.Time, shared Shared) *revocations {
	return &revocations{now: now, shared: shared, ids: map[string]time.Time{}, nextSweep: minRevocationSweep}
}

// Back-channel logouts are listed as prefix + the provider's value.
// Session ids, URL-safe base64, never contain ':'.
const (
	revokedSID = "sid:"
	revokedSub = "sub:"
)

// ended reports whether s was revoked: by its id, or by a back-channel
// logout of its provider session or its subject that came after s began.
func (l *revocations) ended(s *session) bool {
	if l.count.Load() == 0 {
		return false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if until, ok := l.ids[s.id]; ok && l.now().Before(until) {
		return true
	}
	return s.sid != "" && l.loggedOut(revokedSID, s.sid, s.expiry) || l.loggedOut(revokedSub, s.Subject, s.expiry)
}

// loggedOut reports whether a back-channel logout listed as prefix+value
// ends a session that expires at expiry. A logout is listed for one session
// TTL from its arrival, and every session lasts that TTL, so the sessions
// begun before it are those that expire no later than its listing.
func (l *revocations) loggedOut(prefix, value string, expiry time.Time) bool {
	// Indexing with a converted byte slice builds no string on the heap.
	var buf [128]byte
	until, ok := l.ids[string(append(append(buf[:0], prefix...), value...))]
	return ok && !expiry.After(until)
}

// add revokes session id until it would have expired, in Shared first so
// that a failure there is reported rather than half-done.
func (l *revocations) add(ctx context.Context, id string, until time.Time) error {
	if l.shared != nil {
		if err := l.shared.Revoke(ctx, id, until); err != nil {
			return err
		}
	}
	l.remember(id, until)
	return nil
}

// remember puts id on this process's list.
func (l *revocations) remember(id string, until time.Time) {
	now := l.now()
	if !now.Before(until) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Sweeping when the list has doubled since the last sweep keeps it
	// bounded by live revocations at constant amortised cost.
	if len(l.ids) >= l.nextSweep {
		for k, u := range l.ids {
			if !now.Before(u) {
				delete(l.ids, k)
			}
		}
		l.nextSweep = max(minRevocationSweep, 2*len(l.ids))
	}
	if u, ok := l.ids[id]; !ok || until.After(u) {
		l.ids[id] = until
	}
	l.count.Store(int64(len(l.ids)))
}

// Maintain keeps the proxy's shared state current until ctx ends: with
// Shared, or a SessionStore that is one, it follows the sign-outs and
// back-channel logouts of other replicas. Run it beside the server;
// without either it only waits.
func (p *Proxy) Maintain(ctx context.Context) {
	if p.revoked.shared == nil {
		<-ctx.Done()
		return
	}
	p.revoked.shared.WatchRevocations(ctx, p.revoked.remember)
}
