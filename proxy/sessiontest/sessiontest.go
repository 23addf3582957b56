// Package sessiontest is the conformance suite for proxy.SessionStore
// implementations: every store runs the same tests, so they behave alike.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

// Backend is a store under test.
type Backend struct {
	Store proxy.SessionStore
	// TTL reports how much longer the backend keeps id: what Redis's PTTL
	// says, or the expiry an in-memory store computed. Expiry itself is
	// tested per store, where the clock can be controlled.
	TTL func(t *testing.T, id string) time.Duration
}

// Run runs the suite. newBackend returns a fresh, empty store for each test.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		run  func(t *testing.T, b Backend)
	}{
		{"LoadMissing", testLoadMissing},
		{"SaveLoad", testSaveLoad},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"TTL", testTTL},
		{"CopiesValues", testCopiesValues},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newBackend(t)) })
	}
}

func testLoadMissing(t *testing.T, b Backend) {
	got, err := b.Store.Load(context.Background(), "never-saved")
	if !errors.Is(err, proxy.ErrSessionNotFound) {
		t.Fatalf("Load of unknown id: got (%q, %v), want ErrSessionNotFound", got, err)
	}
}

func testSaveLoad(t *testing.T, b Backend) {
	ctx := context.Background()
	values := map[string][]byte{
		"small":  []byte("v"),
		"binary": {0, 1, 2, 0, 255, '\n', 0},
		"large":  bytes.Repeat([]byte("0123456789abcdef"), 4096),
	}
	for id, v := range values {
		if err := b.Store.Save(ctx, id, v, time.Minute); err != nil {
			t.Fatalf("Save(%s): %v", id, err)
		}
	}
	for id, want := range values {
		got, err := b.Store.Load(ctx, id)
		if err != nil {
			t.Fatalf("Load(%s): %v", id, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Load(%s): got %d bytes %.20q, want %d bytes %.20q", id, len(got), got, len(want), want)
		}
	}
}

func testReplace(t *testing.T, b Backend) {
	ctx := context.Background()
	mustSave(t, b, "id", "first", time.Minute)
	mustSave(t, b, "id", "second", time.Minute)
	if got := mustLoad(t, b, "id"); got != "second" {
		t.Fatalf("after saving twice: got %q, want %q", got, "second")
	}
	if _, err := b.Store.Load(ctx, "other"); !errors.Is(err, proxy.ErrSessionNotFound) {
		t.Fatalf("Load of an id never saved: got %v, want ErrSessionNotFound", err)
	}
}

func testDelete(t *testing.T, b Backend) {
	ctx := context.Background()
	mustSave(t, b, "gone", "v", time.Minute)
	mustSave(t, b, "kept", "w", time.Minute)
	if err := b.Store.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Store.Load(ctx, "gone"); !errors.Is(err, proxy.ErrSessionNotFound) {
		t.Fatalf("Load after Delete: got %v, want ErrSessionNotFound", err)
	}
	if got := mustLoad(t, b, "kept"); got != "w" {
		t.Fatalf("Delete removed another id: got %q, want %q", got, "w")
	}
	if err := b.Store.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete of a missing id: got %v, want nil", err)
	}
}

func testTTL(t *testing.T, b Backend) {
	ctx := context.Background()
	mustSave(t, b, "id", "v", 90*time.Second)
	if got := b.TTL(t, "id"); got <= 80*time.Second || got > 90*time.Second {
		t.Fatalf("TTL after Save with 90s: got %s, want (80s, 90s]", got)
	}
	mustSave(t, b, "id", "v", 30*time.Second)
	if got := b.TTL(t, "id"); got <= 20*time.Second || got > 30*time.Second {
		t.Fatalf("TTL after saving again with 30s: got %s, want (20s, 30s]", got)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := b.Store.Save(ctx, "bad", []byte("v"), ttl); err == nil {
			t.Errorf("Save with ttl %s: got nil error, want one (a session must expire)", ttl)
		}
	}
}

func testCopiesValues(t *testing.T, b Backend) {
	v := []byte("original")
	if err := b.Store.Save(context.Background(), "id", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	copy(v, "mutated!")
	got, err := b.Store.Load(context.Background(), "id")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "original" {
		t.Fatalf("changing the saved slice changed the stored value: got %q, want %q", got, "original")
	}
	copy(got, "YYYYYYYY")
	if again := mustLoad(t, b, "id"); again != "original" {
		t.Fatalf("changing a loaded slice changed the stored value: got %q, want %q", again, "original")
	}
}

func testConcurrent(t *testing.T, b Backend) {
	const workers, rounds = 8, 25
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("worker-%d", w)
			for i := range rounds {
				v := fmt.Sprintf("%d-%d", w, i)
				if err := b.Store.Save(ctx, id, []byte(v), time.Minute); err != nil {
					errs <- err
					return
				}
				got, err := b.Store.Load(ctx, id)
				if err != nil || string(got) != v {
					errs <- fmt.Errorf("worker %d round %d: Load got (%q, %v), want %q", w, i, got, err, v)
					return
				}
				if err := b.Store.Save(ctx, "shared", []byte(v), time.Minute); err != nil {
					errs <- err
					return
				}
			}
			if err := b.Store.Delete(ctx, id); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := b.Store.Load(ctx, "shared"); err != nil {
		t.Errorf("Load of the id all workers saved: %v", err)
	}
}

func mustSave(t *testing.T, b Backend, id, v string, ttl time.Duration) {
	t.Helper()
	if err := b.Store.Save(context.Background(), id, []byte(v), ttl); err != nil {
		t.Fatalf("Save(%s): %v", id, err)
	}
}

func mustLoad(t *testing.T, b Backend, id string) string {
	t.Helper()
	got, err := b.Store.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	return string(got)
}
