package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// keyIDs lists the IDs of keys in order.
func keyIDs(keys []storage.SigningKey) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

// setKeys replaces the stored set with keys, ignoring what was there.
func setKeys(t *testing.T, s storage.Store, keys ...storage.SigningKey) {
	t.Helper()
	must(t, "UpdateSigningKeys", s.UpdateSigningKeys(t.Context(), func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return keys, nil
	}))
}

func checkKeyIDs(t *testing.T, s storage.Store, want ...string) {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	checkErr(t, "SigningKeys", err, nil)
	if got := keyIDs(keys); !slices.Equal(got, want) {
		t.Errorf("signing key IDs: got %q, want %q", got, want)
	}
}

func testSigningKeysRoundTrip(t *testing.T, s storage.Store) {
	checkKeyIDs(t, s) // empty at first

	old := newKey("k-old", t0.Add(-48*time.Hour))
	old.Algorithm = "RS256"
	old.RetiredAt = oddTime
	old.PublishUntil = oddTime.Add(time.Hour)
	mid := newKey("k-mid", t0.Add(-24*time.Hour))
	cur := newKey("k-cur", oddTime)
	setKeys(t, s, mid, old, cur) // deliberately not in order

	keys, err := s.SigningKeys(t.Context())
	checkErr(t, "SigningKeys", err, nil)
	want := []storage.SigningKey{cur, mid, old}
	if got := keyIDs(keys); !slices.Equal(got, keyIDs(want)) {
		t.Fatalf("signing keys: got %q, want %q (newest first)", got, keyIDs(want))
	}
	for i := range keys {
		checkEqual(t, "signing key "+keys[i].ID, keys[i], want[i])
	}

	setKeys(t, s) // an update may also remove every key
	checkKeyIDs(t, s)
}

func testSigningKeysUpdateError(t *testing.T, s storage.Store) {
	setKeys(t, s, newKey("k-1", t0))
	errBoom := errors.New("no entropy today")
	err := s.UpdateSigningKeys(t.Context(), func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(cur, newKey("k-2", t0.Add(time.Hour))), errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateSigningKeys: got error %v, want the update's own error %v", err, errBoom)
	}
	checkKeyIDs(t, s, "k-1")
}

func testSigningKeysSequentialUpdates(t *testing.T, s storage.Store) {
	for i := range 3 {
		id := fmt.Sprintf("k-%d", i)
		var seen []string
		must(t, "UpdateSigningKeys", s.UpdateSigningKeys(t.Context(), func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
			seen = keyIDs(cur)
			return append(cur, newKey(id, t0.Add(time.Duration(i)*time.Hour))), nil
		}))
		want := make([]string, 0, i)
		for j := i - 1; j >= 0; j-- {
			want = append(want, fmt.Sprintf("k-%d", j))
		}
		if !slices.Equal(seen, want) {
			t.Errorf("update %d saw keys %q, want %q", i, seen, want)
		}
	}
	checkKeyIDs(t, s, "k-2", "k-1", "k-0")
}

func testSigningKeysDuplicateID(t *testing.T, s storage.Store) {
	setKeys(t, s, newKey("k-1", t0))
	err := s.UpdateSigningKeys(t.Context(), func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{newKey("k-2", t0), newKey("k-2", t0.Add(time.Hour))}, nil
	})
	if err == nil {
		t.Fatal("UpdateSigningKeys with two keys of one ID: got no error, want one")
	}
	checkKeyIDs(t, s, "k-1")
}

// testConcurrentKeyUpdates checks that simultaneous updates are serialised:
// each appends a key to what it was given, so a lost update loses a key.
func testConcurrentKeyUpdates(t *testing.T, a, b storage.Store) {
	const n = 16
	errs := together(n, func(i int) error {
		return pick(a, b, i).UpdateSigningKeys(t.Context(), func(cur []storage.SigningKey) ([]storage.SigningKey, error) {
			return append(cur, newKey(fmt.Sprintf("k-%02d", i), t0.Add(time.Duration(i)*time.Minute))), nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("update %d", i), err, nil)
	}
	want := make([]string, 0, n)
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("k-%02d", i))
	}
	for _, s := range []storage.Store{a, b} {
		checkKeyIDs(t, s, want...)
	}
}
