// Package redisstore keeps proxy sessions in Redis, so any number of proxy
// replicas share them and signing out revokes a session everywhere at once.
//
// It speaks to Redis through redigo, whose small API costs the binary a
// few hundred kilobytes where a client with a method per Redis command
// costs megabytes (text/template, which the pages use, keeps every
// exported method of such a client linked).
package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/proxy"
)

var _ proxy.SessionStore = (*Store)(nil)

// Store is a proxy.SessionStore on Redis. Each session is one string key,
// prefix + id, that Redis expires by itself.
type Store struct {
	pool   *redis.Pool
	dial   func(ctx context.Context, readTimeout time.Duration) (redis.Conn, error)
	prefix string
	maxTTL time.Duration
}

// Timeouts of one exchange with Redis; a command that takes longer fails
// rather than holding a request.
const (
	dialTimeout = 5 * time.Second
	ioTimeout   = 3 * time.Second
)

// Open returns a Store on the Redis at rawURL (redis://[user:password@]
// host:port/db, or rediss:// for TLS). Keys are prefix + session id, so
// several deployments can share one database. maxTTL caps how long any
// session is kept (0: no cap); sessions whose tokens expire sooner go
// sooner. Connections are made when first needed; close the Store when
// done with it.
func Open(rawURL, prefix string, maxTTL time.Duration) (*Store, error) {
	if err := checkURL(rawURL); err != nil {
		return nil, err
	}
	s := &Store{prefix: prefix, maxTTL: maxTTL}
	s.dial = func(ctx context.Context, readTimeout time.Duration) (redis.Conn, error) {
		return redis.DialURLContext(ctx, rawURL, redis.DialConnectTimeout(dialTimeout),
			redis.DialReadTimeout(readTimeout), redis.DialWriteTimeout(ioTimeout))
	}
	s.pool = &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) { return s.dial(ctx, ioTimeout) },
		MaxIdle:     runtime.GOMAXPROCS(0) * 4,
		MaxActive:   runtime.GOMAXPROCS(0) * 10,
		Wait:        true, // for a connection, as long as the request's context allows
		IdleTimeout: 5 * time.Minute,
	}
	return s, nil
}

// errURLParsed stops checkURL's dial once redigo has read the whole URL.
var errURLParsed = errors.New("parsed")

// checkURL reports a URL that Redis could never be reached at, at start
// rather than at the first sign-in: it lets redigo read the URL exactly as
// it will when connecting, and stops before connecting.
func checkURL(rawURL string) error {
	stop := redis.DialContextFunc(func(context.Context, string, string) (net.Conn, error) { return nil, errURLParsed })
	_, err := redis.DialURLContext(context.Background(), rawURL, stop)
	if errors.Is(err, errURLParsed) {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the URL, and with it any password
	}
	return fmt.Errorf("redisstore: %v; want redis://[user:password@]host:port/db, or rediss:// for TLS", err)
}

// withConn runs f on a pooled connection. A connection that broke while
// idle (Redis restarted, a firewall forgot it) fails on first use; f then
// runs once more on a new one, as everything this package sends is safe to
// repeat.
func (s *Store) withConn(ctx context.Context, f func(redis.Conn) (any, error)) (any, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.pool.GetContext(ctx)
		if err != nil {
			return nil, err
		}
		reply, err := f(c)
		broken := c.Err() != nil
		c.Close()
		if err == nil || !broken || attempt > 0 || ctx.Err() != nil {
			return reply, err
		}
	}
}

// do runs one command, as withConn does.
func (s *Store) do(ctx context.Context, cmd string, args ...any) (any, error) {
	return s.withConn(ctx, func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, cmd, args...) })
}

// millis is d in whole milliseconds for PX, never 0, which Redis refuses.
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Save stores value under id for ttl, or maxTTL if that is shorter.
func (s *Store) Save(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	if s.maxTTL > 0 {
		ttl = min(ttl, s.maxTTL)
	}
	if ttl <= 0 {
		return errors.New("redisstore: session ttl must be positive")
	}
	if _, err := s.do(ctx, "SET", s.prefix+id, value, "PX", millis(ttl)); err != nil {
		return fmt.Errorf("redisstore: saving session: %w", err)
	}
	return nil
}

// Load returns the value stored under id, or proxy.ErrSessionNotFound.
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	b, err := redis.Bytes(s.do(ctx, "GET", s.prefix+id))
	if errors.Is(err, redis.ErrNil) {
		return nil, proxy.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: loading session: %w", err)
	}
	return b, nil
}

// Delete removes id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.do(ctx, "DEL", s.prefix+id); err != nil {
		return fmt.Errorf("redisstore: deleting session: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	return s.pool.Close()
}

var _ proxy.Shared = (*Store)(nil)

// Lock takes the lock called name for ttl with SET NX, holding a random
// token so that unlock releases only this holder's lock, never a later
// one's after this one expired.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	key, token := s.prefix+"lock:"+name, rand.Text()
	_, err := redis.String(s.do(ctx, "SET", key, token, "NX", "PX", millis(ttl)))
	if errors.Is(err, redis.ErrNil) {
		return nil, proxy.ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: taking lock %s: %w", name, err)
	}
	return func() {
		// Unlocking after the caller's context ended must still happen.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.withConn(ctx, func(c redis.Conn) (any, error) { return unlockScript.DoContext(ctx, c, key, token) })
	}, nil
}

var unlockScript = redis.NewScript(1, `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

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
	_, err := s.withConn(ctx, func(c redis.Conn) (any, error) {
		c.Send("MULTI")
		c.Send("SET", s.revokedKey(id), "1", "PX", millis(ttl))
		c.Send("PUBLISH", s.revocationChannel(), id+" "+strconv.FormatInt(until.UnixMilli(), 10))
		return redis.DoContext(c, ctx, "EXEC")
	})
	if err != nil {
		return fmt.Errorf("redisstore: revoking session: %w", err)
	}
	return nil
}

// rescanEvery bounds how long a revocation published while this replica
// was disconnected from Redis goes unseen. The subscription is pinged as
// often, so a connection that died silently is noticed within two.
const rescanEvery = 30 * time.Second

// resubscribeAfter is the pause before subscribing again after the
// subscription failed, so an unreachable Redis is not hammered.
const resubscribeAfter = time.Second

// WatchRevocations reports every revoked session to add: those already
// listed, then each one published, with a full rescan every rescanEvery
// and after every new subscription, until ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, add func(id string, until time.Time)) {
	for {
		s.watch(ctx, add)
		select {
		case <-ctx.Done():
			return
		case <-time.After(resubscribeAfter):
		}
	}
}

// watch is WatchRevocations on one subscription; it returns when the
// subscription fails or ctx ends.
func (s *Store) watch(ctx context.Context, add func(id string, until time.Time)) {
	c, err := s.dial(ctx, 2*rescanEvery)
	if err != nil {
		return
	}
	sub := redis.PubSubConn{Conn: c}
	defer sub.Close()
	if err := sub.Subscribe(s.revocationChannel()); err != nil {
		return
	}
	// Subscribed before the first scan: a revocation in between is seen
	// twice rather than never.
	messages := make(chan redis.Message)
	go func() {
		defer close(messages)
		for {
			switch m := sub.ReceiveContext(ctx).(type) {
			case redis.Message:
				select {
				case messages <- m:
				case <-ctx.Done():
					return
				}
			case error:
				return
			}
		}
	}()
	defer func() {
		sub.Close() // which ends the receiver
		for range messages {
		}
	}()
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
			payload := string(m.Data)
			i := strings.LastIndexByte(payload, ' ')
			id, ms := payload[:max(i, 0)], payload[i+1:]
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil && id != "" {
				add(id, time.UnixMilli(n))
			}
		case <-scan.C:
			if sub.Ping("") != nil {
				return
			}
			s.scanRevoked(ctx, add)
			scan.Reset(rescanEvery)
		}
	}
}

// scanRevoked reports every revoked session listed in Redis. Failures are
// left to the next scan.
func (s *Store) scanRevoked(ctx context.Context, add func(id string, until time.Time)) {
	prefix := s.revokedKey("")
	cursor := "0"
	for {
		reply, err := redis.Values(s.do(ctx, "SCAN", cursor, "MATCH", globEscape(prefix)+"*", "COUNT", 1000))
		if err != nil || len(reply) != 2 {
			return
		}
		cursor, err = redis.String(reply[0], nil)
		keys, err2 := redis.Strings(reply[1], err)
		if err2 != nil {
			return
		}
		for _, key := range keys {
			ms, err := redis.Int64(s.do(ctx, "PTTL", key))
			if err != nil || ms <= 0 {
				continue
			}
			add(strings.TrimPrefix(key, prefix), time.Now().Add(time.Duration(ms)*time.Millisecond))
		}
		if cursor == "0" {
			return
		}
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
