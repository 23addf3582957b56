package keys

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
)

func storedByID(t *testing.T, store storage.Store, id string) storage.SigningKey {
	t.Helper()
	stored := storedKeys(t, store)
	i := slices.IndexFunc(stored, func(k storage.SigningKey) bool { return k.ID == id })
	if i < 0 {
		t.Fatalf("key %q is not stored", id)
	}
	return stored[i]
}

func TestRotationRetiresThenDrops(t *testing.T) {
	for _, alg := range supported {
		t.Run(alg, func(t *testing.T) {
			store, clk := memory.New(), newClock()
			m := newManager(t, store, clk, ES256)
			oldToken, first := signedKID(t, m, alg, alg, `{"n":1}`)

			clk.Advance(period - time.Second)
			if _, kid := signedKID(t, m, alg, alg, `{}`); kid != first {
				t.Fatalf("before the period ends, signed with %q, want %q", kid, first)
			}

			clk.Advance(time.Second)
			rotatedAt := clk.Now()
			_, second := signedKID(t, m, alg, alg, `{"n":2}`)
			if second == first {
				t.Fatal("after the rotation period, still signing with the first key")
			}
			if got, want := kidsOf(t, m, alg), []string{second, first}; !slices.Equal(got, want) {
				t.Errorf("published after rotation = %v, want %v", got, want)
			}
			checkOneCurrentEach(t, store)
			if n := len(storedKeys(t, store)); n != 4 {
				t.Errorf("stored %d keys, want 4: a current and a retired one of each algorithm", n)
			}
			old := storedByID(t, store, first)
			if !old.RetiredAt.Equal(rotatedAt) || !old.PublishUntil.Equal(rotatedAt.Add(lifetime)) {
				t.Errorf("retired key: RetiredAt %v PublishUntil %v, want %v and %v", old.RetiredAt, old.PublishUntil, rotatedAt, rotatedAt.Add(lifetime))
			}

			// A token signed just before the rotation is still verifiable
			// until it can have expired.
			clk.Advance(lifetime - time.Second)
			if _, err := m.Verify(context.Background(), oldToken, TypeIDToken); err != nil {
				t.Errorf("token of the retired key, before PublishUntil: %v", err)
			}
			if got, want := kidsOf(t, m, alg), []string{second, first}; !slices.Equal(got, want) {
				t.Errorf("published just before PublishUntil = %v, want %v", got, want)
			}

			clk.Advance(time.Second)
			if got, want := kidsOf(t, m, alg), []string{second}; !slices.Equal(got, want) {
				t.Errorf("published at PublishUntil = %v, want %v", got, want)
			}
			if _, err := m.Verify(context.Background(), oldToken, TypeIDToken); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("token of the dropped key: got %v, want ErrUnknownKey", err)
			}
		})
	}
}

// TestKeysRotateIndependently starts from a store whose key of one
// algorithm is half a period old, so the two kinds come due at different
// times and each rotation must leave the other kind alone.
func TestKeysRotateIndependently(t *testing.T) {
	for _, older := range supported {
		t.Run(older+" older", func(t *testing.T) {
			store, clk := memory.New(), newClock()
			putKeys(t, store, generated(t, older, clk.Now().Add(-period/2)))
			m := newManager(t, store, clk, ES256)
			before := checkOneCurrentEach(t, store)
			younger := RS256
			if older == RS256 {
				younger = ES256
			}
			olderToken, _ := signedKID(t, m, older, older, `{"kind":"older"}`)
			youngerToken, _ := signedKID(t, m, younger, younger, `{"kind":"younger"}`)

			clk.Advance(period / 2)
			_, olderKID := signedKID(t, m, older, older, `{}`)
			_, youngerKID := signedKID(t, m, younger, younger, `{}`)
			if olderKID == before[older] || youngerKID != before[younger] {
				t.Fatalf("after half a period: %s signs with %q (was %q), %s with %q (was %q); want only %s rotated",
					older, olderKID, before[older], younger, youngerKID, before[younger], older)
			}
			checkOneCurrentEach(t, store)
			if _, err := m.Verify(context.Background(), olderToken, TypeIDToken); err != nil {
				t.Errorf("token of the retired %s key: %v", older, err)
			}

			clk.Advance(period / 2)
			_, olderNow := signedKID(t, m, older, older, `{}`)
			_, youngerNow := signedKID(t, m, younger, younger, `{}`)
			if now := checkOneCurrentEach(t, store); now[older] != olderNow || now[younger] != youngerNow {
				t.Errorf("stored current keys %v, want the ones signing: %q and %q", now, olderNow, youngerNow)
			}
			if olderNow != olderKID || youngerNow == youngerKID {
				t.Fatalf("after a full period: %s signs with %q (was %q), %s with %q (was %q); want only %s rotated",
					older, olderNow, olderKID, younger, youngerNow, youngerKID, younger)
			}
			if _, err := m.Verify(context.Background(), youngerToken, TypeIDToken); err != nil {
				t.Errorf("token of the retired %s key: %v", younger, err)
			}
			// The first retired key's publication ended half a period ago.
			if _, err := m.Verify(context.Background(), olderToken, TypeIDToken); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("token of the dropped %s key: got %v, want ErrUnknownKey", older, err)
			}
			if got := kidsOf(t, m, older); !slices.Equal(got, []string{olderKID}) {
				t.Errorf("%s keys published = %v, want only %q", older, got, olderKID)
			}
			if got := kidsOf(t, m, younger); !slices.Equal(got, []string{youngerNow, youngerKID}) {
				t.Errorf("%s keys published = %v, want %q and the retired %q", younger, got, youngerNow, youngerKID)
			}
		})
	}
}

// TestStoreFromBeforeBothAlgorithms starts replicas together on stores
// written when the server kept one algorithm's keys only: the missing kind
// is generated once, and what was there stays.
func TestStoreFromBeforeBothAlgorithms(t *testing.T) {
	t0 := newClock().Now()
	retired := func(k storage.SigningKey) storage.SigningKey {
		k.RetiredAt, k.PublishUntil = t0.Add(-time.Minute), t0.Add(lifetime-time.Minute)
		return k
	}
	tests := []struct {
		name string
		keys []storage.SigningKey
	}{
		{"ES256 only", []storage.SigningKey{generated(t, ES256, t0.Add(-time.Hour))}},
		{"RS256 only", []storage.SigningKey{generated(t, RS256, t0.Add(-time.Hour))}},
		{"RS256 with a retired ES256", []storage.SigningKey{generated(t, RS256, t0.Add(-time.Minute)), retired(generated(t, ES256, t0.Add(-time.Hour)))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := memory.New()
			putKeys(t, store, tt.keys...)
			var wg sync.WaitGroup
			managers := make([]*Manager, 8)
			for i := range managers {
				wg.Go(func() {
					var err error
					if managers[i], err = start(store, newClock(), ES256); err != nil {
						t.Errorf("New: %v", err)
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			current := checkOneCurrentEach(t, store)
			if n := len(storedKeys(t, store)); n != len(tt.keys)+1 {
				t.Errorf("stored %d keys, want the %d there before and one new", n, len(tt.keys))
			}
			for _, k := range tt.keys {
				if k.RetiredAt.IsZero() && current[k.Algorithm] != k.ID {
					t.Errorf("the %s key %q that signed before was replaced by %q", k.Algorithm, k.ID, current[k.Algorithm])
				}
				for _, m := range managers {
					if !slices.Contains(kidsOf(t, m, k.Algorithm), k.ID) {
						t.Errorf("the %s key %q that was there before is not published", k.Algorithm, k.ID)
					}
				}
			}
		})
	}
}

func TestRefreshRotatesWithoutSigning(t *testing.T) {
	store, clk := memory.New(), newClock()
	m := newManager(t, store, clk, ES256)
	before := checkOneCurrentEach(t, store)
	clk.Advance(period)
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := checkOneCurrentEach(t, store)
	for _, alg := range supported {
		if after[alg] == before[alg] {
			t.Errorf("after Refresh past the period, the %s key %q still signs", alg, before[alg])
		}
	}
}

func TestReplicasAgree(t *testing.T) {
	for _, alg := range supported {
		t.Run(alg, func(t *testing.T) {
			store := memory.New()
			clkA, clkB := newClock(), newClock()

			// Both replicas start at once on an empty store.
			var (
				a, b       *Manager
				errA, errB error
				wg         sync.WaitGroup
			)
			wg.Go(func() { a, errA = start(store, clkA, ES256) })
			wg.Go(func() { b, errB = start(store, clkB, ES256) })
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatalf("starting replicas: %v, %v", errA, errB)
			}
			checkOneCurrentEach(t, store)
			if n := len(storedKeys(t, store)); n != 2 {
				t.Fatalf("two replicas starting together stored %d keys, want 2", n)
			}
			// The one that generated the keys and the one that read them
			// publish them in the same order.
			if ka, kb := kidsOf(t, a, ""), kidsOf(t, b, ""); !slices.Equal(ka, kb) {
				t.Fatalf("published keys differ: %v vs %v", ka, kb)
			}

			// a's clock reaches the rotation first; b's cache is fresh and
			// its keys not yet due, so only the unknown kid makes b read the
			// store.
			clkA.Advance(period)
			token, rotated := signedKID(t, a, alg, alg, `{"from":"a"}`)
			clkB.Advance(2 * unknownKeyReloadGap)
			if payload, err := b.Verify(context.Background(), token, TypeIDToken); err != nil || string(payload) != `{"from":"a"}` {
				t.Fatalf("b verifying a's token after a rotated: payload %q, err %v", payload, err)
			}
			if ka, kb := kidsOf(t, a, alg), kidsOf(t, b, alg); !slices.Equal(ka, kb) || ka[0] != rotated {
				t.Errorf("after rotation a publishes %v, b %v; want both to start with %q", ka, kb, rotated)
			}

			// When b's key comes due it adopts a's rotation instead of
			// rotating again.
			clkB.Advance(period)
			if _, kid := signedKID(t, b, alg, alg, `{}`); kid != rotated {
				t.Errorf("b signs with %q, want a's new key %q", kid, rotated)
			}
			if n := len(storedKeys(t, store)); n != 4 {
				t.Errorf("after both replicas passed the period, %d keys stored, want 4", n)
			}
		})
	}
}

func TestManyReplicasStartOnOneKeyEach(t *testing.T) {
	store, clk := memory.New(), newClock()
	var wg sync.WaitGroup
	for i := range 8 {
		alg := supported[i%len(supported)] // defaults differ; the keys do not
		wg.Go(func() {
			if _, err := start(store, clk, alg); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
	wg.Wait()
	checkOneCurrentEach(t, store)
	if n := len(storedKeys(t, store)); n != 2 {
		t.Errorf("8 replicas starting together stored %d keys, want 2", n)
	}
}
