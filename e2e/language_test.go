package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPagesSpeakTheReadersLanguage walks the whole flow with a browser that
// prefers Japanese: every page of both servers is in Japanese, including
// the error that a wrong password brings.
func TestPagesSpeakTheReadersLanguage(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)
	b.language = "ja-JP,ja;q=0.9,en;q=0.5"

	p := b.get(s.proxyURL + "/")
	wantJapanese(t, p, "<h1>ログイン</h1>", "ユーザー ID", "パスワード")
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": "wrong"}, "", "")
	wantJapanese(t, p, "ユーザー ID またはパスワードが正しくありません。", `role="alert"`)
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": testPassword}, "", "")
	wantJapanese(t, p, "にあなたのアカウントの利用を許可しますか", ">許可する<", ">拒否する<", "あなたのメールアドレスを見る")
	p = b.submit(p.formWith(t, "decision"), nil, "decision", "approve")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "alice@example.com") {
		t.Fatalf("approve: ended at %s with %d, want the app:\n%s", p.URL, p.Status, p.Body)
	}

	p = b.get(s.proxyURL + "/oauth2/sign_out")
	wantJapanese(t, p, "<h1>ログアウトしますか?</h1>", ">ログアウト<")
	p = b.submit(p.formWith(t, "token"), nil, "", "")
	wantJapanese(t, p, "<h1>ログアウトしました</h1>")
}

// TestLanguagePickedOnTheProxyCarriesOn: a language picked with ?lang= at
// the proxy's sign-in reaches the authserver as ui_locales, and a language
// picked on the authserver's page holds for the rest of the flow there.
func TestLanguagePickedOnTheProxyCarriesOn(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)
	b.language = "en"

	p := b.get(s.proxyURL + "/oauth2/start?rd=%2F&lang=ja")
	if got := p.URL.Query().Get("req"); got == "" {
		t.Fatalf("ended at %s, want the login page", p.URL)
	}
	wantJapanese(t, p, "<h1>ログイン</h1>")
	if c := cookieNamed(b, s.proxyURL, "_gatehouse_lang"); c == nil || c.Value != "ja" {
		t.Errorf("the proxy did not remember the language: %v", c)
	}

	// Back to English on the authserver's own switcher; the consent page
	// that follows the login post stays English.
	en := linkWithHreflang(t, p, "en")
	p = b.get(en.String())
	if !strings.Contains(p.Body, `<html lang="en">`) || !strings.Contains(p.Body, "<h1>Sign in</h1>") {
		t.Fatalf("after picking English: %s\n%s", p.URL, p.Body)
	}
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": testPassword}, "", "")
	if !strings.Contains(p.Body, `<html lang="en">`) || !strings.Contains(p.Body, ">Approve<") {
		t.Fatalf("the consent page did not keep English:\n%s", p.Body)
	}
}

// TestForbiddenPageInJapanese: the proxy's own pages follow the reader too.
func TestForbiddenPageInJapanese(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)
	signIn(t, b, s.proxyURL+"/", testUser, testPassword)
	b.language = "ja"
	p := b.get(s.proxyURL + "/oauth2/nowhere")
	wantJapanese(t, p, "<h1>見つかりません</h1>", "管理者向けの詳細", `id="request-id"`)
	if p.Status != http.StatusNotFound {
		t.Errorf("status %d, want 404", p.Status)
	}
}

func wantJapanese(t *testing.T, p *page, texts ...string) {
	t.Helper()
	if !strings.Contains(p.Body, `<html lang="ja">`) {
		t.Fatalf("%s (%d) is not a Japanese page:\n%s", p.URL, p.Status, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("%s lacks %q:\n%s", p.URL, s, p.Body)
		}
	}
}

func cookieNamed(b *browser, rawURL, name string) *http.Cookie {
	u, _ := url.Parse(rawURL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// linkWithHreflang finds the language switcher's link to lang.
func linkWithHreflang(t *testing.T, p *page, lang string) *url.URL {
	t.Helper()
	marker := `hreflang="` + lang + `"`
	i := strings.Index(p.Body, marker)
	if i < 0 {
		t.Fatalf("no link to %s on %s:\n%s", lang, p.URL, p.Body)
	}
	start := strings.LastIndex(p.Body[:i], `href="`) + len(`href="`)
	end := strings.Index(p.Body[start:], `"`)
	href := strings.ReplaceAll(p.Body[start:start+end], "&amp;", "&")
	u, err := p.URL.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
