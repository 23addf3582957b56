package directory

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func mustHash(t *testing.T, s string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAuthenticate(t *testing.T) {
	d, err := New([]User{
		{ID: "alice", PasswordHash: mustHash(t, "pw")},
		{ID: "Carol", PasswordHash: []byte(HashArgon2id("argon pw"))},
		{ID: "dave", PasswordHash: []byte("pw")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, password string
		ok           bool
	}{
		{"alice", "pw", true},
		{" alice ", "pw", true},
		{"ALICE", "pw", true},
		{"ａｌｉｃｅ", "pw", true},
		{"carol", "argon pw", true},
		{"Carol", "argon pw", true},
		{"carol", "argon PW", false},
		{"dave", "pw", false}, // unparsable hash: nobody can sign in as dave
		{"alice", "PW", false},
		{"alice", "", false},
		{"bob", "pw", false},
		{"", "", false},
	} {
		if got := d.Authenticate(tc.id, tc.password) != nil; got != tc.ok {
			t.Errorf("Authenticate(%q, %q): got %v, want %v", tc.id, tc.password, got, tc.ok)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	plain := Client{ID: "a", Secret: "s3cret", AuthMethod: AuthClientSecretBasic}
	hashed := Client{ID: "b", Secret: string(mustHash(t, "s3cret")), SecretIsHash: true, AuthMethod: AuthClientSecretPost}
	public := Client{ID: "c", AuthMethod: AuthNone}
	for _, tc := range []struct {
		c      Client
		secret string
		ok     bool
	}{
		{plain, "s3cret", true},
		{plain, "s3cret ", false},
		{plain, "", false},
		{hashed, "s3cret", true},
		{hashed, string(mustHash(t, "s3cret")), false}, // the hash itself is not the secret
		{public, "", false},
		{public, "anything", false},
	} {
		if got := tc.c.CheckSecret(tc.secret); got != tc.ok {
			t.Errorf("client %s CheckSecret(%q): got %v, want %v", tc.c.ID, tc.secret, got, tc.ok)
		}
	}
}

func TestNewRejectsDuplicates(t *testing.T) {
	for _, ids := range [][2]string{{"a", "a"}, {"Alice", " alice"}, {"ａ", "A"}} {
		_, err := New([]User{{ID: ids[0]}, {ID: ids[1]}}, nil)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q and %q", ids[0], ids[1])) {
			t.Errorf("user ids %q: got %v, want an error naming both", ids, err)
		}
	}
	if _, err := New(nil, []Client{{ID: "c"}, {ID: "c"}}); err == nil {
		t.Error("duplicate client ids accepted")
	}
}

func TestClientHelpers(t *testing.T) {
	c := Client{ID: "web", GrantTypes: []string{"authorization_code"}}
	if c.DisplayName() != "web" {
		t.Errorf("DisplayName without a name: got %q, want the id", c.DisplayName())
	}
	c.Name = "Web App"
	if c.DisplayName() != "Web App" {
		t.Errorf("DisplayName: got %q", c.DisplayName())
	}
	if !c.AllowsGrant("authorization_code") || c.AllowsGrant("refresh_token") {
		t.Error("AllowsGrant does not follow GrantTypes")
	}
}

// TestUnknownUsersCostAsMuchAsKnownOnes checks that the hash compared for
// unknown user IDs has the parameters of the most expensive configured hash,
// so the login takes as long for an unknown user as for a wrong password.
func TestUnknownUsersCostAsMuchAsKnownOnes(t *testing.T) {
	bcryptAt := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	argon := func(m, time uint32) []byte {
		h := &argon2idHash{memory: m, time: time, threads: 1, salt: make([]byte, 16), key: make([]byte, 32)}
		return []byte(h.String())
	}
	tests := []struct {
		name  string
		users []User
		want  string // the dummy's parameters
	}{
		{"no users", nil, "bcrypt 10"},
		{"cheap hashes", []User{{ID: "a", PasswordHash: bcryptAt(bcrypt.MinCost)}}, "bcrypt 4"},
		{"mixed costs: the highest", []User{{ID: "a", PasswordHash: bcryptAt(bcrypt.MinCost)}, {ID: "b", PasswordHash: bcryptAt(bcrypt.MinCost + 1)}}, "bcrypt 5"},
		{"unparsable hash ignored", []User{{ID: "a", PasswordHash: []byte("not a hash")}, {ID: "b", PasswordHash: bcryptAt(bcrypt.MinCost)}}, "bcrypt 4"},
		{"argon2id: the most memory and passes", []User{{ID: "a", PasswordHash: argon(64, 2)}, {ID: "b", PasswordHash: argon(256, 1)}, {ID: "c", PasswordHash: argon(32, 3)}}, "argon2id m=256 t=1"},
		{"mixed kinds: argon2id costlier", []User{{ID: "a", PasswordHash: bcryptAt(bcrypt.MinCost)}, {ID: "b", PasswordHash: argon(19*1024, 2)}}, "argon2id m=19456 t=2"},
		{"mixed kinds: bcrypt costlier", []User{{ID: "a", PasswordHash: bcryptAt(bcrypt.MinCost + 1)}, {ID: "b", PasswordHash: argon(64, 1)}}, "bcrypt 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.users, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch h := d.dummyHash.(type) {
			case *bcryptHash:
				c, err := bcrypt.Cost(h.hash)
				if err != nil || c != h.cost {
					t.Fatalf("dummy bcrypt hash %q does not have cost %d", h.hash, h.cost)
				}
				got = fmt.Sprintf("bcrypt %d", c)
			case *argon2idHash:
				got = fmt.Sprintf("argon2id m=%d t=%d", h.memory, h.time)
			}
			if got != tt.want {
				t.Errorf("dummy hash %s, want %s", got, tt.want)
			}
			if d.dummyHash.verify([]byte("pw")) || !d.dummyHash.verify([]byte(dummyPassword)) {
				t.Error("the dummy hash is not a hash of the dummy password")
			}
		})
	}
}
