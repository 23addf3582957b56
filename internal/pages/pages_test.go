package pages

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the clock of every page in these tests.
var now = time.Date(2025, time.March, 7, 9, 5, 0, 0, time.UTC)

const langCookie = "_test_lang"

// newSet returns the pages with o, the test's cookie and clock filled in.
func newSet(t *testing.T, o Options) *Set {
	t.Helper()
	s, err := newSetErr(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func newSetErr(o Options) (*Set, error) {
	o.LangCookie = http.Cookie{Name: langCookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	o.Now = func() time.Time { return now }
	return New(o)
}

// writeFiles writes name → content under dir, making folders as needed.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// request is a request for target with the given headers ("Name: value").
func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Add(k, v)
	}
	return r
}

// pageCase renders one page through the Set as a server would.
type pageCase struct {
	name   string // first part of the golden file's name
	method string
	status int
	render func(s *Set, w http.ResponseWriter, r *http.Request)
}

// pageCases are every page with fixed data, in whatever language the
// request asks for.
func pageCases() []pageCase {
	return []pageCase{
		{"login", http.MethodPost, http.StatusUnauthorized, func(s *Set, w http.ResponseWriter, r *http.Request) {
			p := s.Page(w, r)
			s.Render(w, r, http.StatusUnauthorized, Login, LoginData{
				Page: p, ClientName: "Web <App>", Action: "/login", Request: "sealed+request=", CSRF: "csrf-token",
				UserID: `al"ice`, Error: p.T("login.incorrect"),
			})
		}},
		{"consent", http.MethodGet, http.StatusOK, func(s *Set, w http.ResponseWriter, r *http.Request) {
			s.Render(w, r, http.StatusOK, Consent, ConsentData{
				Page: s.Page(w, r), ClientName: "Web App", UserName: "Alice Example (alice)",
				Scopes:      []string{"openid", "profile", "email", "custom:scope"},
				Destination: "https://app.example", Action: "/consent", Request: "sealed", CSRF: "csrf-token",
			})
		}},
		{"confirm", http.MethodGet, http.StatusOK, func(s *Set, w http.ResponseWriter, r *http.Request) {
			p := s.Page(w, r)
			s.Render(w, r, http.StatusOK, Confirm, ConfirmData{
				Page:    p,
				Title:   p.T("signout.title"),
				Lead:    p.T("layout.signed_in_as", "user", "Alice Example (alice)") + " " + p.T("signout.since", "date", p.Date(now.Add(-2*time.Hour))),
				Alert:   p.T("signout.not_confirmed"),
				Message: p.T("signout.client_asks", "client", "Web App"),
				Form: Form{ID: "signout", Action: "/logout", Button: p.T("signout.button"),
					Fields: []Field{{"csrf_token", "csrf-token"}, {"state", `a"b`}}},
			})
		}},
		{"notice", http.MethodGet, http.StatusOK, func(s *Set, w http.ResponseWriter, r *http.Request) {
			p := s.Page(w, r)
			s.Render(w, r, http.StatusOK, Notice, NoticeData{
				Page: p, Title: p.T("signedout.title"), Message: p.T("signedout.authserver"),
				Actions: []Link{{Text: p.T("action.back"), URL: "https://app.example/?from=signout&x=1"}},
			})
		}},
		{"error", http.MethodGet, http.StatusForbidden, func(s *Set, w http.ResponseWriter, r *http.Request) {
			s.RenderError(w, r, s.Page(w, r), &Error{
				Status: http.StatusForbidden, Kind: "flow_expired", Args: []any{"duration", 10 * time.Minute},
				Detail: "the sign-in started at 08:50 and the limit is 10m0s", Code: "access_denied",
				Actions: []Action{{Key: "action.sign_in_again", URL: "/oauth2/start?rd=%2Fwiki"}},
			})
		}},
	}
}

// goldenTheme is the look of the golden pages.
var goldenTheme = Theme{
	ProductName:  i18n.Text{"en": "Example Corp", "ja": "エグザンプル社"},
	PrimaryColor: "#0b6e4f",
	FooterLinks: []FooterLink{
		{Text: i18n.Text{"en": "Help", "ja": "ヘルプ"}, URL: "https://example.com/help"},
		{Text: i18n.Text{"": "Privacy"}, URL: "/privacy"},
	},
}

// TestPagesGolden renders each page in each language with fixed data and
// compares it with testdata/<page>.<lang>.golden.html; run with -update
// after an intended change.
func TestPagesGolden(t *testing.T) {
	s := newSet(t, Options{Theme: goldenTheme})
	for _, pc := range pageCases() {
		for _, lang := range []string{"en", "ja"} {
			t.Run(pc.name+"."+lang, func(t *testing.T) {
				r := request(pc.method, "/page?req=abc", "Accept-Language: "+lang, "X-Request-Id: golden-request-id")
				rec := httptest.NewRecorder()
				pc.render(s, rec, r)
				if rec.Code != pc.status {
					t.Errorf("status: got %d, want %d", rec.Code, pc.status)
				}
				got := rec.Body.Bytes()
				if !bytes.Contains(got, []byte(`<html lang="`+lang+`">`)) {
					t.Errorf("the page is not in %s", lang)
				}
				// The stylesheet is the same on every page and is checked by
				// TestRenderHeaders; the golden files hold the markup.
				if !bytes.Contains(got, []byte("<style>"+string(s.style)+"</style>")) {
					t.Fatal("the page does not inline the stylesheet")
				}
				got = bytes.Replace(got, []byte(s.style), []byte("/* the stylesheet */"), 1)
				golden := filepath.Join("testdata", pc.name+"."+lang+".golden.html")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/pages -run TestPagesGolden -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("rendered page differs from %s (run with -update if the change is intended):\n%s", golden, got)
				}
			})
		}
	}
}

var styleElement = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// styleOf returns the content of the page's one <style> element.
func styleOf(t *testing.T, body string) string {
	t.Helper()
	m := styleElement.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("got %d <style> elements, want 1", len(m))
	}
	return m[0][1]
}

func hashOf(style string) string {
	sum := sha256.Sum256([]byte(style))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// checkPolicy checks that the CSP allows exactly the page's stylesheet,
// no script, and images only as data: URLs.
func checkPolicy(t *testing.T, h http.Header, body string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"style-src":       hashOf(styleOf(t, body)),
		"img-src":         "data:",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("CSP %s: got %q, want %q (policy %q)", name, directives[name], value, csp)
		}
	}
	for _, name := range []string{"script-src", "script-src-elem", "script-src-attr"} {
		if _, ok := directives[name]; ok {
			t.Errorf("CSP has %s; want scripts left to default-src 'none': %q", name, csp)
		}
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("the page has a <script> element")
	}
}

func TestRenderHeaders(t *testing.T) {
	s := newSet(t, Options{Theme: goldenTheme})
	for _, pc := range pageCases() {
		for _, lang := range []string{"en", "ja"} {
			t.Run(pc.name+"."+lang, func(t *testing.T) {
				rec := httptest.NewRecorder()
				pc.render(s, rec, request(pc.method, "/x", "Accept-Language: "+lang))
				h, body := rec.Header(), rec.Body.String()
				checkPolicy(t, h, body)
				for name, want := range map[string]string{
					"Cache-Control":          "no-store",
					"X-Frame-Options":        "DENY",
					"X-Content-Type-Options": "nosniff",
					"Referrer-Policy":        "no-referrer",
					"Content-Type":           "text/html; charset=utf-8",
					"Content-Length":         strconv.Itoa(len(body)),
				} {
					if got := h.Get(name); got != want {
						t.Errorf("%s: got %q, want %q", name, got, want)
					}
				}
				if !strings.HasPrefix(body, "<!doctype html>") {
					t.Errorf("body starts %.40q, want a whole document", body)
				}
			})
		}
	}
}

func TestRenderHead(t *testing.T) {
	s := newSet(t, Options{})
	render := func(method string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := request(method, "/signed_out", "X-Request-Id: same")
		p := s.Page(rec, r)
		s.Render(rec, r, http.StatusOK, Notice, NoticeData{Page: p, Title: p.T("signedout.title"), Message: p.T("signedout.proxy")})
		return rec
	}
	get, head := render(http.MethodGet), render(http.MethodHead)
	if head.Code != http.StatusOK {
		t.Errorf("HEAD status: got %d", head.Code)
	}
	if head.Body.Len() != 0 {
		t.Errorf("HEAD wrote %d bytes of body, want none", head.Body.Len())
	}
	if get.Body.Len() == 0 {
		t.Fatal("GET wrote no body")
	}
	for _, name := range []string{"Content-Length", "Content-Type", "Content-Security-Policy", "Cache-Control"} {
		if g, h := get.Header().Get(name), head.Header().Get(name); g != h || g == "" {
			t.Errorf("%s: GET %q, HEAD %q; want the same", name, g, h)
		}
	}
	if got, want := head.Header().Get("Content-Length"), strconv.Itoa(get.Body.Len()); got != want {
		t.Errorf("HEAD Content-Length: got %s, want the GET body's %s", got, want)
	}
}

// TestRenderFailure checks that a page that fails half way is a clean
// 500, logged, rather than half a page under a 200.
func TestRenderFailure(t *testing.T) {
	var logs bytes.Buffer
	s := newSet(t, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	r := request(http.MethodGet, "/login")
	// The notice's data lacks the fields of the login page.
	s.Render(rec, r, http.StatusOK, Login, NoticeData{Page: s.Page(rec, r), Title: "x"})
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status: got %d, want 500", rec.Code)
	}
	if body := rec.Body.String(); body != "The page could not be shown.\n" {
		t.Errorf("body: got %q, want only the short apology", body)
	}
	if rec.Header().Get("Content-Security-Policy") != "" {
		t.Error("a failed page was sent with the page headers")
	}
	if !strings.Contains(logs.String(), "rendering page failed") || !strings.Contains(logs.String(), "template=login.html") {
		t.Errorf("log: got %q, want the failure with its template", logs.String())
	}
}

var htmlLang = regexp.MustCompile(`<html lang="([^"]*)">`)

func TestLanguageSelection(t *testing.T) {
	withDE := t.TempDir()
	writeFiles(t, withDE, map[string]string{"messages/de.yaml": "language.name: Deutsch\nlogin.title: Anmelden\n"})
	sets := map[string]*Set{
		"":   newSet(t, Options{}),
		"ja": newSet(t, Options{DefaultLanguage: "ja"}),
		"de": newSet(t, Options{Dir: withDE}),
	}
	for _, tc := range []struct {
		name    string
		set     string // key of sets
		method  string
		target  string
		headers []string
		hints   []string
		want    string
		cookie  string // the language cookie's value set; "" for none
	}{
		{name: "default", target: "/", want: "en"},
		{name: "configured default", set: "ja", target: "/", want: "ja"},
		{name: "Accept-Language", target: "/", headers: []string{"Accept-Language: ja-JP,ja;q=0.9,en;q=0.8"}, want: "ja"},
		{name: "Accept-Language unsupported", set: "ja", target: "/", headers: []string{"Accept-Language: fr-CH, fr;q=0.9"}, want: "ja"},
		{name: "hint beats Accept-Language", target: "/", headers: []string{"Accept-Language: en"}, hints: []string{"ja"}, want: "ja"},
		{name: "unsupported hint", target: "/", headers: []string{"Accept-Language: ja"}, hints: []string{"fr"}, want: "ja"},
		{name: "ui_locales hint", set: "de", target: "/", headers: []string{"Accept-Language: ja"}, hints: []string{"fr de"}, want: "de"},
		{name: "cookie beats hint and Accept-Language", target: "/", headers: []string{"Cookie: " + langCookie + "=ja", "Accept-Language: en"}, hints: []string{"en"}, want: "ja"},
		{name: "cookie of another language", set: "de", target: "/", headers: []string{"Cookie: " + langCookie + "=de", "Accept-Language: ja"}, want: "de"},
		{name: "cookie of no language", target: "/", headers: []string{"Cookie: " + langCookie + "=xx", "Accept-Language: en"}, hints: []string{"ja"}, want: "ja"},
		{name: "other cookie ignored", target: "/", headers: []string{"Cookie: lang=ja"}, want: "en"},
		{name: "?lang= sets the cookie", target: "/?lang=ja", want: "ja", cookie: "ja"},
		{name: "?lang= beats everything", target: "/?lang=en", headers: []string{"Cookie: " + langCookie + "=ja", "Accept-Language: ja"}, hints: []string{"ja"}, want: "en", cookie: "en"},
		{name: "?lang= of an added language", set: "de", target: "/?lang=de", want: "de", cookie: "de"},
		{name: "?lang= on a POST", method: http.MethodPost, target: "/?lang=ja", want: "ja", cookie: "ja"},
		{name: "invalid ?lang= ignored", target: "/?lang=xx", headers: []string{"Accept-Language: ja"}, want: "ja"},
		{name: "?lang= must be exact", target: "/?lang=ja-JP", want: "en"},
		{name: "empty ?lang= ignored", target: "/?lang=", headers: []string{"Cookie: " + langCookie + "=ja"}, want: "ja"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sets[tc.set]
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := request(method, tc.target, tc.headers...)
			rec := httptest.NewRecorder()
			p := s.Page(rec, r, tc.hints...)
			s.Render(rec, r, http.StatusOK, Login, LoginData{Page: p})
			if got := p.Lang(); got != tc.want {
				t.Errorf("Page language: got %s, want %s", got, tc.want)
			}
			if m := htmlLang.FindStringSubmatch(rec.Body.String()); m == nil || m[1] != tc.want {
				t.Errorf("<html lang>: got %v, want %s", m, tc.want)
			}
			cookies := rec.Result().Cookies()
			if tc.cookie == "" {
				if len(cookies) != 0 {
					t.Errorf("set cookies %v, want none", cookies)
				}
				return
			}
			if len(cookies) != 1 {
				t.Fatalf("set cookies %v, want the language cookie", cookies)
			}
			c := cookies[0]
			if c.Name != langCookie || c.Value != tc.cookie || c.MaxAge != 365*24*60*60 || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie: got %+v, want %s=%s for a year with the configured attributes", c, langCookie, tc.cookie)
			}
			// The next request, with the cookie alone, is in the same language.
			next := request(http.MethodGet, "/next", "Accept-Language: fr")
			next.AddCookie(c)
			if got := s.Page(httptest.NewRecorder(), next).Lang(); got != tc.cookie {
				t.Errorf("next request: got %s, want the remembered %s", got, tc.cookie)
			}
		})
	}
}

var switcher = regexp.MustCompile(`(?s)<nav class="languages" aria-label="([^"]*)"><ul>(.*?)</ul></nav>`)

func TestLanguageSwitcher(t *testing.T) {
	s := newSet(t, Options{})
	render := func(method, target string, asError bool) string {
		rec := httptest.NewRecorder()
		r := request(method, target, "Accept-Language: ja")
		p := s.Page(rec, r)
		if asError {
			s.RenderError(rec, r, p, &Error{Status: http.StatusBadGateway, Kind: "upstream_down"})
		} else {
			s.Render(rec, r, http.StatusOK, Notice, NoticeData{Page: p, Title: "t", Message: "m"})
		}
		return rec.Body.String()
	}

	body := render(http.MethodGet, "/oauth2/signed_out?rd=%2Fwiki&lang=xx", false)
	m := switcher.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("GET page has no language switcher:\n%s", body)
	}
	if m[1] != "言語" {
		t.Errorf("switcher label: got %q, want it in the page's language", m[1])
	}
	want := `<li><a href="?lang=en&amp;rd=%2Fwiki" hreflang="en" lang="en">English</a></li>` + "\n" +
		`<li><span aria-current="true" lang="ja">日本語</span></li>`
	if got := strings.TrimSpace(m[2]); got != want {
		t.Errorf("switcher entries:\ngot  %s\nwant %s", got, want)
	}
	if n := strings.Count(body, "aria-current"); n != 1 {
		t.Errorf("%d entries marked current, want 1", n)
	}

	// A HEAD has the switcher too (it answers like a GET).
	rec := httptest.NewRecorder()
	if p := s.Page(rec, request(http.MethodHead, "/x", "Accept-Language: ja")); len(p.Languages) != 2 || !p.Languages[1].Current || p.Languages[0].URL != "?lang=en" {
		t.Errorf("HEAD: got switcher %+v, want English linked and Japanese current", p.Languages)
	}
	for _, tc := range []struct {
		name    string
		method  string
		asError bool
	}{
		{"POST", http.MethodPost, false},
		{"error page on GET", http.MethodGet, true},
		{"error page on POST", http.MethodPost, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := render(tc.method, "/x?a=b", tc.asError)
			if !htmlLang.MatchString(body) {
				t.Fatalf("no page rendered:\n%s", body)
			}
			for _, s := range []string{`class="languages"`, "hreflang", "aria-current", "?lang="} {
				if strings.Contains(body, s) {
					t.Errorf("page has %q, want no language switcher", s)
				}
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	const hostile = `<script>alert("x")</script>'"&`
	s := newSet(t, Options{Theme: Theme{
		ProductName: i18n.Text{"": hostile},
		FooterLinks: []FooterLink{{Text: i18n.Text{"": hostile}, URL: "javascript:alert(1)"}},
	}})
	check := func(t *testing.T, body string) {
		t.Helper()
		if strings.Contains(body, "<script") || strings.Contains(body, `alert("x")`) {
			t.Errorf("hostile text reached the page unescaped:\n%s", body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&#34;&amp;") {
			t.Errorf("hostile text not found escaped:\n%s", body)
		}
		if strings.Contains(body, "javascript:") {
			t.Errorf("a javascript: URL reached the page")
		}
	}
	cases := map[string]func(w http.ResponseWriter, r *http.Request){
		"login": func(w http.ResponseWriter, r *http.Request) {
			s.Render(w, r, http.StatusOK, Login, LoginData{Page: s.Page(w, r), ClientName: hostile, UserID: hostile,
				Error: hostile, Request: hostile, CSRF: hostile, Action: "/login"})
		},
		"consent": func(w http.ResponseWriter, r *http.Request) {
			s.Render(w, r, http.StatusOK, Consent, ConsentData{Page: s.Page(w, r), ClientName: hostile, UserName: hostile,
				Scopes: []string{hostile}, Destination: hostile, Action: "/consent"})
		},
		"confirm": func(w http.ResponseWriter, r *http.Request) {
			s.Render(w, r, http.StatusOK, Confirm, ConfirmData{Page: s.Page(w, r), Title: hostile, Lead: hostile, Alert: hostile,
				Message: hostile, Form: Form{ID: "f", Action: "/logout", Fields: []Field{{"state", hostile}}, Button: hostile}})
		},
		"notice": func(w http.ResponseWriter, r *http.Request) {
			s.Render(w, r, http.StatusOK, Notice, NoticeData{Page: s.Page(w, r), Title: hostile, Message: hostile,
				Actions: []Link{{Text: hostile, URL: "javascript:alert(1)"}}})
		},
		"error": func(w http.ResponseWriter, r *http.Request) {
			s.RenderError(w, r, s.Page(w, r), &Error{Status: http.StatusForbidden, Kind: "forbidden",
				Args: []any{"user", hostile, "route", hostile}, Detail: hostile, Code: hostile,
				Actions: []Action{{Key: "action.sign_out", URL: "javascript:alert(1)"}}})
		},
	}
	for name, render := range cases {
		for _, lang := range []string{"en", "ja"} {
			t.Run(name+"."+lang, func(t *testing.T) {
				rec := httptest.NewRecorder()
				render(rec, request(http.MethodGet, "/x?evil=%3Cscript%3E", "Accept-Language: "+lang, "X-Request-Id: <script>"))
				check(t, rec.Body.String())
			})
		}
	}
}

func TestOverrides(t *testing.T) {
	loginWith := func(content string) string {
		return "{{define \"title\"}}{{.T \"login.title\"}}{{end}}\n{{define \"content\"}}\n" + content + "\n{{end}}\n"
	}
	builtinNames := "confirm.html, consent.html, error.html, layout.html, login.html, notice.html, parts.html, style.css, and messages/<language>.yaml"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // each in New's error; DIR is the folder
		count int      // problems
	}{
		{
			name:  "syntax error",
			files: map[string]string{"login.html": loginWith("<h1>{{.T \"login.title\"}</h1>")},
			want:  []string{"DIR/login.html:3: unexpected \"}\" in operand"},
			count: 1,
		},
		{
			name:  "unclosed action",
			files: map[string]string{"consent.html": "{{define \"title\"}}x{{end}}\n{{define \"content\"}}\n\n{{if .ClientName}}\n{{end}}\n"},
			want:  []string{"DIR/consent.html:", "unexpected EOF"},
			count: 1,
		},
		{
			name:  "unknown function",
			files: map[string]string{"login.html": loginWith("<p>{{shout .ClientName}}</p>")},
			want:  []string{"DIR/login.html:3: function \"shout\" not defined"},
			count: 1,
		},
		{
			name:  "unknown field",
			files: map[string]string{"login.html": loginWith("<p>{{.Nope}}</p>")},
			want:  []string{"DIR/login.html:3:", "<.Nope>: can't evaluate field Nope in type pages.LoginData"},
			count: 1,
		},
		{
			name:  "unknown field in a branch of a filled page",
			files: map[string]string{"error.html": "{{define \"title\"}}{{.Title}}{{end}}\n{{define \"content\"}}\n{{if .Hint}}\n<p>{{.Hnit}}</p>\n{{end}}\n{{end}}\n"},
			want:  []string{"DIR/error.html:4:", "can't evaluate field Hnit in type pages.ErrorData"},
			count: 1,
		},
		{
			name:  "unknown field in a branch of an empty page",
			files: map[string]string{"notice.html": "{{define \"title\"}}{{.Title}}{{end}}\n{{define \"content\"}}\n{{if not .Actions}}<p>{{.Action}}</p>{{end}}\n{{end}}\n"},
			want:  []string{"DIR/notice.html:3:", "can't evaluate field Action in type pages.NoticeData"},
			count: 1,
		},
		{
			name:  "unknown field in a language other than the first",
			files: map[string]string{"confirm.html": "{{define \"title\"}}{{.Title}}{{end}}\n{{define \"content\"}}\n{{if eq .Lang \"ja\"}}{{.Titel}}{{end}}\n{{end}}\n"},
			want:  []string{"DIR/confirm.html:3:", "can't evaluate field Titel"},
			count: 1,
		},
		{
			name:  "broken layout",
			files: map[string]string{"layout.html": "<!doctype html>\n<html lang=\"{{.Lang}}\">\n<title>{{template \"title\" .}}</title>\n{{range .Footer}}\n"},
			want:  []string{"DIR/layout.html:5: unexpected EOF"}, // the end of the file, after the last newline
			count: 1,
		},
		{
			name:  "broken shared parts",
			files: map[string]string{"parts.html": "{{define \"form\"}}<form>{{end}}\n{{define \"actions\"}}{{range .}}<a>{{.Txet}</a>{{end}}{{end}}\n"},
			want:  []string{"DIR/parts.html:2: bad character U+007D '}'"},
			count: 1,
		},
		{
			name:  "unknown field in shared parts",
			files: map[string]string{"parts.html": "{{define \"form\"}}<form>{{end}}\n\n{{define \"actions\"}}{{range .}}<a>{{.Txet}}</a>{{end}}{{end}}\n"},
			want:  []string{"DIR/parts.html:3:", "can't evaluate field Txet in type pages.Link"},
			count: 1,
		},
		{
			name:  "unknown message key",
			files: map[string]string{"login.html": loginWith(`<p>{{.T "login.titel"}}</p>`)},
			want:  []string{"DIR/login.html: it (or layout.html or parts.html) asks for the message \"login.titel\", which does not exist"},
			count: 1,
		},
		{
			name:  "unknown file",
			files: map[string]string{"logon.html": "x"},
			want:  []string{"DIR/logon.html: not a file the pages use; files that replace built-in ones: " + builtinNames},
			count: 1,
		},
		{
			name:  "unknown folder",
			files: map[string]string{"partials/x.html": "x"},
			want:  []string{"DIR/partials: not a file the pages use"},
			count: 1,
		},
		{
			name:  "broken message file",
			files: map[string]string{"messages/en.yaml": "login.title: Log in\nlogin.lead: \"on to {app}\"\n"},
			want:  []string{"DIR/messages/en.yaml:2: login.lead: placeholders {app}, but English has {client}"},
			count: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			s, err := newSetErr(Options{Dir: dir})
			if s != nil {
				t.Error("New returned pages with a broken override; want the problem at start")
			}
			var ie *i18n.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *i18n.Error naming file and line", err)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
			if len(ie.Problems) != tc.count {
				t.Errorf("got %d problems, want %d:\n%s", len(ie.Problems), tc.count, err)
			}
		})
	}

	t.Run("missing folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		_, err := newSetErr(Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("got %v, want an error naming %s", err, dir)
		}
	})
}

func TestOverridesUsed(t *testing.T) {
	dir := t.TempDir()
	const css = "body { color: #123456; }\n"
	writeFiles(t, dir, map[string]string{
		"style.css":        css,
		"notice.html":      "{{define \"title\"}}{{.Title}}{{end}}\n{{define \"content\"}}<p id=\"mine\">{{.Message}} · {{.Product}}</p>{{end}}\n",
		"messages/en.yaml": "login.title: Log in\n",
		"messages/ja.yaml": "login.title: サインイン\n",
		"messages/de.yaml": "language.name: Deutsch\nlogin.title: Anmelden\n",
	})
	s := newSet(t, Options{Dir: dir, Theme: Theme{PrimaryColor: "#ffcc00"}})
	if w := s.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "language de: ") || !strings.Contains(w[0], "not translated") {
		t.Errorf("Warnings: got %q, want one about German", w)
	}
	render := func(name, lang string, data func(p Page) any) (http.Header, string) {
		rec := httptest.NewRecorder()
		r := request(http.MethodGet, "/?lang="+lang)
		s.Render(rec, r, http.StatusOK, name, data(s.Page(rec, r)))
		return rec.Header(), rec.Body.String()
	}
	login := func(p Page) any { return LoginData{Page: p} }
	for lang, title := range map[string]string{"en": "Log in", "ja": "サインイン", "de": "Anmelden"} {
		h, body := render(Login, lang, login)
		if !strings.Contains(body, "<h1>"+title+"</h1>") {
			t.Errorf("%s login: want the reworded title %q:\n%s", lang, title, body)
		}
		if !strings.Contains(body, `hreflang="de"`) && lang != "de" {
			t.Errorf("%s login: the switcher does not offer German", lang)
		}
		style := styleOf(t, body)
		if !strings.HasPrefix(style, css) || strings.Contains(style, "--bg:") {
			t.Errorf("stylesheet: got %q, want the override followed by the theme", style)
		}
		if !strings.Contains(style, "--accent: #ffcc00; --accent-text: #000000;") {
			t.Errorf("stylesheet lacks the theme: %q", style)
		}
		checkPolicy(t, h, body)
	}
	if got := s.Page(httptest.NewRecorder(), request("GET", "/", "Accept-Language: de-AT")).Lang(); got != "de" {
		t.Errorf("Accept-Language de-AT: got %s, want the added German", got)
	}
	_, body := render(Notice, "en", func(p Page) any { return NoticeData{Page: p, Title: "Bye", Message: "See you"} })
	if !strings.Contains(body, `<p id="mine">See you · gatehouse</p>`) {
		t.Errorf("the replaced notice.html was not used:\n%s", body)
	}
	// Pages not replaced keep the built-in template.
	_, body = render(Login, "en", login)
	if !strings.Contains(body, `autocomplete="current-password"`) {
		t.Errorf("built-in login.html lost:\n%s", body)
	}

	builtinPolicy := newSet(t, Options{Theme: Theme{PrimaryColor: "#ffcc00"}}).csp
	if builtinPolicy == s.csp {
		t.Error("the policy's hash did not follow the replaced stylesheet")
	}
}

func TestParseColor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [3]uint8
	}{
		{"#1f5fbf", [3]uint8{0x1f, 0x5f, 0xbf}},
		{"#1F5FBF", [3]uint8{0x1f, 0x5f, 0xbf}},
		{"#000000", [3]uint8{0, 0, 0}},
		{"#ffffff", [3]uint8{255, 255, 255}},
		{"#3c3", [3]uint8{0x33, 0xcc, 0x33}},
		{"#FC0", [3]uint8{0xff, 0xcc, 0x00}},
	} {
		got, err := ParseColor(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseColor(%q): got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"red", "#12", "#gggggg", "", "#", "1f5fbf", "#1f5fbf0", "#1f5fb", "#12345", "##12345",
		"#+1+2+3", "#-1-1-1", "# 1 2 3", "#0x1234", "#1_2_3_", "rgb(0,0,0)", "#ｆｆｆ"} {
		if got, err := ParseColor(in); err == nil {
			t.Errorf("ParseColor(%q): got %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "want #rgb or #rrggbb") {
			t.Errorf("ParseColor(%q): error %q does not say what to write", in, err)
		}
	}
}

func TestContrast(t *testing.T) {
	black, white := [3]uint8{}, [3]uint8{255, 255, 255}
	for _, tc := range []struct {
		a, b     [3]uint8
		min, max float64
	}{
		{black, white, 21, 21},
		{white, black, 21, 21},
		{white, white, 1, 1},
		{[3]uint8{0x77, 0x77, 0x77}, white, 4.47, 4.49}, // the classic just-too-light grey
		{[3]uint8{0x76, 0x76, 0x76}, white, 4.5, 4.6},
	} {
		if got := Contrast(tc.a, tc.b); got < tc.min-1e-9 || got > tc.max+1e-9 {
			t.Errorf("Contrast(%v, %v): got %.4f, want %.2f to %.2f", tc.a, tc.b, got, tc.min, tc.max)
		}
	}
}

func TestThemeColour(t *testing.T) {
	black, white := [3]uint8{}, [3]uint8{255, 255, 255}
	for _, tc := range []struct {
		color, text string
	}{
		{"#000000", "#ffffff"},
		{"#ffffff", "#000000"},
		{"#777777", "#000000"}, // white would be 4.48:1
		{"#1f5fbf", "#ffffff"},
		{"#ffcc00", "#000000"},
		{"#3c3", "#000000"},
		{"#0b6e4f", "#ffffff"},
		{"#e00", "#000000"},
	} {
		t.Run(tc.color, func(t *testing.T) {
			rgb, err := ParseColor(tc.color)
			if err != nil {
				t.Fatal(err)
			}
			text, other := white, black
			if tc.text == "#000000" {
				text, other = black, white
			}
			if c := Contrast(rgb, text); c < 4.5 || c < Contrast(rgb, other) {
				t.Fatalf("test table: %s on %s is %.2f:1, want the better of black and white, at least 4.5:1", tc.text, tc.color, c)
			}
			s := newSet(t, Options{Theme: Theme{PrimaryColor: tc.color}})
			rec := httptest.NewRecorder()
			r := request(http.MethodGet, "/")
			s.Render(rec, r, http.StatusOK, Login, LoginData{Page: s.Page(rec, r)})
			style := styleOf(t, rec.Body.String())
			vars := fmt.Sprintf(":root { --accent: %s; --accent-text: %s; }", tc.color, tc.text)
			if n := strings.Count(style, vars); n != 2 {
				t.Errorf("stylesheet has %q %d times, want 2 (light and dark):\n%s", vars, n, style[strings.Index(style, "/* theme */"):])
			}
			if !strings.HasSuffix(style, "@media (prefers-color-scheme: dark) { "+vars+" }\n") {
				t.Errorf("the theme's dark colours do not come last, after the built-in ones")
			}
			checkPolicy(t, rec.Header(), rec.Body.String())
		})
	}
	t.Run("none", func(t *testing.T) {
		s := newSet(t, Options{})
		if strings.Contains(string(s.style), "/* theme */") {
			t.Error("the stylesheet has theme colours, want the built-in ones only")
		}
	})
	for _, bad := range []string{"red", "#12", "#gggggg"} {
		if _, err := newSetErr(Options{Theme: Theme{PrimaryColor: bad}}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("New with primary colour %q: got %v, want an error naming it", bad, err)
		}
	}
}

var logoImg = regexp.MustCompile(`<header class="brand"><img src="([^"]*)" alt="([^"]*)"></header>`)

func TestProductAndLogo(t *testing.T) {
	// Bytes whose base64 has + and /, which the page escapes in the attribute.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xfb\xff\xbf")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`)
	product := i18n.Text{"en": "Example Corp", "ja": "エグザンプル社"}
	for _, tc := range []struct {
		name    string
		theme   Theme
		lang    string
		product string // the header's text, the logo's alt and the end of <title>
		logo    string // the logo's data: URL; "" for none
	}{
		{"no theme", Theme{}, "en", "gatehouse", ""},
		{"no theme, Japanese", Theme{}, "ja", "gatehouse", ""},
		{"product name", Theme{ProductName: product}, "en", "Example Corp", ""},
		{"product name in Japanese", Theme{ProductName: product}, "ja", "エグザンプル社", ""},
		{"one product name", Theme{ProductName: i18n.Text{"": "Acme"}}, "ja", "Acme", ""},
		{"product name of another language", Theme{ProductName: i18n.Text{"en": "Acme"}}, "ja", "Acme", ""},
		{"PNG logo", Theme{ProductName: product, Logo: png, LogoType: "image/png"}, "en", "Example Corp",
			"data:image/png;base64," + base64.StdEncoding.EncodeToString(png)},
		{"SVG logo in Japanese", Theme{ProductName: product, Logo: svg, LogoType: "image/svg+xml"}, "ja", "エグザンプル社",
			"data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg)},
		{"logo without product name", Theme{Logo: png, LogoType: "image/png"}, "en", "gatehouse",
			"data:image/png;base64," + base64.StdEncoding.EncodeToString(png)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSet(t, Options{Theme: tc.theme})
			rec := httptest.NewRecorder()
			r := request(http.MethodGet, "/", "Accept-Language: "+tc.lang)
			p := s.Page(rec, r)
			s.Render(rec, r, http.StatusOK, Login, LoginData{Page: p})
			body := rec.Body.String()
			if tc.logo == "" {
				if want := `<header class="brand">` + tc.product + `</header>`; !strings.Contains(body, want) {
					t.Errorf("want %s in:\n%s", want, body)
				}
			} else {
				m := logoImg.FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no logo in the header:\n%s", body)
				}
				if src := html.UnescapeString(m[1]); src != tc.logo {
					t.Errorf("logo src: got %q, want %q", src, tc.logo)
				}
				if alt := html.UnescapeString(m[2]); alt != tc.product {
					t.Errorf("logo alt: got %q, want %q", alt, tc.product)
				}
			}
			if want := "<title>" + p.T("login.title") + " · " + tc.product + "</title>"; !strings.Contains(body, want) {
				t.Errorf("want %s in:\n%s", want, body)
			}
			checkPolicy(t, rec.Header(), body)
		})
	}
}

func TestFooterLinks(t *testing.T) {
	s := newSet(t, Options{Theme: Theme{FooterLinks: []FooterLink{
		{Text: i18n.Text{"en": "Help", "ja": "ヘルプ"}, URL: "https://example.com/help?a=1&b=2"},
		{Text: i18n.Text{"": "Privacy"}, URL: "/privacy"},
		{Text: i18n.Text{"en": "Mail"}, URL: "mailto:it@example.com"},
	}}})
	for lang, want := range map[string]string{
		"en": `<nav class="links" aria-label="Links"><ul>` + "\n" +
			`<li><a href="https://example.com/help?a=1&amp;b=2">Help</a></li>` + "\n" +
			`<li><a href="/privacy">Privacy</a></li>` + "\n" +
			`<li><a href="mailto:it@example.com">Mail</a></li>` + "\n</ul></nav>",
		"ja": `<nav class="links" aria-label="リンク"><ul>` + "\n" +
			`<li><a href="https://example.com/help?a=1&amp;b=2">ヘルプ</a></li>` + "\n" +
			`<li><a href="/privacy">Privacy</a></li>` + "\n" +
			`<li><a href="mailto:it@example.com">Mail</a></li>` + "\n</ul></nav>",
	} {
		rec := httptest.NewRecorder()
		r := request(http.MethodPost, "/", "Accept-Language: "+lang)
		s.Render(rec, r, http.StatusOK, Login, LoginData{Page: s.Page(rec, r)})
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: want\n%s\nin\n%s", lang, want, rec.Body.String())
		}
	}
	// Without links there is no empty navigation.
	s = newSet(t, Options{})
	rec := httptest.NewRecorder()
	r := request(http.MethodGet, "/")
	s.Render(rec, r, http.StatusOK, Login, LoginData{Page: s.Page(rec, r)})
	if strings.Contains(rec.Body.String(), `class="links"`) {
		t.Error("a page without footer links has a links navigation")
	}
}

func TestScope(t *testing.T) {
	s := newSet(t, Options{})
	for _, tc := range []struct{ lang, scope, want string }{
		{"en", "openid", "Confirm who you are, using your user ID"},
		{"en", "offline_access", "Keep access while you are not using it"},
		{"en", "api.read", "Use the permission “api.read”"},
		{"ja", "email", s.cat.For("ja").T("scope.email")},
		{"ja", "api.read", s.cat.For("ja").T("scope.other", "scope", "api.read")},
		{"en", "", "Use the permission “”"},
	} {
		if got := (Page{Localizer: s.cat.For(tc.lang)}).Scope(tc.scope); got != tc.want {
			t.Errorf("%s Scope(%q): got %q, want %q", tc.lang, tc.scope, got, tc.want)
		}
	}
	if got := (Page{Localizer: s.cat.For("ja")}).Scope("api.read"); !strings.Contains(got, "api.read") || strings.Contains(got, "{scope}") {
		t.Errorf("ja unknown scope: got %q, want the scope's name in it", got)
	}
}

var (
	requestIDField = regexp.MustCompile(`<dd id="request-id"><code>([^<]*)</code></dd>`)
	hex24          = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

var statusField = regexp.MustCompile(`<dd id="error-status">([^<]*)</dd>`)

func TestRenderError(t *testing.T) {
	s := newSet(t, Options{})
	render := func(lang string, e *Error, headers ...string) (*httptest.ResponseRecorder, *http.Request) {
		rec := httptest.NewRecorder()
		r := request(http.MethodGet, "/x", append(headers, "Accept-Language: "+lang)...)
		s.RenderError(rec, r, s.Page(rec, r), e)
		return rec, r
	}
	for _, tc := range []struct {
		name    string
		lang    string
		err     *Error
		status  string   // dd#error-status
		want    []string // in the body
		notWant []string
	}{
		{
			name: "duration in English", lang: "en",
			err:    &Error{Status: http.StatusBadRequest, Kind: "flow_expired", Args: []any{"duration", 10 * time.Minute}},
			status: "400 Bad Request",
			want: []string{"<title>Sign-in took too long · gatehouse</title>", "<h1>Sign-in took too long</h1>",
				`<p class="alert" role="alert">Signing in must be finished within 10 minutes.</p>`, "<p>Start again.</p>",
				"<dt>Time</dt><dd>7 March 2025, 09:05 UTC</dd>"},
			notWant: []string{`id="error-code"`, `id="error-detail"`, "10m0s"},
		},
		{
			name: "duration in Japanese", lang: "ja",
			err:    &Error{Status: http.StatusBadRequest, Kind: "flow_expired", Args: []any{"duration", 10 * time.Minute}},
			status: "400 Bad Request",
			want: []string{"<h1>" + s.cat.For("ja").T("error.flow_expired.title") + "</h1>",
				s.cat.For("ja").T("error.flow_expired.message", "duration", "10 分"), "10 分",
				"<dd>2025年3月7日 09:05 UTC</dd>", "<summary>" + s.cat.For("ja").T("error.details") + "</summary>"},
			notWant: []string{"10 minutes", "10m0s"},
		},
		{
			name: "code, detail and actions", lang: "ja",
			err: &Error{Status: http.StatusForbidden, Kind: "forbidden", Args: []any{"user", "alice", "route", "/admin"},
				Code: "access_denied", Detail: "route /admin allows group admins; alice is in staff",
				Actions: []Action{{Key: "action.sign_in_other", URL: "/oauth2/sign_out?rd=%2Fadmin"}, {Key: "action.back", URL: "/"}}},
			status: "403 Forbidden",
			want: []string{`<dd id="error-code"><code>access_denied</code></dd>`,
				`<dd id="error-detail" lang="en">route /admin allows group admins; alice is in staff</dd>`,
				`<a class="button" href="/oauth2/sign_out?rd=%2Fadmin">` + s.cat.For("ja").T("action.sign_in_other") + `</a>`,
				`<a class="button" href="/">` + s.cat.For("ja").T("action.back") + `</a>`,
				s.cat.For("ja").T("error.forbidden.message", "user", "alice", "route", "/admin")},
		},
		{
			name: "message without a hint", lang: "en",
			err:    &Error{Status: http.StatusMethodNotAllowed, Kind: "method", Args: []any{"methods", "GET, HEAD"}},
			status: "405 Method Not Allowed",
			want:   []string{`<p class="alert" role="alert">This address only answers GET, HEAD requests.</p>` + "\n\n"},
		},
		{
			name: "unknown kind", lang: "ja",
			err:    &Error{Status: http.StatusTeapot, Kind: "no_such_kind", Detail: "the kettle is empty"},
			status: "418 I&#39;m a teapot",
			want: []string{"<h1>" + s.cat.For("ja").T("error.default_title") + "</h1>",
				`<p class="alert" role="alert">the kettle is empty</p>`,
				`<dd id="error-detail" lang="en">the kettle is empty</dd>`},
			notWant: []string{"no_such_kind"},
		},
		{
			name: "unknown kind in English", lang: "en",
			err:    &Error{Status: http.StatusInternalServerError, Kind: "", Detail: "odd"},
			status: "500 Internal Server Error",
			want:   []string{"<h1>This request can&#39;t be completed</h1>", `<p class="alert" role="alert">odd</p>`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, _ := render(tc.lang, tc.err, "X-Request-Id: req-42")
			body := rec.Body.String()
			if rec.Code != tc.err.Status {
				t.Errorf("status: got %d, want %d", rec.Code, tc.err.Status)
			}
			if m := statusField.FindStringSubmatch(body); m == nil || m[1] != tc.status {
				t.Errorf("status line: got %v, want %q", m, tc.status)
			}
			if m := requestIDField.FindStringSubmatch(body); m == nil || m[1] != "req-42" {
				t.Errorf("request id: got %v, want req-42", m)
			}
			if !strings.Contains(body, `<html lang="`+tc.lang+`">`) {
				t.Errorf("page not in %s", tc.lang)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
			if strings.Contains(body, `class="languages"`) {
				t.Error("error page has a language switcher")
			}
			checkPolicy(t, rec.Header(), body)
		})
	}

	t.Run("request id", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			header []string
			keep   bool
		}{
			{"valid", []string{"X-Request-Id: 3f2c1b9e-8a4d-4c2e-9f1a-0b7d6e5c4a3b"}, true},
			{"missing", nil, false},
			{"markup", []string{"X-Request-Id: <x>"}, false},
			{"100 characters", []string{"X-Request-Id: " + strings.Repeat("a", 100)}, false},
		} {
			rec, r := render("en", &Error{Status: http.StatusBadGateway, Kind: "upstream_down"}, tc.header...)
			m := requestIDField.FindStringSubmatch(rec.Body.String())
			if m == nil {
				t.Fatalf("%s: no request id on the page", tc.name)
			}
			switch {
			case tc.keep && m[1] != strings.TrimPrefix(tc.header[0], "X-Request-Id: "):
				t.Errorf("%s: got %q, want the edge proxy's id", tc.name, m[1])
			case !tc.keep && !hex24.MatchString(m[1]):
				t.Errorf("%s: got %q, want a generated id of 24 hex characters", tc.name, m[1])
			}
			if got := r.Header.Get("X-Request-Id"); got != m[1] {
				t.Errorf("%s: the page says %q, the request (and so the log) %q", tc.name, m[1], got)
			}
		}
	})
}

func TestEnglish(t *testing.T) {
	s := newSet(t, Options{DefaultLanguage: "ja"})
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: "flow_expired", Args: []any{"duration", 10 * time.Minute}}, "Signing in must be finished within 10 minutes. Start again."},
		{&Error{Kind: "forbidden", Args: []any{"user", "alice", "route", "/admin"}},
			"You are signed in as alice, but /admin is not open to you. To ask for access, tell the site's operator who you are (alice) and the details below."},
		{&Error{Kind: "method", Args: []any{"methods", "POST"}}, "This address only answers POST requests."},
		{&Error{Kind: "no_such_kind", Detail: "what went wrong"}, "what went wrong"},
		{&Error{Kind: "no_such_kind"}, ""},
	} {
		if got := s.English(tc.err); got != tc.want {
			t.Errorf("English(%s): got %q, want %q", tc.err.Kind, got, tc.want)
		}
	}
}

func TestErrorError(t *testing.T) {
	cause := errors.New("connection refused")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: "upstream_down"}, "upstream_down"},
		{&Error{Kind: "bad_request", Detail: "no client_id"}, "bad_request: no client_id"},
		{&Error{Kind: "upstream_down", Detail: "GET /", Cause: cause}, "upstream_down: GET /: connection refused"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if e := (&Error{Kind: "x", Cause: cause}); !errors.Is(e, cause) {
		t.Error("Unwrap does not reach the cause")
	}
}

// TestRehearsalDataFillsEveryField guards the check at start: the full
// sample must make every optional part of the built-in pages render, or a
// mistake in that part of an override would only show on a real page.
func TestRehearsalDataFillsEveryField(t *testing.T) {
	s := newSet(t, Options{Theme: Theme{Logo: []byte("x"), LogoType: "image/png"}})
	for _, name := range pageNames {
		var buf bytes.Buffer
		if err := s.tmpl[name].ExecuteTemplate(&buf, layout, s.sample(name, s.cat.For("en"), true)); err != nil {
			t.Fatal(err)
		}
		body := buf.String()
		for _, w := range []string{`class="languages"`, `class="links"`, "<img "} {
			if !strings.Contains(body, w) {
				t.Errorf("%s rehearsed full lacks %s", name, w)
			}
		}
		buf.Reset()
		if err := s.tmpl[name].ExecuteTemplate(&buf, layout, s.sample(name, s.cat.For("en"), false)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), `class="languages"`) || strings.Contains(buf.String(), "<img ") {
			t.Errorf("%s rehearsed empty has optional parts", name)
		}
	}
}

// TestLocalizeArgs checks that durations and times among an error's
// arguments are said in the reader's language, and the rest left alone.
func TestLocalizeArgs(t *testing.T) {
	s := newSet(t, Options{})
	args := []any{"wait", 90 * time.Second, "date", now, "user", "alice", "n", 3}
	for lang, want := range map[string][]any{
		"en": {"wait", "2 minutes", "date", "7 March 2025, 09:05 UTC", "user", "alice", "n", 3},
		"ja": {"wait", "2 分", "date", "2025年3月7日 09:05 UTC", "user", "alice", "n", 3},
	} {
		got := Page{Localizer: s.cat.For(lang)}.localize(args)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", lang, got, want)
		}
	}
	if args[1] != 90*time.Second {
		t.Error("localize changed its argument")
	}
}
