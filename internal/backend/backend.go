// Package backend opens the stores a loaded configuration names: the
// authserver's database and the proxy's session store. It is kept apart
// from internal/config so that reading and checking a configuration file
// links no database or Redis driver; only the programs that serve (and the
// end-to-end tests) import it.
package backend

import (
	"context"
	"log/slog"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/proxy/memstore"
	"github.com/gatehouse/gatehouse/proxy/redisstore"
)

// OpenStore opens the authserver's store as c configures it. The caller
// closes it. It panics if the file has no authserver section.
func OpenStore(ctx context.Context, c *config.Config, logger *slog.Logger) (storage.Store, error) {
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

// OpenSessions opens the proxy's session store, or the state replicas
// share in cookie mode, as c configures it. It panics if the file has no
// proxy section.
func OpenSessions(c *config.Config) (*config.Sessions, error) {
	s := c.File.Proxy.SessionStore
	out := &config.Sessions{Close: func() error { return nil }}
	switch {
	case s.Type == "memory":
		out.Store = memstore.New(nil)
	case s.Redis != nil:
		store, err := redisstore.Open(s.Redis.URL, s.Redis.KeyPrefix, s.Redis.TTL)
		if err != nil {
			return nil, err
		}
		out.Close = store.Close
		if s.Type == "redis" {
			out.Store = store
		} else {
			out.Shared = store
		}
	}
	return out, nil
}
