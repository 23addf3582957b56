package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

var (
	insertCode    = insertSQL("auth_codes", codeCols)
	insertRefresh = insertSQL("refresh_tokens", refreshCols)
	insertAccess  = insertSQL("access_tokens", accessCols)
)

// selectRefresh reads the live refresh token $1 at $2, used or not.
const selectRefresh = "SELECT " + refreshCols + " FROM refresh_tokens WHERE id = $1 AND expires_at > $2"

// execer is what *sql.DB and *sql.Tx have in common for writing.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insert runs an insertSQL statement and reports a taken key as
// storage.ErrAlreadyExists.
func insert(ctx context.Context, db execer, query string, args []any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrAlreadyExists
	}
	return nil
}

// wrap adds the operation to a driver error, and turns "no rows" into
// storage.ErrNotFound. The sentinels pass through unchanged.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return storage.ErrNotFound
	case errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrTokenReused),
		errors.Is(err, storage.ErrCodeReused), errors.Is(err, storage.ErrRevoked):
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// CreateAuthCode implements storage.Store.
func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	return wrap("create auth code", insert(ctx, s.db, s.d.rebind(insertCode), codeArgs(c)))
}

// ClaimAuthCode implements storage.Store. The conditional UPDATE is the
// whole claim: the database lets one statement mark the row used, and every
// other finds it used already. Only when nothing was updated does a SELECT
// tell a live, used code (a replay) from an unknown or expired one; it needs
// no transaction, since a used row stays used until it expires.
func (s *Store) ClaimAuthCode(ctx context.Context, id string, now time.Time) (storage.AuthCode, error) {
	c, err := scanCode(s.db.QueryRowContext(ctx, s.d.rebind(
		"UPDATE auth_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING "+codeCols),
		id, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		c, err = scanCode(s.db.QueryRowContext(ctx, s.d.rebind(
			"SELECT "+codeCols+" FROM auth_codes WHERE id = $1 AND used_at IS NOT NULL AND expires_at > $2"), id, now.UnixMilli()))
		if err == nil {
			return c, storage.ErrCodeReused
		}
	}
	if err != nil {
		return storage.AuthCode{}, wrap("claim auth code", err)
	}
	return c, nil
}

// lockFamily runs the dialect's lockFamily for family in tx.
func (s *Store) lockFamily(ctx context.Context, tx *sql.Tx, family string) error {
	if s.d.lockFamily == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.rebind(s.d.lockFamily), family)
	return err
}

// insertUnlessRevoked runs the insertSQL statement query in tx unless the
// revocation of family is remembered past createdAt. The caller must hold
// the family's lock (lockFamily) so that no revocation commits in between.
// A zero createdAt compares as long ago, so any remembered revocation
// refuses it, as in the memory store.
func (s *Store) insertUnlessRevoked(ctx context.Context, tx *sql.Tx, family string, createdAt time.Time, query string, args []any) error {
	var revoked bool
	if err := tx.QueryRowContext(ctx, s.d.rebind(
		"SELECT EXISTS (SELECT 1 FROM revoked_families WHERE family_id = $1 AND revoked_until > $2)"),
		family, createdAt.UnixMilli()).Scan(&revoked); err != nil {
		return err
	}
	if revoked {
		return storage.ErrRevoked
	}
	return insert(ctx, tx, s.d.rebind(query), args)
}

// createToken stores one token row of family, atomically with respect to
// RevokeFamily.
func (s *Store) createToken(ctx context.Context, family string, createdAt time.Time, query string, args []any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockFamily(ctx, tx, family); err != nil {
			return err
		}
		return s.insertUnlessRevoked(ctx, tx, family, createdAt, query, args)
	})
}

// CreateRefreshToken implements storage.Store.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	return wrap("create refresh token", s.createToken(ctx, t.FamilyID, t.CreatedAt, insertRefresh, refreshArgs(t)))
}

// GetRefreshToken implements storage.Store.
func (s *Store) GetRefreshToken(ctx context.Context, id string, now time.Time) (storage.RefreshToken, error) {
	t, err := scanRefresh(s.read.QueryRowContext(ctx, s.d.rebind(selectRefresh), id, now.UnixMilli()))
	if err != nil {
		return storage.RefreshToken{}, wrap("get refresh token", err)
	}
	return t, nil
}

// RotateRefreshToken implements storage.Store. Marking the old token used is
// a conditional UPDATE, so of concurrent rotations only one changes the row;
// the losers then find it used. The new token is inserted in the same
// transaction, so a failed insert leaves the old one unused. The family lock
// comes first: RevokeFamily takes it before the row locks of its DELETE, and
// taking them in the other order here could deadlock with it.
func (s *Store) RotateRefreshToken(ctx context.Context, oldID string, next storage.RefreshToken, retry []byte, now time.Time) (storage.RefreshToken, error) {
	var old storage.RefreshToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockFamily(ctx, tx, next.FamilyID); err != nil {
			return err
		}
		var err error
		old, err = scanRefresh(tx.QueryRowContext(ctx, s.d.rebind(
			"UPDATE refresh_tokens SET used_at = $2, retry = $3 WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING "+refreshCols),
			oldID, now.UnixMilli(), retry))
		if errors.Is(err, sql.ErrNoRows) {
			old, err = scanRefresh(tx.QueryRowContext(ctx, s.d.rebind(selectRefresh), oldID, now.UnixMilli()))
			if err == nil {
				return storage.ErrTokenReused // live but not updated: already used
			}
			return err
		}
		if err != nil {
			return err
		}
		return s.insertUnlessRevoked(ctx, tx, next.FamilyID, next.CreatedAt, insertRefresh, refreshArgs(next))
	})
	if err != nil && !errors.Is(err, storage.ErrTokenReused) {
		old = storage.RefreshToken{}
	}
	return old, wrap("rotate refresh token", err)
}

// RevokeFamily implements storage.Store. The tombstone and the deletes are
// one transaction under the family's lock, so a concurrent token insert
// either committed before it (and is deleted) or runs after it (and finds
// the tombstone).
func (s *Store) RevokeFamily(ctx context.Context, familyID string, until time.Time) error {
	if familyID == "" {
		return nil
	}
	return wrap("revoke token family", s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockFamily(ctx, tx, familyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind("INSERT INTO revoked_families (family_id, revoked_until) VALUES ($1, $2) "+
			"ON CONFLICT (family_id) DO UPDATE SET revoked_until = excluded.revoked_until "+
			"WHERE excluded.revoked_until > revoked_families.revoked_until"), familyID, until.UnixMilli()); err != nil {
			return err
		}
		for _, table := range []string{"refresh_tokens", "access_tokens"} {
			if _, err := tx.ExecContext(ctx, s.d.rebind("DELETE FROM "+table+" WHERE family_id = $1"), familyID); err != nil {
				return err
			}
		}
		return nil
	}))
}

// CreateAccessToken implements storage.Store.
func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	return wrap("create access token", s.createToken(ctx, t.FamilyID, t.CreatedAt, insertAccess, accessArgs(t)))
}

// GetAccessToken implements storage.Store.
func (s *Store) GetAccessToken(ctx context.Context, id string, now time.Time) (storage.AccessToken, error) {
	t, err := scanAccess(s.read.QueryRowContext(ctx, s.d.rebind(
		"SELECT "+accessCols+" FROM access_tokens WHERE id = $1 AND expires_at > $2"), id, now.UnixMilli()))
	if err != nil {
		return storage.AccessToken{}, wrap("get access token", err)
	}
	return t, nil
}

// FamilyRevoked implements storage.Store.
func (s *Store) FamilyRevoked(ctx context.Context, familyID string, now time.Time) (bool, error) {
	var revoked bool
	err := s.read.QueryRowContext(ctx, s.d.rebind(
		"SELECT EXISTS (SELECT 1 FROM revoked_families WHERE family_id = $1 AND revoked_until > $2)"),
		familyID, now.UnixMilli()).Scan(&revoked)
	return revoked, wrap("check family revocation", err)
}

// DeleteAccessToken implements storage.Store.
func (s *Store) DeleteAccessToken(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.d.rebind("DELETE FROM access_tokens WHERE id = $1"), id)
	return wrap("delete access token", err)
}

// ClaimOnce implements storage.Store. One statement inserts the record or
// takes over an expired one; a live record makes it change no row.
func (s *Store) ClaimOnce(ctx context.Context, key string, until, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.d.rebind("INSERT INTO claims (claim_key, expires_at) VALUES ($1, $2) "+
		"ON CONFLICT (claim_key) DO UPDATE SET expires_at = excluded.expires_at WHERE claims.expires_at <= $3"),
		key, until.UnixMilli(), now.UnixMilli())
	if err != nil {
		return wrap("claim once", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("claim once", err)
	}
	if n == 0 {
		return storage.ErrAlreadyExists
	}
	return nil
}

// PutConsent implements storage.Store.
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	_, err := s.db.ExecContext(ctx, s.d.rebind("INSERT INTO consents ("+consentCols+") VALUES ($1, $2, $3, $4, $5) "+
		"ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at, expires_at = excluded.expires_at"),
		consentArgs(c)...)
	return wrap("put consent", err)
}

// GetConsent implements storage.Store.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string, now time.Time) (storage.Consent, error) {
	c, err := scanConsent(s.read.QueryRowContext(ctx, s.d.rebind(
		"SELECT "+consentCols+" FROM consents WHERE subject = $1 AND client_id = $2 AND expires_at > $3"),
		subject, clientID, now.UnixMilli()))
	if err != nil {
		return storage.Consent{}, wrap("get consent", err)
	}
	return c, nil
}
