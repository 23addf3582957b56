package proxy

import (
	"bufio"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// hostileReturns reads testdata/hostile_return_targets.txt, expanding the
// escapes written in it.
func hostileReturns(t testing.TB) []string {
	f, err := os.Open("testdata/hostile_return_targets.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.Unquote(`"` + strings.ReplaceAll(line, `"`, `\"`) + `"`)
		if err != nil {
			// Lines whose backslashes are not escapes are taken as written.
			v = line
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSafeReturnRejectsHostileTargets(t *testing.T) {
	targets := hostileReturns(t)
	if len(targets) < 40 {
		t.Fatalf("read %d hostile targets, want the whole list", len(targets))
	}
	for _, target := range append(targets, "", "/"+strings.Repeat("a", maxReturnLen)) {
		if safeReturn(target) {
			t.Errorf("safeReturn(%q) = true, want false", target)
		}
	}
}

func TestSafeReturnAcceptsSitePaths(t *testing.T) {
	for _, target := range []string{
		"/",
		"/app",
		"/app/page?x=1&y=%2F%2F",
		"/a/b/../c",
		"/search?q=caf%C3%A9#results",
		"/files/my%20report.pdf",
		"/a//b", // not at the start: a path, not a host
		"/%7Euser",
		"/a?next=//evil.example", // a query may mention anything
	} {
		if !safeReturn(target) {
			t.Errorf("safeReturn(%q) = false, want true", target)
		}
	}
}

// FuzzSafeReturn checks that whatever safeReturn accepts, resolved as a
// browser would against the proxy's origin, stays on that origin, decoded
// or not.
func FuzzSafeReturn(f *testing.F) {
	for _, s := range hostileReturns(f) {
		f.Add(s)
	}
	for _, s := range []string{"/", "/app?x=1", "/a%2Fb", "/%5c", "/\\", "/.//x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://proxy.example/start")
	f.Fuzz(func(t *testing.T, target string) {
		if !safeReturn(target) {
			return
		}
		for s := target; ; {
			// Browsers treat backslashes as slashes and drop tabs and
			// newlines; model that before resolving.
			browser := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(s)
			u, err := base.Parse(browser)
			if err != nil {
				break
			}
			if u.Scheme != "https" || u.Host != "proxy.example" {
				t.Fatalf("safeReturn accepted %q, which (as %q) leads to %s://%s", target, s, u.Scheme, u.Host)
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
	})
}
