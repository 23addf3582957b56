package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestThemeExample runs the flow with examples/theme's pages section: the
// logo, colour, footer links, reworded texts, replaced notice page and the
// German messages file all reach the pages.
func TestThemeExample(t *testing.T) {
	dir, err := filepath.Abs("../examples/theme")
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, fmt.Sprintf(`pages:
  product_name: {en: Example Corp, de: Example Corp}
  logo: %[1]s/logo.svg
  primary_color: "#0b6e4f"
  footer_links:
    - {text: {en: Privacy, de: Datenschutz}, url: "https://example.com/privacy"}
  templates_dir: %[1]s/templates
`, dir))
	b := newBrowser(t)
	b.language = "de-DE,de;q=0.9"
	p := b.get(s.proxyURL + "/")
	for _, want := range []string{
		`<html lang="de">`, "<h1>Anmelden</h1>", "mit Ihrem Example-Corp-Konto",
		`<img src="data:image/svg&#43;xml;base64,`, `alt="Example Corp"`,
		`<a href="https://example.com/privacy">Datenschutz</a>`,
		"--accent: #0b6e4f; --accent-text: #ffffff;",
		`hreflang="ja"`, `hreflang="en"`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("themed German login page lacks %q:\n%s", want, p.Body)
		}
	}
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": testPassword}, "", "")
	if !strings.Contains(p.Body, ">Zulassen<") || !strings.Contains(p.Body, ">Ablehnen<") {
		t.Errorf("the consent page is not German:\n%s", p.Body)
	}
	b.submit(p.formWith(t, "decision"), nil, "decision", "approve")

	b.language = "en"
	p = b.get(s.proxyURL + "/oauth2/sign_out")
	p = b.submit(p.formWith(t, "token"), nil, "", "")
	for _, want := range []string{"<h1>You are signed out</h1>", "You have signed out of the Example Corp intranet.", `<a href="https://example.com/">example.com</a>`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the replaced signed-out page lacks %q:\n%s", want, p.Body)
		}
	}
}
