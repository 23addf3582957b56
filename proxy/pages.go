package proxy

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

//go:embed web/page.html
var webFS embed.FS

var pageTemplate = template.Must(template.ParseFS(webFS, "web/page.html"))

// pageError is an error shown to a person as a page, or to a script as
// JSON. Title, message and hint are fixed, user-safe text; cause is for the
// log only.
type pageError struct {
	status   int
	title    string
	message  string
	hint     string
	link     string
	linkText string
	code     string // the JSON error code; derived from status when empty
	form     *pageForm
	cause    error
}

// pageForm is a form on a page, posting to the proxy itself.
type pageForm struct {
	action string
	fields [][2]string // hidden name, value pairs
	button string
}

func (e *pageError) Error() string {
	if e.cause != nil {
		return e.title + ": " + e.cause.Error()
	}
	return e.title
}

func (e *pageError) Unwrap() error { return e.cause }

// startAgain offers a fresh sign-in that returns to rd.
func startAgain(e *pageError, rd string) *pageError {
	e.link, e.linkText = startPath+"?rd="+url.QueryEscape(rd), "Sign in again"
	return e
}

// setPageHeaders marks a response as the proxy's own: it is never cached,
// framed, sniffed or given a Referer (the callback URL carries a code).
func setPageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// fail writes err as a page and logs it; it is the one place handler errors
// become responses.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		pe = &pageError{
			status:  http.StatusInternalServerError,
			title:   "Something went wrong",
			message: "The proxy could not handle this request.",
			hint:    "Try again; if it keeps happening, tell the site's operator.",
			cause:   err,
		}
	}
	level := slog.LevelInfo
	if pe.status >= 500 {
		level = slog.LevelError
	}
	p.log.LogAttrs(r.Context(), level, "request failed",
		slog.Int("status", pe.status), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		code := pe.code
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(pe.status), " ", "_"))
		}
		p.writeJSON(w, r, pe.status, map[string]string{
			"error":             code,
			"error_description": strings.TrimSpace(pe.message + " " + pe.hint),
		})
		return
	}
	p.page(w, r, pe)
}

// page renders pe.
func (p *Proxy) page(w http.ResponseWriter, r *http.Request, pe *pageError) {
	type form struct {
		Action, Button string
		Fields         [][2]string
	}
	var f *form
	if pe.form != nil {
		f = &form{Action: pe.form.action, Button: pe.form.button, Fields: pe.form.fields}
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, struct {
		Status                               int
		Title, Message, Hint, Link, LinkText string
		Form                                 *form
	}{pe.status, pe.title, pe.message, pe.hint, pe.link, pe.linkText, f})
	if err != nil {
		p.log.ErrorContext(r.Context(), "rendering page", "error", err)
		http.Error(w, pe.title, pe.status)
		return
	}
	h := w.Header()
	setPageHeaders(h)
	if pe.form != nil {
		// The form's answer redirects onwards (to the provider's logout,
		// to rd), and browsers apply form-action to every redirect after
		// a submission; the page has no other form to protect.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(pe.status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// redirect sends the browser to target with the proxy's page headers.
func redirect(w http.ResponseWriter, target string) {
	setPageHeaders(w.Header())
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// writeJSON writes v as a JSON response the browser must not cache.
func (p *Proxy) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		p.log.ErrorContext(r.Context(), "encoding JSON response", "error", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	setPageHeaders(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// unauthorized answers a request that is not a browser navigation and has
// no valid session, in the style of RFC 6750.
func (p *Proxy) unauthorized(w http.ResponseWriter, r *http.Request, reason string) {
	p.challenge(w, r, http.StatusUnauthorized, "", reason+"; sign in at "+startPath)
}

// challenge answers with an RFC 6750 section 3 WWW-Authenticate: Bearer
// challenge and a JSON body. code is the error of a bearer token that was
// sent; a request that sent none gets no error in the challenge (section
// 3.1), and "unauthorized" in the body. description must already be
// printable ASCII without quotes (see quotable).
func (p *Proxy) challenge(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	v := `Bearer realm="gatehouse"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + description + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	p.writeJSON(w, r, status, map[string]string{
		"error":             cmp.Or(code, "unauthorized"),
		"error_description": description,
	})
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &pageError{
		status:  http.StatusMethodNotAllowed,
		title:   "Method not allowed",
		message: "This address only answers " + allow + " requests.",
	}
}
