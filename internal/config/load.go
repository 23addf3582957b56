// Package config reads gatehouse's YAML configuration file: strict decoding
// (unknown fields are errors), ${ENV} expansion, *_file secret references,
// defaults and validation, all problems reported at once with the file, line
// and field they concern. It then converts the file into each server's
// runtime Config.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// Config is a configuration file that has been loaded and validated.
type Config struct {
	// Path is the file it came from.
	Path string
	// File holds the values after expansion, *_file resolution and defaults.
	File File
	// Warnings are worth an operator's attention but do not stop the
	// servers, such as untranslated messages.
	Warnings []string
	// Risks are valid settings that weaken security, such as plain http
	// off this machine or a guessable secret; `gatehouse check` and serve
	// report them.
	Risks []Problem

	pages pages.Options // the pages section, with the logo read
}

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File  string
	Line  int    // 0 when the field is absent from the file
	Field string // dotted path, e.g. authserver.clients[0].redirect_uris
	Msg   string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Field + ": " + p.Msg
}

// Error lists every problem found in a configuration file.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid configuration: " + lines[0]
	}
	return fmt.Sprintf("invalid configuration (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// loader collects problems while a file is read, and knows on which line
// each field was written.
type loader struct {
	path     string
	dir      string
	pages    pages.Options
	warnings []string
	risks    []Problem
	lines    map[string]int
	problems []Problem
	getenv   func(string) (string, bool)
}

func (l *loader) addf(field, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.path, Line: l.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// line finds where field was written, or where its closest written parent
// was, so a missing field is reported at the section that lacks it.
func (l *loader) line(field string) int {
	for f := field; f != ""; {
		if n, ok := l.lines[f]; ok {
			return n
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

// Load reads, expands, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	return load(path, os.LookupEnv)
}

func load(path string, getenv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	l := &loader{path: path, dir: dir, lines: map[string]int{}, getenv: getenv}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{syntaxProblem(path, err)}}
	}
	if len(root.Content) == 0 {
		return nil, &Error{Problems: []Problem{{File: path, Msg: "the file is empty; it needs at least an authserver: or proxy: section (see config.example.yaml)"}}}
	}
	l.walk(root.Content[0], reflect.TypeOf(File{}), "")
	var f File
	if len(l.problems) == 0 {
		if err := root.Content[0].Decode(&f); err != nil {
			l.decodeProblems(err)
		}
	}
	if len(l.problems) == 0 {
		l.resolveFiles(&f)
		l.applyDefaults(&f)
		l.validate(&f)
	}
	if len(l.problems) == 0 {
		l.findRisks(&f)
	}
	if len(l.problems) > 0 {
		sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
		return nil, &Error{Problems: l.problems}
	}
	return &Config{Path: path, File: f, Warnings: l.warnings, Risks: l.risks, pages: l.pages}, nil
}

// walk checks every mapping key against the struct it decodes into, records
// each field's line, and expands ${VAR} in scalars. Doing this on the node
// tree rather than through the decoder keeps yaml.v3's strictness and gives
// every problem a line.
func (l *loader) walk(n *yaml.Node, t reflect.Type, field string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if field != "" {
		if _, seen := l.lines[field]; !seen {
			l.lines[field] = n.Line
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		l.addf(field, "YAML aliases are not supported here; write the value out")
	case yaml.ScalarNode:
		l.expand(n, field)
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			l.addf(field, "got a list, want %s", kindName(t))
			return
		}
		for i, item := range n.Content {
			l.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
		}
	case yaml.MappingNode:
		if t.Kind() == reflect.Map {
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				child := field + "." + key.Value
				l.lines[child] = key.Line
				l.walk(val, t.Elem(), child)
			}
			return
		}
		if t.Kind() != reflect.Struct {
			l.addf(field, "got a mapping, want %s", kindName(t))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := key.Value
			if field != "" {
				child = field + "." + key.Value
			}
			l.lines[child] = key.Line
			ft, ok := fields[key.Value]
			if !ok {
				l.addf(child, "unknown field; known fields here: %s", strings.Join(sortedKeys(fields), ", "))
				continue
			}
			l.walk(val, ft, child)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in a scalar with the variable's value. An unset
// variable is an error rather than an empty string, because an empty secret
// or URL silently changes what the server does.
func (l *loader) expand(n *yaml.Node, field string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := l.getenv(name)
		if !ok {
			l.addf(field, "environment variable %s is not set", name)
		}
		return v
	})
	if n.Style == 0 {
		n.Tag = "" // let the expanded plain scalar resolve to bool, number or string again
	}
}

// syntaxProblem turns a YAML parse error into a Problem with its line. The
// parser often reports the line where the construct it was reading began,
// so the message also points at the next one.
func syntaxProblem(path string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, serr := fmt.Sscanf(msg, "line %d:", &line); serr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return Problem{File: path, Line: line, Msg: "YAML syntax: " + msg + " (look at this line and the next: indentation uses spaces only, quotes must be closed)"}
}

func (l *loader) decodeProblems(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		l.addf("", "%v", err)
		return
	}
	for _, msg := range te.Errors {
		line := 0
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		l.problems = append(l.problems, Problem{File: l.path, Line: line, Field: l.fieldAt(line), Msg: explainTypeError(msg)})
	}
}

var typeErrorMsg = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into (.+)$")

// explainTypeError rewrites yaml.v3's "cannot unmarshal !!str `30d` into
// time.Duration", which names Go types, into what to write instead.
func explainTypeError(msg string) string {
	m := typeErrorMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value, goType := m[1], m[2]
	var want string
	switch {
	case goType == "time.Duration":
		want = "a duration with a unit, such as 90s, 15m or 12h (there is no d: 30 days is 720h)"
	case goType == "bool":
		want = "true or false"
	case strings.HasPrefix(goType, "[]"):
		want = "a list, e.g. [a, b] or one \"- item\" per line"
	case strings.HasPrefix(goType, "config."):
		want = "a mapping: the section's fields, indented on the lines below"
	case strings.HasPrefix(goType, "map["):
		want = "a mapping of names to values, e.g. {X-Env: prod}"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		want = "a whole number"
	default:
		want = goType
	}
	return fmt.Sprintf("got %q, want %s", value, want)
}

// fieldAt names the field written on line, for decoder errors that give
// only a line.
func (l *loader) fieldAt(line int) string {
	best := ""
	for f, n := range l.lines {
		if n == line && (best == "" || len(f) > len(best)) {
			best = f
		}
	}
	return best
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = sf.Type
		}
	}
	return m
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	default:
		return "a single value"
	}
}

// readSecretFile returns the content of a *_file reference, resolved
// against the configuration file's folder, without the trailing newline
// editors add.
func (l *loader) readSecretFile(field, name string) (string, bool) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(l.dir, name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		l.addf(field, "cannot read %s: %v", name, errors.Unwrap(err))
		return "", false
	}
	return strings.TrimRight(string(b), "\r\n"), true
}

// resolvePath makes a relative path relative to the configuration file.
func (l *loader) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}
