package proxy

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// startAgain offers a fresh sign-in that returns to rd.
func startAgain(e *pages.Error, rd string) *pages.Error {
	e.Actions = append(e.Actions, pages.Action{Key: "action.sign_in_again", URL: startPath + "?rd=" + url.QueryEscape(rd)})
	return e
}

// fail writes err as a page, or as JSON to a script, and logs it; it is
// the one place handler errors become responses.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	pe, ok := errors.AsType[*pages.Error](err)
	if !ok {
		pe = &pages.Error{Status: http.StatusInternalServerError, Kind: "proxy_internal", Cause: err}
	}
	level := slog.LevelInfo
	if pe.Status >= 500 {
		level = slog.LevelError
	}
	p.log.LogAttrs(r.Context(), level, "request failed",
		slog.Int("status", pe.Status), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("request_id", httpx.RequestID(r)),
		slog.String("error", pe.Error()))
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		code := cmp.Or(pe.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(pe.Status), " ", "_")))
		description := p.ui.English(pe)
		if pe.Detail != "" {
			description += " " + pe.Detail
		}
		p.writeJSON(w, pe.Status, map[string]string{"error": code, "error_description": description})
		return
	}
	p.ui.RenderError(w, r, p.ui.Page(w, r), pe)
}

// redirect sends the browser to target with the proxy's page headers.
func redirect(w http.ResponseWriter, target string) {
	pages.SetHeaders(w.Header())
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// writeJSON writes v as a JSON response the browser must not cache, with
// the headers of the proxy's pages.
func (p *Proxy) writeJSON(w http.ResponseWriter, status int, v any) {
	pages.SetHeaders(w.Header())
	httpx.WriteJSON(w, status, v)
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
	p.writeJSON(w, status, map[string]string{
		"error":             cmp.Or(code, "unauthorized"),
		"error_description": description,
	})
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &pages.Error{Status: http.StatusMethodNotAllowed, Kind: "method", Args: []any{"methods", allow}}
}
