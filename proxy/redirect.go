package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/proxy/canonical"
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
	// what they finally turn into. The target itself must be well formed;
	// a decoding that leaves a malformed escape ("/100%25" is "/100%")
	// decodes no further, in browsers or apps.
	for s, first := target, true; ; first = false {
		if !plainPath(s) {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil && first {
			return false
		}
		if err != nil || d == s {
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
func (p *Proxy) returnTarget(r *http.Request, c *compiled, rd string) string {
	if rd == "" {
		return "/"
	}
	if !c.redirects.safe(rd) {
		// Without its query and fragment, which may carry the secrets of
		// whatever page the link came from.
		target, _, _ := strings.Cut(rd, "?")
		target, _, _ = strings.Cut(target, "#")
		p.log.InfoContext(r.Context(), "ignoring unsafe return target", "rd", target)
		return "/"
	}
	return rd
}

// splitHTTPURL splits an absolute http or https URL, written in lower case
// as "scheme://authority" and the rest (path, query, fragment, possibly
// empty). It reports false for anything else.
func splitHTTPURL(s string) (scheme, authority, rest string, ok bool) {
	switch {
	case strings.HasPrefix(s, "https://"):
		scheme = "https"
	case strings.HasPrefix(s, "http://"):
		scheme = "http"
	default:
		return "", "", "", false
	}
	s = s[len(scheme)+len("://"):]
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	return scheme, s[:end], s[end:], true
}

// redirectPolicy says which absolute URLs are return targets: those on the
// proxy's own origin, and those on the allowed redirect domains.
type redirectPolicy struct {
	scheme   string // PublicURL's; http targets only when it is http
	origin   string // PublicURL's scheme://host[:port], lower case
	exact    map[string]bool
	suffixes []string // ".example.com"
}

func compileRedirects(pub *url.URL, domains []string, ps *problems) redirectPolicy {
	rp := redirectPolicy{exact: map[string]bool{}}
	if pub != nil {
		rp.scheme = pub.Scheme
		rp.origin = strings.ToLower(pub.Scheme + "://" + pub.Host)
	}
	for i, d := range domains {
		field := fmt.Sprintf("allowed_redirect_domains[%d]", i)
		name, sub := strings.CutPrefix(d, ".")
		canon, err := canonical.Host(name)
		switch {
		case strings.HasPrefix(d, "*."):
			ps.add(field, "write %q as %q: a leading dot means every host below it", d, d[1:])
		case err != nil || canon != name || strings.ContainsAny(name, ":[") || !strings.Contains(name, ".") && sub:
			ps.add(field, "%q is not a lower-case host name such as app.example.com, or .example.com for every host below it (no scheme, no port)", d)
		case sub:
			rp.suffixes = append(rp.suffixes, "."+canon)
		default:
			rp.exact[canon] = true
		}
	}
	return rp
}

// allowsHost reports whether host, canonical, is an allowed redirect domain.
func (rp *redirectPolicy) allowsHost(host string) bool {
	if rp.exact[host] {
		return true
	}
	for _, s := range rp.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// safe reports whether a browser may be sent to target after sign-in or
// sign-out: a path on this site (see safeReturn), or an absolute URL on the
// proxy's origin or an allowed redirect domain. Absolute URLs are held to
// a strict form, so that no browser or server can read another host into
// them: a lower-case http(s) scheme followed by "//", a plain host name
// without user info, and a path that safeReturn accepts.
func (rp *redirectPolicy) safe(target string) bool {
	if strings.HasPrefix(target, "/") {
		return safeReturn(target)
	}
	if len(target) > maxReturnLen {
		return false
	}
	scheme, authority, tail, ok := splitHTTPURL(target)
	if !ok || scheme == "http" && rp.scheme != "http" {
		return false
	}
	if strings.ContainsAny(authority, "@%\\[]") {
		return false
	}
	host, err := canonical.Host(authority)
	hostPart := authority
	if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		hostPart = authority[:i]
	}
	// The host as written must be the canonical one: no trailing dot.
	if err != nil || strings.ToLower(hostPart) != host {
		return false
	}
	if strings.HasPrefix(tail, "?") || strings.HasPrefix(tail, "#") {
		tail = "/" + tail
	}
	if tail != "" && !safeReturn(tail) {
		return false
	}
	sameOrigin := strings.ToLower(scheme+"://"+authority) == rp.origin
	if !sameOrigin && !rp.allowsHost(host) {
		return false
	}
	// Whatever Go's parser makes of it must agree.
	u, err := url.Parse(target)
	return err == nil && u.User == nil && u.Opaque == "" && strings.ToLower(u.Hostname()) == host
}
