package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRefreshRetryGrace(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string // added to minimalAuth's authserver section
		want time.Duration
		// problem, when set, is the error expected after the file's path.
		problem string
	}{
		{name: "absent: off", want: 0},
		{name: "a few seconds", line: "  refresh_retry_grace: 5s\n", want: 5 * time.Second},
		{name: "the maximum", line: "  refresh_retry_grace: 1m\n", want: time.Minute},
		{name: "too long", line: "  refresh_retry_grace: 2m\n", problem: ":12: authserver.refresh_retry_grace: 2m0s is out of range: use 0 (off) or at most 1m0s"},
		{name: "negative", line: "  refresh_retry_grace: -1s\n", problem: ":12: authserver.refresh_retry_grace: -1s is out of range"},
		{name: "not a duration", line: "  refresh_retry_grace: 5\n", problem: ":12: authserver.refresh_retry_grace:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := minimalAuth + tc.line
			if tc.problem != "" {
				checkProblem(t, yaml, tc.problem)
				return
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			ac, err := c.AuthServer(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ac.RefreshRetryGrace != tc.want {
				t.Errorf("RefreshRetryGrace %v, want %v", ac.RefreshRetryGrace, tc.want)
			}
		})
	}
}
