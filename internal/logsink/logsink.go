// Package logsink writes log lines to a file or pipe without making every
// request wait for a system call of its own.
//
// One write(2) per access-log line cost the proxy about a tenth of its
// throughput at 16 connections. A Writer instead appends each line to a
// buffer and wakes one goroutine that writes out whatever has gathered:
// when the server is idle every line still goes out at once, and under
// load many lines share one system call. Lines are never split or
// reordered. What a crash can lose is only what was appended in the last
// moment before it, not a timer's worth of lines.
package logsink

import (
	"io"
	"sync"
)

// maxPending bounds the lines waiting to be written. A writer that cannot
// keep up (a stalled pipe) then slows the loggers down rather than letting
// memory grow.
const maxPending = 1 << 20

// Writer is an io.Writer for one log destination. Each Write must be one
// whole line or several, as slog's handlers do. Close it to write out what
// is pending.
type Writer struct {
	out  io.Writer
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending []byte
	spare   []byte
	closed  bool
	// flushing serialises writes to out between the goroutine and the
	// callers that write themselves (when full, or closed).
	flushing sync.Mutex
}

// New starts a Writer that writes to out.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// Write queues p. Errors of out are dropped, since the log is the only
// place to report them; after Close, or when too much is pending, Write
// writes p itself (after what is pending) and returns out's error.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed || len(w.pending)+len(p) > maxPending {
		w.mu.Unlock()
		w.flush()
		w.flushing.Lock()
		defer w.flushing.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	// Under mu, so that Close cannot close wake in between.
	select {
	case w.wake <- struct{}{}:
	default: // the goroutine is already due to run
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *Writer) run() {
	defer close(w.done)
	for range w.wake {
		w.flush()
	}
}

// flush writes out what is pending. Two buffers take turns, so lines keep
// gathering in one while the other is written.
func (w *Writer) flush() {
	w.flushing.Lock()
	defer w.flushing.Unlock()
	w.mu.Lock()
	batch := w.pending
	if len(batch) == 0 {
		w.mu.Unlock()
		return
	}
	w.pending, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	_, _ = w.out.Write(batch)
	w.mu.Lock()
	w.spare = batch[:0]
	w.mu.Unlock()
}

// Close writes out what is pending and stops the goroutine. Later writes
// go straight to out.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.wake)
	w.mu.Unlock()
	<-w.done
	w.flush()
	return nil
}
