package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Localizer speaks one language of a Catalog.
type Localizer struct {
	c    *Catalog
	lang string
	// unknown, when set, hears of every key T was asked for that no
	// language has: a typo in a template.
	unknown func(key string)
}

// Lang is the language tag, for <html lang>.
func (l *Localizer) Lang() string { return l.lang }

// T returns the text of key with its {placeholders} filled from args, which
// are name, value pairs: T("consent.title", "client", "Wiki"). A key the
// language lacks is taken from English.
func (l *Localizer) T(key string, args ...any) string {
	s, ok := l.c.messages[l.lang][key]
	if !ok {
		if s, ok = l.c.messages[Fallback][key]; !ok {
			if l.unknown != nil {
				l.unknown(key)
			}
			return key
		}
	}
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// Has reports whether key exists (in English, hence in every language).
func (l *Localizer) Has(key string) bool {
	_, ok := l.c.messages[Fallback][key]
	return ok
}

// Duration says d in words, rounded up to the unit that reads naturally:
// seconds under a minute, minutes under an hour, hours under two days.
func (l *Localizer) Duration(d time.Duration) string {
	unit, size := "day", 24*time.Hour
	switch {
	case d < time.Minute:
		unit, size = "second", time.Second
	case d < time.Hour:
		unit, size = "minute", time.Minute
	case d < 48*time.Hour:
		unit, size = "hour", time.Hour
	}
	n := int64((d + size - 1) / size)
	if n < 1 {
		n = 1
	}
	key := "duration." + unit + "s"
	if n == 1 {
		key = "duration." + unit
	}
	return l.T(key, "n", strconv.FormatInt(n, 10))
}

// Date says t as a date and time of day in the language's layout, with
// month names translated when the language lists them.
func (l *Localizer) Date(t time.Time) string {
	s := t.Format(l.T("date.layout"))
	months := strings.Split(l.T("date.months"), ",")
	if len(months) == 12 {
		s = strings.Replace(s, t.Month().String(), strings.TrimSpace(months[t.Month()-1]), 1)
	}
	return s
}

// Text is a configured text that may differ by language, such as a product
// name: the entry for the reader's language, else the one for "" (written
// as a plain string in YAML), else the English one.
type Text map[string]string

// In returns the text for lang.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	if s, ok := t[""]; ok {
		return s
	}
	return t[Fallback]
}
