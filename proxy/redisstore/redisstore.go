// Package redisstore keeps proxy sessions in Redis, so any number of proxy
// replicas share them and signing out revokes a session everywhere at once.
package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
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
		// A *url.Error quotes the whole URL, password included: keep only
		// what is wrong with it.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("redisstore: the Redis URL does not parse (redis://[user:password@]host:port/db; %%-escape special characters in the password): %w", err)
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

var _ proxy.Shared = (*Store)(nil)

// Lock takes the lock called name for ttl with SET NX, holding a random
// token so that unlock releases only this holder's lock, never a later
// one's after this one expired.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	key, token := s.prefix+"lock:"+name, rand.Text()
	ok, err := s.client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: taking lock %s: %w", name, err)
	}
	if !ok {
		return nil, proxy.ErrLocked
	}
	return func() {
		// Unlocking after the caller's context ended must still happen.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		unlockScript.Run(ctx, s.client, []string{key}, token)
	}, nil
}

var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Revoked sessions are keys prefix+"revoked:"+id that expire when the
// session would have; each revocation is also published on the channel
// prefix+"revocations" as "id unix-milliseconds".
func (s *Store) revokedKey(id string) string { return s.prefix + "revoked:" + id }
func (s *Store) revocationChannel() string   { return s.prefix + "revocations" }

// Revoke records that session id ended, until it would have expired.
func (s *Store) Revoke(ctx context.Context, id string, until time.Time) error {
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.revokedKey(id), "1", ttl)
		p.Publish(ctx, s.revocationChannel(), id+" "+strconv.FormatInt(until.UnixMilli(), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: revoking session: %w", err)
	}
	return nil
}

// rescanEvery bounds how long a revocation published while this replica
// was disconnected from Redis goes unseen.
const rescanEvery = 30 * time.Second

// WatchRevocations reports every revoked session to add: those already
// listed, then each one published, with a full rescan every rescanEvery
// and after errors, until ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, add func(id string, until time.Time)) {
	sub := s.client.Subscribe(ctx, s.revocationChannel())
	defer sub.Close()
	// Subscribed before the first scan: a revocation in between is seen
	// twice rather than never.
	messages := sub.Channel()
	scan := time.NewTimer(0)
	defer scan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-messages:
			if !ok {
				return
			}
			// The id may hold spaces (a subject's, say); the time never does.
			i := strings.LastIndexByte(m.Payload, ' ')
			id, ms := m.Payload[:max(i, 0)], m.Payload[i+1:]
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil && id != "" {
				add(id, time.UnixMilli(n))
			}
		case <-scan.C:
			s.scanRevoked(ctx, add)
			scan.Reset(rescanEvery)
		}
	}
}

// scanRevoked reports every revoked session listed in Redis. Failures are
// left to the next scan.
func (s *Store) scanRevoked(ctx context.Context, add func(id string, until time.Time)) {
	prefix := s.revokedKey("")
	iter := s.client.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		ttl, err := s.client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 {
			continue
		}
		add(strings.TrimPrefix(key, prefix), time.Now().Add(ttl))
	}
}

// globEscape quotes the characters SCAN's MATCH pattern gives meaning to.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
