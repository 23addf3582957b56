package directory

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters written by HashArgon2id: OWASP's baseline
// (m=19 MiB, t=2, p=1). RFC 9106's second recommendation (m=64 MiB, t=3,
// p=4) costs about half a second of CPU per login on a small two-core VM
// and 64 MiB per concurrent hash; this costs about a tenth of that, close to
// bcrypt's default cost, while staying memory-hard. One lane matches the
// server's bound of one password hash per core.
const (
	Argon2idMemoryKiB = 19 * 1024
	Argon2idTime      = 2
	Argon2idThreads   = 1
	argon2idSaltLen   = 16
	argon2idKeyLen    = 32
)

// Bounds on what a configured argon2id hash may ask for, so that a
// mistaken or hostile configuration cannot make one login take gigabytes
// or minutes.
const (
	argon2idMaxMemoryKiB = 256 * 1024
	argon2idMaxTime      = 16
	argon2idMaxThreads   = 16
	argon2idMinSalt      = 8
	argon2idMaxSalt      = 64
	argon2idMinKey       = 16
	argon2idMaxKey       = 64
)

// argon2idHash is a parsed PHC string
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, salt and hash
// in unpadded standard base64.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// phcBase64 is PHC's encoding: standard alphabet, no padding.
var phcBase64 = base64.RawStdEncoding

// decodePHC decodes s and checks that its length is within [lo, hi]. It
// accepts only the canonical spelling: the decoder alone would skip line
// breaks and ignore stray padding bits.
func decodePHC(s string, lo, hi int) ([]byte, bool) {
	b, err := phcBase64.DecodeString(s)
	return b, err == nil && len(b) >= lo && len(b) <= hi && phcBase64.EncodeToString(b) == s
}

// parseArgon2id parses an argon2id PHC string strictly: parameters in the
// order m, t, p, decimal without leading zeros, within the bounds above.
func parseArgon2id(s string) (*argon2idHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("is not an argon2id hash of the form $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("has argon2id version %q; only v=19 is supported", parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("has argon2id parameters %q; want exactly m=…,t=…,p=…", parts[3])
	}
	var vals [3]uint32
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || strconv.FormatUint(n, 10) != v {
			return nil, fmt.Errorf("has argon2id parameter %q; want %s=<decimal number>, in the order m, t, p", params[i], name)
		}
		vals[i] = uint32(n)
	}
	h := &argon2idHash{memory: vals[0], time: vals[1]}
	switch p := vals[2]; {
	case p < 1 || p > argon2idMaxThreads:
		return nil, fmt.Errorf("has argon2id p=%d; want 1 to %d", p, argon2idMaxThreads)
	case h.time < 1 || h.time > argon2idMaxTime:
		return nil, fmt.Errorf("has argon2id t=%d; want 1 to %d", h.time, argon2idMaxTime)
	case h.memory < 8*p || h.memory > argon2idMaxMemoryKiB:
		return nil, fmt.Errorf("has argon2id m=%d; want %d (8·p) to %d KiB", h.memory, 8*p, argon2idMaxMemoryKiB)
	default:
		h.threads = uint8(p)
	}
	var ok bool
	if h.salt, ok = decodePHC(parts[4], argon2idMinSalt, argon2idMaxSalt); !ok {
		return nil, fmt.Errorf("has an argon2id salt that is not %d to %d bytes of unpadded base64", argon2idMinSalt, argon2idMaxSalt)
	}
	if h.key, ok = decodePHC(parts[5], argon2idMinKey, argon2idMaxKey); !ok {
		return nil, fmt.Errorf("has an argon2id hash that is not %d to %d bytes of unpadded base64", argon2idMinKey, argon2idMaxKey)
	}
	return h, nil
}

func (h *argon2idHash) String() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.memory, h.time, h.threads,
		phcBase64.EncodeToString(h.salt), phcBase64.EncodeToString(h.key))
}

func (h *argon2idHash) derive(password []byte) []byte {
	return argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
}

func (h *argon2idHash) verify(password []byte) bool {
	return subtle.ConstantTimeCompare(h.derive(password), h.key) == 1
}

// work is the number of 1 KiB block passes.
func (h *argon2idHash) work() float64 { return float64(h.memory) * float64(h.time) }

func (h *argon2idHash) dummy() (passwordHash, error) {
	d := &argon2idHash{memory: h.memory, time: h.time, threads: h.threads, salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
	rand.Read(d.salt)
	d.key = d.derive([]byte(dummyPassword))
	return d, nil
}

// HashArgon2id returns the argon2id PHC string of password with the
// parameters above and a random salt.
func HashArgon2id(password string) string {
	h := &argon2idHash{memory: Argon2idMemoryKiB, time: Argon2idTime, threads: Argon2idThreads, salt: make([]byte, argon2idSaltLen), key: make([]byte, argon2idKeyLen)}
	rand.Read(h.salt)
	h.key = h.derive([]byte(password))
	return h.String()
}
