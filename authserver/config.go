package authserver

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// Config is everything a Server needs, with defaults already resolved by the
// caller (internal/config) except where a zero value says otherwise.
type Config struct {
	// Issuer is the issuer identifier (OIDC Discovery §3), e.g.
	// http://localhost:9000. Endpoints are served below its path.
	Issuer string

	Directory *directory.Directory
	Store     storage.Store

	// SigningAlgorithm is the JWS alg of ID tokens for clients that name
	// none (directory.Client.SigningAlg): ES256 (default) or RS256. Keys of
	// both are kept, published and accepted either way.
	SigningAlgorithm string
	// KeyRotationPeriod is how long a signing key signs before a new one
	// takes over. Zero means 30 days.
	KeyRotationPeriod time.Duration

	AuthCodeTTL     time.Duration // default 60s
	AccessTokenTTL  time.Duration // default 1h
	IDTokenTTL      time.Duration // default 1h
	RefreshTokenTTL time.Duration // default 30 days
	LoginSessionTTL time.Duration // default 12h
	ConsentTTL      time.Duration // default 30 days

	// RefreshRetryGrace is how long after a refresh the same client may
	// present the same refresh token again and get the same answer, for a
	// client that lost the response; zero (the default) means never, and
	// any second presentation revokes the grant. At most
	// MaxRefreshRetryGrace.
	RefreshRetryGrace time.Duration

	// CookieSecrets encrypt and authenticate the login-session and CSRF
	// cookies. The first one encodes; all decode (for rotation). Each is at
	// least 32 bytes.
	CookieSecrets [][]byte

	// BackchannelClient posts logout tokens to clients' back-channel logout
	// URIs; when nil, a client that gives up after a few seconds and follows
	// no redirects.
	BackchannelClient *http.Client
	// LoginThrottle limits password guessing; the zero value means
	// DefaultLoginThrottle().
	LoginThrottle LoginThrottle

	// Pages are the look and languages of the login, consent, sign-out
	// and error pages; the zero value is the built-in look. Its
	// LangCookie, Now and Log are set by New.
	Pages pages.Options

	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives structured logs; slog.Default() when nil.
	Logger *slog.Logger
	// AccessLog writes one line per request to Logger at info.
	AccessLog bool
	// Metrics, when set, gets the server's metric families; nil counts
	// nothing.
	Metrics prometheus.Registerer
}
