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

// Sessions is the proxy's session state as OpenSessions opened it.
type Sessions struct {
	// Store keeps sessions; nil when the cookie itself carries them.
	Store proxy.SessionStore
	// Shared is what cookie-session replicas share, or nil.
	Shared proxy.Shared
	// Close releases the connections; it is never nil.
	Close func() error
}

// OpenSessions opens the proxy's session store, or the state replicas
// share in cookie mode, as the file configures it. It panics if the file
// has no proxy section.
func (c *Config) OpenSessions() (*Sessions, error) {
	s := c.File.Proxy.SessionStore
	out := &Sessions{Close: func() error { return nil }}
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
