package authserver

import (
	"context"
	"errors"
	"testing"
)

// TestAuthenticateWaitsForASlot fills every hashing slot and checks that a
// login waits rather than hashing, gives up with its request, and proceeds
// once a slot is free.
func TestAuthenticateWaitsForASlot(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	for range cap(s.hashSlots) {
		s.hashSlots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := s.authenticate(ctx, "alice", alicePassword)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("with every slot taken and the request gone: got %v, want context.Canceled", err)
	}
	<-s.hashSlots
	u, err := s.authenticate(t.Context(), "alice", alicePassword)
	if err != nil || u == nil || u.ID != "alice" {
		t.Fatalf("with a free slot: got %v, %v; want alice", u, err)
	}
	if len(s.hashSlots) != cap(s.hashSlots)-1 {
		t.Errorf("%d slots taken after the login, want the slot given back", len(s.hashSlots))
	}
}
