package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// RequestIDHeader carries a request's id, from an edge proxy in front and
// to upstreams, and back to the client on the response, so that what a
// person sees on an error page can be found in the logs.
const RequestIDHeader = "X-Request-Id"

// RequestID returns r's id: the one an edge proxy sent in X-Request-Id when it
// is short and printable, or a new random one, which is then recorded on r
// so that later calls agree.
func RequestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); valid(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	var h [24]byte // encoded here, so the id costs one allocation
	hex.Encode(h[:], b[:])
	id := string(h[:])
	r.Header.Set(RequestIDHeader, id)
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
