package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/sessiontest"
)

// openTest returns a Store on GATEHOUSE_TEST_REDIS_URL with a key prefix of
// its own, whose keys are deleted when the test ends.
func openTest(t *testing.T, maxTTL time.Duration) *Store {
	t.Helper()
	url := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL not set: skipping Redis tests (e.g. GATEHOUSE_TEST_REDIS_URL=redis://127.0.0.1:6379/0)")
	}
	prefix := "gatehouse-test:" + rand.Text() + ":"
	s, err := Open(url, prefix, maxTTL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := s.client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = s.client.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
		}
		s.Close()
	})
	if err := s.client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", url, err)
	}
	return s
}

func pttl(t *testing.T, s *Store, id string) time.Duration {
	t.Helper()
	d, err := s.client.PTTL(context.Background(), s.prefix+id).Result()
	if err != nil {
		t.Fatal(err)
	}
	return max(d, 0) // -2: no such key
}

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) sessiontest.Backend {
		s := openTest(t, 0)
		return sessiontest.Backend{Store: s, TTL: func(t *testing.T, id string) time.Duration { return pttl(t, s, id) }}
	})
}

func TestMaxTTLCapsSessions(t *testing.T) {
	s := openTest(t, time.Minute)
	if err := s.Save(context.Background(), "id", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := pttl(t, s, "id"); got <= 50*time.Second || got > time.Minute {
		t.Fatalf("TTL of a 1h session under a 1m cap: got %s, want (50s, 1m]", got)
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	for _, tc := range []struct{ name, url, secret string }{
		{"http scheme", "http://127.0.0.1:6379", ""},
		// A generated password with an unescaped % makes url.Parse fail,
		// and its error would quote the password.
		{"unescaped percent in the password", "redis://:pass%word-not-escaped@127.0.0.1:6379/0", "pass%word-not-escaped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.url, "p:", 0)
			if err == nil {
				t.Fatalf("Open(%q): got nil error, want one", tc.url)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("Open's error %q shows the password", err)
			}
		})
	}
}

func TestLock(t *testing.T) {
	s := openTest(t, 0)
	ctx := context.Background()
	unlock, err := s.Lock(ctx, "refresh/a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(ctx, "refresh/a", time.Minute); !errors.Is(err, proxy.ErrLocked) {
		t.Fatalf("second Lock: got %v, want ErrLocked", err)
	}
	if u, err := s.Lock(ctx, "refresh/b", time.Minute); err != nil {
		t.Fatalf("another lock: %v", err)
	} else {
		u()
	}
	unlock()
	again, err := s.Lock(ctx, "refresh/a", 50*time.Millisecond)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	// A holder whose lock expired must not release its successor's.
	time.Sleep(100 * time.Millisecond)
	successor, err := s.Lock(ctx, "refresh/a", time.Minute)
	if err != nil {
		t.Fatalf("Lock after expiry: %v", err)
	}
	again()
	if _, err := s.Lock(ctx, "refresh/a", time.Minute); !errors.Is(err, proxy.ErrLocked) {
		t.Fatalf("a stale unlock released the successor's lock: %v", err)
	}
	successor()
}

func TestRevocations(t *testing.T) {
	s := openTest(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.Revoke(ctx, "before", until); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "past", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchRevocations(ctx, func(id string, u time.Time) {
			if u.Before(until.Add(-time.Minute)) || u.After(until.Add(time.Minute)) {
				t.Errorf("revocation of %s until %s, want about %s", id, u, until)
			}
			seen <- id
		})
	}()
	want := map[string]bool{"before": true, "after": true, "sub:Ada Lovelace 1": true}
	published := false
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case id := <-seen:
			if id == "past" {
				t.Fatal("a revocation that had lapsed was reported")
			}
			delete(want, id)
			if id == "before" && !published {
				// Listed before watching; now one published while watching.
				published = true
				if err := s.Revoke(ctx, "after", until); err != nil {
					t.Fatal(err)
				}
				// A back-channel logout's subject may hold spaces.
				if err := s.Revoke(ctx, "sub:Ada Lovelace 1", until); err != nil {
					t.Fatal(err)
				}
			}
		case <-timeout:
			t.Fatalf("revocations not reported: %v", want)
		}
	}
	cancel()
	<-done
}
