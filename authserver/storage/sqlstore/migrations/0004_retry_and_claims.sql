-- What a rotation stored with the refresh token it used, so that a retried
-- refresh can get the same answer (storage.RefreshToken.Retry).
ALTER TABLE refresh_tokens ADD COLUMN retry BYTEA;

-- One-time records (storage.Store.ClaimOnce), kept until expires_at (unix
-- milliseconds). The index serves the garbage collector.
CREATE TABLE claims (
    claim_key  TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX claims_expires_at ON claims (expires_at);
