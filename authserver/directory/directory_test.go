package directory

import (
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
	d, err := New([]User{{ID: "alice", PasswordHash: mustHash(t, "pw")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, password string
		ok           bool
	}{
		{"alice", "pw", true},
		{" alice ", "pw", true},
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
	if _, err := New([]User{{ID: "a"}, {ID: "a"}}, nil); err == nil {
		t.Error("duplicate user ids accepted")
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
// unknown user IDs has the cost of the configured users' hashes, so the login
// takes as long for an unknown user as for a wrong password.
func TestUnknownUsersCostAsMuchAsKnownOnes(t *testing.T) {
	hashAt := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name  string
		users []User
		want  int
	}{
		{"no users", nil, bcrypt.DefaultCost},
		{"cheap hashes", []User{{ID: "a", PasswordHash: hashAt(bcrypt.MinCost)}}, bcrypt.MinCost},
		{"mixed costs: the highest", []User{{ID: "a", PasswordHash: hashAt(bcrypt.MinCost)}, {ID: "b", PasswordHash: hashAt(bcrypt.MinCost + 1)}}, bcrypt.MinCost + 1},
		{"unparsable hash ignored", []User{{ID: "a", PasswordHash: []byte("not a hash")}, {ID: "b", PasswordHash: hashAt(bcrypt.MinCost)}}, bcrypt.MinCost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.users, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bcrypt.Cost(d.dummyHash)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("dummy hash cost %d, want %d", got, tt.want)
			}
		})
	}
}
