package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/internal/config"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

// replicaYAML configures one authserver replica; storage is opened by the
// test, so the type here is a placeholder.
const replicaYAML = `authserver:
  issuer: %[1]s
  key_rotation_period: 1h
  cookie_secrets: ["e2e replicas cookie secret, test only!!"]
  storage: {type: memory}
  users:
    - {id: alice, password_hash: "%[3]s", email: alice@example.com}
  clients:
    - id: app
      secret: e2e-app-secret
      redirect_uris: ["%[2]s/cb"]
      scopes: [openid, email]
`

// TestTwoReplicasOnPostgres runs two authserver replicas, each with its own
// connection pool, on one PostgreSQL schema, as behind a load balancer: a
// code issued by one is redeemed at the other, both publish the same JWKS,
// and a key rotation done by one is followed by the other.
func TestTwoReplicasOnPostgres(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	schema := sqltest.FreshSchema(t, dsn)
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer capture.Close()

	// Replica A's address is the public issuer; B serves the same issuer.
	srvA := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srvA.Listener.Addr().String()
	path := filepath.Join(t.TempDir(), "replica.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(replicaYAML, issuer, capture.URL, testPasswordHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Now())
	ctx := t.Context()
	newReplica := func() *authserver.Server {
		store, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "postgres", DSN: dsn, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		cfg, err := c.AuthServer(store, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Now = clock.Now
		as, err := authserver.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	a, b := newReplica(), newReplica()
	srvA.Config.Handler = a
	srvA.Start()
	defer srvA.Close()
	srvB := httptest.NewServer(b)
	defer srvB.Close()

	kidsA, kidsB := jwksKids(t, issuer), jwksKids(t, srvB.URL)
	if len(kidsA) != 2 || !slices.Equal(kidsA, kidsB) {
		t.Fatalf("JWKS: replica A publishes %v, B publishes %v; want the same two keys, ES256 and RS256", kidsA, kidsB)
	}

	// A code issued by A is redeemed at B, and B's ID token verifies with the
	// keys A publishes.
	oc := &oauth2.Config{
		ClientID: "app", ClientSecret: "e2e-app-secret", RedirectURL: capture.URL + "/cb",
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: srvB.URL + "/token"},
		Scopes:   []string{oidc.ScopeOpenID, "email"},
	}
	tok := codeFlow(t, ctx, oc)
	verifyWith := func(jwksURL, raw string) (*oidc.IDToken, error) {
		v := oidc.NewVerifier(issuer, oidc.NewRemoteKeySet(ctx, jwksURL), &oidc.Config{ClientID: "app", Now: clock.Now, SupportedSigningAlgs: []string{"ES256"}})
		return v.Verify(ctx, raw)
	}
	if _, err := verifyWith(issuer+"/keys", tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token from replica B does not verify with replica A's JWKS: %v", err)
	}
	signedBefore := headerKid(t, tok.Extra("id_token").(string))
	// The refresh token B issued works at A. (That a code is redeemed once
	// across replicas is checked by conformance.RunReplicaTests.)
	ocA := *oc
	ocA.Endpoint.TokenURL = issuer + "/token"
	if _, err := refresh(ctx, &ocA, tok.RefreshToken); err != nil {
		t.Fatalf("refresh token issued by B, used at A: %v", err)
	}

	// Rotation: once the period has passed, A rotates; B follows.
	clock.Advance(2 * time.Hour)
	maintainCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.Maintain(maintainCtx); close(done) }()
	waitFor(t, "replica A to rotate its keys", func() bool { return len(jwksKids(t, issuer)) == 4 })
	stop()
	<-done
	waitFor(t, "replica B to publish A's new key", func() bool {
		return slices.Equal(jwksKids(t, srvB.URL), jwksKids(t, issuer))
	})
	newKids := jwksKids(t, issuer)
	for _, kid := range kidsA {
		if !slices.Contains(newKids, kid) {
			t.Errorf("after rotation the retired key %s is no longer published (%v)", kid, newKids)
		}
	}
	tok = codeFlow(t, ctx, oc) // signed at B after A's rotation
	if _, err := verifyWith(srvB.URL+"/keys", tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	if kid := headerKid(t, tok.Extra("id_token").(string)); kid == signedBefore {
		t.Errorf("replica B still signs with the retired key %s after A rotated", kid)
	}
}

func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

func headerKid(t *testing.T, compact string) string {
	t.Helper()
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
