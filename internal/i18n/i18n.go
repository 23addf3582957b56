// Package i18n holds the words of the pages people see, in every language
// gatehouse speaks, and picks the language a reader wants. A language is one
// YAML file of keys and texts; English is complete by definition, and every
// other language falls back to it key by key.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

//go:embed messages/*.yaml
var builtin embed.FS

// Fallback is the language every other one falls back to, key by key.
const Fallback = "en"

// Catalog is the set of languages pages can be shown in.
type Catalog struct {
	langs    []string                     // supported tags, the default first
	names    map[string]string            // tag -> its own name, for the switcher
	messages map[string]map[string]string // tag -> key -> text
	matcher  language.Matcher
	warnings []string
}

// Problem is one thing wrong with a message file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// Error lists every problem found in the message files.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "message files: " + strings.Join(s, "; ")
}

// Load reads the built-in languages and then the *.yaml files in dir, if
// dir is not empty: a file named for a built-in language replaces some of
// its texts, any other adds a language. defaultLang is used when nothing
// the reader asks for is available; it must be one of the languages.
func Load(dir, defaultLang string) (*Catalog, error) {
	c := &Catalog{names: map[string]string{}, messages: map[string]map[string]string{}}
	var problems []Problem
	read := func(fsys fs.FS, name, shown string) {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			problems = append(problems, Problem{File: shown, Msg: err.Error()})
			return
		}
		problems = append(problems, c.add(strings.TrimSuffix(filepath.Base(name), ".yaml"), data, shown)...)
	}
	read(builtin, "messages/"+Fallback+".yaml", "built-in "+Fallback+".yaml")
	entries, _ := fs.ReadDir(builtin, "messages")
	for _, e := range entries {
		if e.Name() != Fallback+".yaml" {
			read(builtin, "messages/"+e.Name(), "built-in "+e.Name())
		}
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			read(os.DirFS(filepath.Dir(f)), filepath.Base(f), f)
		}
	}
	if defaultLang == "" {
		defaultLang = Fallback
	}
	if _, ok := c.messages[defaultLang]; !ok {
		problems = append(problems, Problem{File: "pages.default_language", Msg: fmt.Sprintf("%q is not a language with a message file; have: %s", defaultLang, strings.Join(c.sortedLangs(), ", "))})
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	c.langs = append([]string{defaultLang}, without(c.sortedLangs(), defaultLang)...)
	tags := make([]language.Tag, len(c.langs))
	for i, l := range c.langs {
		tags[i] = language.Make(l)
	}
	c.matcher = language.NewMatcher(tags)
	c.warnings = c.missing()
	return c, nil
}

// add parses one message file for lang. Every key must be one English has,
// with the same {placeholders}, so that a typo is caught at start rather
// than shown to a reader.
func (c *Catalog) add(lang string, data []byte, file string) []Problem {
	tag, err := language.Parse(lang)
	if err != nil {
		return []Problem{{File: file, Msg: fmt.Sprintf("the file name must be a language tag such as fr.yaml or pt-BR.yaml: %v", err)}}
	}
	// Tags are case-insensitive: JA.yaml rewords Japanese, and pt_br.yaml
	// adds pt-BR, as <html lang> and ?lang= spell it.
	lang = tag.String()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []Problem{{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return []Problem{{File: file, Msg: "want a mapping of message keys to texts, e.g. login.title: Sign in"}}
	}
	// Only the built-in English file defines keys; every later file,
	// English ones included, is checked against it.
	en := c.messages[Fallback]
	defining := en == nil
	m := c.messages[lang]
	if m == nil {
		m = map[string]string{}
		c.messages[lang] = m
	}
	var problems []Problem
	n := root.Content[0].Content
	for i := 0; i+1 < len(n); i += 2 {
		k, v := n[i], n[i+1]
		if v.Kind != yaml.ScalarNode {
			problems = append(problems, Problem{File: file, Line: v.Line, Msg: k.Value + ": want a text"})
			continue
		}
		if !defining {
			want, known := en[k.Value]
			if !known {
				problems = append(problems, Problem{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown message key %q (see the built-in en.yaml for every key)", k.Value)})
				continue
			}
			if got, exp := placeholders(v.Value), placeholders(want); got != exp {
				problems = append(problems, Problem{File: file, Line: v.Line, Msg: fmt.Sprintf("%s: placeholders %s, but English has %s", k.Value, orNone(got), orNone(exp))})
				continue
			}
		}
		m[k.Value] = v.Value
	}
	if name := m["language.name"]; name != "" {
		c.names[lang] = name
	} else if len(problems) == 0 {
		problems = append(problems, Problem{File: file, Msg: "language.name is missing: the language's name in itself, shown in the language switcher"})
	}
	return problems
}

// missing lists, per language, the keys that fall back to English.
func (c *Catalog) missing() []string {
	var out []string
	for _, l := range c.langs {
		n := 0
		for k := range c.messages[Fallback] {
			if _, ok := c.messages[l][k]; !ok {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("language %s: %d messages are not translated and are shown in English", l, n))
		}
	}
	return out
}

// Warnings are things worth knowing about the catalog that do not stop it
// from working, such as untranslated messages.
func (c *Catalog) Warnings() []string { return c.warnings }

// Languages are the supported language tags, the default first.
func (c *Catalog) Languages() []string { return c.langs }

// Name is lang's name in itself ("日本語").
func (c *Catalog) Name(lang string) string { return c.names[lang] }

// Supports reports whether lang is exactly one of the languages.
func (c *Catalog) Supports(lang string) bool {
	_, ok := c.messages[lang]
	return ok
}

// Match returns a Localizer for the first preference that names a supported
// language. Each preference is an Accept-Language value or a space-separated
// list of tags (ui_locales), most important first; with none matching, the
// default language is used.
func (c *Catalog) Match(prefs ...string) *Localizer {
	for _, p := range prefs {
		if p == "" {
			continue
		}
		// A ui_locales list separates its tags with spaces; an
		// Accept-Language value may have spaces around its commas and
		// semicolons ("en; q=0.5, ja"), which must not become separators.
		list := p
		if !strings.ContainsAny(p, ",;") {
			list = strings.ReplaceAll(p, " ", ",")
		}
		tags, _, err := language.ParseAcceptLanguage(list)
		if err != nil {
			tags = lenient(list)
		}
		if len(tags) == 0 {
			continue
		}
		if _, i, conf := c.matcher.Match(tags...); conf != language.No {
			return c.For(c.langs[i])
		}
	}
	return c.For(c.langs[0])
}

// For returns the Localizer of lang, which must be supported.
func (c *Catalog) For(lang string) *Localizer {
	if !c.Supports(lang) {
		lang = c.langs[0]
	}
	return &Localizer{c: c, lang: lang}
}

// Checking returns a Localizer of lang that reports to unknown every key
// it is asked for that does not exist, for checking templates.
func (c *Catalog) Checking(lang string, unknown func(key string)) *Localizer {
	l := c.For(lang)
	l.unknown = unknown
	return l
}

// lenient reads the tags of a list that does not parse as a whole, in
// order and ignoring weights but for q=0 ("not this one"), so that one
// malformed entry does not cost the reader their language.
func lenient(list string) []language.Tag {
	var tags []language.Tag
	for _, part := range strings.Split(list, ",") {
		tag, params, _ := strings.Cut(part, ";")
		if refused(params) {
			continue
		}
		if t, err := language.Parse(strings.TrimSpace(tag)); err == nil {
			tags = append(tags, t)
		}
	}
	return tags
}

// refused reports whether the parameters of an Accept-Language entry give
// it the weight 0.
func refused(params string) bool {
	w, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(params)), "q=")
	if !ok {
		return false
	}
	q, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
	return err == nil && q <= 0
}

func (c *Catalog) sortedLangs() []string {
	out := make([]string, 0, len(c.messages))
	for l := range c.messages {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func without(s []string, x string) []string {
	out := s[:0:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// placeholders returns the sorted {names} in s, joined, for comparison.
func placeholders(s string) string {
	var names []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		names = append(names, s[i:i+j+1])
		s = s[i+j+1:]
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
