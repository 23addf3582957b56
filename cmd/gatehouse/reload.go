package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/proxy"
)

// reloader applies a changed configuration file to the running servers:
// on SIGHUP, and with reload.watch when the file's content changes.
type reloader struct {
	path  string
	log   *slog.Logger
	level *slog.LevelVar // the level every logger of the process uses
	auth  *authserver.Server
	proxy *proxy.Proxy
	// started is the configuration the process started with, whose values
	// of the fields that need a restart are still the running ones.
	started *config.Config

	mu sync.Mutex // serialises reloads from the signal and the watcher
	// current is the configuration last applied.
	current *config.Config
	// seen is the hash of the content of the configuration's files (see
	// config.Config.Files) last loaded or refused, so the watcher tries
	// each content once.
	seen [sha256.Size]byte
}

func newReloader(c *config.Config, level *slog.LevelVar, logger *slog.Logger, auth *authserver.Server, px *proxy.Proxy) *reloader {
	r := &reloader{path: c.Path, log: logger, level: level, auth: auth, proxy: px, started: c, current: c}
	r.seen = filesHash(c.Files())
	return r
}

// run reloads on SIGHUP, and polls the files every interval when watch is
// set, until ctx is done: the configuration file and the secret and
// certificate files it names. Polling the content, rather than watching
// inodes, notices every way of replacing a file: editors that write a new
// file and rename it, and Kubernetes, which swaps a symlink to a new
// directory when a ConfigMap or Secret changes.
func (r *reloader) run(ctx context.Context, watch bool, interval time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	// Ignored rather than stopped once the servers shut down: by default
	// SIGHUP ends the process, which would cut the drain short.
	defer signal.Ignore(syscall.SIGHUP)
	var tick <-chan time.Time
	if watch {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	r.log.Info("configuration reloads on SIGHUP", "file", r.path, "watch", watch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.reload("SIGHUP")
		case <-tick:
			if r.changed() {
				_ = r.reload("file changed")
			}
		}
	}
}

// changed reports whether a file of the current configuration changed
// since it was last loaded or refused.
func (r *reloader) changed() bool {
	r.mu.Lock()
	files, seen := r.current.Files(), r.seen
	r.mu.Unlock()
	return filesHash(files) != seen
}

// reload reads the file again and applies what can change at runtime. A
// file with problems changes nothing: the error is logged, and the running
// configuration stays.
func (r *reloader) reload(why string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Hashed before loading: if a file changes in between, the watcher
	// sees a new hash and loads it again.
	files := r.current.Files()
	r.seen = filesHash(files)
	next, err := r.apply()
	if err != nil {
		r.log.Error("configuration not reloaded; the running configuration stays", "reason", why, "err", err)
		return err
	}
	if nf := next.Files(); !slices.Equal(files, nf) {
		r.seen = filesHash(nf) // the new file names other files
	}
	applied, _ := config.Changes(r.current, next)
	_, restart := config.Changes(r.started, next)
	r.current = next
	if len(restart) > 0 {
		r.log.Warn("configuration changes need a restart to take effect; the running values stay",
			"fields", strings.Join(restart, ", "))
	}
	changed := "nothing"
	if len(applied) > 0 {
		changed = strings.Join(applied, ", ")
	}
	attrs := []any{"reason", why, "changed", changed}
	if a := next.File.AuthServer; a != nil && r.auth != nil {
		attrs = append(attrs, "users", len(a.Users), "clients", len(a.Clients))
	}
	if p := next.File.Proxy; p != nil && r.proxy != nil {
		attrs = append(attrs, "routes", len(p.Routes))
	}
	r.log.Info("configuration reloaded", attrs...)
	return nil
}

// apply loads the file and, when every part of it is valid, hands the
// reloadable parts to the servers. The proxy checks its part before
// changing anything, and goes first, so a refusal leaves all as it was.
func (r *reloader) apply() (*config.Config, error) {
	next, err := config.Load(r.path)
	if err != nil {
		return nil, err
	}
	var dir *directory.Directory
	if r.auth != nil && next.File.AuthServer != nil {
		if dir, err = next.Directory(); err != nil {
			return nil, fmt.Errorf("authserver: %w", err)
		}
	}
	if r.proxy != nil && next.File.Proxy != nil {
		cfg, err := next.Proxy(nil, r.log)
		if err == nil {
			err = r.proxy.Reload(cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	}
	if dir != nil {
		r.auth.Reload(dir)
	}
	r.level.Set(next.LogLevel())
	return next, nil
}

// filesHash hashes the names and contents of files. A file that cannot be
// read counts by its error, so that its return is a change too.
func filesHash(files []string) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f) // follows symlinks, so sees what a swap points to
		if err != nil {
			b = []byte(err.Error())
		}
		fmt.Fprintf(h, "%d:%s%d:", len(f), f, len(b))
		h.Write(b)
	}
	return [sha256.Size]byte(h.Sum(nil))
}
