// Package sqlstore keeps the authorization server's state in SQL: in an
// embedded SQLite file (the default, one process) or in PostgreSQL (several
// replicas sharing one database). Both dialects run the same SQL and the same
// embedded, numbered migrations; only placeholders, locking and connection
// setup differ.
//
// Times are stored as UTC unix milliseconds in BIGINT columns (NULL for the
// zero time) and scope lists as space-separated strings, which RFC 6749 §3.3
// guarantees is lossless since a scope token never contains a space.
package sqlstore
