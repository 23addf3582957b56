-- A claimed authorization code stays stored until it expires, marked with
-- when it was claimed (unix milliseconds), so that a replay is told apart
-- from a code that never existed. Codes claimed before this migration were
-- deleted then, so every remaining row is unclaimed.

ALTER TABLE auth_codes ADD COLUMN used_at BIGINT;
