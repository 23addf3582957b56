package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// pageCheckJS is the object of in-page checks; see testdata/pagecheck.js.
//
//go:embed testdata/pagecheck.js
var pageCheckJS string

const (
	// stepTimeout bounds every wait of the Chromium tests.
	stepTimeout = 30 * time.Second
	// The desktop viewport of screenshots and most checks, and the narrow
	// one that must not scroll sideways.
	desktopWidth, desktopHeight = 900, 700
	narrowWidth, narrowHeight   = 320, 640
	// minContrast is the text contrast every page must reach.
	minContrast = 4.5
)

// startChromium starts Debian's chromium (GATEHOUSE_TEST_CHROMIUM) for one
// test and returns a context holding the running browser; each tab made
// from it with newTab gets a browser context of its own, so cookies do not
// leak between subtests.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("GATEHOUSE_TEST_CHROMIUM")
	if exe == "" {
		t.Skip("GATEHOUSE_TEST_CHROMIUM not set (path to Debian's chromium): skipping the real-browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

// screenshotDir is where the tests save their screenshots:
// GATEHOUSE_SCREENSHOTS if set, or a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// acceptLanguage are the languages of a browser set to each language, in
// order; Chrome adds the q-values ("ja,en-US;q=0.9,en;q=0.8").
var acceptLanguage = map[string]string{
	"en": "en-US,en",
	"ja": "ja,en-US,en",
}

// checkedPages remembers which pages (by screenshot name) were already
// checked in full, so a page that several subtests pass through is
// audited and photographed once.
type checkedPages struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (c *checkedPages) first(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if c.seen[name] {
		return false
	}
	c.seen[name] = true
	return true
}

// tab is one browser tab, in a browser context of its own, whose browser
// asks for pages in lang.
type tab struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	checked *checkedPages
	page    string // the name of the page being looked at, for messages
}

func newTab(t *testing.T, browser context.Context, lang, shots string, checked *checkedPages) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, shots: shots, checked: checked, page: "(start)"}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	ua := evalJS[string](b, `navigator.userAgent`)
	b.do("setting the browser's language and viewport",
		call(emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: acceptLanguage[lang]}),
		call(emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}),
		viewport(desktopWidth, desktopHeight),
	)
	if lang == "ja" && !check[bool](b, "drawsDistinct", "ロ", "グ", "32px sans-serif") {
		cjkWarning.Do(func() {
			t.Log("WARNING: no font on this machine draws Japanese, so the Japanese screenshots show empty boxes; install Debian's fonts-noto-cjk")
		})
	}
	return b
}

var cjkWarning sync.Once

// call is an action that sends one DevTools command.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cmd, params)
		return err
	})
}

func viewport(w, h int64) chromedp.Action[chromedp.Void] {
	return call(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: 1})
}

// do runs actions with the step timeout and stops the test on an error.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v (at %s)", b.page, what, err, b.location())
	}
}

// evalJS evaluates expr in the page and decodes its value.
func evalJS[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluating %.100s: %v", b.page, expr, err)
	}
	return v
}

// check calls a method of pagecheck.js with args.
func check[T any](b *tab, method string, args ...any) T {
	b.t.Helper()
	js := make([]string, len(args))
	for i, a := range args {
		j, err := json.Marshal(a)
		if err != nil {
			b.t.Fatal(err)
		}
		js[i] = string(j)
	}
	return evalJS[T](b, fmt.Sprintf("(%s).%s(%s)", pageCheckJS, method, strings.Join(js, ", ")))
}

// location is the tab's URL, or why it is not known.
func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown location: " + err.Error()
	}
	return shortURL(loc)
}

// shortURL cuts the long sealed parameters of a URL for messages.
func shortURL(s string) string {
	if path, query, ok := strings.Cut(s, "?"); ok && len(query) > 60 {
		return path + "?" + query[:60] + "…"
	}
	return s
}

// navigate opens url and waits for the page it ends on.
func (b *tab) navigate(url string) {
	b.t.Helper()
	b.do("opening "+url, chromedp.Navigate(url))
	b.waitNewPage("opening " + url)
}

// element is what pagecheck.js reports of one element.
type element struct {
	Found   bool              `json:"found"`
	Text    string            `json:"text"`
	Attrs   map[string]string `json:"attrs"`
	Visible bool              `json:"visible"`
	Labels  []struct {
		For  string `json:"for"`
		Text string `json:"text"`
	} `json:"labels"`
	Width  float64           `json:"width"`
	Height float64           `json:"height"`
	Style  map[string]string `json:"style"`
}

// el reports the first element matching the CSS selector sel.
func (b *tab) el(sel string) element {
	b.t.Helper()
	return check[element](b, "element", sel)
}

// mustHave stops the test unless the page has an element matching sel.
func (b *tab) mustHave(sel string) element {
	b.t.Helper()
	e := b.el(sel)
	if !e.Found {
		b.t.Fatalf("%s: no %s on the page (at %s; h1 %q)", b.page, sel, b.location(), b.el("h1").Text)
	}
	return e
}

// wantText reports an error unless the first element matching sel has
// exactly the text want (spaces collapsed).
func (b *tab) wantText(sel, want string) {
	b.t.Helper()
	e := b.el(sel)
	switch {
	case !e.Found:
		b.t.Errorf("%s: no %s on the page, want one saying %q (at %s)", b.page, sel, want, b.location())
	case e.Text != want:
		b.t.Errorf("%s: %s says %q, want %q", b.page, sel, e.Text, want)
	}
}

// typeInto types text into the field sel, replacing what it held.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.mustHave(sel)
	b.do("typing into "+sel,
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
}

// clickAndWait clicks sel and waits until a new document has loaded.
func (b *tab) clickAndWait(sel string) {
	b.t.Helper()
	b.mustHave(sel)
	b.do("clicking "+sel,
		chromedp.Evaluate[chromedp.Void](`window.__ghOldPage = true`),
		chromedp.Click(chromedp.CSS(sel)),
	)
	b.waitNewPage("after clicking " + sel)
}

// waitNewPage waits until the tab shows a fully loaded document that
// clickAndWait did not mark.
func (b *tab) waitNewPage(what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		done, err := chromedp.Run(actx, chromedp.Evaluate[bool](`!window.__ghOldPage && document.readyState === 'complete'`))
		acancel()
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("%s: %s: no new page loaded within %v (at %s; last error %v)", b.page, what, stepTimeout, b.location(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pageKind says what a page must offer beyond the checks of every page.
type pageKind struct {
	get bool // shown for a GET: it has the language switcher
	// An error page has no switcher, whatever the method: repeating the
	// request that failed could do harm, such as spending a sign-in
	// callback's code (docs/pages.md).
	error bool
}

// at names the page the tab now shows, and on the first visit to a page of
// that name in this test checks it in full and saves its screenshot as
// <name>-<lang>.png. lang is the language the page must be in.
func (b *tab) at(name, lang string, kind pageKind) {
	b.t.Helper()
	b.page = name + "-" + lang
	if got := evalJS[string](b, `document.documentElement.getAttribute('lang') || ''`); got != lang {
		b.t.Errorf("%s: <html lang=%q>, want %q (at %s)", b.page, got, lang, b.location())
	}
	if !b.checked.first(b.page) {
		return
	}
	b.screenshot()
	for _, p := range b.audit(lang, kind) {
		b.t.Errorf("%s: %s", b.page, p)
	}
}

// screenshot saves the page at the desktop viewport.
func (b *tab) screenshot() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.page, err)
	}
	path := filepath.Join(b.shots, b.page+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("%s: screenshot %s (%d KiB)", b.page, path, len(png)/1024)
}

// audit runs the accessibility checks on the page the tab shows, in
// language lang, and returns the problems, each naming the element.
func (b *tab) audit(lang string, kind pageKind) []string {
	b.t.Helper()
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	// The pointer rests where the last click was; move it off the page's
	// controls so no hover style stands in for a focus style.
	b.do("moving the mouse away", chromedp.MouseEvent(chromedp.MouseMoved, 0, 0))

	type audit struct {
		Problems []string `json:"problems"`
		Notes    []string `json:"notes"`
	}
	a := check[audit](b, "audit", minContrast)
	for _, p := range a.Problems {
		fail("%s", p)
	}
	for _, n := range a.Notes {
		b.t.Logf("%s: %s", b.page, n)
	}
	// The stylesheets follow prefers-color-scheme: check the dark colours too.
	b.do("emulating a dark colour scheme", call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}))
	dark := check[audit](b, "contrast", minContrast)
	b.do("ending the colour scheme emulation", call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}))
	for _, p := range dark.Problems {
		if !slices.Contains(a.Problems, p) { // a page without dark colours fails alike in both
			fail("dark colour scheme: %s", p)
		}
	}

	switch {
	case kind.error:
		if n := check[int](b, "count", "nav.languages a[href]"); n > 0 {
			fail("the error page has a language switcher with %d links, which would repeat the request that failed", n)
		}
	case kind.get:
		for _, p := range check[[]string](b, "switcher", lang, []string{"en", "ja"}) {
			fail("%s", p)
		}
	}

	b.keyboard(fail)

	b.do("narrowing the viewport", viewport(narrowWidth, narrowHeight))
	type overflow struct {
		ScrollWidth int      `json:"scrollWidth"`
		ClientWidth int      `json:"clientWidth"`
		Wide        []string `json:"wide"`
	}
	for _, open := range []bool{false, true} {
		o := check[overflow](b, "overflow", open)
		if o.ScrollWidth > o.ClientWidth {
			state := ""
			if open {
				state = " with its <details> opened"
			}
			fail("at %d px wide%s the page scrolls sideways (scrollWidth %d > clientWidth %d); too wide: %s",
				narrowWidth, state, o.ScrollWidth, o.ClientWidth, strings.Join(o.Wide, "; "))
		}
	}
	b.do("restoring the viewport", viewport(desktopWidth, desktopHeight))
	return problems
}

// keyboard presses Tab through the page from its top and checks that it
// reaches every control, in DOM order, each showing that it has the focus.
// It first presses Tab until the focus leaves the page, so that the round
// it checks starts where a person's does on a freshly loaded page.
func (b *tab) keyboard(fail func(string, ...any)) {
	b.t.Helper()
	controls := check[[]string](b, "tabStart")
	defer func() {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("("+pageCheckJS+").tabEnd()"))
	}()
	type focused struct {
		Index     int    `json:"index"` // in controls; -1 for another element
		Outside   bool   `json:"outside"`
		Desc      string `json:"desc"`
		Indicator bool   `json:"indicator"`
		Style     string `json:"style"`
	}
	tab := func() focused {
		b.do("pressing Tab", chromedp.KeyEvent(kb.Tab))
		return check[focused](b, "tabFocused")
	}
	limit := len(controls) + 5
	var lead []string
	for out := false; !out; {
		if len(lead) == limit {
			fail("keyboard: the focus never leaves the page, a keyboard trap? (Tab went: %s)", strings.Join(lead, " → "))
			break
		}
		f := tab()
		lead, out = append(lead, f.Desc), f.Outside
	}
	var order []int
	var path []string
	for len(path) < limit {
		f := tab()
		if f.Outside {
			break
		}
		path = append(path, f.Desc)
		if f.Index < 0 {
			continue // not a control of the list, such as a scroller
		}
		if !f.Indicator && !slices.Contains(order, f.Index) {
			fail("keyboard: %s shows no focus indicator when focused with Tab (%s)", f.Desc, f.Style)
		}
		order = append(order, f.Index)
	}
	b.t.Logf("%s: keyboard: %d controls; Tab goes: %s", b.page, len(controls), strings.Join(path, " → "))
	for i, c := range controls {
		if !slices.Contains(order, i) {
			fail("keyboard: Tab never reaches %s (Tab goes: %s)", c, strings.Join(path, " → "))
		}
	}
	if u := uniq(order); !slices.IsSorted(u) {
		got := make([]string, len(u))
		for i, idx := range u {
			got[i] = controls[idx]
		}
		fail("keyboard: Tab order is not the DOM order: got %s, want %s", strings.Join(got, " → "), strings.Join(controls, " → "))
	}
}

// uniq is s without repeats, in the order of first appearance.
func uniq(s []int) []int {
	var u []int
	for _, v := range s {
		if !slices.Contains(u, v) {
			u = append(u, v)
		}
	}
	return u
}

// checkerFixtures are two pages for TestPagesCheckerChromium: one that
// passes every check, and one with a known fault for each.
var checkerFixtures = map[string]string{
	"/good": `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>良い</title>
<style>
body{font:16px/1.5 sans-serif;color:#1b1f24;background:#fff;margin:1rem}
a,button,input,summary{outline-offset:2px}
:focus-visible{outline:3px solid #1f5fbf}
button{color:#fff;background:#1f5fbf;border:0;padding:.5rem 1rem}
</style></head><body>
<nav class="languages"><a href="?lang=en" hreflang="en" lang="en">English</a> <span lang="ja" aria-current="true">日本語</span></nav>
<h1>ログイン</h1>
<form><label for="u">ユーザー ID</label> <input id="u" type="text"> <button type="submit">送信</button></form>
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=" alt="ロゴ" width="16" height="16">
<details class="admin"><summary>詳細</summary><p id="request-id">abc</p></details>
</body></html>`,
	"/switcher": `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>切替</title></head><body>
<nav class="languages"><a href="?lang=en" hreflang="en" aria-current="true">English</a> <a href="?lang=ja" hreflang="ja">日本語</a></nav>
</body></html>`,
	"/bad": `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Bad</title>
<style>
body{font:16px/1.5 sans-serif;color:#1b1f24;background:#fff;margin:1rem}
.faint{color:#999}
#plain:focus{outline:none}
.wide{width:600px}
@media (prefers-color-scheme: dark){.dark{color:#ddd}}
</style></head><body>
<h1>Bad page</h1>
<p class="dark">faint in the dark</p>
<p class="faint">faint text</p>
<input id="unlabelled" type="text">
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=" width="16" height="16">
<a href="/x"></a>
<button id="plain">Go</button>
<div class="wide">wide</div>
<details><summary>More</summary><p style="color:#bbb">hidden faint</p></details>
<a href="/jump" tabindex="1">Jump</a>
</body></html>`,
}

// TestPagesCheckerChromium shows that the page checks find what they look
// for, under the pages' strict Content-Security-Policy, and pass a page
// that has none of the faults.
func TestPagesCheckerChromium(t *testing.T) {
	browser := startChromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := checkerFixtures[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	defer srv.Close()
	b := newTab(t, browser, "en", t.TempDir(), &checkedPages{})

	b.navigate(srv.URL + "/good")
	b.page = "good"
	if problems := b.audit("ja", pageKind{get: true}); len(problems) > 0 {
		t.Errorf("the good page fails the checks:\n%s", strings.Join(problems, "\n"))
	}

	b.navigate(srv.URL + "/switcher")
	b.page = "switcher"
	switcher := strings.Join(check[[]string](b, "switcher", "ja", []string{"en", "ja"}), "\n")
	for _, want := range []string{
		`the link to en is marked aria-current="true" on a page in ja`,
		`marks the entry for en as current on a page in ja`,
		`the link to the page's own language ja is not marked aria-current="true"`,
	} {
		if !strings.Contains(switcher, want) {
			t.Errorf("the checks of the wrong switcher miss %q; they found:\n%s", want, switcher)
		}
	}

	b.navigate(srv.URL + "/bad")
	b.page = "bad"
	problems := strings.Join(b.audit("en", pageKind{get: true}), "\n")
	for _, want := range []string{
		`for p.faint "faint text"`,
		`"hidden faint"`, // inside closed <details>
		`dark colour scheme: contrast 1.36:1 < 4.5:1 for p.dark "faint in the dark"`,
		`field input#unlabelled[type=text] has no label`,
		`image img`,
		`link a[href=/x] has no accessible text`,
		`button#plain "Go" shows no focus indicator`,
		`Tab order is not the DOM order`,
		`the page scrolls sideways`,
		`no language switcher`,
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("the checks of the bad page miss %q; they found:\n%s", want, problems)
		}
	}
}
