package config

import (
	"context"
	"log/slog"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/memstore"
	"github.com/gatehouse/gatehouse/proxy/redisstore"
)

// OpenStore opens the authserver's store as the file configures it. The
// caller closes it. It panics if the file has no authserver section.
func (c *Config) OpenStore(ctx context.Context, logger *slog.Logger) (storage.Store, error) {
	s := c.File.AuthServer.Storage
	switch s.Type {
	case "memory":
		logger.Warn("storage type memory: codes, tokens and signing keys are lost when gatehouse stops")
		return memory.New(), nil
	case "postgres":
		return sqlstore.Open(ctx, sqlstore.Config{Driver: "postgres", DSN: s.Postgres.DSN, Schema: s.Postgres.Schema, Logger: logger})
	default:
		return sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: s.SQLite.Path, Logger: logger})
	}
}

// OpenSessions opens the proxy's session store as the file configures it:
// nil (with a no-op close) when the cookie itself carries the session. It
// panics if the file has no proxy section.
func (c *Config) OpenSessions() (proxy.SessionStore, func() error, error) {
	noClose := func() error { return nil }
	s := c.File.Proxy.SessionStore
	switch s.Type {
	case "memory":
		return memstore.New(nil), noClose, nil
	case "redis":
		store, err := redisstore.Open(s.Redis.URL, s.Redis.KeyPrefix, s.Redis.TTL)
		if err != nil {
			return nil, nil, err
		}
		return store, store.Close, nil
	default:
		return nil, noClose, nil
	}
}
