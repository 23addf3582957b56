package conformance

import (
	"errors"
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

func testAuthCodeSingleUse(t *testing.T, s storage.Store) {
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), newCode("code-1", t0.Add(time.Minute))))
	_, err := s.ClaimAuthCode(t.Context(), "code-1", t0)
	checkErr(t, "first claim", err, nil)
	_, err = s.ClaimAuthCode(t.Context(), "code-1", t0)
	checkErr(t, "second claim", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(t.Context(), "never-issued", t0)
	checkErr(t, "claim of unknown code", err, storage.ErrNotFound)
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

// testConcurrentClaims is the suite's most important check: of many
// simultaneous claims of one code, spread over a and b, exactly one wins.
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
		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("round %d, claim %d: got error %v, want nil or ErrNotFound", r, i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d concurrent claims succeeded, want exactly 1", r, len(winners), n)
		}
		checkEqual(t, "winning claim", got[winners[0]], newCode(id, t0.Add(time.Minute)))
	}
}
