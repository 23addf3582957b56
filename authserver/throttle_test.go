package authserver

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// smallThrottle locks an account after 4 failures, with delays of 1 s, 2 s
// from the third on, and an address after 8.
var smallThrottle = LoginThrottle{
	Window: 10 * time.Minute, BaseDelay: time.Second, MaxDelay: 2 * time.Second, LockDuration: 5 * time.Minute,
	Account: ThrottleLimits{DelayAfter: 2, LockAfter: 4}, IP: ThrottleLimits{DelayAfter: 6, LockAfter: 8}, MaxEntries: 100,
}

func TestLoginThrottle(t *testing.T) {
	type step struct {
		advance time.Duration
		account string
		ip      string
		succeed bool // the password was right
		want    string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"delays grow, then the lock", []step{
			{0, "a", "ip1", false, "ok"},
			{0, "a", "ip1", false, "ok"},
			{0, "a", "ip1", false, "wait 1s"},
			{time.Second, "a", "ip1", false, "ok"},
			{time.Second, "a", "ip1", false, "wait 1s"}, // 2 s after the third failure
			{time.Second, "a", "ip1", false, "ok"},
			{0, "a", "ip1", false, "locked 5m0s"},
			{5 * time.Minute, "a", "ip1", false, "ok"},
		}},
		{"the lock holds against the right password", []step{
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "ok"}, {time.Second, "a", "ip1", false, "ok"}, {2 * time.Second, "a", "ip1", false, "ok"},
			{time.Minute, "a", "ip1", true, "locked 4m0s"},
		}},
		{"refused attempts do not count", []step{
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "ok"},
			{0, "a", "ip1", false, "wait 1s"}, {0, "a", "ip1", false, "wait 1s"}, {0, "a", "ip1", false, "wait 1s"},
			{time.Second, "a", "ip1", false, "ok"},
		}},
		{"failures leave the window", []step{
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "ok"},
			{10 * time.Minute, "a", "ip1", false, "ok"},
		}},
		{"success forgets the account's failures", []step{
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", true, "ok"},
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "wait 1s"},
		}},
		{"accounts are separate", []step{
			{0, "a", "ip1", false, "ok"}, {0, "a", "ip1", false, "ok"}, {0, "b", "ip1", false, "ok"},
		}},
		{"an address is limited across accounts", []step{
			{0, "a", "ip1", false, "ok"}, {0, "b", "ip1", false, "ok"}, {0, "c", "ip1", false, "ok"},
			{0, "d", "ip1", false, "ok"}, {0, "e", "ip1", false, "ok"}, {0, "f", "ip1", false, "ok"},
			{0, "g", "ip1", false, "wait 1s"}, {0, "g", "ip2", false, "ok"},
		}},
		{"success does not clear the address", []step{
			{0, "a", "ip1", false, "ok"}, {0, "b", "ip1", false, "ok"}, {0, "c", "ip1", false, "ok"},
			{0, "d", "ip1", false, "ok"}, {0, "e", "ip1", false, "ok"}, {0, "f", "ip1", false, "ok"},
			{0, "g", "ip1", true, "wait 1s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newLoginThrottle(smallThrottle)
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, s := range tt.steps {
				now = now.Add(s.advance)
				got := "ok"
				switch r := th.begin(s.account, s.ip, now); {
				case r != nil && r.locked:
					got = "locked " + r.wait.String()
				case r != nil:
					got = "wait " + r.wait.String()
				case s.succeed:
					th.succeeded(s.account, s.ip, now)
				}
				if got != s.want {
					t.Fatalf("step %d (%s from %s at +%v): got %s, want %s", i, s.account, s.ip, s.advance, got, s.want)
				}
			}
		})
	}
}

func TestLoginThrottleBoundsMemory(t *testing.T) {
	cfg := smallThrottle
	cfg.MaxEntries = 10
	th := newLoginThrottle(cfg)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		now = now.Add(time.Second)
		if r := th.begin(fmt.Sprint("user", i), fmt.Sprint("ip", i), now); r != nil {
			t.Fatalf("attempt %d refused: %+v", i, r)
		}
		if n := len(th.entries); n > cfg.MaxEntries {
			t.Fatalf("after %d attempts %d entries, want at most %d", i+1, n, cfg.MaxEntries)
		}
	}
	// The most recent failures are kept.
	if r := th.begin("user99", "ip99", now); r != nil {
		t.Fatalf("a fresh key was refused: %+v", r)
	}
	if r := th.begin("user99", "ip99", now); r == nil {
		t.Error("the most recent key was evicted: its third failure was not delayed")
	}
}

// TestLoginThrottleConcurrent lets many goroutines guess at once: exactly
// as many attempts get through as the limits allow, however they race.
func TestLoginThrottleConcurrent(t *testing.T) {
	th := newLoginThrottle(smallThrottle)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 50 {
		wg.Go(func() {
			if th.begin("a", "ip1", now) == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != smallThrottle.Account.DelayAfter {
		t.Errorf("%d concurrent attempts got through, want %d", allowed, smallThrottle.Account.DelayAfter)
	}
}

func TestDisabledThrottleAllowsEverything(t *testing.T) {
	th := newLoginThrottle(LoginThrottle{Disabled: true})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		if r := th.begin("a", "ip", now); r != nil {
			t.Fatalf("attempt %d refused with throttling off", i)
		}
	}
}

func TestLoginThrottleCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*LoginThrottle)
		wantErr string
	}{
		{"defaults", func(*LoginThrottle) {}, ""},
		{"off needs nothing else", func(c *LoginThrottle) { *c = LoginThrottle{Disabled: true} }, ""},
		{"short window", func(c *LoginThrottle) { c.Window = time.Millisecond }, "at least a second"},
		{"max below base", func(c *LoginThrottle) { c.MaxDelay = c.BaseDelay / 2 }, "MaxDelay"},
		{"lock before delay", func(c *LoginThrottle) { c.IP.LockAfter = c.IP.DelayAfter }, "IP: want 1 ≤ DelayAfter < LockAfter"},
		{"no free tries", func(c *LoginThrottle) { c.Account.DelayAfter = 0 }, "Account"},
		{"no entries", func(c *LoginThrottle) { c.MaxEntries = 0 }, "MaxEntries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultLoginThrottle()
			tc.change(&c)
			err := c.check()
			if (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"@", "@"}, // a unix socket: one key for all
	} {
		if got := clientAddress(tc.in); got != tc.want {
			t.Errorf("clientAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// formValues blanks what legitimately differs between two renderings of
// the login form: the sealed request, the CSRF token and the typed user ID.
var formValues = regexp.MustCompile(`(name="(?:req|csrf_token|user_id)"[^>]*value=")[^"]*`)

// TestThrottledLoginsLookAlike checks that failures, delays and the lock
// read the same, byte for byte, for an existing and an unknown account, and
// that a locked account refuses even the right password.
func TestThrottledLoginsLookAlike(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		// The address limits stay out of the way: both runs share one.
		c.LoginThrottle = smallThrottle
		c.LoginThrottle.IP = ThrottleLimits{DelayAfter: 50, LockAfter: 100}
	})
	attempt := func(user, password string) *response {
		b := h.browser()
		form := loginForm(t, b)
		form.Set("user_id", user)
		form.Set("password", password)
		return b.post(PathLogin, form)
	}
	type outcome struct {
		status     int
		retryAfter string
		body       string
	}
	run := func(user string) []outcome {
		var out []outcome
		for _, advance := range []time.Duration{0, 0, 0, time.Second, 0, 2 * time.Second, 0} {
			h.clk.Advance(advance)
			r := attempt(user, "wrong")
			out = append(out, outcome{r.status, r.header.Get("Retry-After"), formValues.ReplaceAllString(r.body, "$1")})
		}
		return out
	}
	known, unknown := run("alice"), run("mallory")
	wantStatus := []int{401, 401, 429, 401, 429, 401, 429}
	for i := range known {
		if known[i] != unknown[i] {
			t.Errorf("attempt %d differs between a known and an unknown user:\nknown   %d %q %s\nunknown %d %q %s",
				i, known[i].status, known[i].retryAfter, known[i].body, unknown[i].status, unknown[i].retryAfter, unknown[i].body)
		}
		if known[i].status != wantStatus[i] {
			t.Errorf("attempt %d: status %d, want %d", i, known[i].status, wantStatus[i])
		}
	}
	if !strings.Contains(known[2].body, "Wait 1 second, then try again.") || known[2].retryAfter != "1" {
		t.Errorf("the delay is not explained: Retry-After %q; body: %s", known[2].retryAfter, known[2].body)
	}
	if !strings.Contains(known[6].body, "signing in is paused. Try again in 5 minutes.") || known[6].retryAfter != "300" {
		t.Errorf("the lock is not explained: Retry-After %q; body: %s", known[6].retryAfter, known[6].body)
	}
	// Different case and width are the same account, and the right
	// password does not get through the lock.
	if r := attempt("ＡＬＩＣＥ", alicePassword); r.status != http.StatusTooManyRequests {
		t.Errorf("locked account with the right password: status %d, want 429", r.status)
	}
	h.clk.Advance(smallThrottle.LockDuration)
	if r := attempt(" Alice ", alicePassword); r.status != http.StatusSeeOther {
		t.Errorf("after the lock: status %d, want a successful login; body: %s", r.status, r.body)
	}
}
