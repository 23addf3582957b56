package directory

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CanonicalID is the form of a user ID that login lookup and throttling
// compare: compatibility-normalised (NFKC, so full-width and ligature
// forms match their plain letters), case-folded, and with runs of white
// space collapsed to one space and trimmed at both ends. "  Alice " and
// "ＡＬＩＣＥ" are the same account; people retyping their ID then land on
// the same account and the same failure counter.
func CanonicalID(id string) string {
	// Folding can produce characters that NFKC composes again (and NFKC can
	// produce characters that fold), so normalise on both sides of it.
	s := norm.NFKC.String(strings.Map(cherokeeFold, cases.Fold().String(norm.NFKC.String(id))))
	return strings.Join(strings.Fields(s), " ")
}

// cherokeeFold finishes case folding for Cherokee, which Unicode folds to
// the capital letters; x/text/cases folds capitals to small letters and
// small ones to capitals, so the result would depend on how it was typed.
func cherokeeFold(r rune) rune {
	switch {
	case r >= 0xAB70 && r <= 0xABBF:
		return r - 0xAB70 + 0x13A0
	case r >= 0x13F8 && r <= 0x13FD:
		return r - 8
	}
	return r
}
