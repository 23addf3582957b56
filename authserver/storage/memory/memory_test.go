package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

func TestClaimAuthCodeOnce(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	s := New()
	code := storage.AuthCode{ID: "c1", ClientID: "web", Scopes: []string{"openid"}, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAuthCode(ctx, code); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
	got, err := s.ClaimAuthCode(ctx, "c1", now)
	if err != nil || got.ClientID != "web" {
		t.Fatalf("first claim: got %+v, %v; want client web, nil", got, err)
	}
	if _, err := s.ClaimAuthCode(ctx, "c1", now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second claim: got %v, want ErrNotFound", err)
	}
}
