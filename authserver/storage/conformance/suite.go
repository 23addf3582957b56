package conformance

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// RunTests runs the whole suite. newStore must return a fresh, empty store
// each time it is called and release whatever else it created with
// t.Cleanup; RunTests closes the store itself.
func RunTests(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"AuthCodeRoundTrip", testAuthCodeRoundTrip},
		{"AuthCodeSingleUse", testAuthCodeSingleUse},
		{"AuthCodeAlreadyExists", testAuthCodeAlreadyExists},
		{"AuthCodeExpiry", testAuthCodeExpiry},
		{"UsedAuthCodeExpiry", testUsedAuthCodeExpiry},
		{"RefreshTokenRotation", testRefreshTokenRotation},
		{"RefreshTokenGet", testRefreshTokenGet},
		{"RefreshTokenGetExpiry", testRefreshTokenGetExpiry},
		{"RefreshTokenReuse", testRefreshTokenReuse},
		{"RefreshTokenNotFound", testRefreshTokenNotFound},
		{"RefreshTokenAlreadyExists", testRefreshTokenAlreadyExists},
		{"RevokeFamily", testRevokeFamily},
		{"RevokedFamilyRefusesCreates", testRevokedFamilyRefusesCreates},
		{"RevocationInThePast", testRevocationInThePast},
		{"RotateIntoRevokedFamily", testRotateIntoRevokedFamily},
		{"AccessTokenRoundTrip", testAccessTokenRoundTrip},
		{"AccessTokenExpiry", testAccessTokenExpiry},
		{"AccessTokenAlreadyExists", testAccessTokenAlreadyExists},
		{"Consent", testConsent},
		{"ConsentExpiry", testConsentExpiry},
		{"SigningKeysRoundTrip", testSigningKeysRoundTrip},
		{"SigningKeysUpdateError", testSigningKeysUpdateError},
		{"SigningKeysSequentialUpdates", testSigningKeysSequentialUpdates},
		{"SigningKeysDuplicateID", testSigningKeysDuplicateID},
		{"NoAliasing", testNoAliasing},
		{"EmptyScopes", testEmptyScopes},
		{"GarbageCollect", testGarbageCollect},
		{"RefreshTokenRetry", testRefreshTokenRetry},
		{"FamilyRevoked", testFamilyRevoked},
		{"DeleteAccessToken", testDeleteAccessToken},
		{"ClaimOnce", testClaimOnce},
		{"Ping", testPing},
		{"ConcurrentOnceClaims", func(t *testing.T, s storage.Store) { testConcurrentOnceClaims(t, s, s) }},
		{"ConcurrentClaims", func(t *testing.T, s storage.Store) { testConcurrentClaims(t, s, s) }},
		{"ConcurrentRotations", func(t *testing.T, s storage.Store) { testConcurrentRotations(t, s, s) }},
		{"ConcurrentKeyUpdates", func(t *testing.T, s storage.Store) { testConcurrentKeyUpdates(t, s, s) }},
		{"ConcurrentRevocation", func(t *testing.T, s storage.Store) { testConcurrentRevocation(t, s, s) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, s)
		})
	}
}

// RunReplicaTests checks that two stores sharing one database behave as one
// store: what one writes the other sees, and single use holds across both.
// newPair must return two separately opened stores on the same fresh,
// empty database and release it with t.Cleanup; RunReplicaTests closes the
// stores.
func RunReplicaTests(t *testing.T, newPair func(t *testing.T) (storage.Store, storage.Store)) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b storage.Store)
	}{
		{"SharedWrites", testSharedWrites},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ConcurrentRotations", testConcurrentRotations},
		{"ConcurrentKeyUpdates", testConcurrentKeyUpdates},
		{"ConcurrentRevocation", testConcurrentRevocation},
		{"ConcurrentOnceClaims", testConcurrentOnceClaims},
		{"SharedExtras", testSharedExtras},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t)
			t.Cleanup(func() {
				for _, s := range []storage.Store{a, b} {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			})
			tc.run(t, a, b)
		})
	}
}

// t0 is the suite's "now": fixed, in UTC and on a whole millisecond, so that
// expiry boundaries are exact on every backend.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 8_000_000, time.UTC)

// oddTime is t0 in another zone with sub-millisecond digits, to check that
// backends return UTC and keep at least millisecond precision.
var oddTime = t0.Add(123_456 * time.Nanosecond).In(time.FixedZone("UTC+9", 9*60*60))

func newCode(id string, expiresAt time.Time) storage.AuthCode {
	return storage.AuthCode{
		ID:                  id,
		ClientID:            "web",
		RedirectURI:         "https://app.example/callback",
		Scopes:              []string{"openid", "profile", "email"},
		Nonce:               "n-0S6_WzA2Mj",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Subject:             "alice",
		AuthTime:            oddTime.Add(-time.Minute),
		ExpiresAt:           expiresAt,
	}
}

func newRefresh(id, family string, expiresAt time.Time) storage.RefreshToken {
	return storage.RefreshToken{
		ID:        id,
		FamilyID:  family,
		ClientID:  "web",
		Subject:   "alice",
		Scopes:    []string{"openid", "offline_access"},
		Nonce:     "nonce-1",
		AuthTime:  oddTime.Add(-time.Hour),
		CreatedAt: oddTime,
		ExpiresAt: expiresAt,
	}
}

func newAccess(id, family string, expiresAt time.Time) storage.AccessToken {
	return storage.AccessToken{
		ID:        id,
		FamilyID:  family,
		ClientID:  "web",
		Subject:   "alice",
		Scopes:    []string{"profile"},
		AuthTime:  oddTime.Add(-time.Hour),
		CreatedAt: oddTime,
		ExpiresAt: expiresAt,
	}
}

func newKey(id string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:         id,
		Algorithm:  "ES256",
		PrivateJWK: []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `","d":"secret"}`),
		CreatedAt:  created,
	}
}

// ms is how the suite compares times: UTC, whole milliseconds.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// scopes makes nil and empty equal, since callers must not care.
func scopes(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// normalize returns v with every time.Time field passed through ms and every
// []string field through scopes, so values compare with reflect.DeepEqual.
func normalize[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		switch f := rv.Field(i); x := f.Interface().(type) {
		case time.Time:
			f.Set(reflect.ValueOf(ms(x)))
		case []string:
			f.Set(reflect.ValueOf(scopes(slices.Clone(x))))
		case []byte:
			if len(x) == 0 {
				f.Set(reflect.ValueOf([]byte(nil)))
			}
		}
	}
	return v
}

// checkEqual fails t unless got and want are equal up to normalize, and
// checks that every time in got is in UTC.
func checkEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	rv := reflect.ValueOf(got)
	for i := range rv.NumField() {
		if tm, ok := rv.Field(i).Interface().(time.Time); ok && !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: %s is in %v, want UTC", what, rv.Type().Field(i).Name, tm.Location())
		}
	}
}

// checkErr fails t unless err matches want (nil meaning success).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// must fails t at once on an unexpected error from setting up a test.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// together runs f(0) … f(n-1) in n goroutines released at the same moment
// and returns their errors by index.
func together(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// pick spreads goroutine i over the two stores of a replica test; in a
// single-store test a and b are the same store.
func pick(a, b storage.Store, i int) storage.Store {
	if i%2 == 1 {
		return b
	}
	return a
}

// checkExpiry checks the expiry boundary of a row that expires at
// expiresAt: lookup, asked at a time, gets whileLive up to 1ms before
// expiresAt and ErrNotFound at it and an hour after.
func checkExpiry(t *testing.T, what string, expiresAt time.Time, whileLive error, lookup func(now time.Time) error) {
	for _, tc := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"1ms before expiry", expiresAt.Add(-time.Millisecond), whileLive},
		{"at expiry", expiresAt, storage.ErrNotFound},
		{"an hour after expiry", expiresAt.Add(time.Hour), storage.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, what, lookup(tc.now), tc.want)
		})
	}
}
