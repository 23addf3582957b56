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

// testRedirects allows .example.com and ok.example.org besides the proxy's
// origin https://app.example.net.
func testRedirects(t testing.TB) redirectPolicy {
	pub, _ := url.Parse("https://app.example.net")
	var ps problems
	rp := compileRedirects(pub, []string{".example.com", "ok.example.org"}, &ps)
	if ps.err() != nil {
		t.Fatal(ps.err())
	}
	return rp
}

func TestReturnTargetsOnOtherHosts(t *testing.T) {
	rp := testRedirects(t)
	for _, target := range []string{
		"https://app.example.net/",
		"https://app.example.net/x?y=1#z",
		"https://APP.example.net/x",
		"https://wiki.example.com/page",
		"https://a.b.example.com",
		"https://wiki.example.com:8443/x",
		"https://ok.example.org/x",
		"https://ok.example.org?x=1",
	} {
		if !rp.safe(target) {
			t.Errorf("safe(%q) = false, want true", target)
		}
	}
	// Each is a way a browser, or a server decoding the target, has been
	// led to another host (oauth2-proxy CVE-2020-5233, CVE-2020-11053,
	// CVE-2020-4037 and CVE-2021-21291; Authelia and vouch-proxy open
	// redirects of the same shapes).
	for _, target := range []string{
		"https://example.com/",                      // the parent itself is not ".example.com"
		"https://evil.com/",                         // not listed
		"https://evilexample.com/",                  // a suffix without the dot (CVE-2021-21291)
		"https://wiki.example.com.evil/",            // the allowed name as a label of another
		"https://ok.example.org.evil/x",             // likewise for an exact entry
		"https://sub.ok.example.org/",               // exact entries have no subdomains
		"https://ok.example@evil.com/",              // user info
		"https://wiki.example.com@evil.com/",        // user info naming an allowed host
		"https://evil.com/wiki.example.com",         // the allowed name in the path
		"https://evil.com?wiki.example.com",         // or the query
		"https://evil.com#.example.com",             // or the fragment
		"https:evil.com",                            // no "//": a path to browsers
		"https:/evil.com",                           // one slash
		"https:\\\\evil.com",                        // backslashes
		"https://evil.com\\@wiki.example.com",       // backslash before the at sign
		"https://wiki.example.com\\.evil.com/",      // backslash in the host
		"//wiki.example.com/",                       // scheme-relative
		"///evil.com",                               // more slashes
		"http://wiki.example.com/",                  // http when the proxy is https
		"HTTPS://evil.com/",                         // upper-case scheme
		"javascript://wiki.example.com/%0aalert(1)", // another scheme
		"data:text/html,x",                          // another scheme
		"https://wiki.example.com./",                // trailing dot
		"https://xn--wiki-example-com.evil/",        // punycode elsewhere
		"https://wіki.example.com/",                 // Cyrillic і: refused as non-ASCII
		"https://wiki.exаmple.com/",                 // Cyrillic а in the allowed part
		"https://wiki.example.com%2F@evil.com/",     // encoded slash in the authority
		"https://wiki.example.com/%2F%2Fevil.com",
		"https://wiki.example.com//evil.com",
		"https://wiki.example.com/\\evil.com",
		"https://wiki.example.com/\t/evil.com",
		"https://wiki.example.com/ x",
		"https://wiki.example.com\n.evil.com/",
		" https://wiki.example.com/",
		"https://[::1]/",
		"https://wiki.example.com:99999999/",
		"https://wiki.example.com:/",
	} {
		if rp.safe(target) {
			t.Errorf("safe(%q) = true, want false", target)
		}
	}
}

func TestAllowedRedirectDomainsAreChecked(t *testing.T) {
	for _, d := range []string{"*.example.com", "https://example.com", "example.com:443", "Example.com", "", ".", ".com", "exa mple.com"} {
		var ps problems
		compileRedirects(nil, []string{d}, &ps)
		if ps.err() == nil {
			t.Errorf("allowed_redirect_domains entry %q accepted", d)
		}
	}
}

// FuzzReturnTarget checks that any target the proxy accepts, read the way a
// browser reads it, leads to the proxy's origin or an allowed host.
func FuzzReturnTarget(f *testing.F) {
	for _, s := range hostileReturns(f) {
		f.Add(s)
	}
	for _, s := range []string{"https://wiki.example.com/x", "https://ok.example.org", "https://evil.com@wiki.example.com/", "https://app.example.net/a"} {
		f.Add(s)
	}
	rp := testRedirects(f)
	base, _ := url.Parse("https://app.example.net/oauth2/start")
	f.Fuzz(func(t *testing.T, target string) {
		if !rp.safe(target) {
			return
		}
		browser := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(target)
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("safe accepted %q, which does not parse: %v", target, err)
		}
		host := strings.ToLower(u.Hostname())
		if u.Scheme != "https" || u.User != nil || host != "app.example.net" && !rp.allowsHost(host) {
			t.Fatalf("safe accepted %q, which leads to %s://%s", target, u.Scheme, u.Host)
		}
	})
}
