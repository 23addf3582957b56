package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

var _ storage.Store = (*Store)(nil)

// Config says which database to use.
type Config struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// DSN is, for sqlite, the path of the database file (created, readable
	// by its owner only, when missing; its directory must exist); for
	// postgres, a connection URL or key=value string as libpq (and lib/pq)
	// accepts, e.g. postgres://gatehouse@db:5432/gatehouse?sslmode=verify-full.
	DSN string
	// Schema is, for postgres only, the schema that holds the tables; it is
	// created when missing. Empty means the connection's search_path (usually
	// public).
	Schema string
	// Logger receives migration notices; slog.Default() when nil.
	Logger *slog.Logger
}

// Store is a storage.Store on SQLite or PostgreSQL. It is safe for
// concurrent use, also by several Stores (processes) on one database.
type Store struct {
	// db runs every write, and on PostgreSQL every read too.
	db *sql.DB
	// read runs lookups that write nothing. On SQLite it is a separate pool
	// of read-only connections, so readers need not queue behind the single
	// writer connection; on PostgreSQL it is db.
	read *sql.DB
	d    dialect
	log  *slog.Logger
}

// dialect is everything that differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// rebind turns the package's $1-style placeholders into the driver's.
	rebind func(query string) string
	// lockKeys, run first in UpdateSigningKeys' transaction, serialises it
	// against every other writer of signing_keys. Empty when beginning the
	// transaction already did.
	lockKeys string
	// lockFamily, run in a transaction with the family ID as $1, serialises
	// it against every other transaction that writes tokens of that family,
	// so that a token insert and a revocation cannot both miss each other.
	// Empty when beginning the transaction already did.
	lockFamily string
	// lockMigrations is called first in the migration transaction and
	// serialises replicas starting at once.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
}

// Open connects to the database, brings its schema up to date and returns
// the Store. The caller must Close it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var (
		s   *Store
		err error
	)
	switch cfg.Driver {
	case "sqlite":
		s, err = openSQLite(ctx, cfg)
	case "postgres":
		s, err = openPostgres(ctx, cfg)
	default:
		return nil, fmt.Errorf(`sqlstore: unknown driver %q: use "sqlite" or "postgres"`, cfg.Driver)
	}
	if err != nil {
		return nil, err
	}
	s.log = cfg.Logger
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: migrate the %s database: %w", s.d.name, err)
	}
	return s, nil
}

// Ping checks that the database answers, through the pool that writes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("the %s database does not answer: %w", s.d.name, err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.read != s.db {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// inTx runs f in a transaction on the write pool and commits if f returns
// nil. On SQLite the transaction begins IMMEDIATE (see openSQLite), so it
// holds the database's write lock from the start.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// dollarToQuestion rewrites $1, $2 … as ?1, ?2 …, SQLite's numbered
// parameters, which like PostgreSQL's may be repeated in one statement. The
// package's SQL has no '$' anywhere else.
func dollarToQuestion(query string) string {
	return strings.ReplaceAll(query, "$", "?")
}
