package authserver

// This file gives login sessions an identity (the sid claim), records which
// clients each one served, and ends them for good.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/securecookie"
)

// maxSessionClients bounds the clients a login session remembers, which
// keeps the cookie small. Past it the oldest is forgotten and gets no
// back-channel logout from this session.
const maxSessionClients = 16

// sessionID is the sid of the login session in which subject signed in at
// authTime (OpenID Connect Back-Channel Logout 1.0 §2.1). It is derived
// rather than drawn at random because codes and refresh tokens are stored
// with subject and auth time but without a session column, and every ID
// token of the session, refreshed ones too, must carry the same sid.
// Stored times keep whole milliseconds, so only those are used. Knowing a
// sid grants nothing: ending a session needs its cookie or an ID token.
func sessionID(subject string, authTime time.Time) string {
	sum := sha256.Sum256([]byte("gatehouse/sid\x00" + subject + "\x00" + strconv.FormatInt(authTime.UnixMilli(), 10)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sid is the session's sid.
func (sess *loginSession) sid() string { return sessionID(sess.Subject, sess.AuthTime) }

// sessionFamily is the key under which the store remembers that a login
// session ended, so that a copy of its cookie stops working.
func sessionFamily(sid string) string { return "login-session/" + sid }

// sessionEnded reports whether sess was ended by a logout. When the store
// cannot tell, the session is treated as ended: signing in again is safer
// than honouring a cookie that may have been signed out.
func (s *Server) sessionEnded(ctx context.Context, sess *loginSession) bool {
	ended, err := s.cfg.Store.FamilyRevoked(ctx, sessionFamily(sess.sid()), s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "checking whether a login session ended failed", "error", err)
		return true
	}
	return ended
}

// rememberClient records in the session cookie that clientID got a code in
// sess, so that logging out notifies it.
func (s *Server) rememberClient(w http.ResponseWriter, sess *loginSession, clientID string) error {
	if slices.Contains(sess.Clients, clientID) {
		return nil
	}
	sess.Clients = append(sess.Clients, clientID)
	if n := len(sess.Clients) - maxSessionClients; n > 0 {
		sess.Clients = slices.Delete(sess.Clients, 0, n)
	}
	value, err := securecookie.EncodeMulti(SessionCookie, sess, s.sessionCodecs...)
	if err != nil {
		return fmt.Errorf("encoding login session: %w", err)
	}
	s.setCookie(w, SessionCookie, value, sess.ExpiresAt.Sub(s.now()))
	return nil
}

// endLoginSession ends sess: the store remembers it ended (a copied cookie
// is refused from then on), the browser's cookie is cleared, and the
// clients it served are told over the back channel.
func (s *Server) endLoginSession(w http.ResponseWriter, r *http.Request, sess *loginSession) error {
	ctx, sid := r.Context(), sess.sid()
	if err := s.cfg.Store.RevokeFamily(ctx, sessionFamily(sid), s.now().Add(s.cfg.LoginSessionTTL)); err != nil {
		return fmt.Errorf("remembering the end of a login session: %w", err)
	}
	s.setCookie(w, SessionCookie, "", -time.Second) // Max-Age=0: delete it
	s.log.InfoContext(ctx, "signed out", "user", sess.Subject, "clients", sess.Clients)
	s.backchannelLogout(ctx, sess.Subject, sid, sess.Clients)
	return nil
}
