package sqlstore

import (
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/conformance"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
)

func openPostgresT(t *testing.T, dsn, schema string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Driver: "postgres", DSN: dsn, Schema: schema, Logger: quiet})
	if err != nil {
		t.Fatalf("Open(postgres, schema %s): %v", schema, err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	conformance.RunTests(t, func(t *testing.T) storage.Store {
		return openPostgresT(t, dsn, sqltest.FreshSchema(t, dsn))
	})
}

// TestPostgresReplicas runs the replica checks on two Stores, each with its
// own connection pool, sharing one schema: two authserver replicas.
func TestPostgresReplicas(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	conformance.RunReplicaTests(t, func(t *testing.T) (storage.Store, storage.Store) {
		schema := sqltest.FreshSchema(t, dsn)
		return openPostgresT(t, dsn, schema), openPostgresT(t, dsn, schema)
	})
}

// TestPostgresConcurrentOpen starts several replicas at once on a schema
// that does not exist yet: all must start, and the migrations must run once.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	schema := sqltest.FreshSchema(t, dsn)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), Config{Driver: "postgres", DSN: dsn, Schema: schema, Logger: quiet})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	checkMigrations(t, stores[0], len(ms))
}

// TestPostgresSchemaIsolation checks that a store sees only its own schema.
func TestPostgresSchemaIsolation(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	a := openPostgresT(t, dsn, sqltest.FreshSchema(t, dsn))
	defer a.Close()
	b := openPostgresT(t, dsn, sqltest.FreshSchema(t, dsn))
	defer b.Close()
	now := time.UnixMilli(1_900_000_000_000).UTC()
	if err := a.CreateAccessToken(t.Context(), storage.AccessToken{ID: "at", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetAccessToken(t.Context(), "at", now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetAccessToken in another schema: got %v, want ErrNotFound", err)
	}
}

// TestPostgresExistingSchema checks that a schema created beforehand (say
// by a DBA) is used as is.
func TestPostgresExistingSchema(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	schema := sqltest.FreshSchema(t, dsn)
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+pq.QuoteIdentifier(schema)); err != nil {
		t.Fatal(err)
	}
	s := openPostgresT(t, dsn, schema)
	defer s.Close()
	var tables int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 8 {
		t.Errorf("tables in schema %s: got %d, want 8 (7 and the migrations table)", schema, tables)
	}
}

// TestPostgresGarbageCollectDuringRevocation checks that the garbage
// collector and a revocation of a family with an expired token and an
// expired tombstone do not deadlock: the collector must take row locks in
// the order RevokeFamily does (tombstone, refresh tokens, access tokens).
// The revocation is paused after its first write, as if it were slow, until
// the collector waits for it.
func TestPostgresGarbageCollectDuringRevocation(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	s := openPostgresT(t, dsn, sqltest.FreshSchema(t, dsn))
	defer s.Close()
	ctx := t.Context()
	now := time.UnixMilli(1_900_000_000_000).UTC()
	if err := s.RevokeFamily(ctx, "f", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"rt1", "rt2"} {
		if err := s.CreateRefreshToken(ctx, storage.RefreshToken{ID: id, FamilyID: "f", CreatedAt: now.Add(-30 * time.Minute), ExpiresAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var pid int
	if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if err := s.lockFamily(ctx, tx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO revoked_families (family_id, revoked_until) VALUES ($1, $2) "+
		"ON CONFLICT (family_id) DO UPDATE SET revoked_until = excluded.revoked_until "+
		"WHERE excluded.revoked_until > revoked_families.revoked_until", "f", now.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}

	gcErr := make(chan error, 1)
	go func() {
		_, err := s.GarbageCollect(ctx, now)
		gcErr <- err
	}()
	// Wait until the collector is blocked by the paused revocation.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var blocked bool
		if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))", pid).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		if blocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the garbage collector never waited for the revocation")
		}
	}
	_, delErr := tx.ExecContext(ctx, "DELETE FROM refresh_tokens WHERE family_id = $1", "f")
	if delErr == nil {
		delErr = tx.Commit()
	}
	if delErr != nil {
		t.Errorf("revocation: got %v, want it to finish", delErr)
	}
	if err := <-gcErr; err != nil {
		t.Errorf("GarbageCollect: got %v, want it to finish", err)
	}
	if err := s.CreateRefreshToken(ctx, storage.RefreshToken{ID: "rt3", FamilyID: "f", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("a token of the family after the revocation: got %v, want ErrRevoked (the collector removed the live tombstone)", err)
	}
}
