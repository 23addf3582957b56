package directory

import (
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// passwordHash is a configured password hash of one of the accepted kinds.
type passwordHash interface {
	// verify reports whether password matches, in time that does not
	// depend on where it differs.
	verify(password []byte) bool
	// work estimates the cost of verify in 1 KiB argon2 block passes, to
	// compare hashes of different kinds.
	work() float64
	// dummy returns a hash of dummyPassword with the same parameters.
	dummy() (passwordHash, error)
}

// dummyPassword is what the hash compared for unknown users hashes.
const dummyPassword = "gatehouse-timing-equaliser"

// bcryptRoundWork is the cost of one bcrypt key-expansion round in argon2
// block passes, measured on amd64 (cost 10: about 170 ms; m=19 MiB, t=2:
// about 55 ms). It only decides which kind of dummy hash unknown users pay
// for when both kinds are configured, so an estimate is enough.
const bcryptRoundWork = 100

// ParsePasswordHash checks that hash is a bcrypt hash or an argon2id PHC
// string within this server's bounds. The error says what is wrong.
func ParsePasswordHash(hash string) error {
	_, err := parsePasswordHash([]byte(hash))
	return err
}

func parsePasswordHash(hash []byte) (passwordHash, error) {
	if strings.HasPrefix(string(hash), "$argon2") {
		return parseArgon2id(string(hash))
	}
	cost, err := bcrypt.Cost(hash)
	if err != nil {
		return nil, errNotAHash
	}
	return &bcryptHash{hash: hash, cost: cost}, nil
}

var errNotAHash = errors.New("is neither a bcrypt hash nor an argon2id hash; make one with `gatehouse hash-password`")

type bcryptHash struct {
	hash []byte
	cost int
}

func (h *bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h.hash, password) == nil
}

func (h *bcryptHash) work() float64 { return float64(uint64(1)<<h.cost) * bcryptRoundWork }

func (h *bcryptHash) dummy() (passwordHash, error) {
	d, err := bcrypt.GenerateFromPassword([]byte(dummyPassword), h.cost)
	if err != nil {
		return nil, err
	}
	return &bcryptHash{hash: d, cost: h.cost}, nil
}

// dummyHash returns the hash compared when the user ID is unknown, so that
// such a login costs what a wrong password costs. It copies the parameters
// of the most expensive configured hash: a cheaper dummy would tell unknown
// IDs apart from the users with that hash, and no single dummy can match
// every user when costs or kinds are mixed, so it matches the users an
// attacker would find slowest to guess. Without users it is bcrypt at the
// default cost.
func dummyHash(hashes []passwordHash) (passwordHash, error) {
	var costliest passwordHash = &bcryptHash{cost: bcrypt.DefaultCost}
	if len(hashes) > 0 {
		costliest = hashes[0]
		for _, h := range hashes[1:] {
			if h.work() > costliest.work() {
				costliest = h
			}
		}
	}
	return costliest.dummy()
}
