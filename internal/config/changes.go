package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// reloadable are the fields a running gatehouse applies when it reads its
// configuration again; every other field takes effect at the next start.
// A field listed here covers everything below it.
var reloadable = []string{
	"authserver.users",
	"authserver.clients",
	"proxy.routes",
	"proxy.trusted_proxies",
	"proxy.allowed_redirect_domains",
	"proxy.bearer",
	"log.level",
}

// isReloadable reports whether a change to field (a dotted path such as
// proxy.routes) takes effect on reload, without a restart.
func isReloadable(field string) bool {
	return slices.ContainsFunc(reloadable, func(r string) bool {
		return field == r || strings.HasPrefix(field, r+".")
	})
}

// Changes lists the fields whose values differ between two loads of a
// configuration, named as in the file (authserver.listen, proxy.routes),
// sorted and split into those a reload applies and those that need a
// restart. Secrets
// read from *_file references count with their field. Lists and maps are
// compared whole, so a change to one route is reported as proxy.routes; a
// section that appears or disappears is reported by its name. Fields
// that no list names, such as ones added later, need a restart: that is
// the safe assumption.
func Changes(old, next *Config) (applied, restart []string) {
	var all []string
	diff(reflect.ValueOf(old.File), reflect.ValueOf(next.File), "", &all)
	slices.Sort(all)
	for _, f := range all {
		if isReloadable(f) {
			applied = append(applied, f)
		} else {
			restart = append(restart, f)
		}
	}
	return applied, restart
}

// diff appends to out the paths of the fields that differ between a and b,
// two values of one type. It names fields and never values, since many
// are secrets.
func diff(a, b reflect.Value, path string, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path)
			}
			return
		}
		diff(a.Elem(), b.Elem(), path, out)
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if path != "" {
				name = path + "." + name
			}
			diff(a.Field(i), b.Field(i), name, out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	}
}

// Files lists the files the configuration was read from: the file itself
// and every file a *_file field names (secrets, upstream certificates),
// as paths that can be opened. A watcher that sees one of them change
// knows that loading the configuration again gives something new.
func (c *Config) Files() []string {
	files := []string{c.Path}
	dir := filepath.Dir(c.Path)
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				f := v.Field(i)
				if !strings.HasSuffix(name, "_file") || f.Kind() != reflect.String {
					walk(f)
					continue
				}
				if p := f.String(); p != "" {
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					files = append(files, p)
				}
			}
		}
	}
	walk(reflect.ValueOf(c.File))
	return files
}
