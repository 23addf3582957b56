package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// testRefreshTokenRetry checks that what a rotation stores with the used
// token comes back with it, from GetRefreshToken and with ErrTokenReused,
// and that a refused rotation stores nothing.
func testRefreshTokenRetry(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefresh("rt-1", "fam-1", t0.Add(time.Hour))))
	retry := []byte("sealed answer \x00\xff")

	taken := newRefresh("rt-taken", "fam-2", t0.Add(time.Hour))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, taken))
	_, err := s.RotateRefreshToken(ctx, "rt-1", newRefresh("rt-taken", "fam-1", t0.Add(time.Hour)), []byte("lost"), t0)
	checkErr(t, "rotation into a taken ID", err, storage.ErrAlreadyExists)
	got, err := s.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "GetRefreshToken after a refused rotation", err, nil)
	if got.Retry != nil || !got.UsedAt.IsZero() {
		t.Fatalf("a refused rotation changed the token: UsedAt %v, Retry %q", got.UsedAt, got.Retry)
	}

	old, err := s.RotateRefreshToken(ctx, "rt-1", newRefresh("rt-2", "fam-1", t0.Add(time.Hour)), retry, t0)
	checkErr(t, "rotation", err, nil)
	if string(old.Retry) != string(retry) {
		t.Errorf("rotation returned Retry %q, want %q", old.Retry, retry)
	}
	got, err = s.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "GetRefreshToken of the used token", err, nil)
	if string(got.Retry) != string(retry) {
		t.Errorf("GetRefreshToken: Retry %q, want %q", got.Retry, retry)
	}
	old, err = s.RotateRefreshToken(ctx, "rt-1", newRefresh("rt-3", "fam-1", t0.Add(time.Hour)), []byte("second"), t0)
	checkErr(t, "replayed rotation", err, storage.ErrTokenReused)
	if string(old.Retry) != string(retry) {
		t.Errorf("replayed rotation: Retry %q, want the first rotation's %q", old.Retry, retry)
	}
	next, err := s.GetRefreshToken(ctx, "rt-2", t0)
	checkErr(t, "GetRefreshToken of the new token", err, nil)
	if next.Retry != nil {
		t.Errorf("new token has Retry %q, want none", next.Retry)
	}
	// No retry stored: nil comes back.
	_, err = s.RotateRefreshToken(ctx, "rt-2", newRefresh("rt-4", "fam-1", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation without retry", err, nil)
	if got, _ := s.GetRefreshToken(ctx, "rt-2", t0); got.Retry != nil {
		t.Errorf("rotation without retry stored %q", got.Retry)
	}
}

func testFamilyRevoked(t *testing.T, s storage.Store) {
	ctx := t.Context()
	until := t0.Add(time.Hour)
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "login/abc", until))
	for _, tc := range []struct {
		family string
		now    time.Time
		want   bool
	}{
		{"login/abc", t0, true},
		{"login/abc", until.Add(-time.Millisecond), true},
		{"login/abc", until, false},
		{"login/other", t0, false},
		{"", t0, false},
	} {
		got, err := s.FamilyRevoked(ctx, tc.family, tc.now)
		checkErr(t, "FamilyRevoked", err, nil)
		if got != tc.want {
			t.Errorf("FamilyRevoked(%q, %v) = %v, want %v", tc.family, tc.now, got, tc.want)
		}
	}
	// A later until extends the revocation; an earlier one does not shorten it.
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "login/abc", t0.Add(time.Minute)))
	if got, _ := s.FamilyRevoked(ctx, "login/abc", t0.Add(30*time.Minute)); !got {
		t.Error("an earlier until shortened the revocation")
	}
}

func testDeleteAccessToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, newAccess("at-1", "fam-1", t0.Add(time.Hour))))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, newAccess("at-2", "fam-1", t0.Add(time.Hour))))
	must(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, "at-1"))
	_, err := s.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "GetAccessToken of the deleted token", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, "at-2", t0)
	checkErr(t, "GetAccessToken of the other token", err, nil)
	checkErr(t, "DeleteAccessToken again", s.DeleteAccessToken(ctx, "at-1"), nil)
	checkErr(t, "DeleteAccessToken of an unknown token", s.DeleteAccessToken(ctx, "never"), nil)
}

func testClaimOnce(t *testing.T, s storage.Store) {
	ctx := t.Context()
	until := t0.Add(time.Minute)
	for _, tc := range []struct {
		name string
		key  string
		now  time.Time
		want error
	}{
		{"first claim", "form/1", t0, nil},
		{"second claim", "form/1", t0.Add(time.Second), storage.ErrAlreadyExists},
		{"1ms before expiry", "form/1", until.Add(-time.Millisecond), storage.ErrAlreadyExists},
		{"another key", "form/2", t0, nil},
	} {
		checkErr(t, tc.name, s.ClaimOnce(ctx, tc.key, until, tc.now), tc.want)
	}
	// At expiry the key is free again, and the new claim records its own until.
	checkErr(t, "claim at expiry", s.ClaimOnce(ctx, "form/1", until.Add(time.Hour), until), nil)
	checkErr(t, "claim of the renewed record", s.ClaimOnce(ctx, "form/1", until.Add(time.Hour), until.Add(time.Second)), storage.ErrAlreadyExists)

	res, err := s.GarbageCollect(ctx, until.Add(time.Hour))
	checkErr(t, "GarbageCollect", err, nil)
	if res.Claims != 2 {
		t.Errorf("GarbageCollect removed %d claims, want 2", res.Claims)
	}
}

// testConcurrentOnceClaims checks that of many simultaneous claims of one
// key, over one or two stores, exactly one succeeds.
func testConcurrentOnceClaims(t *testing.T, a, b storage.Store) {
	const n = 16
	errs := together(n, func(i int) error {
		return pick(a, b, i).ClaimOnce(t.Context(), "form/race", t0.Add(time.Minute), t0)
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrAlreadyExists):
			t.Errorf("claim %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent claims succeeded, want exactly 1", won, n)
	}
}

// testSharedExtras checks that each replica sees the other's revocations,
// deletions and claims.
func testSharedExtras(t *testing.T, a, b storage.Store) {
	ctx := t.Context()
	must(t, "RevokeFamily on a", a.RevokeFamily(ctx, "login/x", t0.Add(time.Hour)))
	if got, err := b.FamilyRevoked(ctx, "login/x", t0); err != nil || !got {
		t.Errorf("b.FamilyRevoked = %v, %v; want true", got, err)
	}
	must(t, "CreateAccessToken on a", a.CreateAccessToken(ctx, newAccess("at-x", "", t0.Add(time.Hour))))
	must(t, "DeleteAccessToken on b", b.DeleteAccessToken(ctx, "at-x"))
	_, err := a.GetAccessToken(ctx, "at-x", t0)
	checkErr(t, "a.GetAccessToken after b deleted it", err, storage.ErrNotFound)
	must(t, "ClaimOnce on a", a.ClaimOnce(ctx, "k", t0.Add(time.Hour), t0))
	checkErr(t, "ClaimOnce of the same key on b", b.ClaimOnce(ctx, "k", t0.Add(time.Hour), t0), storage.ErrAlreadyExists)
}
