package authserver

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a
// login session ends, each client it served that registered a
// backchannel_logout_uri receives a logout token, server to server.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
)

const (
	// logoutTokenTTL is short: a logout token is used at once (§2.4
	// recommends a lifetime of about two minutes).
	logoutTokenTTL = 2 * time.Minute
	// backchannelWait bounds how long a logout waits for the clients'
	// answers before the browser gets its response; slower posts go on in
	// the background until the HTTP client's timeout.
	backchannelWait = 2 * time.Second
	// backchannelTimeout bounds each post of the default HTTP client.
	backchannelTimeout = 5 * time.Second
)

// backchannelLogoutEvent is the event a logout token carries (§2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenClaims is the payload of a logout token (§2.4). It never has
// a nonce, which keeps it from passing as an ID token.
type logoutTokenClaims struct {
	Issuer    string                    `json:"iss"`
	Audience  string                    `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	Expiry    int64                     `json:"exp"`
	JWTID     string                    `json:"jti"`
	Events    map[string]map[string]any `json:"events"`
	Subject   string                    `json:"sub"`
	SessionID string                    `json:"sid"`
}

func defaultBackchannelClient() *http.Client {
	return &http.Client{
		Timeout: backchannelTimeout,
		// A redirect would send the token somewhere nobody registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// backchannelLogout tells every client in clientIDs that has a back-channel
// logout URI that subject's session sid ended. The posts run concurrently;
// it returns when all are answered or backchannelWait has passed, and
// failures are only logged: the logout itself has already happened.
func (s *Server) backchannelLogout(ctx context.Context, subject, sid string, clientIDs []string) {
	// The posts may outlive the browser's request.
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, id := range clientIDs {
		c := s.directory().Client(id)
		if c == nil || c.BackchannelLogoutURI == "" {
			continue
		}
		wg.Go(func() {
			if err := s.postLogoutToken(ctx, c, subject, sid); err != nil {
				s.log.WarnContext(ctx, "back-channel logout failed", "client_id", c.ID, "uri", c.BackchannelLogoutURI, "error", err)
				return
			}
			s.log.InfoContext(ctx, "back-channel logout delivered", "client_id", c.ID)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(backchannelWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.WarnContext(ctx, "back-channel logout still running; not waiting for it", "after", backchannelWait)
	}
}

// postLogoutToken sends one logout token to c (§2.5) and checks the answer:
// 200, or 204, which some frameworks send instead (§2.8).
func (s *Server) postLogoutToken(ctx context.Context, c *directory.Client, subject, sid string) error {
	token, err := s.signLogoutToken(ctx, c, subject, sid)
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.BackchannelClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	// §2.8: a refusing client may say why in a short JSON error.
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("status %d: %s", resp.StatusCode, safeDescription(string(detail)))
}

// signLogoutToken makes the logout token for c (§2.4), signed with the
// client's algorithm and typed logout+jwt.
func (s *Server) signLogoutToken(ctx context.Context, c *directory.Client, subject, sid string) (string, error) {
	now := s.now()
	payload, err := json.Marshal(logoutTokenClaims{
		Issuer:    s.cfg.Issuer,
		Audience:  c.ID,
		IssuedAt:  now.Unix(),
		Expiry:    now.Add(logoutTokenTTL).Unix(),
		JWTID:     newSecret(),
		Events:    map[string]map[string]any{backchannelLogoutEvent: {}},
		Subject:   subject,
		SessionID: sid,
	})
	if err != nil {
		return "", fmt.Errorf("encoding logout token claims: %w", err)
	}
	token, err := s.keys.Sign(ctx, c.SigningAlg, keys.TypeLogoutToken, payload)
	if err != nil {
		return "", fmt.Errorf("signing logout token: %w", err)
	}
	return token, nil
}
