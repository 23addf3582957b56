package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Test secrets, each distinct so that a leak names itself.
var effectiveSecrets = map[string]string{
	"AUTH_COOKIE":   "authcookie-0123456789abcdef0123456789abcdef",
	"AUTH_COOKIE_2": "authcookie2-from-file-0123456789abcdef012345",
	"PG_PASSWORD":   "pg-pass-7f3a9c",
	"USER_HASH":     "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW",
	"CLIENT_SECRET": "client-secret-from-file-5b8e1d",
	"SERVICE_HASH":  "$2a$10$xo6uVAG0NncDgC1UWWVE/uz5lN037jh3DNqBh3dYkvnd3WvUKeVN6",
	"PROXY_COOKIE":  "proxycookie-0123456789abcdef0123456789abcdef",
	"REDIS_PASS":    "redis-pass-91c2e4",
	"BASIC_PASS":    "basic-pass-c0ffee",
	"API_KEY":       "upstream-api-key-d00d",
}

const effectiveYAML = `authserver:
  issuer: https://login.example.com
  cookie_secrets: ["${AUTH_COOKIE}"]
  cookie_secrets_file: cookie-secrets.txt
  storage:
    type: postgres
    postgres: {dsn: "postgres://gatehouse:${PG_PASSWORD}@db:5432/gatehouse?sslmode=require"}
  users: [{id: u, password_hash: "${USER_HASH}", groups: [a, b]}]
  clients:
    - id: app
      secret_file: client-secret.txt
      redirect_uris: [https://app.example.com/oauth2/callback]
    - id: service
      secret_hash: "${SERVICE_HASH}"
      grant_types: [client_credentials]
proxy:
  public_url: https://app.example.com
  provider: {issuer: https://login.example.com, client_id: app, client_secret_file: client-secret.txt}
  cookie: {secrets: ["${PROXY_COOKIE}"]}
  session_store: {type: redis, redis: {url: "redis://:${REDIS_PASS}@redis:6379/0"}}
  routes:
    - path: /
      upstream: "http://127.0.0.1:8081"
      set_headers: {X-Api-Key: "${API_KEY}", X-Env: prod}
      identity: {authorization: basic, basic_auth: {password: "${BASIC_PASS}"}}
      allow: {claims: {department: [ops, "on"]}}
pages:
  product_name: {en: Example, ja: 例}
`

func TestWriteEffective(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"gatehouse.yaml":     effectiveYAML,
		"cookie-secrets.txt": effectiveSecrets["AUTH_COOKIE_2"] + "\n",
		"client-secret.txt":  effectiveSecrets["CLIENT_SECRET"] + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(name string) (string, bool) { v, ok := effectiveSecrets[name]; return v, ok }
	c, err := load(filepath.Join(dir, "gatehouse.yaml"), getenv)
	if err != nil {
		t.Fatal(err)
	}
	var redacted, plain bytes.Buffer
	if err := c.WriteEffective(&redacted); err != nil {
		t.Fatal(err)
	}
	if err := writeEffective(&plain, &c.File, false); err != nil {
		t.Fatal(err)
	}

	for name, secret := range effectiveSecrets {
		if strings.Contains(redacted.String(), secret) {
			t.Errorf("the output shows secret %s:\n%s", name, redacted.String())
		}
	}
	for _, want := range []string{"read from client-secret.txt", "X-Env: prod", "redis://:REDACTED@redis:6379/0", "postgres://gatehouse:REDACTED@db:5432"} {
		if !strings.Contains(redacted.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, redacted.String())
		}
	}

	// Redaction changes the secrets and nothing else: putting them back
	// gives the unredacted output.
	secrets := make([]string, 0, len(effectiveSecrets))
	for _, s := range effectiveSecrets {
		secrets = append(secrets, s)
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	hidden := plain.String()
	for _, s := range secrets {
		hidden = strings.ReplaceAll(hidden, s, Redacted)
	}
	if hidden != redacted.String() {
		t.Errorf("redacted output:\n%s\nwant the full output with the secrets replaced:\n%s", redacted.String(), hidden)
	}

	// The full output loads again into the same configuration, the *_file
	// references aside: their content is inline now.
	again := filepath.Join(t.TempDir(), "effective.yaml")
	if err := os.WriteFile(again, plain.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := load(again, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, plain.String())
	}
	clearFileFields(reflect.ValueOf(&c.File).Elem())
	if !reflect.DeepEqual(c.File, c2.File) {
		t.Errorf("loaded again:\n%+v\nwant:\n%+v", c2.File, c.File)
	}
}

// clearFileFields empties the X_file fields of v.
func clearFileFields(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearFileFields(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			clearFileFields(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if base, ok := strings.CutSuffix(yamlName(v.Type().Field(i)), "_file"); ok {
				if sf, ok := v.Type().FieldByNameFunc(func(n string) bool {
					f, _ := v.Type().FieldByName(n)
					return yamlName(f) == base
				}); ok && isSecret(sf) {
					v.Field(i).SetString("")
				}
			}
			clearFileFields(v.Field(i))
		}
	}
}

// looksSecret matches field names whose values may be credentials: any
// such string field of File needs a redact tag, so a new secret cannot be
// printed by accident.
var looksSecret = regexp.MustCompile(`secret|password|passwd|dsn|hash|token|key|credential|url|uri|upstream|header`)

func TestSecretFieldsAreMarked(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		names := map[string]reflect.StructField{}
		for i := range typ.NumField() {
			names[yamlName(typ.Field(i))] = typ.Field(i)
		}
		for i := range typ.NumField() {
			sf := typ.Field(i)
			name, field := yamlName(sf), path+"."+yamlName(sf)
			tag, tagged := sf.Tag.Lookup("redact")
			switch {
			case tagged && tag != "secret" && tag != "url" && tag != "headers" && tag != "-":
				t.Errorf("%s: redact:%q is not secret, url, headers or -", field, tag)
			case tagged:
			case strings.HasSuffix(name, "_file") && isSecret(names[strings.TrimSuffix(name, "_file")]):
				// A path to a secret, printed as a comment on it.
			case looksSecret.MatchString(name) && holdsText(sf.Type):
				t.Errorf(`%s may hold a secret but has no redact tag; add redact:"secret" (or "url", or "-" if it never holds one)`, field)
			}
			walk(sf.Type, field)
		}
	}
	walk(reflect.TypeFor[File](), "")
}

// holdsText reports whether values of t can carry text.
func holdsText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return holdsText(t.Elem())
	case reflect.Map:
		return holdsText(t.Elem()) || t.Key().Kind() == reflect.String
	}
	return t.Kind() == reflect.String
}
