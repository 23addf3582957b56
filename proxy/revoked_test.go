package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// TestRevocationsEnded: a session ends by its id, or by a back-channel
// logout of its provider session or subject listed after it began, and
// not by one listed before it began.
func TestRevocationsEnded(t *testing.T) {
	const ttl = 12 * time.Hour
	now := time.Unix(1800000000, 0)
	// A logout arriving at "at" is listed until at+ttl, as the endpoint
	// lists it; a session begun at "began" expires at began+ttl.
	longSID := strings.Repeat("s", 300)
	for _, tt := range []struct {
		name   string
		listed []string // ids and prefixed values, listed at logoutAt
		began  time.Duration
		sid    string
		want   bool
	}{
		{"nothing listed", nil, -time.Hour, "op-1", false},
		{"its id", []string{"sess"}, -time.Hour, "op-1", true},
		{"another id", []string{"other"}, -time.Hour, "op-1", false},
		{"its sid, logged out after it began", []string{revokedSID + "op-1"}, -time.Hour, "op-1", true},
		{"its sid, logged out the second it began", []string{revokedSID + "op-1"}, 0, "op-1", true},
		{"its sid, logged out before it began", []string{revokedSID + "op-1"}, time.Second, "op-1", false},
		{"another sid", []string{revokedSID + "op-2"}, -time.Hour, "op-1", false},
		{"no sid of its own", []string{revokedSID}, -time.Hour, "", false},
		{"a long sid", []string{revokedSID + longSID}, -time.Hour, longSID, true},
		{"its subject", []string{revokedSub + "user-42"}, -time.Hour, "op-1", true},
		{"its subject, logged out before it began", []string{revokedSub + "user-42"}, time.Minute, "op-1", false},
		{"another subject", []string{revokedSub + "user-7"}, -time.Hour, "op-1", false},
		{"a subject named like its sid", []string{revokedSub + "op-1"}, -time.Hour, "op-1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := now
			l := newRevocations(func() time.Time { return clock }, nil)
			s := &session{id: "sess", sid: tt.sid, expiry: now.Add(tt.began + ttl), Identity: policy.Identity{Subject: "user-42"}}
			for _, id := range tt.listed {
				until := now.Add(ttl)
				if !strings.Contains(id, ":") {
					until = s.expiry // a session id, until it would have expired
				}
				if err := l.add(context.Background(), id, until); err != nil {
					t.Fatal(err)
				}
			}
			clock = now.Add(time.Minute)
			if got := l.ended(s); got != tt.want {
				t.Fatalf("ended: got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRevocationsEndedAllocates nothing, listed or not: live runs it on
// every request.
func TestRevocationsEndedAllocates(t *testing.T) {
	now := time.Unix(1800000000, 0)
	l := newRevocations(func() time.Time { return now }, nil)
	s := &session{id: "sess", sid: "0b8f5c3e-2d8c-4a43-9d3f-6c1f0e7a9b21", expiry: now.Add(time.Hour), Identity: policy.Identity{Subject: "248289761001"}}
	for _, listed := range []string{"", revokedSID + "another", revokedSub + "someone"} {
		if listed != "" {
			l.remember(listed, now.Add(time.Hour))
		}
		if n := testing.AllocsPerRun(100, func() { l.ended(s) }); n != 0 {
			t.Errorf("with %d listed: %v allocations per check, want 0", l.count.Load(), n)
		}
	}
}
