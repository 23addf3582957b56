package directory

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"  Alice\t", "alice"},
		{"ALICE", "alice"},
		{"ＡＬＩＣＥ", "alice"},                         // full-width forms
		{"Mary  Ann\u00a0Smith", "mary ann smith"}, // runs of spaces, no-break space
		{"STRASSE", "strasse"},
		{"Straße", "strasse"}, // full case folding
		{"e\u0301", "\u00e9"}, // composed
		{"ﬁle", "file"},       // ligature
		{"Ꭺꭺ", "ᎪᎪ"},          // Cherokee folds to capitals
		{"", ""},
		{" \t\n ", ""},
	} {
		if got := CanonicalID(tc.in); got != tc.want {
			t.Errorf("CanonicalID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzCanonicalID(f *testing.F) {
	for _, s := range []string{"alice", " ＡＬＩＣＥ ", "Straße", "e\u0301", "\xff\xfe", "ǅ", "ΐ", "\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := CanonicalID(in)
		if again := CanonicalID(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("white space left in %q", got)
		}
		if utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("valid input %q gave invalid UTF-8 %q", in, got)
		}
	})
}
