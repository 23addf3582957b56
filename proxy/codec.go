package proxy

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

// The binary layout is versioned so a later release can change it and still
// recognise (and reject) values minted by this one. Fields are written as
// length-prefixed strings: smaller than JSON or gob, which matters for
// cookies, and cheap to parse on every request. Format 2 added the extra
// claims, format 3 the session's timing (generation, use, renewal) and which
// tokens it keeps, format 4 the provider's session id; values of earlier
// formats are still read.
const (
	identityFormatV1 byte = 1
	identityFormatV2 byte = 2
	identityFormatV3 byte = 3
	identityFormat   byte = 4
	tokensFormat     byte = 1
)

// appendIdentity appends the parts of s needed to forward a request.
func appendIdentity(b []byte, s *session) []byte {
	b = append(b, identityFormat)
	b = appendString(b, s.id)
	b = binary.AppendUvarint(b, s.generation)
	b = appendTime(b, s.expiry)
	b = appendTime(b, s.touched)
	b = appendTime(b, s.renewAt)
	b = append(b, byte(s.kept))
	b = appendString(b, s.Subject)
	b = appendString(b, s.Email)
	b = appendBool(b, s.EmailVerified)
	b = appendString(b, s.PreferredUsername)
	b = appendString(b, s.Name)
	b = appendStrings(b, s.Groups)
	b = binary.AppendUvarint(b, uint64(len(s.Claims)))
	// Sorted, so equal sessions encode equally.
	names := make([]string, 0, len(s.Claims))
	for n := range s.Claims {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b = appendString(b, n)
		b = appendStrings(b, s.Claims[n])
	}
	return appendString(b, s.sid)
}

// appendTime appends t in Unix seconds; 0 is the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(t.Unix()))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, v := range list {
		b = appendString(b, v)
	}
	return b
}

// appendTokens appends t.
func appendTokens(b []byte, t *tokens) []byte {
	b = append(b, tokensFormat)
	b = appendString(b, t.access)
	b = appendString(b, t.refresh)
	b = appendString(b, t.id)
	return appendTime(b, t.accessExpiry)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errMalformed reports a value that decrypted but does not parse: it was
// minted by an incompatible release, or something is badly wrong.
var errMalformed = errors.New("malformed session value")

// decoder reads the layout written by the append functions. It works on a
// string so every field is a substring of one allocation.
type decoder struct {
	s   string
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.s) == 0 {
		d.bad = true
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			// Overflow, or a longer encoding than needed: each value has
			// exactly one encoding, so a value cannot be re-spelled.
			if i == binary.MaxVarintLen64-1 && c > 1 || i > 0 && c == 0 {
				break
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.bad = true
	return 0
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)) {
		d.bad = true
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// time reads a time in Unix seconds; 0 is the zero time.
func (d *decoder) time() time.Time {
	u := d.uvarint()
	// Anything past year 9999 is corrupt, and would overflow time.Unix.
	if u > 253402300799 {
		d.bad = true
	}
	if u == 0 || d.bad {
		return time.Time{}
	}
	return time.Unix(int64(u), 0)
}

// strings reads a list written by appendStrings; nil when empty.
func (d *decoder) strings() []string {
	n := d.uvarint()
	// Each item takes at least one byte, which bounds the allocation by
	// the input's length.
	if d.bad || n > uint64(len(d.s)) {
		d.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = d.string()
	}
	return list
}

// identity reads what appendIdentity wrote into s.
func (d *decoder) identity(s *session) {
	format := d.byte()
	if format < identityFormatV1 || format > identityFormat {
		d.bad = true
		return
	}
	s.id = d.string()
	if format >= identityFormatV3 {
		s.generation = d.uvarint()
	}
	s.expiry = d.time()
	if format >= identityFormatV3 {
		s.touched = d.time()
		s.renewAt = d.time()
		s.kept = tokenSet(d.byte())
		if s.kept&^keepAll != 0 {
			d.bad = true
		}
	} else {
		// Earlier sessions ended with their tokens and kept them all.
		s.renewAt, s.kept = s.expiry, keepAll&^keepRefresh
	}
	s.Subject = d.string()
	s.Email = d.string()
	if format >= identityFormatV2 {
		switch d.byte() {
		case 0:
		case 1:
			s.EmailVerified = true
		default:
			d.bad = true
		}
	}
	s.PreferredUsername = d.string()
	s.Name = d.string()
	s.Groups = d.strings()
	if format >= identityFormatV2 {
		n := d.uvarint()
		if d.bad || n > uint64(len(d.s)) {
			d.bad = true
			return
		}
		for range n {
			name := d.string()
			values := d.strings()
			if d.bad || name == "" {
				d.bad = true
				return
			}
			if s.Claims == nil {
				s.Claims = make(map[string][]string, n)
			}
			if _, dup := s.Claims[name]; dup {
				d.bad = true
				return
			}
			s.Claims[name] = values
		}
	}
	if format >= identityFormat {
		s.sid = d.string()
	}
	if s.id == "" || s.Subject == "" || s.expiry.IsZero() {
		d.bad = true
	}
}

// tokens reads what appendTokens wrote into t.
func (d *decoder) tokens(t *tokens) {
	if d.byte() != tokensFormat {
		d.bad = true
		return
	}
	t.access = d.string()
	t.refresh = d.string()
	t.id = d.string()
	t.accessExpiry = d.time()
}

// decodeIdentity parses a value made by appendIdentity.
func decodeIdentity(b []byte) (*session, error) {
	d := decoder{s: string(b)}
	s := new(session)
	d.identity(s)
	if d.bad || d.s != "" {
		return nil, errMalformed
	}
	return s, nil
}

// encodeRecord is the whole session as a SessionStore keeps it.
func encodeRecord(s *session) []byte {
	b := appendIdentity(make([]byte, 0, 512), s)
	return appendTokens(b, &s.tokens)
}

// decodeRecord parses a value made by encodeRecord.
func decodeRecord(b []byte) (*session, error) {
	d := decoder{s: string(b)}
	s := new(session)
	d.identity(s)
	d.tokens(&s.tokens)
	if d.bad || d.s != "" {
		return nil, errMalformed
	}
	return s, nil
}
