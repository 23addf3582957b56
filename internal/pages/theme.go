package pages

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/i18n"
)

// Theme makes the pages look like the operator's product.
type Theme struct {
	// ProductName is shown in the header and the window title; "gatehouse"
	// when empty.
	ProductName i18n.Text
	// Logo is an image shown above each page with the product name as its
	// alt text, and LogoType its media type (image/png, image/svg+xml, …).
	Logo     []byte
	LogoType string
	// PrimaryColor is the buttons' colour, #rgb or #rrggbb. Button text is
	// black or white, whichever contrasts more with it (always ≥ 4.5:1).
	PrimaryColor string
	FooterLinks  []FooterLink
}

// FooterLink is a link in every page's footer.
type FooterLink struct {
	Text i18n.Text
	URL  string
}

// themeCSS overrides the stylesheet's accent colour in both colour schemes.
func themeCSS(color string) (string, error) {
	if color == "" {
		return "", nil
	}
	rgb, err := ParseColor(color)
	if err != nil {
		return "", err
	}
	text := "#000000"
	if Contrast(rgb, [3]uint8{255, 255, 255}) > Contrast(rgb, [3]uint8{}) {
		text = "#ffffff"
	}
	vars := fmt.Sprintf(":root { --accent: %s; --accent-text: %s; }", color, text)
	return "\n/* theme */\n" + vars + "\n@media (prefers-color-scheme: dark) { " + vars + " }\n", nil
}

// logoURL is the logo as a data: URL, which the pages' policy allows where
// it allows no other image source.
func logoURL(t Theme) string {
	if len(t.Logo) == 0 {
		return ""
	}
	return "data:" + t.LogoType + ";base64," + base64.StdEncoding.EncodeToString(t.Logo)
}

// ParseColor reads #rgb or #rrggbb.
func ParseColor(s string) ([3]uint8, error) {
	var rgb [3]uint8
	hex, ok := strings.CutPrefix(s, "#")
	if ok && len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if !ok || len(hex) != 6 {
		return rgb, fmt.Errorf("colour %q: want #rgb or #rrggbb, e.g. #1f5fbf", s)
	}
	for i := range rgb {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			return rgb, fmt.Errorf("colour %q: want #rgb or #rrggbb, e.g. #1f5fbf", s)
		}
		rgb[i] = uint8(v)
	}
	return rgb, nil
}

// Contrast is the WCAG 2 contrast ratio of two colours, from 1 to 21.
func Contrast(a, b [3]uint8) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c [3]uint8) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}
