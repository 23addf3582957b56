package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"github.com/lib/pq"
)

// familyLockClass is the first key of the token family advisory locks.
const familyLockClass = "1734880628" // the bytes "gh-t" as a big-endian int32

// postgresConns caps each replica's connections; an authserver needs few.
const postgresConns = 10

func openPostgres(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pq.NewConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres DSN: %s; write it as postgres://USER@HOST:5432/DATABASE?sslmode=verify-full "+
			"or as key=value pairs (host=HOST user=USER dbname=DATABASE)", redactDSNError(cfg.DSN, err))
	}
	if pcfg.SSLMode == "" {
		// lib/pq alone defaults to require; prefer is libpq's default, and
		// the one gatehouse has always used.
		pcfg.SSLMode = pq.SSLModePrefer
	}
	schema := cfg.Schema
	if schema != "" {
		// lib/pq sends Runtime entries as run-time parameters at startup,
		// so every pooled connection starts in the schema.
		pcfg.Runtime["search_path"] = pq.QuoteIdentifier(schema)
	}
	connector, err := pq.NewConnectorConfig(pcfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres DSN: %w", err)
	}
	db := sql.OpenDB(connector)
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
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+pq.QuoteIdentifier(schema)); err != nil {
		return fmt.Errorf("create schema %q: %w", schema, err)
	}
	return nil
}

// quotedText matches a Go-quoted string in an error message: how lib/pq
// and net/url quote the parts of a DSN they could not parse.
var quotedText = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// urlPasswords match where a URL DSN may hold a password: its user
// information (up to the last @, user name and all, since a malformed URL
// may be split anywhere in it) and its password query parameter.
var urlPasswords = []*regexp.Regexp{
	regexp.MustCompile(`^[^:]*://(.*)@`),
	regexp.MustCompile(`\?(?:.*&)?password=([^&#]*)`),
}

// kvPasswords matches a key=value DSN's password, quoted or running up to
// the next key: an unquoted password with a space in it is split, and its
// tail quoted as a key.
var kvPasswords = []*regexp.Regexp{
	regexp.MustCompile(`\bpassword\s*=\s*('(?:[^'\\]|\\.)*'?|.*?)(?:\s+\w+\s*=|$)`),
}

// redactDSNError returns err's message with every quoted string that
// overlaps one of the DSN's passwords replaced: a DSN that does not parse
// may be quoted in part or whole.
func redactDSNError(dsn string, err error) string {
	res := kvPasswords
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		res = urlPasswords
	}
	var secrets []string
	for _, re := range res {
		if m := re.FindStringSubmatch(dsn); m != nil && m[1] != "" {
			secrets = append(secrets, m[1])
		}
	}
	return quotedText.ReplaceAllStringFunc(err.Error(), func(q string) string {
		s, uerr := strconv.Unquote(q)
		if uerr != nil {
			s = q[1 : len(q)-1]
		}
		for _, secret := range secrets {
			if s != "" && (strings.Contains(s, secret) || strings.Contains(secret, s)) {
				return `"[redacted]"`
			}
		}
		return q
	})
}
