// Package redisstore keeps proxy sessions in Redis, so any number of proxy
// replicas share them and signing out revokes a session everywhere at once.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/proxy"
)

var _ proxy.SessionStore = (*Store)(nil)

// Store is a proxy.SessionStore on Redis. Each session is one string key,
// prefix + id, that Redis expires by itself.
type Store struct {
	client redis.UniversalClient
	prefix string
	maxTTL time.Duration
}

// New returns a Store using client. Keys are prefix + session id, so several
// deployments can share one database. maxTTL caps how long any session is
// kept (0: no cap); sessions whose tokens expire sooner go sooner.
func New(client redis.UniversalClient, prefix string, maxTTL time.Duration) *Store {
	return &Store{client: client, prefix: prefix, maxTTL: maxTTL}
}

// Open connects to the Redis at rawURL (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and returns a Store on it, like New. Close the Store
// when done with it.
func Open(rawURL, prefix string, maxTTL time.Duration) (*Store, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	return New(redis.NewClient(opts), prefix, maxTTL), nil
}

// Save stores value under id for ttl, or maxTTL if that is shorter.
func (s *Store) Save(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	if s.maxTTL > 0 {
		ttl = min(ttl, s.maxTTL)
	}
	if ttl <= 0 {
		return errors.New("redisstore: session ttl must be positive")
	}
	if err := s.client.Set(ctx, s.prefix+id, value, ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: saving session: %w", err)
	}
	return nil
}

// Load returns the value stored under id, or proxy.ErrSessionNotFound.
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	b, err := s.client.Get(ctx, s.prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, proxy.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: loading session: %w", err)
	}
	return b, nil
}

// Delete removes id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.client.Del(ctx, s.prefix+id).Err(); err != nil {
		return fmt.Errorf("redisstore: deleting session: %w", err)
	}
	return nil
}

// Close closes the Redis client.
func (s *Store) Close() error {
	return s.client.Close()
}
