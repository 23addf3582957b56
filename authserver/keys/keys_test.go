package keys

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
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

func newManager(t testing.TB, store storage.Store, clk *fakeclock.Clock, alg string) *Manager {
	t.Helper()
	m, err := start(store, clk, alg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// kidsOf lists the IDs of the published keys of alg (of every alg when
// empty), newest first.
func kidsOf(t *testing.T, m *Manager, alg string) []string {
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
		if alg == "" || k.Algorithm == alg {
			out = append(out, k.KeyID)
		}
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

// currentKIDs returns, by alg, the IDs of the stored keys that are not
// retired.
func currentKIDs(t *testing.T, store storage.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, k := range storedKeys(t, store) {
		if k.RetiredAt.IsZero() {
			out[k.Algorithm] = append(out[k.Algorithm], k.ID)
		}
	}
	return out
}

// checkOneCurrentEach fails unless the store holds exactly one current key
// of each supported algorithm, and returns their IDs.
func checkOneCurrentEach(t *testing.T, store storage.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for alg, ids := range currentKIDs(t, store) {
		if len(ids) != 1 {
			t.Errorf("%d current %s keys stored (%v), want 1", len(ids), alg, ids)
		}
		out[alg] = ids[0]
	}
	for _, alg := range supported {
		if out[alg] == "" {
			t.Errorf("no current %s key stored", alg)
		}
	}
	return out
}

// putKeys replaces the stored set, as an older version of the server or
// another replica would have left it.
func putKeys(t *testing.T, store storage.Store, keys ...storage.SigningKey) {
	t.Helper()
	err := store.UpdateSigningKeys(context.Background(), func([]storage.SigningKey) ([]storage.SigningKey, error) { return keys, nil })
	if err != nil {
		t.Fatal(err)
	}
}

func generated(t *testing.T, alg string, createdAt time.Time) storage.SigningKey {
	t.Helper()
	k, err := generate(alg, createdAt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedKID signs payload with alg ("" for the default) and returns the
// token and the kid it names, checking that the header's alg is wantAlg.
func signedKID(t *testing.T, m *Manager, alg, wantAlg, payload string) (token, kid string) {
	t.Helper()
	token, err := m.Sign(context.Background(), alg, TypeIDToken, []byte(payload))
	if err != nil {
		t.Fatalf("Sign(%q): %v", alg, err)
	}
	jws, err := jose.ParseSignedCompact(token, joseAlgs)
	if err != nil {
		t.Fatalf("parsing own token: %v", err)
	}
	if got := jws.Signatures[0].Header.Algorithm; got != wantAlg {
		t.Fatalf("Sign(%q) made a %s token, want %s", alg, got, wantAlg)
	}
	return token, jws.Signatures[0].Header.KeyID
}

func TestSignVerifyAndPublish(t *testing.T) {
	tests := []struct {
		name       string
		defaultAlg string
		alg        string // passed to Sign
		want       string // alg of the token
	}{
		{"ES256 named, ES256 default", ES256, ES256, ES256},
		{"RS256 named, ES256 default", ES256, RS256, RS256},
		{"ES256 named, RS256 default", RS256, ES256, ES256},
		{"default ES256", ES256, "", ES256},
		{"default RS256", RS256, "", RS256},
		{"default when unset", "", "", ES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, clk := memory.New(), newClock()
			m := newManager(t, store, clk, tt.defaultAlg)
			token, kid := signedKID(t, m, tt.alg, tt.want, `{"sub":"alice"}`)

			if len(storedKeys(t, store)) != 2 {
				t.Errorf("stored %d keys, want one of each algorithm", len(storedKeys(t, store)))
			}
			if current := checkOneCurrentEach(t, store); current[tt.want] != kid {
				t.Fatalf("signed with %q, want the current %s key %q", kid, tt.want, current[tt.want])
			}
			set, err := m.PublicKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("got %d published keys, want 2", len(set.Keys))
			}
			pub := set.Key(kid)
			if len(pub) != 1 || pub[0].Algorithm != tt.want || pub[0].Use != "sig" {
				t.Fatalf("published keys with kid %q: %+v, want one %s key for sig", kid, pub, tt.want)
			}
			// A verifier that knows nothing but the published key accepts it.
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.want)})
			if err != nil {
				t.Fatal(err)
			}
			if jws.Signatures[0].Protected.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("typ header = %v, want JWT", jws.Signatures[0].Protected.ExtraHeaders["typ"])
			}
			if got, err := jws.Verify(pub[0]); err != nil || string(got) != `{"sub":"alice"}` {
				t.Errorf("verify with published key: payload %q, err %v", got, err)
			}
			if got, err := m.Verify(context.Background(), token, TypeIDToken); err != nil || string(got) != `{"sub":"alice"}` {
				t.Errorf("Verify: payload %q, err %v", got, err)
			}
			if _, err := m.Verify(context.Background(), token, TypeAccessToken); err == nil {
				t.Error("Verify accepted an ID token as an access token")
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	m := newManager(t, memory.New(), newClock(), ES256)
	tests := []struct {
		alg, typ, want string
	}{
		{"HS256", TypeIDToken, "no HS256 signing key"},
		{"ES384", TypeIDToken, "no ES384 signing key"},
		{"none", TypeIDToken, "no none signing key"},
		{RS256, "id+jwt", `token type "id+jwt" is not one`},
	}
	for _, tt := range tests {
		t.Run(tt.alg+" "+tt.typ, func(t *testing.T) {
			if _, err := m.Sign(context.Background(), tt.alg, tt.typ, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	for _, tt := range []struct {
		defaultAlg string
		want       []string
	}{
		{"", []string{ES256, RS256}},
		{ES256, []string{ES256, RS256}},
		{RS256, []string{RS256, ES256}},
	} {
		m := newManager(t, memory.New(), newClock(), tt.defaultAlg)
		if got := m.Algorithms(); !slices.Equal(got, tt.want) {
			t.Errorf("default %q: Algorithms() = %v, want %v", tt.defaultAlg, got, tt.want)
		}
		if m.Algorithm() != tt.want[0] {
			t.Errorf("default %q: Algorithm() = %q, want %q", tt.defaultAlg, m.Algorithm(), tt.want[0])
		}
	}
	if got := Supported(); !slices.Equal(got, []string{ES256, RS256}) {
		t.Errorf("Supported() = %v", got)
	}
}

// TestDefaultAlgorithmChangeKeepsKeys checks that replicas configured with
// different defaults share the same keys rather than retiring each other's.
func TestDefaultAlgorithmChangeKeepsKeys(t *testing.T) {
	store, clk := memory.New(), newClock()
	es := newManager(t, store, clk, ES256)
	before := storedKeys(t, store)
	rs := newManager(t, store, clk, RS256)
	if after := storedKeys(t, store); !slices.EqualFunc(before, after, func(a, b storage.SigningKey) bool { return a.ID == b.ID && a.RetiredAt.Equal(b.RetiredAt) }) {
		t.Errorf("a manager with another default changed the stored keys: %v then %v", before, after)
	}
	if a, b := kidsOf(t, es, ""), kidsOf(t, rs, ""); !slices.Equal(a, b) || len(a) != 2 {
		t.Errorf("keys published: %v and %v, want the same two in the same order", a, b)
	}
	if _, kid := signedKID(t, rs, "", RS256, `{}`); !slices.Equal([]string{kid}, kidsOf(t, es, RS256)) {
		t.Errorf("RS256 default signs with %q, not the shared RS256 key", kid)
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
		{"bad alg", Config{Store: store, Algorithm: "HS256", RotationPeriod: period, MaxTokenLifetime: lifetime}, `"HS256" is not supported; use ES256 or RS256`},
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

// BenchmarkSign shows the cost of signing an ID token with each algorithm's
// ready signer; no key parsing or signer setup happens per call.
func BenchmarkSign(b *testing.B) {
	m := newManager(b, memory.New(), newClock(), ES256)
	payload := []byte(`{"iss":"https://login.example","sub":"alice","aud":"web","exp":1893456000,"iat":1893452400}`)
	for _, alg := range supported {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign(context.Background(), alg, TypeIDToken, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
