package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// docsPath is the reference every field of File must appear in.
const docsPath = "../../docs/configuration.md"

// minimalConfig sets only fields that have no default, so every other field
// reads as what the loader fills in. https URLs make the defaults the ones
// a production file gets (cookie.secure follows public_url).
const minimalConfig = `
authserver:
  issuer: https://auth.example.com
  cookie_secrets: ["docs test secret, thirty-two characters or more"]
  users:
    - id: demo
      password_hash: "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"
  clients:
    - id: app
      secret: docs-test-client-secret
      redirect_uris: [https://app.example.com/oauth2/callback]
proxy:
  public_url: https://app.example.com
  provider:
    issuer: https://auth.example.com
    client_id: app
    client_secret: docs-test-client-secret
  cookie:
    secrets: ["docs test proxy secret, thirty-two characters too"]
  session_store:
    redis: {url: "redis://127.0.0.1:6379/0"}
  routes:
    - upstream: http://127.0.0.1:3000
demo_upstream: {}
pages:
  footer_links:
    - {text: Help, url: /help}
`

// docRow is one row of a field table in docs/configuration.md.
type docRow struct {
	line                           int
	typ, def, example, description string
}

// TestConfigurationDocs keeps docs/configuration.md in step with File: one
// row per YAML path (list items written as []), no row for a field that
// does not exist, the type the decoder wants, a default equal to what the
// loader fills in, and an example the decoder accepts.
func TestConfigurationDocs(t *testing.T) {
	rows := readDocRows(t, docsPath)

	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(minimalConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("the minimal configuration of this test no longer loads: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(minimalConfig), &root); err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	writtenPaths(root.Content[0], "", written)

	fields := map[string]bool{}
	walkFields(reflect.TypeOf(File{}), reflect.ValueOf(c.File), "", func(path string, ft reflect.Type, v reflect.Value) {
		fields[path] = true
		row, ok := rows[path]
		if !ok {
			t.Errorf("%s: no row for %s; add `| `%s` | %s | default | example | what it does |`", docsPath, path, path, typeName(ft))
			return
		}
		if want := typeName(ft); row.typ != want {
			t.Errorf("%s:%d: %s: type %q, want %q", docsPath, row.line, path, row.typ, want)
		}
		checkDefault(t, path, row, ft, v, written[path], dir)
		if ex := codeSpan(row.example); ex == "" {
			t.Errorf("%s:%d: %s: the example needs a value in backticks", docsPath, row.line, path)
		} else if err := yaml.Unmarshal([]byte(ex), reflect.New(ft).Interface()); err != nil {
			t.Errorf("%s:%d: %s: example %s does not decode as %s: %v", docsPath, row.line, path, ex, typeName(ft), err)
		}
		if strings.TrimSpace(row.description) == "" {
			t.Errorf("%s:%d: %s: say what the field does", docsPath, row.line, path)
		}
	})
	for path, row := range rows {
		if !fields[path] {
			t.Errorf("%s:%d: %s is not a configuration field; remove the row or fix its name", docsPath, row.line, path)
		}
	}
}

// checkDefault compares a row's default with the loaded value v. Fields the
// minimal configuration writes have no default, and "—" says so.
func checkDefault(t *testing.T, path string, row docRow, ft reflect.Type, v reflect.Value, written bool, dir string) {
	t.Helper()
	zero := !v.IsValid() || v.IsZero()
	if row.def == "—" {
		if !written && !zero {
			t.Errorf("%s:%d: %s: default is written as —, but the loader fills in %s", docsPath, row.line, path, show(v))
		}
		return
	}
	if written {
		t.Errorf("%s:%d: %s: default %q, but the field is required (the loader fills in nothing); write —", docsPath, row.line, path, row.def)
		return
	}
	doc := codeSpan(row.def)
	want := reflect.New(ft)
	if err := yaml.Unmarshal([]byte(doc), want.Interface()); doc == "" || err != nil {
		t.Errorf("%s:%d: %s: default %q is neither — nor a value in backticks that decodes as %s (%v)", docsPath, row.line, path, row.def, typeName(ft), err)
		return
	}
	got := v
	if !got.IsValid() {
		got = reflect.Zero(ft)
	}
	// Relative paths are resolved against the file's folder at load.
	if s, ok := got.Interface().(string); ok && strings.HasPrefix(s, dir+string(filepath.Separator)) {
		got = reflect.ValueOf(strings.TrimPrefix(s, dir+string(filepath.Separator)))
	}
	if !reflect.DeepEqual(want.Elem().Interface(), got.Interface()) {
		t.Errorf("%s:%d: %s: documented default %s, but the loader fills in %s", docsPath, row.line, path, doc, show(got))
	}
}

// walkFields calls leaf for every scalar, list-of-scalars or map field
// below t, with the value it has in v (invalid when a parent is absent).
// Items of lists of sections are walked as the first item, named [].
func walkFields(t reflect.Type, v reflect.Value, path string, leaf func(string, reflect.Type, reflect.Value)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		if v.IsValid() {
			v = v.Elem()
		}
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		child := name
		if path != "" {
			child = path + "." + name
		}
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		ft := sf.Type
		elem := ft
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		switch {
		case elem.Kind() == reflect.Struct && elem != reflect.TypeOf(time.Duration(0)):
			walkFields(ft, fv, child, leaf)
		case elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct:
			var item reflect.Value
			if fv.IsValid() && fv.Len() > 0 {
				item = fv.Index(0)
			}
			walkFields(elem.Elem(), item, child+"[]", leaf)
		default:
			leaf(child, ft, fv)
		}
	}
}

// writtenPaths records the fields a YAML mapping sets, lists as [].
func writtenPaths(n *yaml.Node, path string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := n.Content[i].Value
			if path != "" {
				child = path + "." + child
			}
			out[child] = true
			writtenPaths(n.Content[i+1], child, out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode {
				writtenPaths(item, path+"[]", out)
			}
		}
	}
}

// typeName is what the Type column says about a Go field type.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration"
	case t == reflect.TypeOf(Text{}):
		return "text"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int:
		return "integer"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "map of string to " + typeName(t.Elem())
	}
	return t.String()
}

// readDocRows reads every table row whose first cell is a field path in
// backticks: | `path` | type | default | example | description |.
func readDocRows(t *testing.T, name string) map[string]docRow {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) != 5 {
			t.Errorf("%s:%d: want 5 cells (field, type, default, example, description) separated by \" | \", got %d", name, i+1, len(cells))
			continue
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		path := codeSpan(cells[0])
		if prev, dup := rows[path]; dup {
			t.Errorf("%s:%d: %s has a row already, at line %d", name, i+1, path, prev.line)
		}
		rows[path] = docRow{line: i + 1, typ: cells[1], def: cells[2], example: cells[3], description: cells[4]}
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no field rows found", name)
	}
	return rows
}

// codeSpan returns the text of the first `code span` in s.
func codeSpan(s string) string {
	_, rest, ok := strings.Cut(s, "`")
	if !ok {
		return ""
	}
	code, _, ok := strings.Cut(rest, "`")
	if !ok {
		return ""
	}
	return code
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	b, err := yaml.Marshal(v.Interface())
	if err != nil {
		return v.String()
	}
	return strings.TrimSpace(string(b))
}
