package e2e

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pagesStackYAML is stackYAML with two more routes: /admin, which alice may
// not see, and /down, whose upstream does not answer.
var pagesStackYAML = func() string {
	const routes = `routes: [{path: /, upstream: "%[3]s"}]`
	if !strings.Contains(stackYAML, routes) {
		panic("stackYAML no longer has the routes line pagesStackYAML replaces")
	}
	return strings.Replace(stackYAML, routes, `routes:
    - {path: /admin, upstream: "%[3]s", allow: {users: [bob]}}
    - {path: /down, upstream: "http://127.0.0.1:1"}
    - {path: /, upstream: "%[3]s"}`, 1)
}()

// pageStrings are the texts a person sees in one language.
type pageStrings struct {
	loginH1, loginButton, approve, deny, wrongPassword  string
	declinedH1, forbiddenH1, signOutButton, signedOutH1 string
}

var pageText = map[string]pageStrings{
	"en": {
		loginH1:       "Sign in",
		loginButton:   "Sign in",
		approve:       "Approve",
		deny:          "Deny",
		wrongPassword: "The user ID or password is incorrect.",
		declinedH1:    "You declined to sign in",
		forbiddenH1:   "You don't have access to this page",
		signOutButton: "Sign out",
		signedOutH1:   "You are signed out",
	},
	"ja": {
		loginH1:       "ログイン",
		loginButton:   "ログイン",
		approve:       "許可する",
		deny:          "拒否する",
		wrongPassword: "ユーザー ID またはパスワードが正しくありません。",
		declinedH1:    "ログインを取り消しました",
		forbiddenH1:   "このページへのアクセス権がありません",
		signOutButton: "ログアウト",
		signedOutH1:   "ログアウトしました",
	},
}

// The controls the tests use, as the pages promise them.
const (
	loginForm     = "form#login"
	loginSubmit   = "#login button[type=submit]"
	approveButton = "button[name=decision][value=approve]"
	denyButton    = "button[name=decision][value=deny]"
	signOutSubmit = "#signout button[type=submit]"
	langSwitch    = "nav.languages a[hreflang=%s]"
)

// TestPagesChromium has a real browser, set to English or to Japanese, go
// through every page a person can see: sign in and approve, deny, a wrong
// password, sign-out, a page they may not see, and the other error pages.
// Each page is checked for its language, its texts and its accessibility,
// and photographed (see screenshotDir).
func TestPagesChromium(t *testing.T) {
	browser := startChromium(t)
	shots := screenshotDir(t)
	checked := &checkedPages{}
	open := func(t *testing.T, lang string) (*stack, *tab) {
		return startStackFrom(t, pagesStackYAML, ""), newTab(t, browser, lang, shots, checked)
	}

	for _, lang := range []string{"en", "ja"} {
		txt := pageText[lang]
		t.Run(lang, func(t *testing.T) {
			t.Run("approve", func(t *testing.T) {
				s, b := open(t, lang)
				b.navigate(s.proxyURL + "/reports?year=2026")
				b.loginPage(lang, txt)
				b.submitLogin(testUser, testPassword)
				b.consentPage(lang, txt)
				b.clickAndWait(approveButton)
				b.wantApp(s.proxyURL + "/reports?year=2026")
			})

			t.Run("deny", func(t *testing.T) {
				s, b := open(t, lang)
				b.navigate(s.proxyURL + "/")
				b.loginPage(lang, txt)
				b.submitLogin(testUser, testPassword)
				b.consentPage(lang, txt)
				b.clickAndWait(denyButton)
				b.refusedWith("error-declined", lang, txt.declinedH1, "access_denied")
			})

			t.Run("wrong-password", func(t *testing.T) {
				s, b := open(t, lang)
				b.navigate(s.proxyURL + "/")
				b.loginPage(lang, txt)
				b.submitLogin(testUser, "not-"+testPassword)
				b.at("login-error", lang, pageKind{})
				b.wantText("h1", txt.loginH1)
				if e := b.el("#login-error"); !e.Found {
					t.Errorf("%s: no #login-error after a wrong password", b.page)
				} else {
					if !strings.HasPrefix(e.Text, txt.wrongPassword) {
						t.Errorf("%s: #login-error says %q, want it to start with %q", b.page, e.Text, txt.wrongPassword)
					}
					if e.Attrs["role"] != "alert" {
						t.Errorf("%s: #login-error has role=%q, want alert", b.page, e.Attrs["role"])
					}
					if !e.Visible {
						t.Errorf("%s: #login-error is not visible", b.page)
					}
				}
				for _, id := range []string{"user_id", "password"} {
					e := b.mustHave("#" + id)
					if !strings.Contains(" "+e.Attrs["aria-describedby"]+" ", " login-error ") {
						t.Errorf("%s: #%s has aria-describedby=%q, want it to name login-error", b.page, id, e.Attrs["aria-describedby"])
					}
					if e.Attrs["aria-invalid"] != "true" {
						t.Errorf("%s: #%s has aria-invalid=%q, want \"true\"", b.page, id, e.Attrs["aria-invalid"])
					}
				}
				b.submitLogin(testUser, testPassword)
				b.consentPage(lang, txt)
				b.clickAndWait(approveButton)
				b.wantApp(s.proxyURL + "/")
			})

			t.Run("sign-out", func(t *testing.T) {
				s, b := open(t, lang)
				b.signIn(s.proxyURL+"/", lang, txt)
				b.navigate(s.proxyURL + "/oauth2/sign_out")
				b.at("signout-confirm", lang, pageKind{get: true})
				b.wantText(signOutSubmit, txt.signOutButton)
				b.clickAndWait(b.pick(signOutSubmit, "form button[type=submit]"))
				if h1 := b.el("h1").Text; h1 != txt.signedOutH1 {
					t.Fatalf("after confirming the sign-out: h1 %q, want %q; the page says %q (at %s)",
						h1, txt.signedOutH1, b.el("[role=alert]").Text, b.location())
				}
				b.at("signed-out", lang, pageKind{get: true})
				// Signed out for real: the app asks for a password again.
				b.navigate(s.proxyURL + "/")
				b.mustHave("#password")
			})

			t.Run("forbidden", func(t *testing.T) {
				s, b := open(t, lang)
				b.signIn(s.proxyURL+"/", lang, txt)
				b.navigate(s.proxyURL + "/admin")
				b.refusedWith("error-403", lang, txt.forbiddenH1, "")
			})

			t.Run("upstream-down", func(t *testing.T) {
				s, b := open(t, lang)
				b.signIn(s.proxyURL+"/", lang, txt)
				b.navigate(s.proxyURL + "/down/")
				b.at("error-502", lang, pageKind{error: true})
				b.errorPage("", "", true)
			})

			t.Run("authserver-error", func(t *testing.T) {
				s, b := open(t, lang)
				q := url.Values{"client_id": {"no-such-app"}, "response_type": {"code"}, "scope": {"openid"},
					"redirect_uri": {s.proxyURL + "/oauth2/callback"}, "state": {"s"}}
				b.navigate(s.authURL + "/authorize?" + q.Encode())
				b.at("authserver-error", lang, pageKind{error: true})
				b.errorPage("", "", false)
			})

			t.Run("authserver-sign-out", func(t *testing.T) {
				s, b := open(t, lang)
				b.signIn(s.proxyURL+"/", lang, txt)
				// No id_token_hint: the authserver asks before signing out.
				b.navigate(s.authURL + "/logout")
				b.at("authserver-logout-confirm", lang, pageKind{get: true})
				b.clickAndWait("form button[type=submit]")
				b.at("authserver-signed-out", lang, pageKind{}) // the answer to the form
				b.wantText("h1", txt.signedOutH1)
			})
		})
	}

	t.Run("language-choice", func(t *testing.T) {
		// An English browser picks Japanese on the login page; the choice
		// holds for the rest of the flow.
		t.Run("switcher", func(t *testing.T) {
			s, b := open(t, "en")
			b.navigate(s.proxyURL + "/")
			b.loginPage("en", pageText["en"])
			b.clickAndWait(b.pick(fmt.Sprintf(langSwitch, "ja"), "a[href*='lang=ja']"))
			b.loginPage("ja", pageText["ja"])
			b.submitLogin(testUser, testPassword)
			b.consentPage("ja", pageText["ja"])
			b.wantLangCookie(s.authURL)
			b.clickAndWait(approveButton)
			b.wantApp(s.proxyURL + "/")
		})
		// Japanese picked on a page of the proxy holds on the proxy and
		// reaches the authserver as ui_locales. (Both servers share the
		// host 127.0.0.1, so the browser shows the authserver the proxy's
		// language cookie as well; the ui_locales check is what tells the
		// proxy's part.)
		t.Run("proxy-switcher", func(t *testing.T) {
			s, b := open(t, "en")
			b.navigate(s.proxyURL + "/oauth2/signed_out")
			b.at("signed-out", "en", pageKind{get: true})
			b.wantText("h1", pageText["en"].signedOutH1)
			b.clickAndWait(b.pick(fmt.Sprintf(langSwitch, "ja"), "a[href*='lang=ja']"))
			b.at("signed-out", "ja", pageKind{get: true})
			b.wantText("h1", pageText["ja"].signedOutH1)

			requests := b.watchRequests()
			b.navigate(s.proxyURL + "/")
			authorize := ""
			for _, u := range requests() {
				if strings.HasPrefix(u, s.authURL+"/authorize?") {
					authorize = u
				}
			}
			if q, err := url.Parse(authorize); err != nil || authorize == "" {
				t.Errorf("no request to %s/authorize seen", s.authURL)
			} else if got := q.Query().Get("ui_locales"); got != "ja" {
				t.Errorf("the proxy asked the authserver for ui_locales=%q, want ja: %s", got, shortURL(authorize))
			}
			b.loginPage("ja", pageText["ja"])
			b.submitLogin(testUser, testPassword)
			b.consentPage("ja", pageText["ja"])
			b.clickAndWait(approveButton)
			b.wantApp(s.proxyURL + "/")
			b.navigate(s.proxyURL + "/oauth2/sign_out")
			b.at("signout-confirm", "ja", pageKind{get: true})
			b.wantText(signOutSubmit, pageText["ja"].signOutButton)
		})
	})
}

// pick returns the selector sel when the page has it. Otherwise it reports
// the missing control and returns fallback, so the flow can go on and show
// the page's other problems.
func (b *tab) pick(sel, fallback string) string {
	b.t.Helper()
	if b.el(sel).Found {
		return sel
	}
	b.t.Errorf("%s: no %s on the page (at %s); going on with %s", b.page, sel, b.location(), fallback)
	return fallback
}

// loginPage checks that the tab shows the login page in lang.
func (b *tab) loginPage(lang string, txt pageStrings) {
	b.t.Helper()
	b.mustHave("#user_id")
	b.at("login", lang, pageKind{get: true})
	b.wantText("h1", txt.loginH1)
	if !b.el(loginForm).Found {
		b.t.Errorf("%s: no %s", b.page, loginForm)
	}
	for _, f := range []struct{ id, autocomplete string }{{"user_id", "username"}, {"password", "current-password"}} {
		e := b.mustHave("#" + f.id)
		if e.Attrs["autocomplete"] != f.autocomplete {
			b.t.Errorf("%s: #%s has autocomplete=%q, want %q", b.page, f.id, e.Attrs["autocomplete"], f.autocomplete)
		}
		labelled := false
		for _, l := range e.Labels {
			labelled = labelled || (l.For == f.id && l.Text != "")
		}
		if !labelled {
			b.t.Errorf("%s: #%s has no <label for=%s> with text", b.page, f.id, f.id)
		}
	}
	b.wantText(loginSubmit, txt.loginButton)
}

// submitLogin fills in the login form and sends it.
func (b *tab) submitLogin(user, password string) {
	b.t.Helper()
	b.typeInto("#user_id", user)
	b.typeInto("#password", password)
	b.clickAndWait(b.pick(loginSubmit, "form button[type=submit]"))
}

// consentPage checks that the tab shows the consent page in lang, with
// Approve and Deny of equal weight.
func (b *tab) consentPage(lang string, txt pageStrings) {
	b.t.Helper()
	b.mustHave(approveButton)
	b.at("consent", lang, pageKind{get: true})
	b.wantText(approveButton, txt.approve)
	b.wantText(denyButton, txt.deny)
	approve, deny := b.mustHave(approveButton), b.mustHave(denyButton)
	if math.Abs(approve.Width-deny.Width) > 0.5 || math.Abs(approve.Height-deny.Height) > 0.5 {
		b.t.Errorf("%s: Approve is %.1f×%.1f px and Deny %.1f×%.1f px, want the same size",
			b.page, approve.Width, approve.Height, deny.Width, deny.Height)
	}
	for _, k := range []string{"fontWeight", "backgroundColor", "backgroundImage"} {
		if approve.Style[k] != deny.Style[k] {
			b.t.Errorf("%s: Approve has %s %q and Deny %q, want the same", b.page, k, approve.Style[k], deny.Style[k])
		}
	}
}

// signIn goes from startURL through login and consent to the app.
func (b *tab) signIn(startURL, lang string, txt pageStrings) {
	b.t.Helper()
	b.navigate(startURL)
	b.loginPage(lang, txt)
	b.submitLogin(testUser, testPassword)
	b.consentPage(lang, txt)
	b.clickAndWait(approveButton)
	b.wantApp(startURL)
}

// wantApp checks that the tab shows the demo app at wantURL, signed in as
// refusedWith checks that the error page name stands where the app would
// have been, with its title and code and a way on.
func (b *tab) refusedWith(name, lang, h1, code string) {
	b.t.Helper()
	b.at(name, lang, pageKind{error: true})
	b.errorPage(h1, code, true)
	if e := b.el("#identity"); e.Found {
		b.t.Errorf("%s: the app is shown", b.page)
	}
}

// alice.
func (b *tab) wantApp(wantURL string) {
	b.t.Helper()
	b.page = "app"
	id := b.mustHave("#identity")
	for _, want := range []string{"alice", "alice@example.com", "admins,staff"} {
		if !strings.Contains(id.Text, want) {
			b.t.Errorf("app: #identity lacks %q: %s", want, id.Text)
		}
	}
	// The proxy may keep or drop a ?lang= the flow started with.
	loc := b.location()
	if u, err := url.Parse(loc); err == nil {
		q := u.Query()
		q.Del("lang")
		u.RawQuery = q.Encode()
		loc = u.String()
	}
	if loc != wantURL {
		b.t.Errorf("app: at %s, want %s", loc, wantURL)
	}
}

// errorPage checks the parts every error page has: its title (h1 exactly
// when given), the section for administrators with the request id and,
// when code is given, the error code; and, with actions, the links that
// offer the way forward.
func (b *tab) errorPage(h1, code string, actions bool) {
	b.t.Helper()
	if h1 != "" {
		b.wantText("h1", h1)
	} else if e := b.el("h1"); e.Text == "" {
		b.t.Errorf("%s: no h1 title", b.page)
	}
	if !b.el("details.admin").Found {
		b.t.Errorf("%s: no <details class=\"admin\"> section for administrators", b.page)
	} else {
		if e := b.el("details.admin #request-id"); e.Text == "" {
			b.t.Errorf("%s: no #request-id with text in details.admin (found: %v)", b.page, e.Found)
		}
		e := b.el("details.admin #error-code")
		switch {
		case code != "" && !e.Found:
			b.t.Errorf("%s: no #error-code in details.admin, want one saying %s", b.page, code)
		case code != "" && !strings.Contains(e.Text, code):
			b.t.Errorf("%s: #error-code says %q, want %s", b.page, e.Text, code)
		case e.Found && e.Text == "":
			b.t.Errorf("%s: #error-code is empty", b.page)
		}
	}
	if actions && check[int](b, "count", ".actions a[href], .actions button") == 0 {
		b.t.Errorf("%s: no way forward: no link or button in .actions", b.page)
	}
}

// watchRequests records the URLs the tab requests from now on, redirects
// included, and returns a func that reports them.
func (b *tab) watchRequests() func() []string {
	b.t.Helper()
	var mu sync.Mutex
	var urls []string
	err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, ev.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatalf("%s: watching requests: %v", b.page, err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// wantLangCookie checks that the browser holds the language cookie for
// the server at base.
func (b *tab) wantLangCookie(base string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		b.t.Fatalf("%s: reading cookies: %v", b.page, err)
	}
	for _, c := range res.Cookies {
		if c.Name == "_gatehouse_lang" {
			b.t.Logf("%s: cookie _gatehouse_lang=%q", b.page, c.Value)
			return
		}
	}
	names := make([]string, len(res.Cookies))
	for i, c := range res.Cookies {
		names[i] = c.Name
	}
	b.t.Errorf("%s: no _gatehouse_lang cookie for %s after choosing a language (cookies: %v)", b.page, base, names)
}
