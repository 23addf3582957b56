package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// Each table's columns, in the order its scan and args functions use.
const (
	codeCols    = "id, client_id, redirect_uri, scopes, nonce, code_challenge, code_challenge_method, subject, auth_time, expires_at"
	refreshCols = "id, family_id, client_id, subject, scopes, nonce, auth_time, created_at, expires_at, used_at, retry"
	accessCols  = "id, family_id, client_id, subject, scopes, auth_time, created_at, expires_at"
	consentCols = "subject, client_id, scopes, granted_at, expires_at"
	keyCols     = "id, algorithm, private_jwk, created_at, retired_at, publish_until"
)

// insertSQL is the INSERT of one row of cols into table, doing nothing when
// the primary key is taken, so callers can tell ErrAlreadyExists from the
// rows affected without aborting a PostgreSQL transaction.
func insertSQL(table, cols string) string {
	n := strings.Count(cols, ",") + 1
	ph := make([]string, n)
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO " + table + " (" + cols + ") VALUES (" + strings.Join(ph, ", ") + ") ON CONFLICT DO NOTHING"
}

// row is what a *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

// millis is a time column's value: unix milliseconds, or NULL for the zero
// time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// timeCol scans a millis column into *t, in UTC.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("sqlstore: time column holds %T, want an integer", src)
	}
	return nil
}

// scopeCol scans a space-separated scope column into *s.
type scopeCol struct{ s *[]string }

func (c scopeCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*c.s = strings.Fields(v)
	case []byte:
		*c.s = strings.Fields(string(v))
	default:
		return fmt.Errorf("sqlstore: scope column holds %T, want text", src)
	}
	return nil
}

func joinScopes(s []string) string { return strings.Join(s, " ") }

func codeArgs(c storage.AuthCode) []any {
	return []any{c.ID, c.ClientID, c.RedirectURI, joinScopes(c.Scopes), c.Nonce, c.CodeChallenge,
		c.CodeChallengeMethod, c.Subject, millis(c.AuthTime), millis(c.ExpiresAt)}
}

func scanCode(r row) (storage.AuthCode, error) {
	var c storage.AuthCode
	err := r.Scan(&c.ID, &c.ClientID, &c.RedirectURI, scopeCol{&c.Scopes}, &c.Nonce, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.Subject, timeCol{&c.AuthTime}, timeCol{&c.ExpiresAt})
	return c, err
}

func refreshArgs(t storage.RefreshToken) []any {
	return []any{t.ID, t.FamilyID, t.ClientID, t.Subject, joinScopes(t.Scopes), t.Nonce,
		millis(t.AuthTime), millis(t.CreatedAt), millis(t.ExpiresAt), millis(t.UsedAt), t.Retry}
}

func scanRefresh(r row) (storage.RefreshToken, error) {
	var t storage.RefreshToken
	err := r.Scan(&t.ID, &t.FamilyID, &t.ClientID, &t.Subject, scopeCol{&t.Scopes}, &t.Nonce,
		timeCol{&t.AuthTime}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt}, &t.Retry)
	if len(t.Retry) == 0 {
		t.Retry = nil
	}
	return t, err
}

func accessArgs(t storage.AccessToken) []any {
	return []any{t.ID, t.FamilyID, t.ClientID, t.Subject, joinScopes(t.Scopes), millis(t.AuthTime), millis(t.CreatedAt), millis(t.ExpiresAt)}
}

func scanAccess(r row) (storage.AccessToken, error) {
	var t storage.AccessToken
	err := r.Scan(&t.ID, &t.FamilyID, &t.ClientID, &t.Subject, scopeCol{&t.Scopes}, timeCol{&t.AuthTime}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	return t, err
}

func consentArgs(c storage.Consent) []any {
	return []any{c.Subject, c.ClientID, joinScopes(c.Scopes), millis(c.GrantedAt), millis(c.ExpiresAt)}
}

func scanConsent(r row) (storage.Consent, error) {
	var c storage.Consent
	err := r.Scan(&c.Subject, &c.ClientID, scopeCol{&c.Scopes}, timeCol{&c.GrantedAt}, timeCol{&c.ExpiresAt})
	return c, err
}

func keyArgs(k storage.SigningKey) []any {
	jwk := k.PrivateJWK
	if jwk == nil {
		jwk = []byte{} // the column is NOT NULL; nil would bind as NULL
	}
	return []any{k.ID, k.Algorithm, jwk, millis(k.CreatedAt), millis(k.RetiredAt), millis(k.PublishUntil)}
}

func scanKey(r row) (storage.SigningKey, error) {
	var k storage.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateJWK, timeCol{&k.CreatedAt}, timeCol{&k.RetiredAt}, timeCol{&k.PublishUntil})
	return k, err
}
