package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

var insertKey = insertSQL("signing_keys", keyCols)

// querier is what *sql.DB and *sql.Tx have in common for reading rows.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SigningKeys implements storage.Store.
func (s *Store) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	keys, err := s.signingKeys(ctx, s.read)
	return keys, wrap("read signing keys", err)
}

// signingKeys reads every key, newest first. The order is made in Go, not
// with ORDER BY, because the dialects sort NULLs and text differently.
func (s *Store) signingKeys(ctx context.Context, db querier) ([]storage.SigningKey, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+keyCols+" FROM signing_keys")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []storage.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b storage.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys, nil
}

// UpdateSigningKeys implements storage.Store. The read, update and write all
// happen in one transaction that holds the write lock from its first
// statement (the dialect's lockKeys on PostgreSQL, BEGIN IMMEDIATE on
// SQLite), which is what serialises replicas.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	var updateErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.lockKeys != "" {
			if _, err := tx.ExecContext(ctx, s.d.lockKeys); err != nil {
				return err
			}
		}
		cur, err := s.signingKeys(ctx, tx)
		if err != nil {
			return err
		}
		next, err := update(cur)
		if err != nil {
			updateErr = err
			return err
		}
		seen := make(map[string]bool, len(next))
		for _, k := range next {
			if seen[k.ID] {
				return fmt.Errorf("signing key %q appears twice in the updated set: %w", k.ID, storage.ErrAlreadyExists)
			}
			seen[k.ID] = true
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM signing_keys"); err != nil {
			return err
		}
		for _, k := range next {
			if err := insert(ctx, tx, s.d.rebind(insertKey), keyArgs(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if updateErr != nil {
		return updateErr // the caller's own error, unwrapped
	}
	if err != nil {
		return fmt.Errorf("sqlstore: update signing keys: %w", err)
	}
	return nil
}

// GarbageCollect implements storage.Store, in one transaction (one fsync on
// SQLite).
func (s *Store) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	var r storage.GCResult
	deletes := []struct {
		n     *int64
		query string
	}{
		// Tombstones, refresh tokens, access tokens: the order in which
		// RevokeFamily locks rows, else the two can deadlock on PostgreSQL
		// (its upsert locks a tombstone the collector would delete last).
		{&r.RevokedFamilies, "DELETE FROM revoked_families WHERE revoked_until <= $1"},
		{&r.RefreshTokens, "DELETE FROM refresh_tokens WHERE expires_at <= $1"},
		{&r.AccessTokens, "DELETE FROM access_tokens WHERE expires_at <= $1"},
		{&r.AuthCodes, "DELETE FROM auth_codes WHERE expires_at <= $1"},
		{&r.Consents, "DELETE FROM consents WHERE expires_at <= $1"},
		{&r.Claims, "DELETE FROM claims WHERE expires_at <= $1"},
		// The key that signs now has no retired_at and always stays.
		{&r.SigningKeys, "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND COALESCE(publish_until, 0) <= $1"},
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range deletes {
			res, err := tx.ExecContext(ctx, s.d.rebind(d.query), now.UnixMilli())
			if err != nil {
				return err
			}
			if *d.n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storage.GCResult{}, fmt.Errorf("sqlstore: garbage collect: %w", err)
	}
	return r, nil
}
