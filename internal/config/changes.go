package config

import (
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

// Reloadable reports whether a change to field (a dotted path such as
// proxy.routes) takes effect on reload, without a restart.
func Reloadable(field string) bool {
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
		if Reloadable(f) {
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
