package authserver

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gatehouse/gatehouse/authserver/web"
)

// templates are the parsed pages, each combined with the shared layout.
type templates struct {
	login     *template.Template
	consent   *template.Template
	errorPage *template.Template
	logout    *template.Template
}

func loadTemplates() (*templates, error) {
	parse := func(name string) (*template.Template, error) {
		t, err := template.ParseFS(web.FS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("authserver: parsing template %s: %w", name, err)
		}
		return t, nil
	}
	var t templates
	var err error
	if t.login, err = parse("login.html"); err != nil {
		return nil, err
	}
	if t.consent, err = parse("consent.html"); err != nil {
		return nil, err
	}
	if t.errorPage, err = parse("error.html"); err != nil {
		return nil, err
	}
	if t.logout, err = parse("logout.html"); err != nil {
		return nil, err
	}
	return &t, nil
}

// page is what the layout needs; each page's data embeds it.
type page struct {
	Title      string
	Stylesheet string
}

func (s *Server) page(title string) page {
	return page{Title: title, Stylesheet: s.base + pathStatic + "style.css"}
}

type loginPage struct {
	page
	ClientName string
	Action     string
	Request    string
	CSRF       string
	UserID     string
	Error      string
}

type consentPage struct {
	page
	ClientName  string
	UserName    string
	Scopes      []string
	Destination string
	Action      string
	Request     string
	CSRF        string
}

type errorPage struct {
	page
	Message string
	Hint    string
}

// logoutPage either asks the signed-in person to confirm signing out (when
// Action is set) or says that they are signed out.
type logoutPage struct {
	page
	Message    string
	UserName   string
	ClientName string
	Action     string
	Fields     []hiddenField
}

type hiddenField struct{ Name, Value string }

// render writes a page. Pages are rendered into a buffer first, so that a
// template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("rendering page failed", "template", t.Name(), "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages carry CSRF tokens and personal data: never cache them.
	h.Set("Cache-Control", "no-store")
	// No scripts at all, and no framing, which defeats clickjacking of the
	// consent page. form-action is left out on purpose: browsers apply it
	// to the redirect that follows a form post, which goes to the client.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	// Login and consent URLs carry the pending request; keep it out of
	// Referer headers.
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
