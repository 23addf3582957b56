// Package directory holds the users and OAuth clients the authorization
// server knows. Both come from configuration and are read-only at run time.
package directory

import (
	"crypto/subtle"
	"fmt"
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthNone              = "none"
)

// User is a person who can sign in at the login page.
type User struct {
	ID            string // what the person types as user id; also the "sub" claim
	PasswordHash  []byte // bcrypt, or argon2id in PHC form
	Name          string
	Email         string
	EmailVerified bool
	Groups        []string
}

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string // shown on the consent page; ID when empty
	// Secret is the client secret, either as given or as a bcrypt hash
	// (SecretIsHash). Empty for public clients.
	Secret       string
	SecretIsHash bool
	RedirectURIs []string
	// Scopes the client may be granted; a request gets the intersection.
	Scopes []string
	// AuthMethod is how the client authenticates at the token endpoint.
	AuthMethod string
	// GrantTypes the client may use at the token endpoint.
	GrantTypes []string
	// RequirePKCE is true unless configured off for a legacy confidential
	// client; public clients always need PKCE.
	RequirePKCE bool
	// SigningAlg is the JWS alg of the client's ID tokens and JWT access
	// tokens (id_token_signed_response_alg); empty means the server's
	// default.
	SigningAlg string
	// AccessTokenFormat is AccessTokenOpaque (also when empty) or
	// AccessTokenJWT (RFC 9068).
	AccessTokenFormat string
	// AccessTokenAudience is the aud claim of the client's JWT access
	// tokens: the resource servers that accept them. Empty means the
	// client's own ID.
	AccessTokenAudience []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser afterwards, compared exactly.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI, when set, receives a logout token whenever a
	// user who signed in to the client signs out here.
	BackchannelLogoutURI string
}

// Access token formats.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// DisplayName is how the client is named to people.
func (c *Client) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Public reports whether the client has no secret.
func (c *Client) Public() bool { return c.AuthMethod == AuthNone }

// AllowsGrant reports whether the client may use the grant type.
func (c *Client) AllowsGrant(grantType string) bool { return slices.Contains(c.GrantTypes, grantType) }

// CheckSecret reports whether secret is the client's secret, in time that
// does not depend on how much of it matched.
func (c *Client) CheckSecret(secret string) bool {
	if c.Public() || secret == "" {
		return false
	}
	if c.SecretIsHash {
		return bcrypt.CompareHashAndPassword([]byte(c.Secret), []byte(secret)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1
}

// Directory is the immutable set of users and clients.
type Directory struct {
	users   map[string]*User // by ID, as issued in "sub"
	logins  map[string]login // by CanonicalID, as typed at the login page
	clients map[string]*Client
	// dummyHash is compared against when the user is unknown, so the login
	// takes as long for unknown users as for wrong passwords.
	dummyHash passwordHash
}

// login is a user with the parsed password hash; hash is nil when the
// configured one does not parse, and then nobody can sign in as the user.
type login struct {
	user *User
	hash passwordHash
}

// New builds a directory. It returns an error for duplicate IDs, including
// user IDs that differ only in what CanonicalID removes.
func New(users []User, clients []Client) (*Directory, error) {
	d := &Directory{users: map[string]*User{}, logins: map[string]login{}, clients: map[string]*Client{}}
	var hashes []passwordHash
	for i := range users {
		u := users[i]
		key := CanonicalID(u.ID)
		if prev, dup := d.logins[key]; dup {
			return nil, fmt.Errorf("user ids %q and %q are the same once case, width and spaces are ignored", prev.user.ID, u.ID)
		}
		l := login{user: &u}
		if h, err := parsePasswordHash(u.PasswordHash); err == nil {
			l.hash = h
			hashes = append(hashes, h)
		}
		d.users[u.ID] = &u
		d.logins[key] = l
	}
	for i := range clients {
		c := clients[i]
		if _, dup := d.clients[c.ID]; dup {
			return nil, fmt.Errorf("duplicate client id %q", c.ID)
		}
		d.clients[c.ID] = &c
	}
	var err error
	if d.dummyHash, err = dummyHash(hashes); err != nil {
		return nil, err
	}
	return d, nil
}

// Client returns the client with this ID, or nil.
func (d *Directory) Client(id string) *Client { return d.clients[id] }

// User returns the user with this ID, or nil.
func (d *Directory) User(id string) *User { return d.users[id] }

// Login returns the user who signs in as id: the one whose CanonicalID is
// that of id, or nil.
func (d *Directory) Login(id string) *User { return d.logins[CanonicalID(id)].user }

// Authenticate returns the user whose CanonicalID is that of id if the
// password matches, else nil. It does the same hashing work whether or not
// the user exists.
func (d *Directory) Authenticate(id, password string) *User {
	l, ok := d.logins[CanonicalID(id)]
	hash := d.dummyHash
	if l.hash != nil {
		hash = l.hash
	}
	if !hash.verify([]byte(password)) || !ok || l.hash == nil {
		return nil
	}
	return l.user
}
