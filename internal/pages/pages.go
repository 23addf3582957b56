// Package pages renders the HTML pages people see — login, consent,
// sign-out, signed-out and error pages of both servers — in the reader's
// language, with the operator's theme, under a strict Content Security
// Policy: no scripts at all, one inline stylesheet allowed by its hash, and
// images only as data: URLs (the logo), so pages need no asset routes and
// look the same wherever an edge proxy serves them.
package pages

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/i18n"
)

// Names of the page templates. Each is rendered inside layout.html; a file
// of the same name in Options.Dir replaces the built-in one.
const (
	Login     = "login.html"
	Consent   = "consent.html"
	Confirm   = "confirm.html"
	Notice    = "notice.html"
	ErrorPage = "error.html"
	layout    = "layout.html"
	parts     = "parts.html" // the "form" and "actions" every page may use
	styleFile = "style.css"
)

var pageNames = []string{Login, Consent, Confirm, Notice, ErrorPage}

// Options configure a Set. The zero value gives the built-in look in
// English and Japanese.
type Options struct {
	Theme Theme
	// Dir holds files that replace built-in ones by name: the templates,
	// style.css, and messages/*.yaml (see package i18n).
	Dir string
	// DefaultLanguage is used when the reader asks for none that is
	// available; English when empty.
	DefaultLanguage string
	// LangCookie is the cookie that remembers a language picked with
	// ?lang=; its Value and MaxAge are set when it is written.
	LangCookie http.Cookie
	// Now is the clock of dates on pages.
	Now func() time.Time
	Log *slog.Logger
}

// Set is the parsed pages of one server.
type Set struct {
	opts    Options
	cat     *i18n.Catalog
	tmpl    map[string]*template.Template
	style   template.CSS
	csp     string
	logoURL template.URL
}

// New loads the templates, stylesheet and messages, and renders every page
// once in every language with sample data, so that a broken override is an
// error at start, naming its file and line, rather than a failed sign-in.
func New(o Options) (*Set, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cat, err := i18n.Load(messagesDir(o.Dir), o.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	s := &Set{opts: o, cat: cat}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Warnings are things worth an operator's attention that do not stop the
// pages from working, such as untranslated messages.
func (s *Set) Warnings() []string { return s.cat.Warnings() }

// Page is what every page shows besides its own content: it is embedded
// in each page's data, so templates reach the reader's language with
// {{.T "key"}}, {{.Date t}} and {{.Duration d}}.
type Page struct {
	*i18n.Localizer
	Product   string
	LogoURL   template.URL
	Style     template.CSS
	Footer    []Link
	Languages []LanguageLink
	RequestID string
}

// Link is a link with its text in the reader's language.
type Link struct{ Text, URL string }

// LanguageLink is an entry of the language switcher; URL is empty for the
// current language.
type LanguageLink struct {
	Lang, Name, URL string
	Current         bool
}

// Page returns the common data for a page answering r, in the language
// the reader wants: ?lang= (then remembered in the language cookie), the
// cookie, hints (the authorization request's ui_locales), Accept-Language,
// and finally the default.
func (s *Set) Page(w http.ResponseWriter, r *http.Request, hints ...string) Page {
	q := r.URL.Query()
	var loc *i18n.Localizer
	if lang := q.Get("lang"); s.Remember(w, lang) {
		loc = s.cat.For(lang)
	} else {
		prefs := append(append([]string{s.Chosen(r)}, hints...), r.Header.Get("Accept-Language"))
		loc = s.cat.Match(prefs...)
	}
	p := Page{
		Localizer: loc,
		Product:   s.opts.Theme.ProductName.In(loc.Lang()),
		LogoURL:   s.logoURL,
		Style:     s.style,
		RequestID: httpx.RequestID(r),
	}
	if p.Product == "" {
		p.Product = "gatehouse"
	}
	for _, l := range s.opts.Theme.FooterLinks {
		p.Footer = append(p.Footer, Link{Text: l.Text.In(loc.Lang()), URL: l.URL})
	}
	// Only a GET can be repeated in another language.
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		for _, lang := range s.cat.Languages() {
			l := LanguageLink{Lang: lang, Name: s.cat.Name(lang), Current: lang == loc.Lang()}
			if !l.Current {
				q.Set("lang", lang)
				l.URL = "?" + q.Encode()
			}
			p.Languages = append(p.Languages, l)
		}
	}
	return p
}

// Remember sets the language cookie to lang and reports whether lang is
// one of the languages; it does nothing otherwise.
func (s *Set) Remember(w http.ResponseWriter, lang string) bool {
	if !s.cat.Supports(lang) {
		return false
	}
	c := s.opts.LangCookie
	c.Value, c.MaxAge = lang, int((365 * 24 * time.Hour).Seconds())
	http.SetCookie(w, &c)
	return true
}

// Chosen is the language the reader picked earlier with ?lang=, or "".
func (s *Set) Chosen(r *http.Request) string {
	if c, err := r.Cookie(s.opts.LangCookie.Name); err == nil && s.cat.Supports(c.Value) {
		return c.Value
	}
	return ""
}

// Render writes the page name with data, whose type must embed Page.
// Pages are rendered into a buffer first, so that a template error becomes
// a clean 500 rather than half a page.
func (s *Set) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl[name].ExecuteTemplate(&buf, layout, data); err != nil {
		s.opts.Log.ErrorContext(r.Context(), "rendering page failed", "template", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	SetHeaders(h)
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// SetHeaders marks a response as a server's own page or redirect: never
// cached (pages carry CSRF tokens and personal data), framed (which
// defeats clickjacking of the consent page), sniffed or given a Referer
// (login and callback URLs carry the pending request or a code).
func SetHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// policy is the Content Security Policy of every page. form-action is
// left out on purpose: browsers apply it to the redirect that follows a
// form post, which goes to another origin (the client, the provider's
// logout).
func policy(style string) string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
}
