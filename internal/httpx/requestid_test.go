package httpx

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var generated = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string // values of X-Request-Id; nil sends none
		keep   bool     // whether the first value is kept
	}{
		{"uuid", []string{"3f2c1b9e-8a4d-4c2e-9f1a-0b7d6e5c4a3b"}, true},
		{"hex", []string{"0123456789abcdef"}, true},
		{"base64url", []string{"AbC-dEf_GhI.jkl"}, true},
		{"one character", []string{"x"}, true},
		{"64 characters", []string{strings.Repeat("a", 64)}, true},
		{"first of several", []string{"first", "second"}, true},
		{"missing", nil, false},
		{"empty", []string{""}, false},
		{"65 characters", []string{strings.Repeat("a", 65)}, false},
		{"100 characters", []string{strings.Repeat("0", 100)}, false},
		{"markup", []string{"<x>"}, false},
		{"script", []string{`<script>alert(1)</script>`}, false},
		{"space", []string{"abc def"}, false},
		{"double quote", []string{`abc"def`}, false},
		{"single quote", []string{"abc'def"}, false},
		{"newline", []string{"abc\ndef"}, false},
		{"carriage return", []string{"abc\rlevel=ERROR"}, false},
		{"tab", []string{"abc\tdef"}, false},
		{"NUL", []string{"abc\x00"}, false},
		{"non-ASCII", []string{"ＩＤ１２３"}, false},
		{"Latin-1", []string{"caf\xe9"}, false},
		{"log field", []string{"a=b"}, false},
		{"slash", []string{"a/b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tc.header {
				r.Header.Add(RequestIDHeader, v)
			}
			id := RequestID(r)
			if tc.keep {
				if id != tc.header[0] {
					t.Fatalf("got %q, want the edge proxy's %q", id, tc.header[0])
				}
			} else if !generated.MatchString(id) {
				t.Fatalf("got %q, want 24 lower-case hex characters in place of %q", id, tc.header)
			}
			for i := 0; i < 3; i++ {
				if again := RequestID(r); again != id {
					t.Fatalf("call %d: got %q, want the same id %q for the same request", i+2, again, id)
				}
			}
			if got := r.Header.Get(RequestIDHeader); got != id {
				t.Errorf("request header: got %q, want %q so that upstreams and logs see the same id", got, id)
			}
			if n := len(r.Header.Values(RequestIDHeader)); !tc.keep && n != 1 {
				t.Errorf("request has %d X-Request-Id values, want only the new one", n)
			}
		})
	}
}

// TestRequestIDGeneratesDistinctIDs checks that new ids are random rather than
// fixed or counted from a known start.
func TestRequestIDGeneratesDistinctIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := RequestID(httptest.NewRequest("GET", "/", nil))
		if seen[id] {
			t.Fatalf("id %q generated twice in %d requests", id, i+1)
		}
		seen[id] = true
	}
}
