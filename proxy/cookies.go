package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/internal/cookiecrypt"
)

// The proxy's cookies all start with the configured name: the session cookie
// is exactly the name, token chunks are name_1, name_2, … and sign-in flows
// are name_flow_<part of the state>. Anything named name_* is the proxy's and
// never reaches an upstream.
const (
	// maxCookieBytes keeps each cookie, name and value, under the 4096
	// bytes browsers guarantee, with room for the attributes.
	maxCookieBytes = 3800
	// maxTokenChunks bounds the session's cookies: beyond this the Cookie
	// header outgrows what common servers and load balancers accept.
	maxTokenChunks = 3
	flowInfix      = "_flow_"
)

// codecs are the securecookie codecs for each kind of value the proxy
// encrypts. Each kind has its own keys, so a value minted for one can never
// be decoded as another.
type codecs struct {
	identity []securecookie.Codec // the session cookie with the cookie store
	tokens   []securecookie.Codec // token chunks with the cookie store
	id       []securecookie.Codec // the session cookie with a SessionStore
	record   []securecookie.Codec // the value given to a SessionStore
	flow     []securecookie.Codec // sign-in flow cookies
}

func newCodecs(secrets [][]byte) (codecs, error) {
	var c codecs
	for _, k := range []struct {
		purpose string
		dst     *[]securecookie.Codec
	}{
		{"proxy-identity", &c.identity},
		{"proxy-tokens", &c.tokens},
		{"proxy-session-id", &c.id},
		{"proxy-record", &c.record},
		{"proxy-flow", &c.flow},
	} {
		// Age is checked against the injected clock with the expiry inside
		// each value, not by securecookie's wall-clock timestamp.
		list, err := cookiecrypt.Codecs(k.purpose, secrets, 0)
		if err != nil {
			return codecs{}, err
		}
		for _, codec := range list {
			sc, ok := codec.(*securecookie.SecureCookie)
			if !ok {
				return codecs{}, fmt.Errorf("cookie codec is a %T, want *securecookie.SecureCookie", codec)
			}
			// Values are the compact binary layout of session.go, which
			// keeps cookies small and decoding cheap.
			sc.SetSerializer(securecookie.NopEncoder{})
		}
		*k.dst = list
	}
	return c, nil
}

func encode(list []securecookie.Codec, name string, value []byte) (string, error) {
	return list[0].Encode(name, value)
}

// decode tries each codec in turn: the first is the current secret, the rest
// are older ones still accepted during a rotation.
func decode(list []securecookie.Codec, name, value string) ([]byte, error) {
	var b []byte
	var err error
	for _, c := range list {
		if err = c.Decode(name, value, &b); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// ownCookie reports whether a cookie called n belongs to the proxy.
func ownCookie(n, name string) bool {
	return n == name || len(n) > len(name) && n[len(name)] == '_' && n[:len(name)] == name
}

// splitCookies reads the Cookie header lines once, for the hot path. It
// returns the first value of the session cookie called name, whether any of
// the proxy's cookies were present, and the other cookies re-joined for the
// upstream (meaningful only when own is true).
func splitCookies(lines []string, name string) (value string, rest string, own bool) {
	restLen := 0
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			n, v, _ := strings.Cut(part, "=")
			if !ownCookie(n, name) {
				if part != "" {
					restLen += len(part) + len("; ")
				}
				continue
			}
			own = true
			if n == name && value == "" {
				value = v
			}
		}
	}
	if !own || restLen == 0 {
		return value, "", own
	}
	var b strings.Builder
	b.Grow(restLen)
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			n, _, _ := strings.Cut(part, "=")
			if part == "" || ownCookie(n, name) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	return value, b.String(), true
}

// cookie returns a cookie of the proxy with the configured attributes.
// maxAge < 0 deletes it.
func (p *Proxy) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   p.cfg.Cookie.Domain,
		MaxAge:   maxAge,
		Secure:   p.cfg.Cookie.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

func (p *Proxy) chunkName(i int) string {
	return p.cookieName + "_" + strconv.Itoa(i)
}

// cookieTooLargeError is returned when a session cannot be kept in cookies.
type cookieTooLargeError struct {
	what  string
	bytes int
}

func (e *cookieTooLargeError) Error() string {
	return fmt.Sprintf("%s needs %d bytes of cookies, more than browsers reliably keep", e.what, e.bytes)
}

// cookieSession writes s into cookies: its identity into the session cookie
// and its tokens, encrypted and bound to the session id, split over as many
// chunk cookies as needed. Chunks left over from a larger earlier session are
// deleted.
func (p *Proxy) cookieSession(w http.ResponseWriter, r *http.Request, s *session, maxAge int) error {
	ident, err := encode(p.codecs.identity, p.cookieName, appendIdentity(make([]byte, 0, 256), s))
	if err != nil {
		return err
	}
	if len(p.cookieName)+len(ident) > maxCookieBytes {
		return &cookieTooLargeError{what: "your identity (name, email and groups)", bytes: len(p.cookieName) + len(ident)}
	}
	tok, err := encode(p.codecs.tokens, "tokens/"+s.id, appendTokens(make([]byte, 0, 2048), &s.tokens))
	if err != nil {
		return err
	}
	room := maxCookieBytes - len(p.chunkName(maxTokenChunks))
	n := (len(tok) + room - 1) / room
	if n > maxTokenChunks {
		return &cookieTooLargeError{what: "the provider's tokens", bytes: len(tok)}
	}
	http.SetCookie(w, p.cookie(p.cookieName, ident, maxAge))
	for i := 1; i <= n; i++ {
		http.SetCookie(w, p.cookie(p.chunkName(i), tok[(i-1)*room:min(i*room, len(tok))], maxAge))
	}
	p.clearCookies(w, r, func(c string) bool { return p.chunkIndex(c) > n })
	return nil
}

// chunkIndex is i for the token chunk cookie name_i, and 0 for any other
// cookie.
func (p *Proxy) chunkIndex(name string) int {
	rest, ok := strings.CutPrefix(name, p.cookieName+"_")
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 1 {
		return 0
	}
	return i
}

// clearCookies deletes the request's own cookies whose names pass match.
func (p *Proxy) clearCookies(w http.ResponseWriter, r *http.Request, match func(name string) bool) {
	seen := map[string]bool{}
	for _, c := range r.Cookies() {
		if ownCookie(c.Name, p.cookieName) && !seen[c.Name] && match(c.Name) {
			seen[c.Name] = true
			http.SetCookie(w, p.cookie(c.Name, "", -1))
		}
	}
}

// cookieMaxAge is how long a cookie for a session expiring at exp should live.
func (p *Proxy) cookieMaxAge(exp time.Time) int {
	return max(1, int(exp.Sub(p.now()).Seconds()))
}

// loadCookieTokens reads s's tokens from the request's chunk cookies, for
// routes that pass a token upstream; other requests never decode them.
func (p *Proxy) loadCookieTokens(r *http.Request, s *session) error {
	if s.id == "" {
		return nil // a bearer token's session, which holds its token
	}
	var joined strings.Builder
	for i := 1; i <= maxTokenChunks; i++ {
		c, err := r.Cookie(p.chunkName(i))
		if err != nil {
			break
		}
		joined.WriteString(c.Value)
	}
	b, err := decode(p.codecs.tokens, "tokens/"+s.id, joined.String())
	if err != nil {
		return errSessionInvalid
	}
	d := decoder{s: string(b)}
	d.tokens(&s.tokens)
	if d.bad || d.s != "" {
		return errSessionInvalid
	}
	return nil
}
