package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// maxReturnLen bounds return targets, which travel in cookies and URLs.
const maxReturnLen = 2048

// safeReturn reports whether target is a path on this site that is safe to
// redirect a browser to after sign-in or sign-out. Only absolute paths are
// accepted, and nothing a browser could read as another origin: "//host" and
// "/\host" are protocol-relative to browsers, backslashes count as slashes,
// tabs and newlines are silently dropped from URLs, and percent-encoded
// forms of all these are rejected too, since some applications decode a
// return path before using it.
func safeReturn(target string) bool {
	if target == "" || len(target) > maxReturnLen || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		// Printable ASCII only: anything else belongs percent-encoded.
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	// Decode repeatedly, so double (and deeper) encodings are judged by
	// what they finally turn into.
	for s := target; ; {
		if !plainPath(s) {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		if d == s {
			break
		}
		s = d
	}
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "" && u.Host == "" && u.Opaque == "" && u.User == nil &&
		strings.HasPrefix(u.Path, "/")
}

// plainPath checks one decoding of a return target: a single leading slash,
// no backslash (browsers read it as a slash) and no control characters
// (browsers drop tabs and newlines, joining what surrounds them).
func plainPath(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// returnTarget is rd if it is safe to redirect to, and "/" otherwise.
func (p *Proxy) returnTarget(r *http.Request, rd string) string {
	if rd == "" {
		return "/"
	}
	if !safeReturn(rd) {
		p.log.InfoContext(r.Context(), "ignoring unsafe return target", "rd", rd)
		return "/"
	}
	return rd
}
