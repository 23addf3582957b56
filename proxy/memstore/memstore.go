// Package memstore keeps proxy sessions in the proxy's memory. It suits a
// single proxy instance that wants server-side sign-out without running
// Redis; sessions do not survive a restart and are not shared between
// replicas.
package memstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

var _ proxy.SessionStore = (*Store)(nil)

// minSweep is the size below which expired entries are left for Load to
// find, rather than swept.
const minSweep = 1024

// Store is an in-memory proxy.SessionStore, safe for concurrent use.
type Store struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]entry
	nextSweep int
}

type entry struct {
	value   []byte
	expires time.Time
}

// New returns an empty Store that tells time with now (time.Now when nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, entries: map[string]entry{}, nextSweep: minSweep}
}

// Save stores a copy of value under id until ttl has passed.
func (s *Store) Save(_ context.Context, id string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memstore: session ttl must be positive")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Sweeping when the map has doubled since the last sweep keeps memory
	// bounded by live sessions at constant amortised cost.
	if len(s.entries) >= s.nextSweep {
		for k, e := range s.entries {
			if !now.Before(e.expires) {
				delete(s.entries, k)
			}
		}
		s.nextSweep = max(minSweep, 2*len(s.entries))
	}
	s.entries[id] = entry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

// Load returns the value stored under id, or proxy.ErrSessionNotFound.
func (s *Store) Load(_ context.Context, id string) ([]byte, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil, proxy.ErrSessionNotFound
	}
	if !now.Before(e.expires) {
		delete(s.entries, id)
		return nil, proxy.ErrSessionNotFound
	}
	return append([]byte(nil), e.value...), nil
}

// Delete removes id.
func (s *Store) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
	return nil
}
