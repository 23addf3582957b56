package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

const (
	period   = 24 * time.Hour
	lifetime = time.Hour
)

func start(store storage.Store, clk *fakeclock.Clock, alg string) (*Manager, error) {
	return New(context.Background(), Config{
		Store:            store,
		Algorithm:        alg,
		RotationPeriod:   period,
		MaxTokenLifetime: lifetime,
		Now:              clk.Now,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func newManager(t *testing.T, store storage.Store, clk *fakeclock.Clock, alg string) *Manager {
	t.Helper()
	m, err := start(store, clk, alg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func kids(t *testing.T, m *Manager) []string {
	t.Helper()
	set, err := m.PublicKeys(context.Background())
	if err != nil {
		t.Fatalf("PublicKeys: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("published key %s is not public", k.KeyID)
		}
		out = append(out, k.KeyID)
	}
	return out
}

func storedKeys(t *testing.T, store storage.Store) []storage.SigningKey {
	t.Helper()
	keys, err := store.SigningKeys(context.Background())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

func signedKID(t *testing.T, m *Manager, payload string) (token, kid string) {
	t.Helper()
	token, err := m.Sign(context.Background(), "", TypeIDToken, []byte(payload))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{m.alg})
	if err != nil {
		t.Fatalf("parsing own token: %v", err)
	}
	return token, jws.Signatures[0].Header.KeyID
}

func TestSignVerifyAndPublish(t *testing.T) {
	for _, alg := range []string{ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			store, clk := memory.New(), newClock()
			m := newManager(t, store, clk, alg)
			token, kid := signedKID(t, m, `{"sub":"alice"}`)

			stored := storedKeys(t, store)
			if len(stored) != 1 || stored[0].ID != kid || stored[0].Algorithm != alg || !stored[0].RetiredAt.IsZero() {
				t.Fatalf("stored keys = %+v, want one active %s key %q", stored, alg, kid)
			}
			set, err := m.PublicKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 1 {
				t.Fatalf("got %d published keys, want 1", len(set.Keys))
			}
			pub := set.Keys[0]
			if pub.KeyID != kid || pub.Algorithm != alg || pub.Use != "sig" {
				t.Errorf("published key kid=%q alg=%q use=%q, want %q %s sig", pub.KeyID, pub.Algorithm, pub.Use, kid, alg)
			}
			// A verifier that knows nothing but the published key accepts it.
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if jws.Signatures[0].Protected.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("typ header = %v, want JWT", jws.Signatures[0].Protected.ExtraHeaders["typ"])
			}
			if got, err := jws.Verify(pub); err != nil || string(got) != `{"sub":"alice"}` {
				t.Errorf("verify with published key: payload %q, err %v", got, err)
			}
			if got, err := m.Verify(context.Background(), token, TypeIDToken); err != nil || string(got) != `{"sub":"alice"}` {
				t.Errorf("Verify: payload %q, err %v", got, err)
			}
		})
	}
}

func TestVerifyRefusesOtherAlgorithms(t *testing.T) {
	store, clk := memory.New(), newClock()
	m := newManager(t, store, clk, ES256)
	_, kid := signedKID(t, m, `{}`)

	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(alg jose.SignatureAlgorithm, key any) string {
		t.Helper()
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType(TypeIDToken))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(`{"sub":"mallory"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name  string
		token string
	}{
		// HS256 keyed with something public is the classic confusion attack.
		{"HS256", sign(jose.HS256, []byte("a shared secret of thirty-two bytes"))},
		{"ES384", sign(jose.ES384, other)},
		{"none", b64(`{"alg":"none","kid":"`+kid+`"}`) + "." + b64(`{"sub":"mallory"}`) + "."},
		{"garbage", "not.a.jws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if payload, err := m.Verify(context.Background(), tt.token, TypeIDToken); err == nil {
				t.Errorf("Verify accepted a %s token: payload %q", tt.name, payload)
			}
		})
	}
	t.Run("same alg, unknown key", func(t *testing.T) {
		foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		token := sign(jose.ES256, foreign)
		if _, err := m.Verify(context.Background(), token, TypeIDToken); err == nil {
			t.Error("Verify accepted a token signed by a foreign key that claims our kid")
		}
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestRotationRetiresThenDrops(t *testing.T) {
	store, clk := memory.New(), newClock()
	m := newManager(t, store, clk, ES256)
	oldToken, first := signedKID(t, m, `{"n":1}`)

	clk.Advance(period - time.Second)
	if _, kid := signedKID(t, m, `{}`); kid != first {
		t.Fatalf("before the period ends, signed with %q, want %q", kid, first)
	}

	clk.Advance(time.Second)
	rotatedAt := clk.Now()
	_, second := signedKID(t, m, `{"n":2}`)
	if second == first {
		t.Fatal("after the rotation period, still signing with the first key")
	}
	if got, want := kids(t, m), []string{second, first}; !slices.Equal(got, want) {
		t.Errorf("published after rotation = %v, want %v", got, want)
	}
	stored := storedKeys(t, store)
	if len(stored) != 2 || stored[1].ID != first {
		t.Fatalf("stored %d keys, the second %q; want 2, the second %q", len(stored), stored[len(stored)-1].ID, first)
	}
	if !stored[1].RetiredAt.Equal(rotatedAt) || !stored[1].PublishUntil.Equal(rotatedAt.Add(lifetime)) {
		t.Errorf("retired key: RetiredAt %v PublishUntil %v, want %v and %v", stored[1].RetiredAt, stored[1].PublishUntil, rotatedAt, rotatedAt.Add(lifetime))
	}

	// A token signed just before the rotation is still verifiable until it
	// can have expired.
	clk.Advance(lifetime - time.Second)
	if _, err := m.Verify(context.Background(), oldToken, TypeIDToken); err != nil {
		t.Errorf("token of the retired key, before PublishUntil: %v", err)
	}
	if got, want := kids(t, m), []string{second, first}; !slices.Equal(got, want) {
		t.Errorf("published just before PublishUntil = %v, want %v", got, want)
	}

	clk.Advance(time.Second)
	if got, want := kids(t, m), []string{second}; !slices.Equal(got, want) {
		t.Errorf("published at PublishUntil = %v, want %v", got, want)
	}
	if _, err := m.Verify(context.Background(), oldToken, TypeIDToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of the dropped key: got %v, want ErrUnknownKey", err)
	}
}

func TestRefreshRotatesWithoutSigning(t *testing.T) {
	store, clk := memory.New(), newClock()
	m := newManager(t, store, clk, ES256)
	clk.Advance(period)
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(storedKeys(t, store)); n != 2 {
		t.Errorf("after Refresh past the period, %d keys stored, want 2", n)
	}
}

func TestReplicasAgree(t *testing.T) {
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
	if n := len(storedKeys(t, store)); n != 1 {
		t.Fatalf("two replicas starting together stored %d keys, want 1", n)
	}
	if ka, kb := kids(t, a), kids(t, b); !slices.Equal(ka, kb) {
		t.Fatalf("published keys differ: %v vs %v", ka, kb)
	}

	// a's clock reaches the rotation first; b's cache is fresh and its key
	// not yet due, so only the unknown kid makes b read the store.
	clkA.Advance(period)
	token, rotated := signedKID(t, a, `{"from":"a"}`)
	clkB.Advance(2 * unknownKeyReloadGap)
	if payload, err := b.Verify(context.Background(), token, TypeIDToken); err != nil || string(payload) != `{"from":"a"}` {
		t.Fatalf("b verifying a's token after a rotated: payload %q, err %v", payload, err)
	}
	if ka, kb := kids(t, a), kids(t, b); !slices.Equal(ka, kb) || ka[0] != rotated {
		t.Errorf("after rotation a publishes %v, b %v; want both to start with %q", ka, kb, rotated)
	}

	// When b's key comes due it adopts a's rotation instead of rotating again.
	clkB.Advance(period)
	if _, kid := signedKID(t, b, `{}`); kid != rotated {
		t.Errorf("b signs with %q, want a's new key %q", kid, rotated)
	}
	if n := len(storedKeys(t, store)); n != 2 {
		t.Errorf("after both replicas passed the period, %d keys stored, want 2", n)
	}
}

func TestManyReplicasStartOnOneKey(t *testing.T) {
	store, clk := memory.New(), newClock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := start(store, clk, ES256); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(storedKeys(t, store)); n != 1 {
		t.Errorf("8 replicas starting together stored %d keys, want 1", n)
	}
}

func TestAlgorithmChangeRotates(t *testing.T) {
	store, clk := memory.New(), newClock()
	es := newManager(t, store, clk, ES256)
	_, esKID := signedKID(t, es, `{}`)

	rs := newManager(t, store, clk, RS256)
	_, rsKID := signedKID(t, rs, `{}`)
	if rsKID == esKID {
		t.Fatal("RS256 manager signs with the ES256 key")
	}
	if got := kids(t, rs); !slices.Equal(got, []string{rsKID}) {
		t.Errorf("RS256 manager publishes %v, want only %q", got, rsKID)
	}
	stored := storedKeys(t, store)
	i := slices.IndexFunc(stored, func(k storage.SigningKey) bool { return k.ID == esKID })
	if len(stored) != 2 || i < 0 || stored[i].RetiredAt.IsZero() {
		t.Errorf("stored %d keys, ES256 key at %d; want 2 keys with the ES256 key retired", len(stored), i)
	}
}

func TestConfigErrors(t *testing.T) {
	store := memory.New()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{RotationPeriod: period, MaxTokenLifetime: lifetime}, "no store"},
		{"bad alg", Config{Store: store, Algorithm: "HS256", RotationPeriod: period, MaxTokenLifetime: lifetime}, `"HS256" is not supported`},
		{"no period", Config{Store: store, MaxTokenLifetime: lifetime}, "rotation period"},
		{"no lifetime", Config{Store: store, RotationPeriod: period}, "token lifetime"},
		{"negative reload", Config{Store: store, RotationPeriod: period, MaxTokenLifetime: lifetime, ReloadInterval: -1}, "reload interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
