-- Revoked token families, remembered until revoked_until (unix milliseconds)
-- so that a token of the family stored after the revocation is refused. The
-- index serves the garbage collector.

CREATE TABLE revoked_families (
    family_id     TEXT PRIMARY KEY,
    revoked_until BIGINT NOT NULL
);
CREATE INDEX revoked_families_revoked_until ON revoked_families (revoked_until);

-- When an access token was created, to compare with revoked_until.
ALTER TABLE access_tokens ADD COLUMN created_at BIGINT;
