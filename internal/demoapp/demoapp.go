// Package demoapp is the built-in upstream of the quickstart: an ordinary,
// unmodified web app that knows nothing of OAuth and simply shows the
// identity headers the proxy put on the request.
package demoapp

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
)

// IdentityHeaders are the request headers the proxy sets for the upstream.
var IdentityHeaders = []string{
	"X-Forwarded-User",
	"X-Forwarded-Email",
	"X-Forwarded-Preferred-Username",
	"X-Forwarded-Groups",
}

// Handler serves the demo app: an HTML page for browsers and, for
// Accept: application/json, the same facts as JSON.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

type view struct {
	Identity map[string]string `json:"identity"`
	Headers  map[string]string `json:"headers"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
}

func serve(w http.ResponseWriter, r *http.Request) {
	v := view{Identity: map[string]string{}, Headers: map[string]string{}, Method: r.Method, Path: r.URL.RequestURI()}
	for _, h := range IdentityHeaders {
		if val := r.Header.Get(h); val != "" {
			v.Identity[h] = val
		}
	}
	for name, vals := range r.Header {
		v.Headers[name] = strings.Join(vals, ", ")
	}
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	names := make([]string, 0, len(v.Headers))
	for name := range v.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, struct {
		view
		Names []string
		Order []string
	}{v, names, IdentityHeaders})
}

var page = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse demo app</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d232a}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{width:40%;font-weight:600}code{font-size:.9em}.none{color:#888}
</style></head><body>
<h1>Hello{{with index .Identity "X-Forwarded-Preferred-Username"}}, {{.}}{{end}}!</h1>
<p>This is the gatehouse demo app. It has no login code of its own: it only reads the identity headers that
the gatehouse proxy added to your request.</p>
<h2>Who you are</h2>
<table id="identity">
{{range .Order}}<tr><th><code>{{.}}</code></th><td>{{with index $.Identity .}}{{.}}{{else}}<span class="none">(not set)</span>{{end}}</td></tr>
{{end}}</table>
<p><a href="/oauth2/sign_out">Sign out</a></p>
<h2>Every header the app received</h2>
<p>{{.Method}} <code>{{.Path}}</code></p>
<table>
{{range .Names}}<tr><th><code>{{.}}</code></th><td><code>{{index $.Headers .}}</code></td></tr>
{{end}}</table>
</body></html>
`))
