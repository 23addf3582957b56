package authserver

import (
	"context"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// authenticate checks a password while holding one of the server's hashing
// slots, one per core (GOMAXPROCS): a burst of logins then queues instead
// of running hundreds of bcrypt or argon2id hashes at once, which would
// starve token and proxy requests of CPU and, with argon2id, of memory. A
// login whose client goes away stops waiting.
func (s *Server) authenticate(ctx context.Context, id, password string) (*directory.User, error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return s.directory().Authenticate(id, password), nil
}
