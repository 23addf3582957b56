// Package netcut relays TCP connections to a server and can cut and
// restore the relay, for tests of what a client does while its database
// is unreachable and after it comes back. The server itself is real and
// untouched.
package netcut

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay listens on a loopback port and relays each connection to target.
type Relay struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// New starts a relay to target (host:port) and stops it when the test ends.
func New(t testing.TB, target string) *Relay {
	t.Helper()
	r := &Relay{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.Cut)
	return r
}

// Addr is the relay's host:port, to connect to instead of target.
func (r *Relay) Addr() string { return r.addr }

// Cut closes the listener and every relayed connection: new connections
// are refused until Restore.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	clear(r.conns)
}

// Restore listens again on the same address.
func (r *Relay) Restore() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("relay: listening again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *Relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.relay(c)
		}
	}()
}

func (r *Relay) relay(c net.Conn) {
	s, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	if r.ln == nil { // cut meanwhile
		r.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	r.conns[c], r.conns[s] = struct{}{}, struct{}{}
	r.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}
