package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/i18n"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// pagesLine is the line of "pages:" when appended to minimalAuth; its
// first field is on the next line.
const pagesLine = 12

// pngLogo is the start of a PNG file, enough for content sniffing.
var pngLogo = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

const svgLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#0b6e4f"/></svg>`

// writeConfig writes minimalAuth plus pagesYAML as config.yaml, and files
// (relative paths) next to it, into a new folder.
func writeConfig(t *testing.T, pagesYAML string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(minimalAuth+pagesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadPages(t *testing.T, pagesYAML string, files map[string][]byte) *Config {
	t.Helper()
	c, err := Load(writeConfig(t, pagesYAML, files))
	if err != nil {
		t.Fatalf("got %v, want the pages section to load", err)
	}
	return c
}

func TestPagesSectionLoads(t *testing.T) {
	svgPercent := "data:image/svg+xml," + strings.ReplaceAll(url.PathEscape(svgLogo), ":", "%3A")
	for _, tc := range []struct {
		name  string
		yaml  string
		files map[string][]byte
		check func(t *testing.T, o pages.Options)
	}{
		{
			name: "none",
			yaml: "",
			check: func(t *testing.T, o pages.Options) {
				if !reflect.DeepEqual(o, pages.Options{}) {
					t.Errorf("got %+v, want the zero options: the built-in look", o)
				}
			},
		},
		{
			name: "product name for every language",
			yaml: "pages:\n  product_name: Example Corp\n",
			check: func(t *testing.T, o pages.Options) {
				if want := (i18n.Text{"": "Example Corp"}); !reflect.DeepEqual(o.Theme.ProductName, want) {
					t.Errorf("product name: got %v, want %v", o.Theme.ProductName, want)
				}
				if got := o.Theme.ProductName.In("ja"); got != "Example Corp" {
					t.Errorf("product name in Japanese: got %q", got)
				}
			},
		},
		{
			name: "product name per language",
			yaml: "pages:\n  product_name:\n    en: Example Corp\n    ja: エグザンプル社\n",
			check: func(t *testing.T, o pages.Options) {
				if want := (i18n.Text{"en": "Example Corp", "ja": "エグザンプル社"}); !reflect.DeepEqual(o.Theme.ProductName, want) {
					t.Errorf("product name: got %v, want %v", o.Theme.ProductName, want)
				}
			},
		},
		{
			name:  "PNG logo file",
			yaml:  "pages:\n  logo: theme/logo.png\n",
			files: map[string][]byte{"theme/logo.png": pngLogo},
			check: logoIs(pngLogo, "image/png"),
		},
		{
			name:  "SVG logo file, by its extension",
			yaml:  "pages:\n  logo: logo.SVG\n",
			files: map[string][]byte{"logo.SVG": []byte(svgLogo)},
			check: logoIs([]byte(svgLogo), "image/svg+xml"),
		},
		{
			name:  "logo file without an extension, by its content",
			yaml:  "pages:\n  logo: logo\n",
			files: map[string][]byte{"logo": pngLogo},
			check: logoIs(pngLogo, "image/png"),
		},
		{
			name:  "logo of exactly the limit",
			yaml:  "pages:\n  logo: logo.png\n",
			files: map[string][]byte{"logo.png": bytes.Repeat([]byte{0}, 100<<10)},
			check: func(t *testing.T, o pages.Options) {
				if len(o.Theme.Logo) != 100<<10 {
					t.Errorf("logo: got %d bytes", len(o.Theme.Logo))
				}
			},
		},
		{
			name:  "base64 data: URL",
			yaml:  "pages:\n  logo: \"data:image/png;base64," + base64.StdEncoding.EncodeToString(pngLogo) + "\"\n",
			check: logoIs(pngLogo, "image/png"),
		},
		{
			name:  "percent-encoded SVG data: URL",
			yaml:  "pages:\n  logo: \"" + svgPercent + "\"\n",
			check: logoIs([]byte(svgLogo), "image/svg+xml"),
		},
		{
			name:  "data: URL with a charset",
			yaml:  "pages:\n  logo: \"data:image/svg+xml;charset=utf-8," + url.PathEscape(svgLogo) + "\"\n",
			check: logoIs([]byte(svgLogo), "image/svg+xml"),
		},
		{
			name: "primary colour",
			yaml: "pages:\n  primary_color: \"#3c3\"\n",
			check: func(t *testing.T, o pages.Options) {
				if o.Theme.PrimaryColor != "#3c3" {
					t.Errorf("primary colour: got %q", o.Theme.PrimaryColor)
				}
			},
		},
		{
			name: "footer links",
			yaml: "pages:\n  footer_links:\n    - {text: Privacy, url: \"https://example.com/privacy\"}\n" +
				"    - {text: {en: Help, ja: ヘルプ}, url: /help}\n    - {text: Mail, url: \"mailto:it@example.com\"}\n" +
				"    - {text: Intranet, url: \"HTTP://intranet.example.com/\"}\n",
			check: func(t *testing.T, o pages.Options) {
				want := []pages.FooterLink{
					{Text: i18n.Text{"": "Privacy"}, URL: "https://example.com/privacy"},
					{Text: i18n.Text{"en": "Help", "ja": "ヘルプ"}, URL: "/help"},
					{Text: i18n.Text{"": "Mail"}, URL: "mailto:it@example.com"},
					{Text: i18n.Text{"": "Intranet"}, URL: "HTTP://intranet.example.com/"},
				}
				if !reflect.DeepEqual(o.Theme.FooterLinks, want) {
					t.Errorf("footer links: got %+v, want %+v", o.Theme.FooterLinks, want)
				}
			},
		},
		{
			name:  "templates_dir and default language",
			yaml:  "pages:\n  templates_dir: theme\n  default_language: de\n",
			files: map[string][]byte{"theme/messages/de.yaml": []byte("language.name: Deutsch\nlogin.title: Anmelden\n")},
			check: func(t *testing.T, o pages.Options) {
				if !filepath.IsAbs(o.Dir) || filepath.Base(o.Dir) != "theme" {
					t.Errorf("templates_dir: got %q, want an absolute path next to the config file", o.Dir)
				}
				if o.DefaultLanguage != "de" {
					t.Errorf("default language: got %q", o.DefaultLanguage)
				}
				s, err := pages.New(o)
				if err != nil {
					t.Fatal(err)
				}
				if w := s.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "language de:") {
					t.Errorf("warnings: got %q", w)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, loadPages(t, tc.yaml, tc.files).pages)
		})
	}
}

// TestPagesReachTheServers checks that both servers get the pages section.
func TestPagesReachTheServers(t *testing.T) {
	path := writeConfig(t, "", map[string][]byte{"logo.png": pngLogo, "theme/messages/ja.yaml": []byte("login.title: サインイン\n")})
	yaml := strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]", 1) + proxyFor("c", "s", "http://localhost:8000") +
		"pages:\n  product_name: {en: Example Corp, ja: エグザンプル社}\n  logo: logo.png\n  primary_color: \"#0b6e4f\"\n" +
		"  footer_links: [{text: Help, url: /help}]\n  templates_dir: theme\n  default_language: ja\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := pages.Options{
		Theme: pages.Theme{
			ProductName: i18n.Text{"en": "Example Corp", "ja": "エグザンプル社"}, Logo: pngLogo, LogoType: "image/png",
			PrimaryColor: "#0b6e4f", FooterLinks: []pages.FooterLink{{Text: i18n.Text{"": "Help"}, URL: "/help"}},
		},
		Dir:             filepath.Join(filepath.Dir(path), "theme"),
		DefaultLanguage: "ja",
	}
	if !reflect.DeepEqual(c.pages, want) {
		t.Errorf("pages: got %+v, want %+v", c.pages, want)
	}
	ac, err := c.AuthServer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ac.Pages, want) {
		t.Errorf("authserver pages: got %+v, want %+v", ac.Pages, want)
	}
	pc, err := c.Proxy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pc.Pages, want) {
		t.Errorf("proxy pages: got %+v, want %+v", pc.Pages, want)
	}
}

func logoIs(data []byte, typ string) func(*testing.T, pages.Options) {
	return func(t *testing.T, o pages.Options) {
		t.Helper()
		if !bytes.Equal(o.Theme.Logo, data) || o.Theme.LogoType != typ {
			t.Errorf("logo: got %d bytes of %q, want %d bytes of %q", len(o.Theme.Logo), o.Theme.LogoType, len(data), typ)
		}
	}
}

// TestPagesProblems checks that each problem of the pages section names
// the file, the line and the field, as every other problem does.
func TestPagesProblems(t *testing.T) {
	line := func(n int) string { return ":" + strconv.Itoa(pagesLine+n) + ": " }
	big := append(append([]byte{}, pngLogo...), make([]byte, 100<<10)...)
	brokenLogin := "{{define \"title\"}}x{{end}}\n{{define \"content\"}}\n<p>{{.Nope}}</p>\n{{end}}\n"
	for _, tc := range []struct {
		name  string
		yaml  string
		files map[string][]byte
		want  []string // each in the error; DIR is the config file's folder
	}{
		{
			name:  "logo is text",
			yaml:  "pages:\n  logo: notes.txt\n",
			files: map[string][]byte{"notes.txt": []byte("just some notes\n")},
			want:  []string{line(1) + "pages.logo: the logo is text/plain; want a PNG, SVG, JPEG, GIF or WebP image"},
		},
		{
			name:  "logo is HTML",
			yaml:  "pages:\n  product_name: X\n  logo: logo.html\n",
			files: map[string][]byte{"logo.html": []byte("<html><script>alert(1)</script></html>")},
			want:  []string{line(2) + "pages.logo: the logo is text/html"},
		},
		{
			name:  "logo too large",
			yaml:  "pages:\n  logo: big.png\n",
			files: map[string][]byte{"big.png": big},
			want:  []string{line(1) + "pages.logo: the logo is 101 KiB; every page carries it inline, so it may be at most 100 KiB"},
		},
		{
			name: "logo data: URL too large",
			yaml: "pages:\n  logo: \"data:image/png;base64," + base64.StdEncoding.EncodeToString(big) + "\"\n",
			want: []string{line(1) + "pages.logo: the logo is 101 KiB"},
		},
		{
			name: "logo file missing",
			yaml: "pages:\n  logo: theme/nope.png\n",
			want: []string{line(1) + "pages.logo: cannot read DIR/theme/nope.png: no such file or directory"},
		},
		{
			name: "logo data: URL without a comma",
			yaml: "pages:\n  logo: \"data:image/png;base64\"\n",
			want: []string{line(1) + "pages.logo: a data: URL needs a comma before its data"},
		},
		{
			name: "logo data: URL not base64",
			yaml: "pages:\n  logo: \"data:image/png;base64,not*base64!\"\n",
			want: []string{line(1) + "pages.logo: the data: URL's data does not decode"},
		},
		{
			name: "logo data: URL badly percent-encoded",
			yaml: "pages:\n  logo: \"data:image/svg+xml,%3Csvg%zz\"\n",
			want: []string{line(1) + "pages.logo: the data: URL's data does not decode"},
		},
		{
			name: "logo data: URL of HTML",
			yaml: "pages:\n  logo: \"data:text/html,%3Cscript%3Ealert(1)%3C/script%3E\"\n",
			want: []string{line(1) + "pages.logo: the logo is text/html; want a PNG"},
		},
		{
			name: "primary colour by name",
			yaml: "pages:\n  primary_color: red\n",
			want: []string{line(1) + `pages.primary_color: colour "red": want #rgb or #rrggbb, e.g. #1f5fbf`},
		},
		{
			name: "primary colour too short",
			yaml: "pages:\n  product_name: X\n  primary_color: \"#12\"\n",
			want: []string{line(2) + `pages.primary_color: colour "#12"`},
		},
		{
			name: "primary colour unquoted, so a comment",
			yaml: "pages:\n  primary_color: #1f5fbf\n",
			want: []string{line(1) + `pages.primary_color: is empty: in YAML an unquoted # starts a comment, so quote the colour`},
		},
		{
			name: "primary colour not hex",
			yaml: "pages:\n  primary_color: \"#gggggg\"\n",
			want: []string{line(1) + `pages.primary_color: colour "#gggggg"`},
		},
		{
			name: "javascript: footer link",
			yaml: "pages:\n  footer_links:\n    - text: Click\n      url: \"javascript:alert(1)\"\n",
			want: []string{line(3) + `pages.footer_links[0].url: "javascript:alert(1)" must be an http(s) or mailto: URL, or a path starting with /`},
		},
		{
			name: "data: footer link",
			yaml: "pages:\n  footer_links:\n    - {text: A, url: /a}\n    - {text: B, url: \"data:text/html,hi\"}\n",
			want: []string{line(3) + `pages.footer_links[1].url: "data:text/html,hi" must be`},
		},
		{
			name: "protocol-relative footer link",
			yaml: "pages:\n  footer_links:\n    - {text: Help, url: //evil.example/help}\n",
			want: []string{line(2) + `pages.footer_links[0].url: "//evil.example/help" must be`},
		},
		{
			name: "relative footer link without a slash",
			yaml: "pages:\n  footer_links:\n    - {text: Help, url: help.html}\n",
			want: []string{line(2) + `pages.footer_links[0].url: "help.html" must be`},
		},
		{
			name: "footer link without a URL",
			yaml: "pages:\n  footer_links:\n    - {text: Help}\n",
			want: []string{line(2) + `pages.footer_links[0].url: "" must be`},
		},
		{
			name: "footer link without text",
			yaml: "pages:\n  footer_links:\n    - {text: Help, url: /help}\n    - url: /privacy\n",
			want: []string{line(3) + "pages.footer_links[1].text: a link needs its text, e.g. text: Privacy, or one per language"},
		},
		{
			name: "footer link with empty texts",
			yaml: "pages:\n  footer_links:\n    - text: {}\n      url: /privacy\n",
			want: []string{line(2) + "pages.footer_links[0].text: a link needs its text"},
		},
		{
			name: "templates_dir missing",
			yaml: "pages:\n  product_name: X\n  templates_dir: theme\n",
			want: []string{line(2) + "pages.templates_dir: DIR/theme is not a folder: no such file or directory"},
		},
		{
			name:  "templates_dir is a file",
			yaml:  "pages:\n  templates_dir: theme\n",
			files: map[string][]byte{"theme": []byte("x")},
			want:  []string{line(1) + "pages.templates_dir: DIR/theme is not a folder: it is a file"},
		},
		{
			name:  "templates_dir with a broken template",
			yaml:  "pages:\n  product_name: X\n  templates_dir: theme\n  default_language: ja\n",
			files: map[string][]byte{"theme/login.html": []byte(brokenLogin)},
			want:  []string{line(2) + "pages.templates_dir: DIR/theme/login.html:3: ", "can't evaluate field Nope in type pages.LoginData"},
		},
		{
			name:  "templates_dir with a syntax error",
			yaml:  "pages:\n  templates_dir: theme\n",
			files: map[string][]byte{"theme/consent.html": []byte("{{define \"title\"}}x{{end}}\n{{define \"content\"}}\n<h1>{{if}}</h1>\n{{end}}\n")},
			want:  []string{line(1) + "pages.templates_dir: DIR/theme/consent.html:3: missing value for if"},
		},
		{
			name:  "templates_dir with an unknown file",
			yaml:  "pages:\n  templates_dir: theme\n",
			files: map[string][]byte{"theme/logon.html": []byte("x")},
			want:  []string{line(1) + "pages.templates_dir: DIR/theme/logon.html: not a file the pages use", "login.html"},
		},
		{
			name:  "templates_dir with a broken message file",
			yaml:  "pages:\n  templates_dir: theme\n",
			files: map[string][]byte{"theme/messages/de.yaml": []byte("language.name: Deutsch\nlogin.tilte: Anmelden\n")},
			want:  []string{line(1) + `pages.templates_dir: DIR/theme/messages/de.yaml:2: unknown message key "login.tilte"`},
		},
		{
			name: "default language without messages",
			yaml: "pages:\n  product_name: X\n  default_language: fr\n",
			want: []string{line(2) + `pages.default_language: "fr" is not a language with a message file; have: en, ja`},
		},
		{
			name:  "default language without messages, with templates_dir",
			yaml:  "pages:\n  templates_dir: theme\n  default_language: fr\n",
			files: map[string][]byte{"theme/messages/de.yaml": []byte("language.name: Deutsch\n")},
			want:  []string{line(2) + `pages.default_language: "fr" is not a language with a message file; have: de, en, ja`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml, tc.files)
			_, err := Load(path)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "DIR", filepath.Dir(path))
				if strings.HasPrefix(w, ":") {
					w = path + w
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
			if len(cerr.Problems) != 1 {
				t.Errorf("got %d problems, want 1:\n%s", len(cerr.Problems), err)
			}
		})
	}
}

// TestPagesProblemsWithOthers checks that problems of the pages section
// are reported with the rest, through the package's usual helper.
func TestPagesProblemsWithOthers(t *testing.T) {
	checkProblem(t, minimalAuth+"pages:\n  primary_color: blue\n", ":13: pages.primary_color: colour \"blue\"")
	checkProblem(t, minimalAuth+"pages:\n  colour: \"#fff\"\n", ":13: pages.colour: unknown field; known fields here: default_language, footer_links, logo, primary_color, product_name, templates_dir")
	checkProblem(t, minimalAuth+"pages:\n  product_name: [a, b]\n", ":13: pages.product_name: got a list, want a mapping")
}

// TestPagesWarnings checks that a language with untranslated texts loads,
// with a warning saying how many fall back to English.
func TestPagesWarnings(t *testing.T) {
	c := loadPages(t, "pages:\n  templates_dir: theme\n", map[string][]byte{
		"theme/messages/de.yaml": []byte("language.name: Deutsch\nlogin.title: Anmelden\nlogin.submit: Anmelden\n"),
	})
	en, err := os.ReadFile("../i18n/messages/en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, l := range strings.Split(string(en), "\n") {
		if l != "" && l[0] != '#' && l[0] != ' ' && strings.Contains(l, ":") {
			keys++
		}
	}
	want := "language de: " + strconv.Itoa(keys-3) + " messages are not translated and are shown in English"
	if len(c.Warnings) != 1 || c.Warnings[0] != want {
		t.Errorf("warnings: got %q, want [%q]", c.Warnings, want)
	}

	c = loadPages(t, "pages:\n  product_name: X\n", nil)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings without a templates_dir: got %q, want none", c.Warnings)
	}
}
