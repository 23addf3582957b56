package backend

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

func TestOpenSessions(t *testing.T) {
	const redis = ", redis: {url: \"redis://127.0.0.1:6379/0\"}"
	for _, tc := range []struct {
		store                 string
		wantStore, wantShared bool
	}{
		{"cookie", false, false},
		{"cookie" + redis, false, true},
		{"memory", true, false},
		{"redis" + redis, true, false},
	} {
		yaml := "proxy:\n  public_url: http://localhost:8000\n  provider: {issuer: http://localhost:9000, client_id: p}\n" +
			"  cookie: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n  routes: [{path: /, upstream: http://127.0.0.1:1}]\n" +
			"  session_store: {type: " + tc.store + "}\n"
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		// Opening connects lazily: no Redis is needed here.
		s, err := OpenSessions(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Store != nil; got != tc.wantStore {
			t.Errorf("session_store %s: got a store %v, want %v", tc.store, got, tc.wantStore)
		}
		if got := s.Shared != nil; got != tc.wantShared {
			t.Errorf("session_store %s: got shared state %v, want %v", tc.store, got, tc.wantShared)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}
