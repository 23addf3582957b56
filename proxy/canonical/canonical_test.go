package canonical

import (
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPath(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"/", "/"},
		{"/app", "/app"},
		{"/app/", "/app/"},
		{"/a/b/c.txt", "/a/b/c.txt"},
		{"//", "/"},
		{"/a//b", "/a/b"},
		{"//a///b//", "/a/b/"},
		{"/a/./b", "/a/b"},
		{"/a/.", "/a/"},
		{"/a/b/..", "/a/"},
		{"/a/../b", "/b"},
		{"/../etc/passwd", "/etc/passwd"},
		{"/a/../../..", "/"},
		{"/%61%70%70", "/app"},
		{"/a/%2e%2e/b", "/b"},
		{"/a/%2E%2e/b", "/b"},
		{"/a/%2e/b", "/a/b"},
		{"/.well-known/x", "/.well-known/x"},
		{"/a.b/c", "/a.b/c"},
		{"/caf%C3%A9", "/café"},
		{"/café", "/café"},
		{"/100%25", "/100%"},
		{"/a%20b", "/a b"},
		{"/q%3Fx", "/q?x"},
		{"/h%23x", "/h#x"},
		{"/~user", "/~user"},
		{"/a:b@c", "/a:b@c"},
	}
	for _, tt := range tests {
		got, err := Path(tt.raw)
		if err != nil || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

// TestPathRefusesAmbiguous lists paths that some server in front of or
// behind a proxy reads differently from another; each is refused.
func TestPathRefusesAmbiguous(t *testing.T) {
	tests := []struct {
		raw, why string
	}{
		// Encoded slash: Apache and Tomcat decode it or not by
		// configuration, so /admin%2Fx and /admin/x may or may not meet.
		{"/admin%2Fusers", "encoded slash"},
		{"/admin%2fusers", "encoded slash"},
		{"/%2F%2Fevil.example", "encoded slash"},
		// Backslashes are slashes to IIS and to browsers.
		{"/admin\\users", "backslash"},
		{"/admin%5Cusers", "backslash"},
		{"/admin%5cusers", "backslash"},
		// Path parameters: Tomcat and Jetty drop ";x" from a segment.
		{"/admin;x=1/users", `";"`},
		{"/admin/..;/secret", `";"`},
		{"/admin%3Bx", `";"`},
		// NUL ends C strings; other control characters split logs and
		// headers.
		{"/admin%00.html", "control character"},
		{"/a%0Ab", "control character"},
		{"/a%0d%0aSet-Cookie:x", "control character"},
		{"/a%09", "control character"},
		{"/a%7F", "control character"},
		{"/a\tb", "control character"},
		// Double encoding: decoded once here, twice by some upstreams.
		{"/%252e%252e/admin", "encoded twice"},
		{"/a%252Fb", "encoded twice"},
		{"/a%255c", "encoded twice"},
		// Overlong and invalid UTF-8 (the classic %C0%AF for "/").
		{"/%C0%AF", "UTF-8"},
		{"/%c0%ae%c0%ae/admin", "UTF-8"},
		{"/%E0%80%AF", "UTF-8"},
		{"/%ED%A0%80", "UTF-8"}, // a UTF-16 surrogate
		{"/%FF", "UTF-8"},
		{"/caf%C3", "UTF-8"},
		// Windows drops trailing dots and spaces: /admin. is /admin.
		{"/admin./x", "dot or space"},
		{"/admin.", "dot or space"},
		{"/admin%2E", "dot or space"},
		{"/admin%20/x", "dot or space"},
		{"/admin...", "dot or space"},
		// Malformed escapes.
		{"/%", "malformed"},
		{"/%zz", "malformed"},
		{"/a%2", "malformed"},
		// Not a path.
		{"", "does not start with /"},
		{"*", "does not start with /"},
		{"admin", "does not start with /"},
		{"http://evil.example/", "does not start with /"},
	}
	for _, tt := range tests {
		got, err := Path(tt.raw)
		if err == nil {
			t.Errorf("Path(%q) = %q, want an error about %s", tt.raw, got, tt.why)
			continue
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Path(%q): error %q does not mention %s", tt.raw, err, tt.why)
		}
	}
}

func TestPathOfCanonicalPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Path("/app/page/section.html"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Path of a canonical path allocates %v times, want 0", allocs)
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"app.example.com", "app.example.com", true},
		{"APP.Example.COM", "app.example.com", true},
		{"app.example.com.", "app.example.com", true},
		{"app.example.com:8443", "app.example.com", true},
		{"app.example.com.:8443", "app.example.com", true},
		{"127.0.0.1:8000", "127.0.0.1", true},
		{"[::1]:8000", "[::1]", true},
		{"[::1]", "[::1]", true},
		{"xn--caf-dma.example", "xn--caf-dma.example", true},
		{"", "", false},
		{":80", "", false},
		{"app.example.com:", "", false},
		{"app.example.com:80x", "", false},
		{"app..example.com", "", false},
		{"user@app.example.com", "", false},
		{"app.example.com/x", "", false},
		{"café.example", "", false},
		{"exаmple.com", "", false}, // Cyrillic а
		{"[::1", "", false},
		{"a b", "", false},
	}
	for _, tt := range tests {
		got, err := Host(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Host(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzPath checks what Path promises for any input: a result is rooted,
// valid UTF-8, free of dot segments, empty segments, control characters,
// backslashes and semicolons, stable under a second canonicalisation of
// its encoded form, and the same path that path.Clean makes of it.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/x", "/a%2Fb", "//x", "/caf%C3%A9", "/%C0%AF", "/a;b", "/a%252e", "/a./b", "/x/%2E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Path(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "/") || !utf8.ValidString(got) {
			t.Fatalf("Path(%q) = %q: not rooted or not UTF-8", raw, got)
		}
		if strings.ContainsAny(got, "\\;\x00") || strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("Path(%q) = %q: has a character it must refuse", raw, got)
		}
		for _, seg := range strings.Split(strings.Trim(got, "/"), "/") {
			if got != "/" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("Path(%q) = %q: has an empty or dot segment", raw, got)
			}
		}
		if c := path.Clean(got); c != strings.TrimSuffix(got, "/") && c != got {
			t.Fatalf("Path(%q) = %q, but path.Clean makes %q of it", raw, got, c)
		}
		// What the upstream gets is the escaped canonical path; reading
		// it again must give the same path.
		again, err := Path((&url.URL{Path: got}).EscapedPath())
		if err != nil || again != got {
			t.Fatalf("Path(%q) = %q, whose escaped form reads as %q, %v", raw, got, again, err)
		}
	})
}

// FuzzHost checks that a canonical host is lower case, has no port,
// trailing dot or character outside a host name, and is its own canonical
// form.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"a.example.com", "A.B.:80", "[::1]:1", "x@y", "..", "a_b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Host(in)
		if err != nil {
			return
		}
		if got != strings.ToLower(got) || strings.HasSuffix(got, ".") || strings.ContainsAny(got, "@/\\?#% ") {
			t.Fatalf("Host(%q) = %q", in, got)
		}
		if again, err := Host(got); err != nil || again != got {
			t.Fatalf("Host(%q) = %q, but Host(%q) = %q, %v", in, got, got, again, err)
		}
	})
}
