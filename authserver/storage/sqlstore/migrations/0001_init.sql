-- The first schema. Runs unchanged on SQLite and PostgreSQL: times are unix
-- milliseconds (BIGINT), scopes are space-separated TEXT. BYTEA has no
-- meaning to SQLite, which stores the bound []byte as a BLOB regardless.

CREATE TABLE auth_codes (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    subject               TEXT NOT NULL,
    auth_time             BIGINT,
    expires_at            BIGINT NOT NULL
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    auth_time  BIGINT,
    created_at BIGINT,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    auth_time  BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_family_id ON access_tokens (family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE consents (
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at BIGINT,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);
CREATE INDEX consents_expires_at ON consents (expires_at);

CREATE TABLE signing_keys (
    id            TEXT PRIMARY KEY,
    algorithm     TEXT NOT NULL,
    private_jwk   BYTEA NOT NULL,
    created_at    BIGINT,
    retired_at    BIGINT,
    publish_until BIGINT
);
