package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// testNoAliasing checks that callers and the store never share memory:
// changing a slice after storing it, or one that was returned, changes
// nothing stored.
func testNoAliasing(t *testing.T, s storage.Store) {
	ctx := t.Context()
	at := newAccess("at-1", "", t0.Add(time.Hour))
	want := at
	want.Scopes = append([]string(nil), at.Scopes...)
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, at))
	at.Scopes[0] = "admin"
	got, err := s.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "GetAccessToken", err, nil)
	got.Scopes[0] = "root"
	got, err = s.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "GetAccessToken", err, nil)
	checkEqual(t, "access token after callers changed their slices", got, want)

	rt := newRefresh("rt-1", "", t0.Add(time.Hour))
	wantRT := rt
	wantRT.Scopes = append([]string(nil), rt.Scopes...)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	rt.Scopes[0] = "admin"
	gotRT, err := s.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "GetRefreshToken", err, nil)
	gotRT.Scopes[0] = "root"
	gotRT, err = s.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "GetRefreshToken", err, nil)
	checkEqual(t, "refresh token after callers changed their slices", gotRT, wantRT)

	key := newKey("k-1", t0)
	wantKey := key
	wantKey.PrivateJWK = append([]byte(nil), key.PrivateJWK...)
	setKeys(t, s, key)
	key.PrivateJWK[0] = 'X'
	errChanged := errors.New("changed my mind")
	err = s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		cur[0].PrivateJWK[0] = 'Y' // scribbling on the argument, then giving up
		return nil, errChanged
	})
	checkErr(t, "UpdateSigningKeys", err, errChanged)
	keys, err := s.SigningKeys(ctx)
	checkErr(t, "SigningKeys", err, nil)
	if len(keys) != 1 {
		t.Fatalf("got %d signing keys, want 1", len(keys))
	}
	keys[0].PrivateJWK[0] = 'Z'
	keys, err = s.SigningKeys(ctx)
	checkErr(t, "SigningKeys", err, nil)
	checkEqual(t, "signing key after callers changed their slices", keys[0], wantKey)
}

// testEmptyScopes checks that nil and empty scope lists both come back empty.
func testEmptyScopes(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name   string
		scopes []string
	}{{"nil", nil}, {"empty", []string{}}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCode("code-"+tc.name, t0.Add(time.Minute))
			c.Scopes = tc.scopes
			must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
			got, err := s.ClaimAuthCode(t.Context(), c.ID, t0)
			checkErr(t, "ClaimAuthCode", err, nil)
			if len(got.Scopes) != 0 {
				t.Errorf("scopes: got %q, want none", got.Scopes)
			}
		})
	}
}

func testGarbageCollect(t *testing.T, s storage.Store) {
	ctx := t.Context()
	live, dead, gone := t0.Add(time.Millisecond), t0, t0.Add(-time.Hour)
	for _, c := range []storage.AuthCode{
		newCode("c-live", live), newCode("c-dead", dead), newCode("c-gone", gone),
		newCode("c-used", live), newCode("c-used-dead", dead),
	} {
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
	}
	for _, id := range []string{"c-used", "c-used-dead"} {
		_, err := s.ClaimAuthCode(ctx, id, t0.Add(-time.Minute))
		must(t, "ClaimAuthCode", err)
	}
	for _, r := range []storage.RefreshToken{
		newRefresh("r-live", "f1", live), newRefresh("r-used", "f2", live),
		newRefresh("r-dead", "f3", dead), newRefresh("r-used-dead", "f4", dead),
	} {
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, r))
	}
	for _, id := range []string{"r-used", "r-used-dead"} {
		_, err := s.RotateRefreshToken(ctx, id, newRefresh(id+"-next", "f", live), nil, t0.Add(-time.Minute))
		must(t, "RotateRefreshToken", err)
	}
	for _, a := range []storage.AccessToken{newAccess("a-live", "", live), newAccess("a-dead", "", dead)} {
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, a))
	}
	for _, c := range []storage.Consent{
		{Subject: "alice", ClientID: "web", GrantedAt: gone, ExpiresAt: live},
		{Subject: "bob", ClientID: "web", GrantedAt: gone, ExpiresAt: gone},
	} {
		must(t, "PutConsent", s.PutConsent(ctx, c))
	}
	current := newKey("k-current", gone)
	published := newKey("k-published", gone.Add(-time.Hour))
	published.RetiredAt, published.PublishUntil = gone, live
	unpublished := newKey("k-unpublished", gone.Add(-2*time.Hour))
	unpublished.RetiredAt, unpublished.PublishUntil = gone, dead
	setKeys(t, s, current, published, unpublished)
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-remembered", live))
	must(t, "RevokeFamily", s.RevokeFamily(ctx, "fam-forgotten", dead))

	got, err := s.GarbageCollect(ctx, t0)
	checkErr(t, "GarbageCollect", err, nil)
	want := storage.GCResult{AuthCodes: 3, RefreshTokens: 2, AccessTokens: 1, Consents: 1, SigningKeys: 1, RevokedFamilies: 1}
	if got != want {
		t.Errorf("GarbageCollect: got %+v, want %+v", got, want)
	}
	got, err = s.GarbageCollect(ctx, t0)
	checkErr(t, "second GarbageCollect", err, nil)
	if got != (storage.GCResult{}) {
		t.Errorf("second GarbageCollect: got %+v, want nothing removed", got)
	}

	// What was live is all still there (the lookups run a little before t0,
	// where the removed rows would have been live too: they really are gone).
	before := t0.Add(-time.Millisecond)
	_, err = s.ClaimAuthCode(ctx, "c-live", before)
	checkErr(t, "claim of the live code", err, nil)
	_, err = s.ClaimAuthCode(ctx, "c-dead", before)
	checkErr(t, "claim of the collected code", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(ctx, "c-used", before)
	checkErr(t, "replay of the live used code", err, storage.ErrCodeReused)
	_, err = s.ClaimAuthCode(ctx, "c-used-dead", before)
	checkErr(t, "replay of the collected used code", err, storage.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, "r-used", newRefresh("x1", "f2", live), nil, before)
	checkErr(t, "replay of the live used token", err, storage.ErrTokenReused)
	_, err = s.RotateRefreshToken(ctx, "r-live", newRefresh("x2", "f1", live), nil, before)
	checkErr(t, "rotation of the live token", err, nil)
	_, err = s.RotateRefreshToken(ctx, "r-used-dead", newRefresh("x3", "f4", live), nil, before)
	checkErr(t, "rotation of the collected used token", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, "a-live", before)
	checkErr(t, "live access token", err, nil)
	_, err = s.GetAccessToken(ctx, "a-dead", before)
	checkErr(t, "collected access token", err, storage.ErrNotFound)
	_, err = s.GetConsent(ctx, "alice", "web", before)
	checkErr(t, "live consent", err, nil)
	_, err = s.GetConsent(ctx, "bob", "web", before)
	checkErr(t, "collected consent", err, storage.ErrNotFound)
	checkKeyIDs(t, s, "k-current", "k-published")
	// Tokens dated before both untils: only the forgotten revocation lets
	// them be stored.
	remembered := newRefresh("r-remembered", "fam-remembered", live)
	remembered.CreatedAt = gone
	checkErr(t, "create in the family whose revocation is remembered", s.CreateRefreshToken(ctx, remembered), storage.ErrRevoked)
	forgotten := newAccess("a-forgotten", "fam-forgotten", live)
	forgotten.CreatedAt = gone
	checkErr(t, "create in the family whose revocation was collected", s.CreateAccessToken(ctx, forgotten), nil)
}

// testSharedWrites checks that each of two replicas sees what the other
// wrote.
func testSharedWrites(t *testing.T, a, b storage.Store) {
	ctx := t.Context()
	code := newCode("code-1", t0.Add(time.Minute))
	must(t, "CreateAuthCode on a", a.CreateAuthCode(ctx, code))
	checkErr(t, "CreateAuthCode of the same code on b", b.CreateAuthCode(ctx, code), storage.ErrAlreadyExists)
	got, err := b.ClaimAuthCode(ctx, code.ID, t0)
	checkErr(t, "claim on b of a code issued by a", err, nil)
	checkEqual(t, "code claimed on b", got, code)
	_, err = a.ClaimAuthCode(ctx, code.ID, t0)
	checkErr(t, "claim on a of a code claimed on b", err, storage.ErrCodeReused)

	must(t, "CreateRefreshToken on a", a.CreateRefreshToken(ctx, newRefresh("rt-1", "fam", t0.Add(time.Hour))))
	_, err = b.RotateRefreshToken(ctx, "rt-1", newRefresh("rt-2", "fam", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "rotation on b", err, nil)
	_, err = a.RotateRefreshToken(ctx, "rt-1", newRefresh("rt-3", "fam", t0.Add(time.Hour)), nil, t0)
	checkErr(t, "replay on a of a token rotated on b", err, storage.ErrTokenReused)
	rt, err := a.GetRefreshToken(ctx, "rt-1", t0)
	checkErr(t, "GetRefreshToken on a of a token rotated on b", err, nil)
	if !rt.UsedAt.Equal(t0) {
		t.Errorf("UsedAt seen on a of a token rotated on b: got %v, want %v", rt.UsedAt, t0)
	}

	must(t, "CreateAccessToken on a", a.CreateAccessToken(ctx, newAccess("at-1", "fam", t0.Add(time.Hour))))
	_, err = b.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "GetAccessToken on b", err, nil)
	must(t, "RevokeFamily on b", b.RevokeFamily(ctx, "fam", t0.Add(time.Hour)))
	_, err = a.GetAccessToken(ctx, "at-1", t0)
	checkErr(t, "GetAccessToken on a after revocation on b", err, storage.ErrNotFound)
	_, err = a.GetRefreshToken(ctx, "rt-2", t0)
	checkErr(t, "GetRefreshToken on a after revocation on b", err, storage.ErrNotFound)

	c := storage.Consent{Subject: "alice", ClientID: "web", Scopes: []string{"openid"}, GrantedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "PutConsent on a", a.PutConsent(ctx, c))
	gotConsent, err := b.GetConsent(ctx, "alice", "web", t0)
	checkErr(t, "GetConsent on b", err, nil)
	checkEqual(t, "consent read on b", gotConsent, c)

	setKeys(t, a, newKey("k-1", t0))
	checkKeyIDs(t, b, "k-1")
	_, err = b.GarbageCollect(ctx, t0.Add(2*time.Hour))
	must(t, "GarbageCollect on b", err)
	_, err = a.GetConsent(ctx, "alice", "web", t0)
	checkErr(t, "GetConsent on a after b collected it", err, storage.ErrNotFound)
}

// testPing checks that an open store answers Ping and a closed one does
// not: readiness probes rely on both.
func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on an open store: %v, want nil", err)
	}
	must(t, "Close", s.Close())
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping on a closed store: nil, want an error")
	}
}
