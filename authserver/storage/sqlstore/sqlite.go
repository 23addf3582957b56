package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// sqliteWriterPragmas configure the single connection that writes.
//
//   - journal_mode(WAL): readers never block the writer nor it them, and a
//     commit is one append to the log, so a process killed mid-write leaves
//     the database intact (the unfinished transaction is rolled back on the
//     next open).
//   - synchronous(FULL): every commit is fsynced before it is acknowledged.
//     NORMAL would already survive SIGKILL (a commit is in the OS page cache
//     once written), but could lose the last commits on power loss or a
//     kernel crash; a lost rotation or revocation is a security event, and
//     the authserver writes rarely enough for an fsync per commit to be
//     cheap.
//   - busy_timeout: another process holding the write lock (a second
//     gatehouse on the same file, a backup) is waited for, not failed on.
//   - foreign_keys: SQLite leaves constraints off unless asked.
//
// _txlock=immediate makes every transaction take the write lock when it
// begins, so a transaction that reads then writes (a rotation, a key update)
// can never fail to upgrade its lock half way, and transactions of
// different processes are serialised.
var sqliteWriterPragmas = []string{
	"_pragma=busy_timeout(10000)",
	"_pragma=journal_mode(WAL)",
	"_pragma=synchronous(FULL)",
	"_pragma=foreign_keys(1)",
	"_txlock=immediate",
}

// sqliteReaderPragmas configure the read pool: query_only turns any write
// through it into an error instead of a second writer.
var sqliteReaderPragmas = []string{
	"_pragma=busy_timeout(10000)",
	"_pragma=foreign_keys(1)",
	"_pragma=query_only(1)",
}

// sqliteWritableHint says what to do when the database file cannot be
// opened for writing. SQLite needs the directory writable too: in WAL mode
// it creates the -wal and -shm files next to the database.
const sqliteWritableHint = "choose a path in a directory that the user gatehouse runs as can write (SQLite creates the -wal and -shm files next to the database)"

// sqliteReaders is the size of the read pool.
const sqliteReaders = 4

func openSQLite(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DSN == "" || cfg.DSN == ":memory:" || strings.HasPrefix(cfg.DSN, "file:") {
		return nil, fmt.Errorf("sqlstore: the sqlite DSN must be the path of a database file, got %q", cfg.DSN)
	}
	if cfg.Schema != "" {
		return nil, fmt.Errorf("sqlstore: schema %q given, but schemas are for postgres only", cfg.Schema)
	}
	path, err := filepath.Abs(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite path %q: %w", cfg.DSN, err)
	}
	// The file holds private signing keys: create it for its owner only
	// (SQLite gives its -wal and -shm files the same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlstore: sqlite database %s: directory %s does not exist; create it first", path, filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite database: %w; %s", err, sqliteWritableHint)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite database: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		cfg.Logger.Warn("the sqlite database holds private signing keys but others may read it; chmod 600 it",
			"path", path, "mode", fmt.Sprintf("%o", perm))
	}

	// A file: URI, so that SQLite takes the path literally whatever
	// characters it has; url.URL escapes them.
	uri := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	db, err := sql.Open("sqlite", uri+"?"+strings.Join(sqliteWriterPragmas, "&"))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite database %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer at a time anyway, and
	// queueing in the pool is fairer and cheaper than spinning on the busy
	// handler.
	db.SetMaxOpenConns(1)
	// The first connection switches the file to WAL before any reader opens.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite database %s: %w; %s", path, err, sqliteWritableHint)
	}
	read, err := sql.Open("sqlite", uri+"?"+strings.Join(sqliteReaderPragmas, "&"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite database %s: %w", path, err)
	}
	read.SetMaxOpenConns(sqliteReaders)
	read.SetMaxIdleConns(sqliteReaders)
	return &Store{db: db, read: read, d: dialect{
		name:   "sqlite",
		rebind: dollarToQuestion,
		// BEGIN IMMEDIATE on the single writer connection already
		// serialises every writing transaction.
		lockMigrations: func(context.Context, *sql.Tx) error { return nil },
	}}, nil
}
