package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/i18n"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// maxLogoBytes bounds the logo, which every page carries inline.
const maxLogoBytes = 100 << 10

// logoTypes are the image types browsers show in <img>; an SVG there runs
// no script.
var logoTypes = map[string]bool{"image/png": true, "image/svg+xml": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// validatePages checks the pages section and builds the pages the servers
// will show once, so that a broken template or message file is a problem
// with its file and line now rather than a failed sign-in later.
func (l *loader) validatePages(p *Pages) (pages.Options, []string) {
	o := pages.Options{
		Theme: pages.Theme{
			ProductName:  i18n.Text(p.ProductName),
			PrimaryColor: p.PrimaryColor,
		},
		Dir:             l.resolvePath(p.TemplatesDir),
		DefaultLanguage: p.DefaultLanguage,
	}
	if p.Logo != "" {
		o.Theme.Logo, o.Theme.LogoType = l.readLogo("pages.logo", p.Logo)
	}
	if _, written := l.lines["pages.primary_color"]; written && p.PrimaryColor == "" {
		l.addf("pages.primary_color", `is empty: in YAML an unquoted # starts a comment, so quote the colour: primary_color: "#1f5fbf"`)
	} else if p.PrimaryColor != "" {
		if _, err := pages.ParseColor(p.PrimaryColor); err != nil {
			l.addf("pages.primary_color", "%v", err)
		}
	}
	for i, fl := range p.FooterLinks {
		field := fmt.Sprintf("pages.footer_links[%d]", i)
		if len(fl.Text) == 0 {
			l.addf(field+".text", "a link needs its text, e.g. text: Privacy, or one per language: {en: Help, ja: ヘルプ}")
		}
		if u, err := url.Parse(fl.URL); err != nil || !(u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "mailto" ||
			u.Scheme == "" && strings.HasPrefix(fl.URL, "/") && !strings.HasPrefix(fl.URL, "//")) {
			l.addf(field+".url", "%q must be an http(s) or mailto: URL, or a path starting with /", fl.URL)
		}
		o.Theme.FooterLinks = append(o.Theme.FooterLinks, pages.FooterLink{Text: i18n.Text(fl.Text), URL: fl.URL})
	}
	if p.TemplatesDir != "" {
		if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
			l.addf("pages.templates_dir", "%s is not a folder: %v", o.Dir, errOrNotDir(err))
			return o, nil
		}
	}
	if len(l.problems) > 0 {
		return o, nil
	}
	set, err := pages.New(o)
	var ie *i18n.Error
	switch {
	case errors.As(err, &ie):
		field := "pages.templates_dir"
		if p.TemplatesDir == "" {
			field = "pages.default_language"
		}
		for _, pr := range ie.Problems {
			if pr.File == "pages.default_language" { // not a file: the field itself
				l.addf(pr.File, "%s", pr.Msg)
				continue
			}
			l.addf(field, "%s", pr)
		}
	case err != nil:
		l.addf("pages", "%v", err)
	default:
		return o, set.Warnings()
	}
	return o, nil
}

func errOrNotDir(err error) error {
	if err != nil {
		return errors.Unwrap(err)
	}
	return errors.New("it is a file")
}

// readLogo reads a logo given as a file or as a data: URL.
func (l *loader) readLogo(field, v string) ([]byte, string) {
	var data []byte
	var typ string
	if rest, ok := strings.CutPrefix(v, "data:"); ok {
		meta, payload, found := strings.Cut(rest, ",")
		if !found {
			l.addf(field, "a data: URL needs a comma before its data, e.g. data:image/png;base64,iVBOR…")
			return nil, ""
		}
		var err error
		if t, isBase64 := strings.CutSuffix(meta, ";base64"); isBase64 {
			typ = t
			data, err = base64.StdEncoding.DecodeString(payload)
		} else {
			typ = meta
			var s string
			s, err = url.PathUnescape(payload)
			data = []byte(s)
		}
		if err != nil {
			l.addf(field, "the data: URL's data does not decode: %v", err)
			return nil, ""
		}
	} else {
		path := l.resolvePath(v)
		b, err := os.ReadFile(path)
		if err != nil {
			l.addf(field, "cannot read %s: %v", path, errors.Unwrap(err))
			return nil, ""
		}
		data = b
		if typ = mime.TypeByExtension(strings.ToLower(filepath.Ext(path))); typ == "" {
			typ = http.DetectContentType(b)
		}
	}
	typ, _, _ = strings.Cut(typ, ";")
	switch {
	case !logoTypes[typ]:
		l.addf(field, "the logo is %s; want a PNG, SVG, JPEG, GIF or WebP image", typ)
	case len(data) > maxLogoBytes:
		l.addf(field, "the logo is %d KiB; every page carries it inline, so it may be at most %d KiB", (len(data)+1<<10-1)>>10, maxLogoBytes>>10)
	default:
		return data, typ
	}
	return nil, ""
}
