package memstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/sessiontest"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) sessiontest.Backend {
		s := New(newClock().Now)
		return sessiontest.Backend{Store: s, TTL: func(t *testing.T, id string) time.Duration {
			s.mu.Lock()
			defer s.mu.Unlock()
			e, ok := s.entries[id]
			if !ok {
				return 0
			}
			return e.expires.Sub(s.now())
		}}
	})
}

func TestExpiry(t *testing.T) {
	c := newClock()
	s := New(c.Now)
	ctx := context.Background()
	if err := s.Save(ctx, "id", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute - time.Second)
	if _, err := s.Load(ctx, "id"); err != nil {
		t.Fatalf("Load 1s before expiry: %v", err)
	}
	c.Advance(time.Second)
	if _, err := s.Load(ctx, "id"); !errors.Is(err, proxy.ErrSessionNotFound) {
		t.Fatalf("Load at expiry: got %v, want ErrSessionNotFound", err)
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	c := newClock()
	s := New(c.Now)
	ctx := context.Background()
	for i := range minSweep {
		if err := s.Save(ctx, fmt.Sprint("old-", i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(2 * time.Minute)
	if err := s.Save(ctx, "new", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := len(s.entries); got != 1 {
		t.Fatalf("entries after the expired ones should have been swept: got %d, want 1", got)
	}
}
