package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// usedTokens remembers the logout tokens already used, each until it
// lapses, so that one sent again is refused (Back-Channel Logout 1.0
// section 2.6): replayed later, a token naming a person would end the
// sessions they began since. With a Locker that replicas share, a token
// is marked used there, for every replica to see; otherwise in this
// process.
type usedTokens struct {
	now    func() time.Time
	locker Locker // nil: in this process

	mu   sync.Mutex
	seen map[string]time.Time // until
}

// maxUsedTokens bounds the tokens remembered in process: logout tokens
// lapse within maxLogoutTokenAge, so this is a rate no provider reaches.
const maxUsedTokens = 100_000

var (
	errReplayed    = errors.New("token used already")
	errTooManyUsed = errors.New("too many logout tokens in the last minutes to remember them all")
)

func newUsedTokens(now func() time.Time, locker Locker) *usedTokens {
	return &usedTokens{now: now, locker: locker, seen: map[string]time.Time{}}
}

// claim marks the token with jti used until it lapses, or fails with
// errReplayed when it was used already. release forgets the mark, for a
// token whose logout then failed, so the provider may send it again.
func (u *usedTokens) claim(ctx context.Context, jti string, lapses time.Time) (release func(), err error) {
	// A jti is the provider's text of any length; its digest is not.
	sum := sha256.Sum256([]byte(jti))
	name := "logout-token/" + base64.RawURLEncoding.EncodeToString(sum[:])
	if u.locker != nil {
		// The lock is never released while the logout stands: it expires
		// when the token lapses (a moment later for one lapsing now,
		// since no expiry would be none).
		unlock, err := u.locker.Lock(ctx, name, max(lapses.Sub(u.now()), time.Second))
		if errors.Is(err, ErrLocked) {
			return nil, errReplayed
		}
		return unlock, err
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if until, ok := u.seen[name]; ok && now.Before(until) {
		return nil, errReplayed
	}
	if len(u.seen) >= maxUsedTokens {
		for k, until := range u.seen {
			if !now.Before(until) {
				delete(u.seen, k)
			}
		}
		if len(u.seen) >= maxUsedTokens {
			return nil, errTooManyUsed
		}
	}
	u.seen[name] = lapses
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		delete(u.seen, name)
	}, nil
}
