package sqlstore

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/conformance"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openSQLiteT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Driver: "sqlite", DSN: path, Logger: quiet})
	if err != nil {
		t.Fatalf("Open(sqlite, %s): %v", path, err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) storage.Store {
		return openSQLiteT(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

// TestSQLiteReplicas runs the replica checks on two Stores opened on one
// file, as during a rolling restart.
func TestSQLiteReplicas(t *testing.T) {
	conformance.RunReplicaTests(t, func(t *testing.T) (storage.Store, storage.Store) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		return openSQLiteT(t, path), openSQLiteT(t, path)
	})
}

func TestSQLiteReopenKeepsRows(t *testing.T) {
	ctx := t.Context()
	now := time.UnixMilli(1_900_000_000_000).UTC()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openSQLiteT(t, path)
	if err := s.CreateRefreshToken(ctx, storage.RefreshToken{ID: "rt", FamilyID: "f", Scopes: []string{"openid"}, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: "code", ClientID: "web", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{{ID: "k1", Algorithm: "ES256", PrivateJWK: []byte(`{}`), CreatedAt: now}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openSQLiteT(t, path)
	defer s.Close()
	if c, err := s.ClaimAuthCode(ctx, "code", now); err != nil || c.ClientID != "web" {
		t.Errorf("code after reopening: got %+v, %v; want client web", c, err)
	}
	old, err := s.RotateRefreshToken(ctx, "rt", storage.RefreshToken{ID: "rt2", FamilyID: "f", ExpiresAt: now.Add(time.Hour)}, nil, now)
	if err != nil || old.FamilyID != "f" {
		t.Errorf("rotation after reopening: got %+v, %v; want family f", old, err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != "k1" {
		t.Errorf("signing keys after reopening: got %+v, %v; want [k1]", keys, err)
	}
}

func TestSQLiteSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openSQLiteT(t, path)
	defer s.Close()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
	} {
		var got string
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s: got %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.read.ExecContext(t.Context(), "DELETE FROM auth_codes"); err == nil {
		t.Error("a write through the read pool succeeded, want it refused (query_only)")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode: got %o, want 600 (it holds private keys)", perm)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown driver", Config{Driver: "mysql", DSN: "x"}, `unknown driver "mysql"`},
		{"empty sqlite path", Config{Driver: "sqlite"}, "must be the path of a database file"},
		{"sqlite memory", Config{Driver: "sqlite", DSN: ":memory:"}, "must be the path of a database file"},
		{"sqlite URI", Config{Driver: "sqlite", DSN: "file:x.db?mode=ro"}, "must be the path of a database file"},
		{"sqlite with schema", Config{Driver: "sqlite", DSN: filepath.Join(dir, "a.db"), Schema: "s"}, "postgres only"},
		{"sqlite missing directory", Config{Driver: "sqlite", DSN: filepath.Join(dir, "no", "such", "a.db")}, "does not exist; create it first"},
		{"sqlite path below a file", Config{Driver: "sqlite", DSN: filepath.Join(notDir, "a.db")}, "choose a path in a directory that the user gatehouse runs as can write"},
		{"postgres bad DSN", Config{Driver: "postgres", DSN: "postgres://[::1"}, "write it as postgres://USER@HOST:5432/DATABASE"},
		// Nothing listens on port 1 of the loopback address.
		{"postgres unreachable", Config{Driver: "postgres", DSN: "postgres://gatehouse@127.0.0.1:1/gatehouse?sslmode=disable"},
			"check that PostgreSQL is running and reachable there"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet
			s, err := Open(t.Context(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open: got no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: got error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestRefusesNewerSchema checks that a database migrated by a newer
// gatehouse is not used by an older one.
func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := openSQLiteT(t, path)
	if _, err := s.db.ExecContext(t.Context(), "INSERT INTO gatehouse_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(t.Context(), Config{Driver: "sqlite", DSN: path, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "schema version 999") {
		t.Errorf("Open of a newer schema: got %v, want an error naming schema version 999", err)
	}
}

// TestMigrationsRecorded checks that every embedded migration is applied
// once and a second Open applies nothing.
func TestMigrationsRecorded(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	for range 2 {
		s := openSQLiteT(t, path)
		checkMigrations(t, s, len(ms))
		s.Close()
	}
}

func checkMigrations(t *testing.T, s *Store, want int) {
	t.Helper()
	var n, max int
	if err := s.db.QueryRowContext(context.Background(), "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM gatehouse_migrations").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != want || max != want {
		t.Errorf("gatehouse_migrations: got %d rows up to version %d, want %d up to %d", n, max, want, want)
	}
}
