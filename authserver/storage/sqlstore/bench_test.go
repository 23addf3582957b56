package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
)

// benchStores runs bench against SQLite and, when configured, PostgreSQL.
func benchStores(b *testing.B, bench func(b *testing.B, s *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := Open(b.Context(), Config{Driver: "sqlite", DSN: filepath.Join(b.TempDir(), "bench.db"), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := sqltest.PostgresDSN(b)
		s, err := Open(b.Context(), Config{Driver: "postgres", DSN: dsn, Schema: sqltest.FreshSchema(b, dsn), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s)
	})
}

// BenchmarkCodeExchange measures the store's part of a code exchange:
// issuing a code, claiming it, and storing the first refresh token.
func BenchmarkCodeExchange(b *testing.B) {
	now := time.UnixMilli(1_900_000_000_000).UTC()
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		i := 0
		for b.Loop() {
			id := fmt.Sprint(i)
			i++
			if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: id, Scopes: []string{"openid"}, ExpiresAt: now.Add(time.Minute)}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.ClaimAuthCode(ctx, id, now); err != nil {
				b.Fatal(err)
			}
			if err := s.CreateRefreshToken(ctx, storage.RefreshToken{ID: id, FamilyID: id, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetAccessToken measures a token lookup, what /userinfo costs,
// from parallel goroutines.
func BenchmarkGetAccessToken(b *testing.B) {
	now := time.UnixMilli(1_900_000_000_000).UTC()
	benchStores(b, func(b *testing.B, s *Store) {
		if err := s.CreateAccessToken(b.Context(), storage.AccessToken{ID: "at", Scopes: []string{"openid"}, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetAccessToken(b.Context(), "at", now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
