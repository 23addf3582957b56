package pages

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/i18n"
)

//go:embed templates/*.html templates/style.css
var builtin embed.FS

// messagesDir is where an operator's message files live in dir.
func messagesDir(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "messages")
}

// source is a template or stylesheet and where it came from.
type source struct{ text, path string }

// load reads the built-in files and the overrides in Options.Dir, parses
// the templates, and renders every page in every language as a check.
func (s *Set) load() error {
	files, problems := s.sources()
	if len(problems) > 0 {
		return &i18n.Error{Problems: problems}
	}
	css, err := themeCSS(s.opts.Theme.PrimaryColor)
	if err != nil {
		return err
	}
	style := files[styleFile].text + css
	s.style, s.csp, s.logoURL = template.CSS(style), policy(style), template.URL(logoURL(s.opts.Theme))
	s.tmpl = map[string]*template.Template{}
	seen := map[string]bool{} // a broken layout.html or parts.html fails with every page
	for _, name := range pageNames {
		t, err := template.New(layout).Parse(files[layout].text)
		for _, f := range []string{parts, name} {
			if err == nil {
				_, err = t.New(f).Parse(files[f].text)
			}
		}
		if err != nil {
			if p := templateProblem(err, files); !seen[p.String()] {
				seen[p.String()] = true
				problems = append(problems, p)
			}
			continue
		}
		s.tmpl[name] = t
	}
	if len(problems) == 0 {
		problems = s.rehearse(files)
	}
	if len(problems) > 0 {
		return &i18n.Error{Problems: problems}
	}
	return nil
}

// sources returns the built-in templates and stylesheet with the files of
// Options.Dir in place of those of the same name. Any other file there is
// a problem: a misspelt name would otherwise be ignored without a word.
func (s *Set) sources() (map[string]source, []i18n.Problem) {
	files := map[string]source{}
	entries, _ := fs.ReadDir(builtin, "templates")
	for _, e := range entries {
		b, _ := fs.ReadFile(builtin, "templates/"+e.Name())
		files[e.Name()] = source{string(b), "built-in templates/" + e.Name()}
	}
	if s.opts.Dir == "" {
		return files, nil
	}
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, []i18n.Problem{{File: s.opts.Dir, Msg: err.Error()}}
	}
	var problems []i18n.Problem
	for _, e := range entries {
		path := filepath.Join(s.opts.Dir, e.Name())
		if e.Name() == "messages" && e.IsDir() {
			continue
		}
		if _, known := files[e.Name()]; !known || e.IsDir() {
			problems = append(problems, i18n.Problem{File: path, Msg: "not a file the pages use; files that replace built-in ones: " + strings.Join(sortedNames(files), ", ") + ", and messages/<language>.yaml"})
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, i18n.Problem{File: path, Msg: err.Error()})
			continue
		}
		files[e.Name()] = source{string(b), path}
	}
	return files, problems
}

func sortedNames(m map[string]source) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rehearse renders every page in every language twice, once with every
// field filled and once with every optional field empty, so that both
// sides of each {{if}} run before any person sees the page.
func (s *Set) rehearse(files map[string]source) []i18n.Problem {
	var problems []i18n.Problem
	seen := map[string]bool{}
	for _, lang := range s.cat.Languages() {
		for _, name := range pageNames {
			for _, full := range []bool{true, false} {
				var found []i18n.Problem
				loc := s.cat.Checking(lang, func(key string) {
					found = append(found, i18n.Problem{File: files[name].path,
						Msg: fmt.Sprintf("it (or layout.html or parts.html) asks for the message %q, which does not exist (see the built-in en.yaml for every key)", key)})
				})
				if err := s.tmpl[name].ExecuteTemplate(io.Discard, layout, s.sample(name, loc, full)); err != nil {
					found = append(found, templateProblem(err, files))
				}
				for _, p := range found {
					if !seen[p.String()] {
						seen[p.String()] = true
						problems = append(problems, p)
					}
				}
			}
		}
	}
	return problems
}

// sample is made-up data for rehearsing the page name.
func (s *Set) sample(name string, loc *i18n.Localizer, full bool) any {
	lang := loc.Lang()
	p := Page{Localizer: loc, Product: "gatehouse", Style: s.style, RequestID: "rehearsal"}
	if !full {
		return s.emptySample(name, p)
	}
	p.LogoURL = s.logoURL
	p.Footer = []Link{{Text: "Help", URL: "https://example.com/help"}}
	p.Languages = []LanguageLink{{Lang: lang, Name: "Here", Current: true}, {Lang: "xx", Name: "There", URL: "?lang=xx"}}
	form := Form{ID: "signout", Action: "/logout", Fields: []Field{{"token", "t"}}, Button: "Sign out"}
	switch name {
	case Login:
		return LoginData{Page: p, ClientName: "App", Action: "/login", Request: "r", CSRF: "c", UserID: "alice", Error: "wrong"}
	case Consent:
		return ConsentData{Page: p, ClientName: "App", UserName: "Alice", Scopes: []string{"openid", "x"}, Destination: "https://app.example", Action: "/consent", Request: "r", CSRF: "c"}
	case Confirm:
		return ConfirmData{Page: p, Title: "Sign out?", Lead: "Alice", Message: "Sure?", Form: form}
	case Notice:
		return NoticeData{Page: p, Title: "Signed out", Message: "Bye", Actions: []Link{{Text: "Again", URL: "/"}}}
	default:
		return ErrorData{Page: p, Status: 400, StatusText: "400 Bad Request", Title: "T", Message: "M", Hint: "H",
			Actions: []Link{{Text: "Again", URL: "/"}}, Code: "invalid_request", Detail: "D", Time: "now"}
	}
}

func (s *Set) emptySample(name string, p Page) any {
	switch name {
	case Login:
		return LoginData{Page: p}
	case Consent:
		return ConsentData{Page: p}
	case Confirm:
		return ConfirmData{Page: p}
	case Notice:
		return NoticeData{Page: p}
	default:
		return ErrorData{Page: p}
	}
}

// templateError matches text/template's "template: NAME:LINE[:COL]: MSG"
// and html/template's "html/template:NAME:LINE:COL: MSG".
var templateError = regexp.MustCompile(`^(?:html/)?template: ?([^:]+):(\d+)(?::\d+)?: (.*)$`)

// templateProblem names the file and line of a template error.
func templateProblem(err error, files map[string]source) i18n.Problem {
	msg := err.Error()
	m := templateError.FindStringSubmatch(msg)
	if m == nil {
		return i18n.Problem{File: "templates", Msg: msg}
	}
	line, _ := strconv.Atoi(m[2])
	file := m[1]
	if src, ok := files[file]; ok {
		file = src.path
	}
	return i18n.Problem{File: file, Line: line, Msg: fmt.Sprint(m[3])}
}
