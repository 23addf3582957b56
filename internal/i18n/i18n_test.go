package i18n

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// load loads the built-in catalog with files written into a fresh folder.
func load(t *testing.T, files map[string]string, defaultLang string) (*Catalog, string, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	c, err := Load(dir, defaultLang)
	return c, dir, err
}

func mustLoad(t *testing.T, files map[string]string, defaultLang string) *Catalog {
	t.Helper()
	c, _, err := load(t, files, defaultLang)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// builtinKeys reads a built-in message file as key → text.
func builtinKeys(t *testing.T, lang string) map[string]string {
	t.Helper()
	data, err := builtin.ReadFile("messages/" + lang + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuiltinCatalog(t *testing.T) {
	c, err := Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Languages(); !slices.Equal(got, []string{"en", "ja"}) {
		t.Errorf("Languages: got %v, want [en ja]", got)
	}
	if got := c.Warnings(); len(got) != 0 {
		t.Errorf("Warnings: got %q, want none: the built-in Japanese must translate every English key", got)
	}
	for lang, name := range map[string]string{"en": "English", "ja": "日本語"} {
		if got := c.Name(lang); got != name {
			t.Errorf("Name(%s): got %q, want %q", lang, got, name)
		}
		if !c.Supports(lang) {
			t.Errorf("Supports(%s): got false", lang)
		}
	}
	for _, lang := range []string{"", "fr", "EN", "ja-JP"} {
		if c.Supports(lang) {
			t.Errorf("Supports(%q): got true, want only exact tags", lang)
		}
	}
	if got := c.For("fr").Lang(); got != "en" {
		t.Errorf("For(fr): got %s, want the default, en", got)
	}
	c, err = Load("", "ja")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Languages(); !slices.Equal(got, []string{"ja", "en"}) {
		t.Errorf("Languages with default ja: got %v, want [ja en]", got)
	}
}

// TestBuiltinJapaneseMatchesEnglish checks the two built-in files key by
// key: every Japanese key is an English one with the same placeholders, and
// every English key is translated.
func TestBuiltinJapaneseMatchesEnglish(t *testing.T) {
	en, ja := builtinKeys(t, "en"), builtinKeys(t, "ja")
	if len(en) < 100 {
		t.Fatalf("en.yaml has %d keys; the test reads it wrongly", len(en))
	}
	for k, v := range ja {
		want, ok := en[k]
		if !ok {
			t.Errorf("ja.yaml: %s is not in en.yaml", k)
			continue
		}
		if got, exp := placeholders(v), placeholders(want); got != exp {
			t.Errorf("ja.yaml: %s has placeholders %q, English %q", k, got, exp)
		}
	}
	for k := range en {
		if _, ok := ja[k]; !ok {
			t.Errorf("ja.yaml does not translate %s", k)
		}
	}
}

func TestLoadWithFolder(t *testing.T) {
	const de = "language.name: Deutsch\nlogin.title: Anmelden\nlogin.lead: \"um mit {client} fortzufahren\"\n"
	enKeys := len(builtinKeys(t, "en"))

	t.Run("English reworded", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"en.yaml": "login.title: Log in\n"}, "")
		en := c.For("en")
		if got := en.T("login.title"); got != "Log in" {
			t.Errorf("login.title: got %q, want the override", got)
		}
		if got := en.T("login.submit"); got != "Sign in" {
			t.Errorf("login.submit: got %q, want the built-in text", got)
		}
		if got := c.Name("en"); got != "English" {
			t.Errorf("Name(en): got %q", got)
		}
		if got := c.For("ja").T("login.title"); got != "ログイン" {
			t.Errorf("ja login.title: got %q, want Japanese untouched", got)
		}
		if got := c.Languages(); !slices.Equal(got, []string{"en", "ja"}) {
			t.Errorf("Languages: got %v", got)
		}
		if w := c.Warnings(); len(w) != 0 {
			t.Errorf("Warnings: got %q", w)
		}
	})

	t.Run("Japanese reworded", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"ja.yaml": "login.title: サインイン\n"}, "")
		if got := c.For("ja").T("login.title"); got != "サインイン" {
			t.Errorf("login.title: got %q", got)
		}
		if got := c.For("ja").T("login.submit"); got != "ログイン" {
			t.Errorf("login.submit: got %q, want the built-in Japanese", got)
		}
		if got := c.For("en").T("login.title"); got != "Sign in" {
			t.Errorf("en login.title: got %q", got)
		}
	})

	t.Run("tag case is not significant", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"JA.yaml": "login.title: サインイン\n", "pt_br.yaml": "language.name: Português\n"}, "")
		if got := c.Languages(); !slices.Equal(got, []string{"en", "ja", "pt-BR"}) {
			t.Errorf("Languages: got %v, want JA.yaml to reword ja and pt_br.yaml to add pt-BR", got)
		}
		if got := c.For("ja").T("login.title"); got != "サインイン" {
			t.Errorf("ja login.title: got %q", got)
		}
		if got := c.Match("pt-BR").Lang(); got != "pt-BR" {
			t.Errorf("Match(pt-BR): got %s", got)
		}
	})

	t.Run("new language", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"de.yaml": de}, "")
		if got := c.Languages(); !slices.Equal(got, []string{"en", "de", "ja"}) {
			t.Errorf("Languages: got %v, want the default first, then sorted", got)
		}
		if got := c.Name("de"); got != "Deutsch" {
			t.Errorf("Name(de): got %q", got)
		}
		for _, pref := range []string{"de", "de-CH", "de-DE,de;q=0.9,en;q=0.5", "fr de"} {
			if got := c.Match(pref).Lang(); got != "de" {
				t.Errorf("Match(%q): got %s, want de", pref, got)
			}
		}
		l := c.For("de")
		if got := l.T("login.lead", "client", "Wiki"); got != "um mit Wiki fortzufahren" {
			t.Errorf("login.lead: got %q", got)
		}
		if got := l.T("login.submit"); got != "Sign in" {
			t.Errorf("untranslated login.submit: got %q, want English", got)
		}
		want := []string{"language de: " + strconv.Itoa(enKeys-3) + " messages are not translated and are shown in English"}
		if got := c.Warnings(); !slices.Equal(got, want) {
			t.Errorf("Warnings: got %q, want %q", got, want)
		}
	})

	t.Run("new language as default", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"de.yaml": de}, "de")
		if got := c.Languages()[0]; got != "de" {
			t.Errorf("Languages: got %v, want de first", c.Languages())
		}
		for _, pref := range []string{"", "fr", "zh-TW"} {
			if got := c.Match(pref).Lang(); got != "de" {
				t.Errorf("Match(%q): got %s, want the default de", pref, got)
			}
		}
	})

	t.Run("files other than yaml are ignored", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"README.txt": "not messages", "de.yml": "{{"}, "")
		if got := c.Languages(); !slices.Equal(got, []string{"en", "ja"}) {
			t.Errorf("Languages: got %v", got)
		}
	})
}

func TestLoadProblems(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files       map[string]string
		defaultLang string
		want        []string // each in the error; FILE is replaced by the folder's path
		count       int      // number of problems
	}{
		{
			name:  "unknown key",
			files: map[string]string{"fr.yaml": "language.name: Français\n# un commentaire\nlogin.titel: Connexion\n"},
			want:  []string{`FILE/fr.yaml:3: unknown message key "login.titel"`, "en.yaml"},
			count: 1,
		},
		{
			name:  "unknown key in an English override",
			files: map[string]string{"en.yaml": "login.title: Log in\nlogin.tittle: Log in\n"},
			want:  []string{`FILE/en.yaml:2: unknown message key "login.tittle"`},
			count: 1,
		},
		{
			name:  "placeholder renamed",
			files: map[string]string{"fr.yaml": "language.name: Français\nlogin.lead: \"pour continuer vers {app}\"\n"},
			want:  []string{"FILE/fr.yaml:2: login.lead: placeholders {app}, but English has {client}"},
			count: 1,
		},
		{
			name:  "placeholder dropped in an override",
			files: map[string]string{"ja.yaml": "\n\nconsent.title: \"許可しますか?\"\n"},
			want:  []string{"FILE/ja.yaml:3: consent.title: placeholders none, but English has {client}"},
			count: 1,
		},
		{
			name:  "placeholder added",
			files: map[string]string{"en.yaml": "login.title: \"Sign in to {product}\"\n"},
			want:  []string{"FILE/en.yaml:1: login.title: placeholders {product}, but English has none"},
			count: 1,
		},
		{
			name:  "text on a later line than its key",
			files: map[string]string{"en.yaml": "login.lead: >-\n  to go on to\n  {app}\n"},
			want:  []string{"FILE/en.yaml:1: login.lead: placeholders {app}, but English has {client}"},
			count: 1,
		},
		{
			name:  "file name not a language tag",
			files: map[string]string{"english.yaml": "language.name: English\n"},
			want:  []string{"FILE/english.yaml: the file name must be a language tag such as fr.yaml or pt-BR.yaml"},
			count: 1,
		},
		{
			name:  "file name of an unknown language",
			files: map[string]string{"xx.yaml": "language.name: X\n"},
			want:  []string{"FILE/xx.yaml: the file name must be a language tag", `"xx"`},
			count: 1,
		},
		{
			name:  "language.name missing",
			files: map[string]string{"fr.yaml": "login.title: Connexion\n"},
			want:  []string{"FILE/fr.yaml: language.name is missing"},
			count: 1,
		},
		{
			name:  "YAML syntax",
			files: map[string]string{"fr.yaml": "language.name: Français\nlogin.title: \"Connexion\n"},
			want:  []string{"FILE/fr.yaml: YAML syntax: "},
			count: 1,
		},
		{
			name:  "not a mapping",
			files: map[string]string{"fr.yaml": "- language.name\n- Français\n"},
			want:  []string{"FILE/fr.yaml: want a mapping of message keys to texts"},
			count: 1,
		},
		{
			name:  "empty file",
			files: map[string]string{"fr.yaml": "# nothing yet\n"},
			want:  []string{"FILE/fr.yaml: want a mapping"},
			count: 1,
		},
		{
			name:  "text not a scalar",
			files: map[string]string{"fr.yaml": "language.name: Français\nlogin.title:\n  - Connexion\n"},
			want:  []string{"FILE/fr.yaml:3: login.title: want a text"},
			count: 1,
		},
		{
			name:        "default language not available",
			defaultLang: "fr",
			want:        []string{`pages.default_language: "fr" is not a language with a message file; have: en, ja`},
			count:       1,
		},
		{
			name:        "default language must be exact",
			defaultLang: "ja-JP",
			want:        []string{`"ja-JP" is not a language with a message file`},
			count:       1,
		},
		{
			name: "every problem of every file",
			files: map[string]string{
				"de.yaml": "language.name: Deutsch\nlogin.titel: x\nlogin.lead: \"{x}\"\n",
				"ja.yaml": "foo: bar\n",
			},
			defaultLang: "fr",
			want: []string{`FILE/de.yaml:2: unknown message key "login.titel"`, "FILE/de.yaml:3: login.lead: placeholders {x}",
				`FILE/ja.yaml:1: unknown message key "foo"`, `"fr" is not a language with a message file; have: de, en, ja`},
			count: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, dir, err := load(t, tc.files, tc.defaultLang)
			if c != nil {
				t.Errorf("got a catalog, want none")
			}
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *i18n.Error", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "message files: ") {
				t.Errorf("error %q does not say it is about message files", msg)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "FILE", dir); !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			if len(ie.Problems) != tc.count {
				t.Errorf("got %d problems, want %d: %q", len(ie.Problems), tc.count, ie.Problems)
			}
		})
	}
}

func TestLoadMissingFolder(t *testing.T) {
	// A folder with no message files, or none at all, adds nothing: the
	// pages package passes <templates_dir>/messages whether it exists or not.
	c, err := Load(filepath.Join(t.TempDir(), "messages"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Languages(); !slices.Equal(got, []string{"en", "ja"}) {
		t.Errorf("Languages: got %v", got)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a/fr.yaml", Line: 3, Msg: "bad"}, "a/fr.yaml:3: bad"},
		{Problem{File: "a/fr.yaml", Msg: "bad"}, "a/fr.yaml: bad"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	err := &Error{Problems: []Problem{{File: "x", Line: 1, Msg: "a"}, {File: "y", Msg: "b"}}}
	if got, want := err.Error(), "message files: x:1: a; y: b"; got != want {
		t.Errorf("Error: got %q, want %q", got, want)
	}
}

func TestMatch(t *testing.T) {
	c, err := Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	withDE := mustLoad(t, map[string]string{"de.yaml": "language.name: Deutsch\n"}, "")
	jaDefault, err := Load("", "ja")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cat   *Catalog
		prefs []string
		want  string
	}{
		{"browser in Japanese", c, []string{"ja-JP,ja;q=0.9,en;q=0.8"}, "ja"},
		{"Swiss French reader", c, []string{"fr-CH, fr;q=0.9, en;q=0.8"}, "en"},
		{"Swiss French reader, Japanese default", jaDefault, []string{"fr-CH, fr;q=0.9, en;q=0.8"}, "en"},
		{"unsupported only", c, []string{"fr"}, "en"},
		{"unsupported only, Japanese default", jaDefault, []string{"fr"}, "ja"},
		{"empty", c, []string{""}, "en"},
		{"none", c, nil, "en"},
		{"empty, Japanese default", jaDefault, []string{"", ""}, "ja"},
		{"ui_locales first unsupported", c, []string{"de ja"}, "ja"},
		{"ui_locales first supported", withDE, []string{"de ja"}, "de"},
		{"ui_locales with extra spaces", c, []string{"  fr   ja  "}, "ja"},
		{"weights order", c, []string{"en;q=0.5,ja;q=0.6"}, "ja"},
		{"q=0 refuses", c, []string{"ja;q=0,en"}, "en"},
		{"q=0 refuses, the only entry", jaDefault, []string{"en;q=0"}, "ja"},
		{"q=0.0 refuses", jaDefault, []string{"en;q=0.0, fr"}, "ja"},
		{"spaces around weights", c, []string{"en ; q=0.1, ja"}, "ja"},
		{"space after semicolon", c, []string{"en; q=0.1, ja"}, "ja"},
		{"space after semicolon, q=0", c, []string{"ja; q=0"}, "en"},
		{"malformed entry keeps the others", c, []string{"ja,@@,en;q=0.5"}, "ja"},
		{"malformed weight keeps the others", c, []string{"fr;q=abc, ja"}, "ja"},
		{"malformed list keeps q=0", c, []string{"ja;q=0, en;q=x"}, "en"},
		{"region variant", c, []string{"ja-Jpan-JP"}, "ja"},
		{"wildcard", jaDefault, []string{"*"}, "ja"},
		{"earlier preference wins", c, []string{"ja", "en"}, "ja"},
		{"earlier preference wins over weights", c, []string{"en", "ja;q=1, en;q=0.1"}, "en"},
		{"unsupported preference skipped", c, []string{"fr", "ja", "en"}, "ja"},
		{"empty preference skipped", c, []string{"", "ja"}, "ja"},
		{"garbage preference skipped", c, []string{";;;,,,", "ja"}, "ja"},
		{"refused preference skipped", c, []string{"ja;q=0", "ja"}, "ja"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cat.Match(tc.prefs...).Lang(); got != tc.want {
				t.Errorf("Match(%q): got %s, want %s", tc.prefs, got, tc.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"ja-JP,ja;q=0.9,en;q=0.8", "fr-CH, fr;q=0.9, en;q=0.8", "de ja", "ja;q=0", "en; q=0.1, ja",
		"*", "", ";", ",,", "q=1", "ja;q=", "ja;q=1e400", "x-private", "zh-Hant-TW;q=0.5", "\xff\xfe", "en-US-u-ca-buddhist"} {
		f.Add(s, "")
		f.Add("", s)
	}
	c, err := Load("", "")
	if err != nil {
		f.Fatal(err)
	}
	de := c // replaced below by a catalog with an added language
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "de.yaml"), []byte("language.name: Deutsch\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	if de, err = Load(dir, "de"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, hint, accept string) {
		for _, cat := range []*Catalog{c, de} {
			l := cat.Match(hint, accept)
			if l == nil || !cat.Supports(l.Lang()) {
				t.Fatalf("Match(%q, %q): got %v, want a supported language", hint, accept, l)
			}
			if l.T("language.name") != cat.Name(l.Lang()) {
				t.Fatalf("Match(%q, %q): the localizer of %s does not speak it", hint, accept, l.Lang())
			}
		}
	})
}

func TestT(t *testing.T) {
	c := mustLoad(t, map[string]string{"de.yaml": "language.name: Deutsch\nconsent.title: \"{client} Zugriff erlauben?\"\n"}, "")
	for _, tc := range []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "login.title", nil, "Sign in"},
		{"ja", "login.title", nil, "ログイン"},
		{"en", "consent.title", []any{"client", "Wiki"}, "Allow Wiki to use your account?"},
		{"ja", "consent.title", []any{"client", "Wiki"}, "Wiki にあなたのアカウントの利用を許可しますか?"},
		{"de", "consent.title", []any{"client", "Wiki"}, "Wiki Zugriff erlauben?"},
		{"en", "consent.will", []any{"client", "<b>"}, "If you allow it, <b> will be able to:"},
		{"en", "error.forbidden.message", []any{"user", "alice", "route", "/admin"}, "You are signed in as alice, but /admin is not open to you."},
		{"en", "error.forbidden.message", []any{"route", "/admin", "user", "alice"}, "You are signed in as alice, but /admin is not open to you."},
		{"en", "duration.minutes", []any{"n", 5}, "5 minutes"},
		{"en", "consent.title", nil, "Allow {client} to use your account?"},
		{"en", "consent.title", []any{"other", "x"}, "Allow {client} to use your account?"},
		{"en", "consent.title", []any{"client"}, "Allow {client} to use your account?"},
		{"en", "consent.title", []any{"client", "{client}"}, "Allow {client} to use your account?"},
		{"en", "login.title", []any{"client", "x"}, "Sign in"},
		// A key German lacks is English.
		{"de", "login.title", nil, "Sign in"},
		{"de", "login.lead", []any{"client", "Wiki"}, "to continue to Wiki"},
		// An unknown key is itself, in every language.
		{"en", "no.such.key", nil, "no.such.key"},
		{"ja", "no.such.key", []any{"x", "y"}, "no.such.key"},
	} {
		if got := c.For(tc.lang).T(tc.key, tc.args...); got != tc.want {
			t.Errorf("%s T(%q, %v): got %q, want %q", tc.lang, tc.key, tc.args, got, tc.want)
		}
	}
	l := c.For("de")
	if !l.Has("login.title") || !l.Has("consent.title") || l.Has("no.such.key") {
		t.Errorf("Has: want every English key and nothing else")
	}
}

func TestDuration(t *testing.T) {
	c, err := Load("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d      time.Duration
		en, ja string
	}{
		{0, "1 second", "1 秒"},
		{500 * time.Millisecond, "1 second", "1 秒"},
		{time.Second, "1 second", "1 秒"},
		{1500 * time.Millisecond, "2 seconds", "2 秒"},
		{59 * time.Second, "59 seconds", "59 秒"},
		{time.Minute, "1 minute", "1 分"},
		{61 * time.Second, "2 minutes", "2 分"},
		{10 * time.Minute, "10 minutes", "10 分"},
		{59*time.Minute + 30*time.Second, "60 minutes", "60 分"},
		{time.Hour, "1 hour", "1 時間"},
		{90 * time.Minute, "2 hours", "2 時間"},
		{47 * time.Hour, "47 hours", "47 時間"},
		{48 * time.Hour, "2 days", "2 日"},
		{72 * time.Hour, "3 days", "3 日"},
		{72*time.Hour + time.Second, "4 days", "4 日"},
	} {
		if got := c.For("en").Duration(tc.d); got != tc.en {
			t.Errorf("en Duration(%s): got %q, want %q", tc.d, got, tc.en)
		}
		if got := c.For("ja").Duration(tc.d); got != tc.ja {
			t.Errorf("ja Duration(%s): got %q, want %q", tc.d, got, tc.ja)
		}
	}
}

func TestDate(t *testing.T) {
	de := "language.name: Deutsch\ndate.layout: \"2. January 2006, 15:04 MST\"\n" +
		"date.months: \"Januar, Februar, März, April, Mai, Juni, Juli, August, September, Oktober, November, Dezember\"\n"
	bad := "language.name: Français\ndate.layout: \"2 January 2006\"\ndate.months: \"janvier, février\"\n"
	c := mustLoad(t, map[string]string{"de.yaml": de, "fr.yaml": bad}, "")
	tokyo := time.FixedZone("JST", 9*60*60)
	for _, tc := range []struct {
		lang string
		t    time.Time
		want string
	}{
		{"en", time.Date(2025, time.March, 7, 9, 5, 0, 0, time.UTC), "7 March 2025, 09:05 UTC"},
		{"ja", time.Date(2025, time.March, 7, 9, 5, 0, 0, time.UTC), "2025年3月7日 09:05 UTC"},
		{"en", time.Date(2024, time.December, 31, 23, 59, 59, 0, time.UTC), "31 December 2024, 23:59 UTC"},
		{"ja", time.Date(2024, time.December, 31, 23, 59, 59, 0, tokyo), "2024年12月31日 23:59 JST"},
		{"de", time.Date(2025, time.March, 7, 9, 5, 0, 0, time.UTC), "7. März 2025, 09:05 UTC"},
		{"de", time.Date(2025, time.May, 1, 18, 0, 0, 0, time.UTC), "1. Mai 2025, 18:00 UTC"},
		// Fewer than 12 month names are not used.
		{"fr", time.Date(2025, time.March, 7, 9, 5, 0, 0, time.UTC), "7 March 2025"},
	} {
		if got := c.For(tc.lang).Date(tc.t); got != tc.want {
			t.Errorf("%s Date(%s): got %q, want %q", tc.lang, tc.t, got, tc.want)
		}
	}
}

func TestTextIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		text Text
		lang string
		want string
	}{
		{"the reader's language", Text{"en": "Help", "ja": "ヘルプ"}, "ja", "ヘルプ"},
		{"English when the reader's is missing", Text{"en": "Help", "ja": "ヘルプ"}, "de", "Help"},
		{"one text for all", Text{"": "Example Corp"}, "ja", "Example Corp"},
		{"one text for all beats English", Text{"": "Example", "en": "Example Inc."}, "ja", "Example"},
		{"the reader's language beats one for all", Text{"": "Example", "ja": "例"}, "ja", "例"},
		{"an empty text is a text", Text{"ja": "", "en": "Help"}, "ja", ""},
		{"nothing", Text{"ja": "ヘルプ"}, "de", ""},
		{"nil", nil, "en", ""},
	} {
		if got := tc.text.In(tc.lang); got != tc.want {
			t.Errorf("%s: In(%q): got %q, want %q", tc.name, tc.lang, got, tc.want)
		}
	}
}
