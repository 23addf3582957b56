package directory

// Grant types a client may be registered for (RFC 6749 §4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// DefaultGrantTypes returns the grant types of a client that names none:
// people sign in with the code flow and the client may refresh.
func DefaultGrantTypes() []string { return []string{GrantAuthorizationCode, GrantRefreshToken} }

// DefaultScopes returns the scopes of a client that names none.
func DefaultScopes() []string { return []string{"openid", "profile", "email"} }
