package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// revocations lists the cookie-store sessions that ended before their
// time (signed out, replaced, refused by the provider), each until it would
// have expired. With Shared, sign-outs at any replica reach every replica's
// list through WatchRevocations, so checking stays a local map lookup.
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

// has reports whether session id was revoked.
func (l *revocations) has(id string) bool {
	if l.count.Load() == 0 {
		return false
	}
	l.mu.RLock()
	until, ok := l.ids[id]
	l.mu.RUnlock()
	return ok && l.now().Before(until)
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
// Shared, it follows the sign-outs of other replicas. Run it beside the
// server; without Shared it only waits.
func (p *Proxy) Maintain(ctx context.Context) {
	if p.revoked.shared == nil {
		<-ctx.Done()
		return
	}
	p.revoked.shared.WatchRevocations(ctx, p.revoked.remember)
}
