package sqlstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// killChildEnv, set in a child process of TestSQLiteSurvivesKill, names the
// database it writes to.
const killChildEnv = "GATEHOUSE_SQLSTORE_KILL_CHILD_DB"

var killNow = time.UnixMilli(1_900_000_000_000).UTC()

// TestMain runs the package's tests, or, in a child process started by
// TestSQLiteSurvivesKill, that test's writer.
func TestMain(m *testing.M) {
	if path := os.Getenv(killChildEnv); path != "" {
		if err := writeUntilKilled(path); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// writeUntilKilled is the child half of TestSQLiteSurvivesKill: several
// goroutines issue and rotate refresh tokens as fast as they can and print
// each one once the store has acknowledged it, until the parent kills the
// process.
func writeUntilKilled(path string) error {
	// Bounded, so that a parent that died first leaves no writer behind.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{Driver: "sqlite", DSN: path, Logger: quiet})
	if err != nil {
		return err
	}
	var out sync.Mutex
	ack := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...)
		out.Unlock()
	}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("rt-%d-%d", w, i)
				if errs[w] = s.CreateRefreshToken(ctx, storage.RefreshToken{ID: id, FamilyID: id, ExpiresAt: killNow.Add(time.Hour)}); errs[w] != nil {
					return
				}
				ack("created %s", id)
				next := storage.RefreshToken{ID: id + "-next", FamilyID: id, ExpiresAt: killNow.Add(time.Hour)}
				if _, errs[w] = s.RotateRefreshToken(ctx, id, next, nil, killNow); errs[w] != nil {
					return
				}
				ack("rotated %s", id)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestSQLiteSurvivesKill kills a process with SIGKILL while it writes and
// checks that the database opens intact and holds everything the store had
// acknowledged before the kill.
func TestSQLiteSurvivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // whatever happens below
	created := map[string]bool{}
	rotated := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		verb, id, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "created":
			created[id] = true
		case "rotated":
			rotated[id] = true
		case "error":
			t.Errorf("child: %s", id)
		}
		if len(rotated) == 100 && !killed {
			// Process.Kill is SIGKILL on Unix: no chance to clean up.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if err := cmd.Wait(); !killed || err == nil {
		t.Fatalf("child ended by itself (%v) before 100 rotations; want it killed while writing", err)
	}

	s := openSQLiteT(t, path)
	defer s.Close()
	var check string
	if err := s.db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check after SIGKILL: got %q, %v; want ok", check, err)
	}
	for id := range created {
		next := storage.RefreshToken{ID: id + "-after", FamilyID: id, ExpiresAt: killNow.Add(time.Hour)}
		_, err := s.RotateRefreshToken(t.Context(), id, next, nil, killNow)
		// An acknowledged rotation must have committed; one that ran but was
		// not acknowledged may or may not have.
		if ok := errors.Is(err, storage.ErrTokenReused) || err == nil && !rotated[id]; !ok {
			t.Errorf("token %s after the kill (rotation acknowledged: %v): got %v, want ErrTokenReused (or success if not acknowledged)",
				id, rotated[id], err)
		}
	}
	for id := range rotated {
		_, err := s.RotateRefreshToken(t.Context(), id+"-next", storage.RefreshToken{ID: id + "-next-after", FamilyID: id, ExpiresAt: killNow.Add(time.Hour)}, nil, killNow)
		if err != nil {
			t.Errorf("token %s-next, issued by an acknowledged rotation: got %v, want it to rotate", id, err)
		}
	}
	t.Logf("%d tokens issued and %d rotated before the kill all survived", len(created), len(rotated))
}
