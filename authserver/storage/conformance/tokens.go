package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

func testRefreshTokenRotation(t *testing.T, s storage.Store) {
	first := newRefresh("rt-1", "fam-1", t0.Add(time.Hour))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), first))

	second := newRefresh("rt-2", "fam-1", t0.Add(2*time.Hour))
	second.CreatedAt = t0
	old, err := s.RotateRefreshToken(t.Context(), first.ID, second, nil, oddTime)
	checkErr(t, "first rotation", err, nil)
	wantOld := first
	wantOld.UsedAt = oddTime
	checkEqual(t, "token returned by the first rotation", old, wantOld)

	third := newRefresh("rt-3", "fam-1", t0.Add(3*time.Hour))
	old, err = s.RotateRefreshToken(t.Context(), second.ID, third, nil, t0.Add(time.Minute))
	checkErr(t, "rotation of the rotated-in token", err, nil)
	wantOld = second
	wantOld.UsedAt = t0.Add(time.Minute)
	checkEqual(t, "token returned by the second rotation", old, wantOld)
}

func testRefreshTokenGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newRefresh("rt-1", "fam-1", oddTime.Add(time.Hour))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))
	for i := range 2 { // reading neither consumes the token nor marks it used
		got, err := s.GetRefreshToken(ctx, first.ID, t0)
		checkErr(t, fmt.Sprintf("GetRefreshToken #%d of the unused token", i+1), err, nil)
		checkEqual(t, "unused token", got, first)
	}
	_, err := s.GetRefreshToken(ctx, "unknown", t0)
	checkErr(t, "GetRefreshToken of an unknown token", err, storage.ErrNotFound)

	second := newRefresh("rt-2", "fam-1", t0.Add(2*time.Hour))
	second.CreatedAt = t0.Add(time.Minute)
	_, err = s.RotateRefreshToken(ctx, first.ID, second, nil, t0.Add(time.Minute))
	checkErr(t, "rotation after the reads", err, nil)
	got, err := s.GetRefreshToken(ctx, first.ID, t0.Add(2*time.Minute))
	checkErr(t, "GetRefreshToken of the rotated token", err, nil)
	wantOld := first
	wantOld.UsedAt = t0.Add(time.Minute)
	checkEqual(t, "rotated token", got, wantOld)
	got, err = s.GetRefreshToken(ctx, second.ID, t0.Add(2*time.Minute))
	checkErr(t, "GetRefreshToken of the rotated-in token", err, nil)
	checkEqual(t, "rotated-in token", got, second)

	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-1", t0.Add(time.Hour)))
	for _, id := range []string{first.ID, second.ID} {
		_, err = s.GetRefreshToken(ctx, id, t0.Add(2*time.Minute))
		checkErr(t, "GetRefreshToken of revoked "+id, err, storage.ErrNotFound)
	}
}

// testRefreshTokenGetExpiry checks that used and unused tokens alike are
// found until they expire, and not from then on.
func testRefreshTokenGetExpiry(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefresh("unused", "f", t0.Add(time.Hour))))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefresh("used", "f", t0.Add(time.Hour))))
	_, err := s.RotateRefreshToken(ctx, "used", newRefresh("used-next", "f", t0.Add(2*time.Hour)), nil, t0)
	must(t, "rotation", err)
	for _, id := range []string{"unused", "used"} {
		t.Run(id, func(t *testing.T) {
			checkExpiry(t, "GetRefreshToken", t0.Add(time.Hour), nil, func(now time.Time) error {
				_, err := s.GetRefreshToken(ctx, id, now)
				return err
			})
		})
	}
}

func testRefreshTokenReuse(t *testing.T, s storage.Store) {
	first := newRefresh("rt-1", "fam-1", t0.Add(time.Hour))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), first))
	_, err := s.RotateRefreshToken(t.Context(), first.ID, newRefresh("rt-2", "fam-1", t0.Add(time.Hour)), nil, t0)
	must(t, "first rotation", err)

	old, err := s.RotateRefreshToken(t.Context(), first.ID, newRefresh("rt-3", "fam-1", t0.Add(time.Hour)), nil, t0.Add(time.Second))
	checkErr(t, "replay of a rotated token", err, storage.ErrTokenReused)
	wantOld := first
	wantOld.UsedAt = t0
	checkEqual(t, "token returned with ErrTokenReused", old, wantOld)

	// The refused rotation must not have stored its token.
	_, err = s.RotateRefreshToken(t.Context(), "rt-3", newRefresh("rt-4", "fam-1", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation of the token a refused rotation offered", err, storage.ErrNotFound)
}

func testRefreshTokenNotFound(t *testing.T, s storage.Store) {
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newRefresh("at-now", "f", t0)))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newRefresh("used-expired", "f", t0.Add(time.Minute))))
	_, err := s.RotateRefreshToken(t.Context(), "used-expired", newRefresh("x", "f", t0.Add(time.Hour)), nil, t0)
	must(t, "rotation", err)

	tests := []struct {
		name string
		id   string
		now  time.Time
	}{
		{"never issued", "unknown", t0},
		{"expires at now", "at-now", t0},
		{"used and expired", "used-expired", t0.Add(time.Minute)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := newRefresh(fmt.Sprintf("next-%d", i), "f", t0.Add(time.Hour))
			_, err := s.RotateRefreshToken(t.Context(), tc.id, next, nil, tc.now)
			checkErr(t, "RotateRefreshToken", err, storage.ErrNotFound)
		})
	}
}

func testRefreshTokenAlreadyExists(t *testing.T, s storage.Store) {
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newRefresh("rt-1", "fam-1", t0.Add(time.Hour))))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newRefresh("rt-2", "fam-2", t0.Add(time.Hour))))
	checkErr(t, "CreateRefreshToken with a taken ID",
		s.CreateRefreshToken(t.Context(), newRefresh("rt-1", "fam-3", t0.Add(time.Hour))), storage.ErrAlreadyExists)

	// A rotation whose new ID is taken changes nothing: the old token stays
	// unused and can still be rotated.
	_, err := s.RotateRefreshToken(t.Context(), "rt-1", newRefresh("rt-2", "fam-1", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation into a taken ID", err, storage.ErrAlreadyExists)
	old, err := s.RotateRefreshToken(t.Context(), "rt-1", newRefresh("rt-3", "fam-1", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation after the refused one", err, nil)
	if old.FamilyID != "fam-1" {
		t.Errorf("rotated token's family: got %q, want fam-1 (the duplicate create must not have replaced it)", old.FamilyID)
	}
}

func testRevokeFamily(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, "create", s.CreateRefreshToken(ctx, newRefresh("a-1", "fam-a", t0.Add(time.Hour))))
	_, err := s.RotateRefreshToken(ctx, "a-1", newRefresh("a-2", "fam-a", t0.Add(time.Hour)), nil, t0)
	must(t, "rotate", err)
	must(t, "create", s.CreateRefreshToken(ctx, newRefresh("b-1", "fam-b", t0.Add(time.Hour))))
	must(t, "create", s.CreateAccessToken(ctx, newAccess("at-a", "fam-a", t0.Add(time.Hour))))
	must(t, "create", s.CreateAccessToken(ctx, newAccess("at-b", "fam-b", t0.Add(time.Hour))))
	must(t, "create", s.CreateAccessToken(ctx, newAccess("at-none", "", t0.Add(time.Hour))))

	until := t0.Add(time.Hour)
	must(t, "RevokeFamily(fam-a)", s.RevokeFamily(ctx, "fam-a", until))
	must(t, "RevokeFamily of an unknown family", s.RevokeFamily(ctx, "fam-unknown", until))
	must(t, `RevokeFamily("")`, s.RevokeFamily(ctx, "", until))

	for _, id := range []string{"a-1", "a-2"} {
		_, err := s.RotateRefreshToken(ctx, id, newRefresh("next-"+id, "fam-a", t0.Add(time.Hour)), nil, t0)
		checkErr(t, "rotation of revoked "+id, err, storage.ErrNotFound)
	}
	_, err = s.GetAccessToken(ctx, "at-a", t0)
	checkErr(t, "access token of the revoked family", err, storage.ErrNotFound)

	_, err = s.RotateRefreshToken(ctx, "b-1", newRefresh("b-2", "fam-b", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation in another family", err, nil)
	for _, id := range []string{"at-b", "at-none"} {
		_, err = s.GetAccessToken(ctx, id, t0)
		checkErr(t, "access token "+id+" outside the revoked family", err, nil)
	}
	// Revoking "" remembered nothing: tokens without a family are stored.
	must(t, "CreateAccessToken without a family", s.CreateAccessToken(ctx, newAccess("at-none-2", "", t0.Add(time.Hour))))
}

// testRevokedFamilyRefusesCreates checks that a revocation is remembered
// until its until: tokens of the family created before then are refused and
// not stored, tokens created from then on and tokens of other families are
// stored, and revoking again keeps the later until.
func testRevokedFamilyRefusesCreates(t *testing.T, s storage.Store) {
	ctx := t.Context()
	until := t0.Add(time.Hour)
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-r", until))
	// An earlier until does not shorten what is remembered.
	must(t, "RevokeFamily again with an earlier until", s.RevokeFamily(ctx, "fam-r", t0))
	tests := []struct {
		name    string
		family  string
		created time.Time
		want    error
	}{
		{"created at the revocation", "fam-r", t0, storage.ErrRevoked},
		{"created 1ms before until", "fam-r", until.Add(-time.Millisecond), storage.ErrRevoked},
		{"created with no time", "fam-r", time.Time{}, storage.ErrRevoked},
		{"created at until", "fam-r", until, nil},
		{"other family", "fam-other", t0, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRefresh(fmt.Sprintf("rt-%d", i), tc.family, until.Add(time.Hour))
			rt.CreatedAt = tc.created
			checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), tc.want)
			at := newAccess(fmt.Sprintf("at-%d", i), tc.family, until.Add(time.Hour))
			at.CreatedAt = tc.created
			checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), tc.want)
			want := storage.ErrNotFound // a refused token was not stored
			if tc.want == nil {
				want = nil
			}
			_, err := s.GetRefreshToken(ctx, rt.ID, t0)
			checkErr(t, "GetRefreshToken after the create", err, want)
			_, err = s.GetAccessToken(ctx, at.ID, t0)
			checkErr(t, "GetAccessToken after the create", err, want)
		})
	}

	// A later until extends what is remembered.
	must(t, "RevokeFamily with a later until", s.RevokeFamily(ctx, "fam-r", until.Add(time.Hour)))
	rt := newRefresh("rt-extended", "fam-r", until.Add(2*time.Hour))
	rt.CreatedAt = until
	checkErr(t, "CreateRefreshToken after the extension", s.CreateRefreshToken(ctx, rt), storage.ErrRevoked)
	_, err := s.GetRefreshToken(ctx, "rt-0", t0)
	checkErr(t, "refresh token stored before the extension, revoked by it", err, storage.ErrNotFound)

	// A revoked ID already taken: the revocation is what the caller hears.
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefresh("taken", "fam-other", t0.Add(time.Hour))))
	checkErr(t, "CreateRefreshToken of a taken ID in the revoked family",
		s.CreateRefreshToken(ctx, newRefresh("taken", "fam-r", t0.Add(time.Hour))), storage.ErrRevoked)
}

// testRevocationInThePast checks that a revocation whose until has passed
// still removes the family's tokens but refuses nothing created later.
func testRevocationInThePast(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newRefresh("rt-1", "fam-1", t0.Add(time.Hour))))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, newAccess("at-1", "fam-1", t0.Add(time.Hour))))
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-1", t0.Add(-time.Hour)))
	_, err := s.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "refresh token stored before the revocation", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "access token stored before the revocation", err, storage.ErrNotFound)

	must(t, "CreateRefreshToken after until", s.CreateRefreshToken(ctx, newRefresh("rt-2", "fam-1", t0.Add(time.Hour))))
	must(t, "CreateAccessToken after until", s.CreateAccessToken(ctx, newAccess("at-2", "fam-1", t0.Add(time.Hour))))
	_, err = s.RotateRefreshToken(ctx, "rt-2", newRefresh("rt-3", "fam-1", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation after until", err, nil)
}

// testRotateIntoRevokedFamily checks that a rotation whose new token is of a
// revoked family is refused and changes nothing: the old token stays unused
// and the new one is not stored.
func testRotateIntoRevokedFamily(t *testing.T, s storage.Store) {
	ctx := t.Context()
	old := newRefresh("rt-1", "fam-live", t0.Add(time.Hour))
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-revoked", t0.Add(time.Hour)))
	next := newRefresh("rt-2", "fam-revoked", t0.Add(time.Hour))
	got, err := s.RotateRefreshToken(ctx, old.ID, next, nil, t0)
	checkErr(t, "rotation into the revoked family", err, storage.ErrRevoked)
	checkEqual(t, "token returned with ErrRevoked", got, storage.RefreshToken{})

	stored, err := s.GetRefreshToken(ctx, old.ID, t0)
	checkErr(t, "GetRefreshToken of the old token", err, nil)
	checkEqual(t, "old token after the refused rotation", stored, old)
	_, err = s.GetRefreshToken(ctx, next.ID, t0)
	checkErr(t, "GetRefreshToken of the refused new token", err, storage.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, old.ID, newRefresh("rt-3", "fam-live", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation of the old token within its own family", err, nil)
}

// testConcurrentRevocation races token creates and rotations into one family
// against revocations of it, over several rounds. Whatever the interleaving,
// once all have returned no token of the family may be left. Few revokers
// among many creators: only creates overlapping the first revocation can
// slip past it, so more of them make a missing lock show.
func testConcurrentRevocation(t *testing.T, a, b storage.Store) {
	ctx := t.Context()
	const rounds, n = 8, 32
	revoker := func(i int) bool { return i%16 == 15 }
	for r := range rounds {
		family := fmt.Sprintf("fam-%d", r)
		for i := range n {
			must(t, "CreateRefreshToken", a.CreateRefreshToken(ctx, newRefresh(fmt.Sprintf("src-%d-%d", r, i), "fam-src", t0.Add(time.Hour))))
		}
		errs := together(n, func(i int) error {
			s, id := pick(a, b, i), fmt.Sprintf("%d-%d", r, i)
			switch {
			case revoker(i):
				return s.RevokeFamily(ctx, family, t0.Add(time.Hour))
			case i%3 == 0:
				return s.CreateRefreshToken(ctx, newRefresh("rt-"+id, family, t0.Add(time.Hour)))
			case i%3 == 1:
				return s.CreateAccessToken(ctx, newAccess("at-"+id, family, t0.Add(time.Hour)))
			}
			_, err := s.RotateRefreshToken(ctx, "src-"+id, newRefresh("rt-"+id, family, t0.Add(time.Hour)), nil, t0)
			return err
		})
		for i, err := range errs {
			if err != nil && (revoker(i) || !errors.Is(err, storage.ErrRevoked)) {
				t.Errorf("round %d, goroutine %d: got error %v, want nil or ErrRevoked", r, i, err)
			}
		}
		for i := range n {
			id := fmt.Sprintf("%d-%d", r, i)
			for _, s := range []storage.Store{a, b} {
				if _, err := s.GetRefreshToken(ctx, "rt-"+id, t0); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("round %d: refresh token rt-%s of the revoked family: got error %v, want ErrNotFound", r, id, err)
				}
				if _, err := s.GetAccessToken(ctx, "at-"+id, t0); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("round %d: access token at-%s of the revoked family: got error %v, want ErrNotFound", r, id, err)
				}
			}
		}
	}
}

// testConcurrentRotations checks that of many simultaneous rotations of one
// refresh token exactly one wins and every other one is told of the reuse.
func testConcurrentRotations(t *testing.T, a, b storage.Store) {
	const n = 32
	first := newRefresh("rt-0", "fam-1", t0.Add(time.Hour))
	must(t, "CreateRefreshToken", a.CreateRefreshToken(t.Context(), first))
	olds := make([]storage.RefreshToken, n)
	errs := together(n, func(i int) error {
		var err error
		next := newRefresh(fmt.Sprintf("rt-%d", i+1), "fam-1", t0.Add(time.Hour))
		olds[i], err = pick(a, b, i).RotateRefreshToken(t.Context(), first.ID, next, nil, t0)
		return err
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("rotations %d and %d both succeeded, want exactly one", winner, i)
			}
			winner = i
		case errors.Is(err, storage.ErrTokenReused):
			if olds[i].ID != first.ID || olds[i].FamilyID != first.FamilyID {
				t.Errorf("rotation %d: ErrTokenReused came with token %q of family %q, want %q of %q",
					i, olds[i].ID, olds[i].FamilyID, first.ID, first.FamilyID)
			}
		default:
			t.Errorf("rotation %d: got error %v, want nil or ErrTokenReused", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent rotations succeeded, want exactly one", n)
	}
	// Only the winner's token was stored.
	for i := range n {
		_, err := a.RotateRefreshToken(t.Context(), fmt.Sprintf("rt-%d", i+1), newRefresh(fmt.Sprintf("x-%d", i), "fam-1", t0.Add(time.Hour)), nil, t0)
		want := storage.ErrNotFound
		if i == winner {
			want = nil
		}
		checkErr(t, fmt.Sprintf("rotation of the token offered by rotation %d", i), err, want)
	}
}

func testAccessTokenRoundTrip(t *testing.T, s storage.Store) {
	want := newAccess("at-1", "fam-1", oddTime.Add(time.Hour))
	must(t, "CreateAccessToken", s.CreateAccessToken(t.Context(), want))
	for i := range 2 { // reading does not consume
		got, err := s.GetAccessToken(t.Context(), want.ID, t0)
		checkErr(t, fmt.Sprintf("GetAccessToken #%d", i+1), err, nil)
		checkEqual(t, "access token", got, want)
	}
	_, err := s.GetAccessToken(t.Context(), "unknown", t0)
	checkErr(t, "GetAccessToken of an unknown token", err, storage.ErrNotFound)
}

func testAccessTokenExpiry(t *testing.T, s storage.Store) {
	must(t, "CreateAccessToken", s.CreateAccessToken(t.Context(), newAccess("at-1", "", t0.Add(time.Hour))))
	checkExpiry(t, "GetAccessToken", t0.Add(time.Hour), nil, func(now time.Time) error {
		_, err := s.GetAccessToken(t.Context(), "at-1", now)
		return err
	})
}

func testAccessTokenAlreadyExists(t *testing.T, s storage.Store) {
	first := newAccess("at-1", "fam-1", t0.Add(time.Hour))
	must(t, "CreateAccessToken", s.CreateAccessToken(t.Context(), first))
	second := first
	second.Subject = "mallory"
	checkErr(t, "CreateAccessToken with a taken ID", s.CreateAccessToken(t.Context(), second), storage.ErrAlreadyExists)
	got, err := s.GetAccessToken(t.Context(), first.ID, t0)
	checkErr(t, "GetAccessToken", err, nil)
	checkEqual(t, "access token after a refused duplicate", got, first)
}

func testConsent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := storage.Consent{Subject: "alice", ClientID: "web", Scopes: []string{"openid"}, GrantedAt: oddTime, ExpiresAt: t0.Add(time.Hour)}
	other := storage.Consent{Subject: "alice", ClientID: "cli", Scopes: []string{"profile"}, GrantedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "PutConsent", s.PutConsent(ctx, first))
	must(t, "PutConsent", s.PutConsent(ctx, other))
	got, err := s.GetConsent(ctx, "alice", "web", t0)
	checkErr(t, "GetConsent", err, nil)
	checkEqual(t, "consent", got, first)

	replaced := first
	replaced.Scopes = []string{"openid", "email"}
	replaced.GrantedAt = t0.Add(time.Minute)
	replaced.ExpiresAt = t0.Add(2 * time.Hour)
	must(t, "PutConsent replacing", s.PutConsent(ctx, replaced))
	got, err = s.GetConsent(ctx, "alice", "web", t0)
	checkErr(t, "GetConsent after replacing", err, nil)
	checkEqual(t, "replaced consent", got, replaced)
	got, err = s.GetConsent(ctx, "alice", "cli", t0)
	checkErr(t, "GetConsent of the other client", err, nil)
	checkEqual(t, "other client's consent", got, other)

	for _, k := range [][2]string{{"bob", "web"}, {"alice", "unknown"}} {
		_, err = s.GetConsent(ctx, k[0], k[1], t0)
		checkErr(t, fmt.Sprintf("GetConsent(%s, %s)", k[0], k[1]), err, storage.ErrNotFound)
	}
}

func testConsentExpiry(t *testing.T, s storage.Store) {
	c := storage.Consent{Subject: "alice", ClientID: "web", Scopes: []string{"openid"}, GrantedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "PutConsent", s.PutConsent(t.Context(), c))
	checkExpiry(t, "GetConsent", t0.Add(time.Hour), nil, func(now time.Time) error {
		_, err := s.GetConsent(t.Context(), "alice", "web", now)
		return err
	})
}
