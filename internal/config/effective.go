package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Redacted stands in for every secret `gatehouse check` prints.
const Redacted = "REDACTED"

// WriteEffective writes the configuration as the servers use it, with
// ${ENV} expanded, *_file secrets read and defaults filled in, as YAML
// with every secret replaced by Redacted (see the redact tags of File).
// With the secrets put back, the output loads again.
func (c *Config) WriteEffective(w io.Writer) error {
	return writeEffective(w, &c.File, true)
}

func writeEffective(w io.Writer, f *File, redact bool) error {
	e := encoder{redact: redact}
	n := e.node(reflect.ValueOf(f).Elem(), "")
	if n == nil {
		n = &yaml.Node{Kind: yaml.MappingNode}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return err
	}
	return enc.Close()
}

// encoder turns File values into YAML nodes. It leaves out what is empty
// (absent sections, empty strings and lists, false), which loads back the
// same; durations are always shown, since zero often means "off".
type encoder struct {
	redact bool
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[Text]()
)

// node encodes v, a field whose redact tag is mode; nil means leave it out.
func (e encoder) node(v reflect.Value, mode string) *yaml.Node {
	switch {
	case v.Type() == durationType:
		return scalar("!!str", formatDuration(time.Duration(v.Int())))
	case v.Type() == textType:
		t := v.Interface().(Text)
		if s, ok := t[""]; ok && len(t) == 1 {
			return e.node(reflect.ValueOf(s), mode)
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		switch {
		case v.IsNil():
			return nil
		case v.Elem().Kind() == reflect.Bool: // optional: false is said, not left out
			return scalar("!!bool", strconv.FormatBool(v.Elem().Bool()))
		}
		return e.node(v.Elem(), mode)
	case reflect.Struct:
		return e.structNode(v)
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if k := v.Type().Elem().Kind(); k == reflect.String {
			n.Style = yaml.FlowStyle // [openid, profile, email]
		}
		for i := range v.Len() {
			if item := e.node(v.Index(i), mode); item != nil {
				n.Content = append(n.Content, item)
			} else {
				n.Content = append(n.Content, scalar("!!str", ""))
			}
		}
		return n
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range keys {
			valueMode := ""
			if mode == "headers" && credentialHeader.MatchString(k) {
				valueMode = "secret"
			}
			val := e.node(v.MapIndex(reflect.ValueOf(k)), valueMode)
			if val == nil {
				val = scalar("!!str", "")
			}
			n.Content = append(n.Content, scalar("!!str", k), val)
		}
		return n
	case reflect.String:
		s := v.String()
		switch {
		case s == "":
			return nil
		case e.redact && mode == "secret":
			s = Redacted
		case e.redact && mode == "url":
			s = redactURL(s)
		}
		return scalar("!!str", s)
	case reflect.Bool:
		if !v.Bool() {
			return nil
		}
		return scalar("!!bool", "true")
	case reflect.Int, reflect.Int64:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10))
	}
	panic(fmt.Sprintf("config: no YAML form for %s", v.Type()))
}

// structNode encodes a section. An X_file field that was read into X is
// shown as a comment on X: X holds what the file said, and writing both
// would not load.
func (e encoder) structNode(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	names := map[string]int{}
	for i := range t.NumField() {
		names[yamlName(t.Field(i))] = i
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		name := yamlName(sf)
		if base, ok := strings.CutSuffix(name, "_file"); ok {
			if j, ok := names[base]; ok && isSecret(t.Field(j)) {
				continue
			}
		}
		val := e.node(v.Field(i), sf.Tag.Get("redact"))
		if val == nil {
			continue
		}
		key := scalar("!!str", name)
		if j, ok := names[name+"_file"]; ok && isSecret(sf) {
			if file := v.Field(j).String(); file != "" {
				key.LineComment = "read from " + file
			}
		}
		n.Content = append(n.Content, key, val)
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

func isSecret(sf reflect.StructField) bool {
	m := sf.Tag.Get("redact")
	return m == "secret" || m == "url"
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// credentialHeader matches the names of set_headers entries whose values
// are credentials for the upstream.
var credentialHeader = regexp.MustCompile(`(?i)auth|cookie|token|secret|password|key|credential|session`)

// dsnPassword matches a password given as password=… in a PostgreSQL
// key/value DSN or in a URL's query.
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#]*)`)

// redactURL hides the password of a URL (user:password@) or DSN
// (password=…). A value with an @ that does not parse as a URL is hidden
// whole, since where its password is cannot be told.
func redactURL(s string) string {
	s = dsnPassword.ReplaceAllString(s, "${1}"+Redacted)
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return Redacted
		}
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	// As url.Parse reads it: the authority runs from "//" to the first of
	// "/?#", and the user information to its last "@".
	_, rest, _ := strings.Cut(s, "//")
	start := len(s) - len(rest)
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	userinfo := authority[:strings.LastIndex(authority, "@")]
	colon := strings.Index(userinfo, ":")
	return s[:start+colon+1] + Redacted + s[start+len(userinfo):]
}

// formatDuration writes d as people do: 12h rather than 12h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
