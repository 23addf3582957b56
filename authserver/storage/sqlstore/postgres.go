package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// familyLockClass is the first key of the token family advisory locks.
const familyLockClass = "1734880628" // the bytes "gh-t" as a big-endian int32

// postgresConns caps each replica's connections; an authserver needs few.
const postgresConns = 10

func openPostgres(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx redacts the password from the DSN it quotes.
		return nil, fmt.Errorf("sqlstore: postgres DSN: %w; write it as postgres://USER@HOST:5432/DATABASE?sslmode=verify-full "+
			"or as key=value pairs (host=HOST user=USER dbname=DATABASE)", err)
	}
	schema := cfg.Schema
	if schema != "" {
		pcfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	db := stdlib.OpenDB(*pcfg)
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to postgres %s:%d/%s: %w; check that PostgreSQL is running and reachable there "+
			"and that the DSN's user, password and database are right", pcfg.Host, pcfg.Port, pcfg.Database, err)
	}
	return &Store{db: db, read: db, d: dialect{
		name:   "postgres",
		rebind: func(q string) string { return q },
		// EXCLUSIVE conflicts with itself and with every write, but not
		// with plain reads, so SigningKeys (JWKS) is never blocked.
		lockKeys: "LOCK TABLE signing_keys IN EXCLUSIVE MODE",
		// Under READ COMMITTED a revocation's DELETE does not see a token
		// inserted by a transaction still open, nor that insert the
		// revocation's uncommitted tombstone; a transaction-scoped
		// advisory lock per family orders the two. hashtext collisions
		// only serialise unrelated families. The two-key form keeps clear
		// of the migration lock's one-key space.
		lockFamily: "SELECT pg_advisory_xact_lock(" + familyLockClass + ", hashtext($1))",
		lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			return lockPostgresMigrations(ctx, tx, schema)
		},
	}}, nil
}

// lockPostgresMigrations takes a transaction-scoped advisory lock private to
// this schema, so replicas starting at once migrate one after the other,
// then creates the schema if it is missing. Advisory locks are per
// database, hence the schema in the key.
func lockPostgresMigrations(ctx context.Context, tx *sql.Tx, schema string) error {
	h := fnv.New64a()
	h.Write([]byte("gatehouse/sqlstore migrations\x00" + schema))
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if schema == "" {
		return nil
	}
	// Checked before creating, so that a role allowed to use an existing
	// schema but not to create schemas can still start.
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %q: %w", schema, err)
	}
	if exists {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %q: %w", schema, err)
	}
	return nil
}
