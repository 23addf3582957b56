package pages

import (
	"net/http"
	"strconv"
	"time"
)

// LoginData is the login page's.
type LoginData struct {
	Page
	ClientName string
	Action     string // where the form posts
	Request    string // the sealed authorization request
	CSRF       string
	UserID     string
	Error      string // in the reader's language; empty on first show
}

// ConsentData is the consent page's. Scopes are scope names; the template
// says each in words with {{.Scope}}.
type ConsentData struct {
	Page
	ClientName  string
	UserName    string
	Scopes      []string
	Destination string
	Action      string
	Request     string
	CSRF        string
}

// ConfirmData is a page that asks the reader to confirm an action with one
// button, such as signing out. Texts are in the reader's language.
type ConfirmData struct {
	Page
	Title   string
	Lead    string // who is signed in, and since when
	Alert   string // why the page is shown again, if it is
	Message string
	Form    Form
}

// NoticeData is a page that only says something, such as "You are
// signed out", and offers ways on.
type NoticeData struct {
	Page
	Title   string
	Message string
	Actions []Link
}

// Form is a form posting hidden fields with one submit button; ID names it
// for scripts and tests, Button is its text.
type Form struct {
	ID     string
	Action string
	Fields []Field
	Button string
}

// Field is a hidden form field.
type Field struct{ Name, Value string }

// Scope says what granting the scope name lets an application do.
func (p Page) Scope(name string) string {
	if key := "scope." + name; p.Has(key) {
		return p.T(key)
	}
	return p.T("scope.other", "scope", name)
}

// Error is an error shown to a person as a page. Its texts are the
// messages error.<Kind>.title, .message and .hint (the last optional) in
// the reader's language; Detail says in English, for administrators, what
// exactly went wrong, and is logged with Cause.
type Error struct {
	Status  int
	Kind    string
	Args    []any // the messages' {placeholders}: name, value pairs
	Detail  string
	Code    string // an OAuth or API error code, shown to administrators
	Actions []Action
	Cause   error
}

// Action is a way forward offered on an error page: a link whose text is
// the message Key.
type Action struct{ Key, URL string }

func (e *Error) Error() string {
	s := e.Kind
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// ErrorData is the error page's.
type ErrorData struct {
	Page
	Status     int
	StatusText string
	Title      string
	Message    string
	Hint       string
	Actions    []Link
	Code       string
	Detail     string
	Time       string
}

// describe returns e's texts in the language of p.
func (p Page) describe(e *Error) (title, message, hint string) {
	key := "error." + e.Kind
	if !p.Has(key + ".title") {
		return p.T("error.default_title"), e.Detail, ""
	}
	args := p.localize(e.Args)
	if p.Has(key + ".hint") {
		hint = p.T(key+".hint", args...)
	}
	return p.T(key+".title", args...), p.T(key+".message", args...), hint
}

// localize says durations and times among args in the reader's language.
func (p Page) localize(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Duration:
			out[i] = p.Duration(v)
		case time.Time:
			out[i] = p.Date(v)
		default:
			out[i] = a
		}
	}
	return out
}

// English returns e's message and hint in English, for answers to
// scripts, which have no language to negotiate.
func (s *Set) English(e *Error) string {
	_, message, hint := Page{Localizer: s.cat.For("en")}.describe(e)
	if hint == "" {
		return message
	}
	return message + " " + hint
}

// RenderError writes e as an error page in the language of p. It has no
// language switcher: repeating the request that failed could do harm (a
// callback spends its code) and would echo its query into the page.
func (s *Set) RenderError(w http.ResponseWriter, r *http.Request, p Page, e *Error) {
	p.Languages = nil
	d := ErrorData{
		Page:       p,
		Status:     e.Status,
		StatusText: strconv.Itoa(e.Status) + " " + http.StatusText(e.Status),
		Code:       e.Code,
		Detail:     e.Detail,
		Time:       p.Date(s.opts.Now()),
	}
	d.Title, d.Message, d.Hint = p.describe(e)
	for _, a := range e.Actions {
		d.Actions = append(d.Actions, Link{Text: p.T(a.Key), URL: a.URL})
	}
	s.Render(w, r, e.Status, ErrorPage, d)
}
