// Package requestid names each request, so that what a person sees on an
// error page can be found in the logs.
package requestid

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header carries the id, from an edge proxy in front and to upstreams.
const Header = "X-Request-Id"

// Get returns r's id: the one an edge proxy sent in X-Request-Id when it
// is short and printable, or a new random one, which is then recorded on r
// so that later calls agree.
func Get(r *http.Request) string {
	if id := r.Header.Get(Header); valid(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r.Header.Set(Header, id)
	return id
}

// valid accepts what common edge proxies generate (UUIDs, hex, base64url)
// and nothing that could forge a log line or page markup.
func valid(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
