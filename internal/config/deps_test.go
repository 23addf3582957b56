package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinksNoDriver keeps database and Redis drivers out of this package:
// reading a configuration file (gatehouse check, explain, healthcheck)
// should not link them, and they belong to internal/backend.
func TestLinksNoDriver(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"modernc.org/sqlite", "github.com/lib/pq", "github.com/gomodule/redigo",
		"github.com/gatehouse/gatehouse/authserver/storage/sqlstore",
		"github.com/gatehouse/gatehouse/authserver/storage/memory", "github.com/gatehouse/gatehouse/proxy/redisstore",
		"github.com/gatehouse/gatehouse/proxy/memstore",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("internal/config depends on %s (through %s); open stores in internal/backend instead", f, dep)
			}
		}
	}
}
