package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

func testAuthCodeRoundTrip(t *testing.T, s storage.Store) {
	want := newCode("code-1", oddTime.Add(time.Minute))
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), want))
	got, err := s.ClaimAuthCode(t.Context(), want.ID, t0)
	checkErr(t, "ClaimAuthCode", err, nil)
	checkEqual(t, "claimed code", got, want)
}

// testAuthCodeSingleUse checks that a claimed code is kept and recognised:
// every later claim is ErrCodeReused with the stored code, while a code
// never issued is ErrNotFound.
func testAuthCodeSingleUse(t *testing.T, s storage.Store) {
	want := newCode("code-1", t0.Add(time.Minute))
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), want))
	_, err := s.ClaimAuthCode(t.Context(), "code-1", t0)
	checkErr(t, "first claim", err, nil)
	for i, now := range []time.Time{t0, t0.Add(time.Second)} {
		got, err := s.ClaimAuthCode(t.Context(), "code-1", now)
		checkErr(t, fmt.Sprintf("claim %d", i+2), err, storage.ErrCodeReused)
		checkEqual(t, fmt.Sprintf("code returned by claim %d", i+2), got, want)
	}
	got, err := s.ClaimAuthCode(t.Context(), "never-issued", t0)
	checkErr(t, "claim of unknown code", err, storage.ErrNotFound)
	checkEqual(t, "code returned for an unknown ID", got, storage.AuthCode{})
}

func testAuthCodeAlreadyExists(t *testing.T, s storage.Store) {
	first := newCode("code-1", t0.Add(time.Minute))
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), first))
	second := first
	second.ClientID = "intruder"
	checkErr(t, "second CreateAuthCode with the same ID", s.CreateAuthCode(t.Context(), second), storage.ErrAlreadyExists)
	got, err := s.ClaimAuthCode(t.Context(), first.ID, t0)
	checkErr(t, "ClaimAuthCode", err, nil)
	checkEqual(t, "code after a refused duplicate", got, first)
}

func testAuthCodeExpiry(t *testing.T, s storage.Store) {
	tests := []struct {
		name      string
		expiresAt time.Time
		want      error
	}{
		{"expires 1ms after now", t0.Add(time.Millisecond), nil},
		{"expires at now", t0, storage.ErrNotFound},
		{"expired 1ms before now", t0.Add(-time.Millisecond), storage.ErrNotFound},
		{"expired an hour ago", t0.Add(-time.Hour), storage.ErrNotFound},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "code-" + string(rune('a'+i))
			must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), newCode(id, tc.expiresAt)))
			_, err := s.ClaimAuthCode(t.Context(), id, t0)
			checkErr(t, "ClaimAuthCode", err, tc.want)
		})
	}
}

// testUsedAuthCodeExpiry checks that a used code is recognised as reused up
// to its expiry and is unknown from then on, like an unused one.
func testUsedAuthCodeExpiry(t *testing.T, s storage.Store) {
	expiresAt := t0.Add(time.Minute)
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), newCode("code-1", expiresAt)))
	_, err := s.ClaimAuthCode(t.Context(), "code-1", t0)
	checkErr(t, "first claim", err, nil)
	checkExpiry(t, "ClaimAuthCode", expiresAt, storage.ErrCodeReused, func(now time.Time) error {
		_, err := s.ClaimAuthCode(t.Context(), "code-1", now)
		return err
	})
}

// testConcurrentClaims is the suite's most important check: of many
// simultaneous claims of one code, spread over a and b, exactly one wins and
// every other is told the code was reused.
func testConcurrentClaims(t *testing.T, a, b storage.Store) {
	const rounds, n = 3, 32
	for r := range rounds {
		id := "code-" + string(rune('a'+r))
		must(t, "CreateAuthCode", a.CreateAuthCode(t.Context(), newCode(id, t0.Add(time.Minute))))
		got := make([]storage.AuthCode, n)
		errs := together(n, func(i int) error {
			var err error
			got[i], err = pick(a, b, i).ClaimAuthCode(t.Context(), id, t0)
			return err
		})
		want := newCode(id, t0.Add(time.Minute))
		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case errors.Is(err, storage.ErrCodeReused):
				checkEqual(t, fmt.Sprintf("round %d, code returned with ErrCodeReused to claim %d", r, i), got[i], want)
			default:
				t.Errorf("round %d, claim %d: got error %v, want nil or ErrCodeReused", r, i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d concurrent claims succeeded, want exactly 1", r, len(winners), n)
		}
		checkEqual(t, "winning claim", got[winners[0]], want)
	}
}
