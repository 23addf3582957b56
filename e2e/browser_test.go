package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/htmlform"
)

// browser walks pages the way a person's browser does: it keeps cookies,
// follows redirects, says it wants HTML, and submits the forms it is shown.
type browser struct {
	t      *testing.T
	client *http.Client
	// language is the Accept-Language it sends, if any.
	language string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar}}
}

// page is a fetched document and the forms on it.
type page struct {
	URL    *url.URL
	Status int
	Body   string
	Forms  []form
}

// form is an HTML form: where it posts and the values it would send.
type form = htmlform.Form

func (b *browser) get(rawURL string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if b.language != "" {
		req.Header.Set("Accept-Language", b.language)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}
	p.Forms = parseForms(b.t, p.URL, p.Body)
	return p
}

// submit sends form as if the person filled in values and pressed the
// submit button named button with the given value ("" for none).
func (b *browser) submit(f form, values map[string]string, button, buttonValue string) *page {
	b.t.Helper()
	data := url.Values{}
	for k, v := range f.Fields {
		data[k] = append([]string(nil), v...)
	}
	for k, v := range values {
		data.Set(k, v)
	}
	if button != "" {
		data.Set(button, buttonValue)
	}
	if f.Method == http.MethodGet {
		u := *f.Action
		u.RawQuery = data.Encode()
		return b.get(u.String())
	}
	req, err := http.NewRequest(http.MethodPost, f.Action.String(), strings.NewReader(data.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// formWith returns the first form on the page that has an input named
// field, failing the test when there is none.
func (p *page) formWith(t *testing.T, field string) form {
	t.Helper()
	for _, f := range p.Forms {
		if _, ok := f.Fields[field]; ok {
			return f
		}
		if _, ok := f.Buttons[field]; ok {
			return f
		}
	}
	t.Fatalf("no form with %q on %s (status %d):\n%s", field, p.URL, p.Status, p.Body)
	return form{}
}

func parseForms(t *testing.T, base *url.URL, body string) []form {
	forms, err := htmlform.Parse(base, body)
	if err != nil {
		t.Fatal(err)
	}
	return forms
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
