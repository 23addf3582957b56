package logsink

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter records each write(2) the Writer makes, taking a while over
// each, as a pipe to a busy log collector does.
type slowWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *slowWriter) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

func TestLinesStayWholeAndAllArrive(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", 40))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	all := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(all) != writers*lines {
		t.Fatalf("got %d lines, want %d", len(all), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range all {
		var g, i int
		if _, err := fmt.Sscanf(l, "writer=%d line=%d", &g, &i); err != nil || !strings.HasSuffix(l, strings.Repeat("x", 40)) {
			t.Fatalf("torn line %q", l)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d came before line %d", g, i, next[g])
		}
		next[g]++
	}
	// The point of the package: lines that gather while one batch is
	// written share the next write.
	if writes >= writers*lines/2 {
		t.Errorf("%d lines took %d writes; want them batched", writers*lines, writes)
	}
}

func TestAnIdleLineGoesOutWithoutClose(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	defer w.Close()
	fmt.Fprintln(w, "one line")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a single line was not written out")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWritesAfterCloseGoStraightOut(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	fmt.Fprintln(w, "before")
	w.Close()
	fmt.Fprintln(w, "after")
	if got, _ := out.snapshot(); got != "before\nafter\n" {
		t.Fatalf("got %q", got)
	}
}

func TestFullBufferWritesThrough(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	defer w.Close()
	big := bytes.Repeat([]byte("y"), maxPending+1)
	if n, err := w.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write of more than maxPending: %d, %v", n, err)
	}
	if got, _ := out.snapshot(); len(got) != len(big) {
		t.Fatalf("the oversized write was not written through: %d bytes out", len(got))
	}
}
