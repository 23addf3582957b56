// Package canonical turns the path and host of a request into the one form
// that routing, access policies and the upstream all see, so that no two of
// them can read a request differently.
//
// A path is percent-decoded, its empty and dot segments removed, and the
// result checked to be plain UTF-8. Anything that servers behind a proxy are
// known to read in more than one way is refused instead of guessed at: an
// encoded slash or backslash, a raw backslash, ";" path parameters, control
// characters (including NUL), double encodings such as %252e, overlong or
// otherwise invalid UTF-8, and segments ending in a dot or space, which
// Windows servers drop.
package canonical

import (
	"strings"
	"unicode/utf8"
)

// Error says why a path or host has no canonical form. Its text is safe to
// show to the client that sent it.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return e.Reason }

var (
	errNotAbsolute   = &Error{"the path does not start with /"}
	errBadEscape     = &Error{"the path has a malformed percent-encoding"}
	errEncodedSlash  = &Error{"the path has an encoded slash (%2F), which servers read differently"}
	errBackslash     = &Error{"the path has a backslash (raw or %5C), which some servers read as a slash"}
	errParameter     = &Error{`the path has a ";" (raw or %3B), which some servers read as the start of path parameters`}
	errControl       = &Error{"the path has a control character (such as %00, a tab or a newline)"}
	errDoubleEncoded = &Error{"the path is percent-encoded twice (such as %252e), which servers decode a different number of times"}
	errUTF8          = &Error{"the path is not valid UTF-8 (overlong or truncated encodings are refused)"}
	errTrailingDot   = &Error{"a path segment ends in a dot or space, which Windows servers drop"}
	errBadHost       = &Error{"the host name has characters a host name cannot have"}
)

// Path returns the canonical form of raw, the path of a request target as
// sent on the wire (percent-encoded, without query or fragment). The result
// is decoded, starts with "/", has no empty, "." or ".." segments, and
// keeps a trailing slash. ".." never climbs above the root.
//
// When raw is already canonical, Path returns it without allocating.
func Path(raw string) (string, error) {
	if raw == "" || raw[0] != '/' {
		return "", errNotAbsolute
	}
	plain := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if err := refused(c); err != nil {
			return "", err
		}
		switch {
		case c == '%', c >= 0x80:
			plain = false
		case c == '/' && i+1 < len(raw) && (raw[i+1] == '/' || raw[i+1] == '.'):
			plain = false
		case c == '.' || c == ' ':
			if i+1 == len(raw) || raw[i+1] == '/' {
				plain = false // a dot or space at a segment's end needs a closer look
			}
		}
	}
	if plain {
		return raw, nil
	}
	decoded, err := unescape(raw)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(decoded) {
		return "", errUTF8
	}
	return resolve(decoded)
}

// unescape decodes every %XX in raw, refusing the escapes whose decoded form
// would be read differently from the encoded one.
func unescape(raw string) (string, error) {
	if !strings.Contains(raw, "%") {
		return raw, nil
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
			return "", errBadEscape
		}
		c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
		i += 2
		if err := refused(c); err != nil {
			return "", err
		}
		switch {
		case c == '/':
			return "", errEncodedSlash
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			return "", errDoubleEncoded
		}
		b = append(b, c)
	}
	return string(b), nil
}

// refused is why a path cannot have the byte c, raw or decoded, or nil.
func refused(c byte) error {
	switch {
	case c == '\\':
		return errBackslash
	case c == ';':
		return errParameter
	case c < ' ' || c == 0x7f:
		return errControl
	}
	return nil
}

// resolve removes empty and dot segments from the decoded path p
// (RFC 3986 §5.2.4, with "//" collapsed as well).
func resolve(p string) (string, error) {
	segs := make([]string, 0, strings.Count(p, "/"))
	trailing := false
	for rest := p[1:]; ; {
		seg, more, found := strings.Cut(rest, "/")
		trailing = found && more == ""
		switch seg {
		case "", ".":
			trailing = trailing || !found
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = true
		default:
			if last := seg[len(seg)-1]; last == '.' || last == ' ' {
				return "", errTrailingDot
			}
			segs = append(segs, seg)
		}
		if !found {
			break
		}
		rest = more
	}
	var b strings.Builder
	b.Grow(len(p) + 1)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// Host returns the canonical form of a Host header or URL authority: lower
// case, without port, without a trailing dot. An IPv6 literal keeps its
// brackets. It refuses names with characters no host name has, such as
// non-ASCII (IDNs arrive in their xn-- form), "@" or "/".
func Host(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 2 || !validPort(h[end+1:]) || strings.ContainsFunc(h[1:end], func(r rune) bool {
			return !(r == ':' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
		}) {
			return "", errBadHost
		}
		return strings.ToLower(h[:end+1]), nil
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i:]) {
			return "", errBadHost
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", errBadHost
	}
	lower := true
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", errBadHost
		}
	}
	if strings.Contains(h, "..") || h[0] == '.' || h[len(h)-1] == '.' {
		return "", errBadHost
	}
	if !lower {
		h = strings.ToLower(h)
	}
	return h, nil
}

// validPort reports whether s is empty or ":" followed by digits.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) == 1 || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
