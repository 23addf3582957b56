package authserver

import "github.com/gatehouse/gatehouse/authserver/directory"

// Reload replaces the users and clients. Every request that starts
// afterwards sees only dir; one already under way may finish with the
// directory it read.
//
// What a removal does to what was issued before it:
//   - A removed client can no longer authenticate at the token, revocation
//     or introspection endpoints, so its refresh tokens and codes stop
//     working at once; nor can it start a sign-in.
//   - A removed user's login session here ends, and their codes, refresh
//     tokens and opaque access tokens are refused (token endpoint,
//     userinfo, introspection), since each looks the user up.
//   - JWTs already issued (ID tokens, JWT access tokens) are checked
//     offline by whoever receives them and stay valid until they expire:
//     keep their lifetimes short. A gatehouse proxy's session of the user
//     lasts until those tokens expire, when its refresh is refused.
//
// dir must not be nil.
func (s *Server) Reload(dir *directory.Directory) {
	s.dir.Store(dir)
}

// directory returns the current users and clients.
func (s *Server) directory() *directory.Directory { return s.dir.Load() }
