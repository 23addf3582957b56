package authserver

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// LoginThrottle slows down password guessing at the login form. Failures
// are counted per account (the directory.CanonicalID of what was typed,
// whether or not such a user exists, so that a refusal never tells) and per
// client address. After DelayAfter failures within Window, each further
// attempt must wait BaseDelay·2^k (k = failures beyond DelayAfter, at most
// MaxDelay) after the previous failure; after LockAfter failures the key is
// locked for LockDuration. Refused attempts test no password and are not
// counted.
type LoginThrottle struct {
	// Disabled turns throttling off.
	Disabled bool
	// Window is how long a failure counts.
	Window       time.Duration
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	LockDuration time.Duration
	Account      ThrottleLimits
	IP           ThrottleLimits
	// MaxEntries bounds the keys remembered; when full, expired keys go
	// first, then the least recently failed.
	MaxEntries int
}

// ThrottleLimits are the failure counts at which delays and the lock start.
type ThrottleLimits struct {
	DelayAfter int
	LockAfter  int
}

// DefaultLoginThrottle is what a zero LoginThrottle means. An account gets
// five free tries, then waits of 1, 2, 4, 8 and 16 s, then a 15-minute
// lock: about 40 guesses an hour. An address, which may be a whole office
// behind NAT, gets twenty free tries and is locked after a hundred.
func DefaultLoginThrottle() LoginThrottle {
	return LoginThrottle{
		Window:       15 * time.Minute,
		BaseDelay:    time.Second,
		MaxDelay:     30 * time.Second,
		LockDuration: 15 * time.Minute,
		Account:      ThrottleLimits{DelayAfter: 5, LockAfter: 10},
		IP:           ThrottleLimits{DelayAfter: 20, LockAfter: 100},
		MaxEntries:   10000,
	}
}

func (c LoginThrottle) check() error {
	switch {
	case c.Disabled:
		return nil
	case c.Window < time.Second || c.BaseDelay <= 0 || c.LockDuration < time.Second:
		return errors.New("Window and LockDuration must be at least a second, BaseDelay positive")
	case c.MaxDelay < c.BaseDelay:
		return fmt.Errorf("MaxDelay %v is shorter than BaseDelay %v", c.MaxDelay, c.BaseDelay)
	case c.MaxEntries < 1:
		return errors.New("MaxEntries must be positive")
	}
	for name, l := range map[string]ThrottleLimits{"Account": c.Account, "IP": c.IP} {
		if l.DelayAfter < 1 || l.LockAfter <= l.DelayAfter {
			return fmt.Errorf("%s: want 1 ≤ DelayAfter < LockAfter, got %d and %d", name, l.DelayAfter, l.LockAfter)
		}
	}
	return nil
}

// loginThrottle keeps the failure counts. A nil *loginThrottle allows
// everything. It is safe for concurrent use; each replica counts on its own.
type loginThrottle struct {
	cfg     LoginThrottle
	mu      sync.Mutex
	entries map[throttleKey]*throttleEntry
}

// throttleKey is a digest, so that a long typed user ID costs no more
// memory than a short one.
type throttleKey [sha256.Size]byte

type throttleEntry struct {
	failures    []time.Time // within the window, oldest first
	lockedUntil time.Time
	last        time.Time // of the latest failure, for eviction
}

func newLoginThrottle(cfg LoginThrottle) *loginThrottle {
	if cfg.Disabled {
		return nil
	}
	return &loginThrottle{cfg: cfg, entries: map[throttleKey]*throttleEntry{}}
}

// throttled says why an attempt was refused: how long to wait, and whether
// that is a lock rather than a delay.
type throttled struct {
	wait   time.Duration
	locked bool
}

// begin decides whether an attempt for account from ip may test a
// password. When it may, it counts a failure at now straight away, so that
// concurrent attempts see each other; succeeded or abandoned takes it back.
func (t *loginThrottle) begin(account, ip string, now time.Time) *throttled {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys(account, ip)
	var refused *throttled
	for i, k := range keys {
		if r := t.refusal(t.entries[k], t.limits(i), now); r != nil {
			if refused == nil || r.locked && !refused.locked || r.locked == refused.locked && r.wait > refused.wait {
				refused = r
			}
		}
	}
	if refused != nil {
		return refused
	}
	for _, k := range keys {
		e := t.entries[k]
		if e == nil {
			t.makeRoom(now)
			e = &throttleEntry{}
			t.entries[k] = e
		}
		e.failures = append(e.failures, now)
		e.last = now
	}
	return nil
}

// refusal applies the limits to one key's entry.
func (t *loginThrottle) refusal(e *throttleEntry, l ThrottleLimits, now time.Time) *throttled {
	if e == nil {
		return nil
	}
	if now.Before(e.lockedUntil) {
		return &throttled{wait: e.lockedUntil.Sub(now), locked: true}
	}
	e.prune(now.Add(-t.cfg.Window))
	n := len(e.failures)
	switch {
	case n >= l.LockAfter:
		// The lock runs from the failure that reached the limit.
		e.lockedUntil = e.failures[n-1].Add(t.cfg.LockDuration)
		e.failures = nil
		if now.Before(e.lockedUntil) {
			return &throttled{wait: e.lockedUntil.Sub(now), locked: true}
		}
	case n >= l.DelayAfter:
		if next := e.failures[n-1].Add(t.delay(n - l.DelayAfter)); now.Before(next) {
			return &throttled{wait: next.Sub(now)}
		}
	}
	return nil
}

// delay is BaseDelay·2^k, at most MaxDelay.
func (t *loginThrottle) delay(k int) time.Duration {
	d := t.cfg.BaseDelay
	for ; k > 0 && d < t.cfg.MaxDelay; k-- {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// succeeded forgets the account's failures and takes back the failure
// begin counted for the address: a correct password is not a guess.
func (t *loginThrottle) succeeded(account, ip string, at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys(account, ip)
	delete(t.entries, keys[0])
	if e := t.entries[keys[1]]; e != nil {
		e.unfail(at)
	}
}

// abandoned takes back the failure begin counted, for an attempt that
// tested no password.
func (t *loginThrottle) abandoned(account, ip string, at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys(account, ip) {
		if e := t.entries[k]; e != nil {
			e.unfail(at)
		}
	}
}

func (t *loginThrottle) keys(account, ip string) [2]throttleKey {
	return [2]throttleKey{sha256.Sum256([]byte("account\x00" + account)), sha256.Sum256([]byte("ip\x00" + ip))}
}

// limits are those of keys()[i].
func (t *loginThrottle) limits(i int) ThrottleLimits {
	if i == 0 {
		return t.cfg.Account
	}
	return t.cfg.IP
}

// makeRoom keeps the map below MaxEntries: it drops the entries that no
// longer hold a live failure or lock, and if that is not enough, the one
// that failed least recently. The scan is linear, but it runs only when the
// map is full and each call follows a password hash that costs far more.
func (t *loginThrottle) makeRoom(now time.Time) {
	if len(t.entries) < t.cfg.MaxEntries {
		return
	}
	horizon := now.Add(-t.cfg.Window)
	var oldest throttleKey
	var oldestAt time.Time
	first := true
	for k, e := range t.entries {
		if !now.Before(e.lockedUntil) && !e.last.After(horizon) {
			delete(t.entries, k)
			continue
		}
		if first || e.last.Before(oldestAt) {
			oldest, oldestAt, first = k, e.last, false
		}
	}
	if len(t.entries) >= t.cfg.MaxEntries {
		delete(t.entries, oldest)
	}
}

// prune drops failures at or before horizon.
func (e *throttleEntry) prune(horizon time.Time) {
	i := 0
	for i < len(e.failures) && !e.failures[i].After(horizon) {
		i++
	}
	e.failures = e.failures[i:]
}

// unfail removes the latest failure at exactly at.
func (e *throttleEntry) unfail(at time.Time) {
	for i := len(e.failures) - 1; i >= 0; i-- {
		if e.failures[i].Equal(at) {
			e.failures = append(e.failures[:i], e.failures[i+1:]...)
			return
		}
	}
}

// clientAddress is the throttling key of the request's peer: its IP
// address, or for IPv6 its /64 network, since one host commonly holds a
// whole /64. Behind a reverse proxy this is the proxy's address; the
// per-account limits still apply.
func clientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}
