package directory

import (
	"strings"
	"testing"
)

// validArgon2id is a well-formed hash with small parameters: m=64, t=1, p=1,
// a 16-byte salt and a 32-byte hash.
const validArgon2id = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func TestParseArgon2id(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(validArgon2id, old, new, 1) }
	for _, tc := range []struct {
		name, hash, wantErr string
	}{
		{"valid", validArgon2id, ""},
		{"argon2i", replace("argon2id", "argon2i"), "not an argon2id hash"},
		{"missing part", replace("$v=19", ""), "not an argon2id hash"},
		{"extra part", validArgon2id + "$x", "not an argon2id hash"},
		{"old version", replace("v=19", "v=16"), "only v=19"},
		{"parameters reordered", replace("m=64,t=1", "t=1,m=64"), "in the order m, t, p"},
		{"extra parameter", replace("p=1", "p=1,keyid=x"), "exactly m=…,t=…,p=…"},
		{"leading zero", replace("m=64", "m=064"), "want m=<decimal number>"},
		{"sign", replace("t=1", "t=+1"), "want t=<decimal number>"},
		{"overflow", replace("m=64", "m=4294967296"), "want m=<decimal number>"},
		{"memory too large", replace("m=64", "m=262145"), "m=262145; want 8 (8·p) to 262144 KiB"},
		{"memory below 8 per lane", replace("m=64,t=1,p=1", "m=15,t=1,p=2"), "want 16 (8·p)"},
		{"no passes", replace("t=1", "t=0"), "t=0; want 1 to 16"},
		{"too many passes", replace("t=1", "t=17"), "t=17"},
		{"no lanes", replace("p=1", "p=0"), "p=0"},
		{"too many lanes", replace("p=1", "p=17"), "p=17"},
		{"padded salt", replace("c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdA=="), "salt"},
		{"short salt", replace("c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA"), "salt"},
		{"short hash", replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAA"), "argon2id hash that is not"},
		{"non-canonical base64", replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"), "argon2id hash that is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseArgon2id(tc.hash)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if h.String() != tc.hash {
					t.Errorf("round trip: got %s", h)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestHashArgon2id(t *testing.T) {
	s := HashArgon2id("s3cret")
	if !strings.HasPrefix(s, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("got %s, want the recommended parameters", s)
	}
	if err := ParsePasswordHash(s); err != nil {
		t.Fatalf("own hash does not parse: %v", err)
	}
	h, _ := parseArgon2id(s)
	if !h.verify([]byte("s3cret")) || h.verify([]byte("s3cret ")) || h.verify(nil) {
		t.Error("verify does not tell the password from others")
	}
	if HashArgon2id("s3cret") == s {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestParsePasswordHash(t *testing.T) {
	for _, tc := range []struct{ hash, wantErr string }{
		{string(mustHash(t, "pw")), ""},
		{validArgon2id, ""},
		{"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA", "m=99999999"},
		{"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA", "not an argon2id hash"},
		{"plain text", "neither a bcrypt hash nor an argon2id hash"},
		{"", "neither"},
	} {
		err := ParsePasswordHash(tc.hash)
		if (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParsePasswordHash(%q) = %v, want %q", tc.hash, err, tc.wantErr)
		}
	}
}

// FuzzParseArgon2id checks that any accepted string is within the bounds,
// spelled canonically, and cheap enough to verify.
func FuzzParseArgon2id(f *testing.F) {
	for _, s := range []string{validArgon2id, "$argon2id$v=19$m=262144,t=16,p=16$" + strings.Repeat("A", 86) + "$" + strings.Repeat("A", 86), "$argon2id$v=19$m=,t=,p=$$", "$$$$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseArgon2id(s)
		if err != nil {
			return
		}
		if h.memory > argon2idMaxMemoryKiB || h.time > argon2idMaxTime || h.threads > argon2idMaxThreads ||
			h.threads == 0 || h.time == 0 || h.memory < 8*uint32(h.threads) ||
			len(h.salt) < argon2idMinSalt || len(h.salt) > argon2idMaxSalt || len(h.key) < argon2idMinKey || len(h.key) > argon2idMaxKey {
			t.Fatalf("accepted out of bounds: %+v", h)
		}
		if h.String() != s {
			t.Fatalf("accepted a non-canonical spelling: %q, canonical %q", s, h)
		}
	})
}
