package authserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
)

// MaxRefreshRetryGrace bounds Config.RefreshRetryGrace. Within the grace a
// stolen used refresh token yields the same pair as the legitimate refresh
// instead of revoking the grant (RFC 9700 §4.14.2), so the window is kept
// to what retrying a lost response takes: seconds, not minutes.
const MaxRefreshRetryGrace = time.Minute

// refreshRetry is what a rotation stores, sealed, with the refresh token it
// used up: its answer, and the scope request it answered, so that only the
// same request gets the answer again.
type refreshRetry struct {
	Response   tokenResponse
	ScopeGiven bool
	Scopes     []string
}

// sealRetry seals resp, the answer to req for the refresh token whose
// storage ID is usedID, for RotateRefreshToken to keep with that token; nil
// when retries are off. The ID names the sealed value, so it opens only
// for that token.
func (s *Server) sealRetry(usedID string, req *tokenRequest, resp *tokenResponse) ([]byte, error) {
	if s.retryCodecs == nil {
		return nil, nil
	}
	sealed, err := securecookie.EncodeMulti(usedID, refreshRetry{*resp, req.ScopeGiven, req.Scopes}, s.retryCodecs...)
	if err != nil {
		return nil, fmt.Errorf("sealing refresh retry answer: %w", err)
	}
	return []byte(sealed), nil
}

// answerReuse answers the presentation of the used refresh token used:
// with the answer of the refresh that used it, when this is that client's
// retry of that request within the grace, and else by revoking every token
// of its grant.
func (s *Server) answerReuse(ctx context.Context, client *directory.Client, req *tokenRequest, used storage.RefreshToken) (*tokenResponse, error) {
	resp, err := s.retryAnswer(ctx, req, used)
	switch {
	case err != nil:
		return nil, err
	case resp == nil:
		return nil, s.refuseReuse(ctx, client, used)
	}
	s.log.InfoContext(ctx, "refresh retried within the grace; the same tokens answered again", "client_id", client.ID, "user", used.Subject)
	return resp, nil
}

// retryAnswer returns the answer sealed with used if req may have it again,
// or nil. The answer stands only while all of it does: a grant revoked
// since stays revoked, and a new refresh token already used means someone
// else holds the pair.
func (s *Server) retryAnswer(ctx context.Context, req *tokenRequest, used storage.RefreshToken) (*tokenResponse, error) {
	if s.retryCodecs == nil || used.Retry == nil || s.now().After(used.UsedAt.Add(s.cfg.RefreshRetryGrace)) {
		return nil, nil
	}
	var r refreshRetry
	if err := securecookie.DecodeMulti(used.ID, string(used.Retry), &r, s.retryCodecs...); err != nil {
		s.log.DebugContext(ctx, "sealed refresh retry answer does not open", "error", err)
		return nil, nil
	}
	if r.ScopeGiven != req.ScopeGiven || !slices.Equal(r.Scopes, req.Scopes) {
		return nil, nil
	}
	access, err := s.cfg.Store.GetAccessToken(ctx, hashSecret(r.Response.AccessToken), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("looking up the access token of a refresh retry: %w", err)
	}
	next, err := s.cfg.Store.GetRefreshToken(ctx, hashSecret(r.Response.RefreshToken), s.now())
	if errors.Is(err, storage.ErrNotFound) || err == nil && !next.UsedAt.IsZero() {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("looking up the refresh token of a refresh retry: %w", err)
	}
	resp := r.Response
	resp.ExpiresIn = int64(access.ExpiresAt.Sub(s.now()) / time.Second)
	return &resp, nil
}
