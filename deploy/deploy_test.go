// Package deploy holds deployment examples; this test parses every YAML
// file among them, loads each gatehouse configuration the way its container
// would see it, and checks the properties the examples promise.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/internal/config"
)

// configPath is where the image looks for its configuration.
const configPath = "/etc/gatehouse/config.yaml"

// dataDir is the image's one writable directory.
const dataDir = "/var/lib/gatehouse"

// doc is one YAML document of a file under deploy/.
type doc struct {
	file  string
	index int // 1-based, as people count documents
	m     map[string]any
}

func (d doc) String() string { return fmt.Sprintf("%s (document %d)", d.file, d.index) }

// readAll parses every YAML file under deploy/, every document of each.
func readAll(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 1; ; i++ {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				if i == 1 {
					t.Errorf("%s: no YAML document", path)
				}
				break
			}
			if err != nil {
				t.Errorf("%s (document %d): %v", path, i, err)
				break
			}
			docs = append(docs, doc{file: path, index: i, m: m})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no YAML files found under deploy/")
	}
	return docs
}

func isGatehouseConfig(m map[string]any) bool {
	_, a := m["authserver"]
	_, p := m["proxy"]
	return a || p
}

// TestEveryFile parses every YAML file and loads the gatehouse
// configurations that no compose file mounts; compose files and
// Kubernetes manifests are checked below, with their configurations as the
// container sees them.
func TestEveryFile(t *testing.T) {
	docs := readAll(t)
	mounted := map[string]bool{}
	for _, d := range docs {
		if _, ok := d.m["services"]; ok {
			for _, s := range mapAt(d.m, "services") {
				if src, ok := composeMount(d.file, asMap(s), configPath); ok {
					mounted[src] = true
				}
			}
		}
	}
	kinds := map[string]int{}
	for _, d := range docs {
		switch {
		case isGatehouseConfig(d.m):
			kinds["gatehouse configuration"]++
			if mounted[d.file] {
				continue
			}
			if _, err := config.Load(d.file); err != nil {
				t.Errorf("%s: %v", d, err)
			}
		case d.m["services"] != nil:
			kinds["compose file"]++
		case d.m["kind"] != nil:
			kinds["Kubernetes object"]++
		default:
			kinds["other"]++
		}
	}
	for _, k := range []string{"gatehouse configuration", "compose file", "Kubernetes object"} {
		if kinds[k] == 0 {
			t.Errorf("found no %s under deploy/", k)
		}
	}
	t.Logf("parsed %d documents: %v", len(docs), kinds)
}

// TestCompose checks every compose file: gatehouse on a read-only root with
// its configuration mounted read-only, secrets as files, its database in a
// volume and a health check through `gatehouse healthcheck`; apps behind
// it published nowhere; and replicas running one configuration on
// PostgreSQL and Redis.
func TestCompose(t *testing.T) {
	n := 0
	for _, d := range readAll(t) {
		if d.m["services"] == nil {
			continue
		}
		n++
		services := mapAt(d.m, "services")
		var gatehouses []string
		configs := map[string]bool{}
		for name, raw := range services {
			s := asMap(raw)
			if !strings.Contains(str(s["image"]), "gatehouse") && s["build"] == nil {
				continue
			}
			gatehouses = append(gatehouses, name)
			where := fmt.Sprintf("%s: service %s", d, name)
			src, ok := composeMount(d.file, s, configPath)
			if !ok {
				t.Errorf("%s: mount a configuration read-only at %s", where, configPath)
				continue
			}
			configs[src] = true
			if s["read_only"] != true {
				t.Errorf("%s: set read_only: true", where)
			}
			if hc := strings.Join(strList(mapAt(s, "healthcheck")["test"]), " "); !strings.Contains(hc, "gatehouse healthcheck") || !strings.Contains(hc, "--config "+configPath) {
				t.Errorf("%s: healthcheck.test is %q, want gatehouse healthcheck --config %s", where, hc, configPath)
			}
			c := loadComposeConfig(t, where, d.file, d.m, s, src)
			if c == nil {
				continue
			}
			if a := c.File.AuthServer; a != nil && a.Storage.Type == "sqlite" && !composeWritable(s, a.Storage.SQLite.Path) {
				t.Errorf("%s: the SQLite database %s is not in a volume; mount one at %s", where, a.Storage.SQLite.Path, dataDir)
			}
			checkUpstreamsUnpublished(t, where, c, services)
		}
		slices.Sort(gatehouses)
		switch {
		case len(gatehouses) == 0:
			t.Errorf("%s: no gatehouse service (one with build: or a gatehouse image)", d)
		case len(gatehouses) > 1:
			if len(configs) != 1 {
				t.Errorf("%s: replicas %v mount different configurations %v; they must share one", d, gatehouses, configs)
			}
			for src := range configs {
				checkReplicaConfig(t, d, services, src)
			}
		}
	}
	if n == 0 {
		t.Fatal("no compose file found")
	}
}

// composeMount returns the host file a service mounts read-only at target.
func composeMount(file string, s map[string]any, target string) (string, bool) {
	for _, v := range strList(s["volumes"]) {
		parts := strings.Split(v, ":")
		if len(parts) == 3 && parts[1] == target && parts[2] == "ro" {
			return filepath.Join(filepath.Dir(file), parts[0]), true
		}
	}
	return "", false
}

// composeWritable reports whether path lies in a named volume of s.
func composeWritable(s map[string]any, path string) bool {
	for _, v := range strList(s["volumes"]) {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && !strings.ContainsAny(parts[0], "./") && strings.HasPrefix(path, strings.TrimSuffix(parts[1], "/")+"/") {
			return true
		}
	}
	return false
}

// loadComposeConfig loads the configuration src as service s sees it: the
// compose secrets it lists are files under /run/secrets/.
func loadComposeConfig(t *testing.T, where, file string, compose, s map[string]any, src string) *config.Config {
	t.Helper()
	root := t.TempDir()
	for _, name := range strList(s["secrets"]) {
		def := asMap(mapAt(compose, "secrets")[name])
		if def["file"] == nil {
			t.Errorf("%s: secret %s has no file in the top-level secrets:", where, name)
			continue
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(file), str(def["file"])))
		if err != nil {
			t.Errorf("%s: secret %s: %v", where, name, err)
			continue
		}
		writeFile(t, filepath.Join(root, "run/secrets", name), data)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return nil
	}
	return loadAt(t, where, root, string(text), "/run/secrets/")
}

// loadAt writes a configuration whose secret files live below root, with
// each absolute prefix rewritten to root, and loads it.
func loadAt(t *testing.T, where, root, text string, prefixes ...string) *config.Config {
	t.Helper()
	for _, p := range prefixes {
		text = strings.ReplaceAll(text, p, filepath.Join(root, p)+"/")
	}
	path := filepath.Join(root, "config.yaml")
	writeFile(t, path, []byte(text))
	c, err := config.Load(path)
	if err != nil {
		t.Errorf("%s: the configuration does not load: %v", where, err)
		return nil
	}
	return c
}

// checkUpstreamsUnpublished requires every service a route forwards to to
// publish no port: it must be reachable only through gatehouse.
func checkUpstreamsUnpublished(t *testing.T, where string, c *config.Config, services map[string]any) {
	t.Helper()
	if c.File.Proxy == nil {
		return
	}
	for i, r := range c.File.Proxy.Routes {
		u, err := url.Parse(r.Upstream)
		if r.Upstream == "" || err != nil {
			continue
		}
		app, ok := services[u.Hostname()]
		if !ok {
			t.Errorf("%s: proxy.routes[%d].upstream %s names no service of the file", where, i, r.Upstream)
			continue
		}
		if ports := asMap(app)["ports"]; ports != nil {
			t.Errorf("%s: service %s, which proxy.routes[%d] forwards to, publishes ports %v; anyone could reach it without signing in", where, u.Hostname(), i, ports)
		}
	}
}

// checkReplicaConfig requires the replicas' shared configuration to keep
// the authserver's state in PostgreSQL and the proxy's sessions in Redis,
// both services of the same file.
func checkReplicaConfig(t *testing.T, d doc, services map[string]any, src string) {
	t.Helper()
	var s map[string]any
	for _, raw := range services {
		if m := asMap(raw); m["build"] != nil {
			s = m
			break
		}
	}
	where := fmt.Sprintf("%s: replicas' configuration %s", d, src)
	c := loadComposeConfig(t, where, d.file, d.m, s, src)
	if c == nil {
		return
	}
	a, p := c.File.AuthServer, c.File.Proxy
	if a == nil || a.Storage.Type != "postgres" {
		t.Errorf("%s: replicas need authserver.storage.type postgres", where)
	} else if u, err := url.Parse(a.Storage.Postgres.DSN); err != nil || services[u.Hostname()] == nil {
		t.Errorf("%s: the PostgreSQL DSN names no service of the file", where)
	}
	if p == nil || p.SessionStore.Type != "redis" {
		t.Errorf("%s: replicas need proxy.session_store.type redis", where)
	} else if u, err := url.Parse(p.SessionStore.Redis.URL); err != nil || services[u.Hostname()] == nil {
		t.Errorf("%s: the Redis URL names no service of the file", where)
	}
}

// TestKubernetes checks every pod template: gatehouse is a native sidecar
// (an init container with restartPolicy Always) whose configuration loads
// from its ConfigMap and Secret; every container runs read-only and
// unprivileged; the app listens on loopback only; probes ask paths
// gatehouse serves; and Services reach gatehouse's ports alone.
func TestKubernetes(t *testing.T) {
	docs := readAll(t)
	objects := map[string]doc{} // kind/name
	for _, d := range docs {
		if k := str(d.m["kind"]); k != "" {
			objects[k+"/"+str(mapAt(d.m, "metadata")["name"])] = d
		}
	}
	pods := 0
	for _, d := range docs {
		var spec, labels map[string]any
		switch str(d.m["kind"]) {
		case "Pod":
			spec, labels = mapAt(d.m, "spec"), mapAt(mapAt(d.m, "metadata"), "labels")
		case "Deployment", "StatefulSet", "DaemonSet":
			tmpl := mapAt(mapAt(d.m, "spec"), "template")
			spec, labels = mapAt(tmpl, "spec"), mapAt(mapAt(tmpl, "metadata"), "labels")
		default:
			continue
		}
		pods++
		ports := checkPod(t, d, spec, objects)
		for key, svc := range objects {
			if strings.HasPrefix(key, "Service/") && selects(mapAt(svc.m, "spec"), labels) {
				checkService(t, svc, ports)
			}
		}
	}
	if pods == 0 {
		t.Fatal("no Pod or Deployment found")
	}
}

// checkPod checks one pod spec and returns the gatehouse container's ports
// by name and number.
func checkPod(t *testing.T, d doc, spec map[string]any, objects map[string]doc) map[string]bool {
	t.Helper()
	podSC := mapAt(spec, "securityContext")
	var sidecar map[string]any
	for _, list := range []string{"initContainers", "containers"} {
		for _, raw := range asList(spec[list]) {
			c := asMap(raw)
			where := fmt.Sprintf("%s: %s %s", d, list, c["name"])
			sc := mapAt(c, "securityContext")
			if sc["readOnlyRootFilesystem"] != true {
				t.Errorf("%s: set securityContext.readOnlyRootFilesystem: true", where)
			}
			if sc["allowPrivilegeEscalation"] != false {
				t.Errorf("%s: set securityContext.allowPrivilegeEscalation: false", where)
			}
			if sc["runAsNonRoot"] != true && podSC["runAsNonRoot"] != true {
				t.Errorf("%s: set runAsNonRoot: true", where)
			}
			if !slices.Contains(strList(mapAt(sc, "capabilities")["drop"]), "ALL") {
				t.Errorf("%s: drop every capability (capabilities.drop: [ALL])", where)
			}
			if !strings.Contains(str(c["image"]), "gatehouse") {
				continue
			}
			if list != "initContainers" || c["restartPolicy"] != "Always" {
				t.Errorf("%s: gatehouse must be a native sidecar: an init container with restartPolicy: Always, so it starts before the app and runs beside it", where)
			}
			sidecar = c
		}
	}
	if sidecar == nil {
		t.Errorf("%s: no gatehouse container", d)
		return nil
	}
	where := fmt.Sprintf("%s: gatehouse", d)
	root := t.TempDir()
	volumes := map[string]map[string]any{}
	for _, v := range asList(spec["volumes"]) {
		volumes[str(asMap(v)["name"])] = asMap(v)
	}
	var prefixes []string
	dataMounted := false
	for _, raw := range asList(sidecar["volumeMounts"]) {
		m := asMap(raw)
		mount, v := str(m["mountPath"]), volumes[str(m["name"])]
		if v == nil {
			t.Errorf("%s: volumeMount %s names no volume", where, m["name"])
			continue
		}
		if mount == dataDir {
			dataMounted = v["emptyDir"] != nil || v["persistentVolumeClaim"] != nil
		}
		files := volumeFiles(t, where, v, objects)
		if files == nil {
			continue
		}
		if m["readOnly"] != true {
			t.Errorf("%s: mount %s read-only", where, mount)
		}
		for name, data := range files {
			writeFile(t, filepath.Join(root, mount, name), []byte(data))
		}
		prefixes = append(prefixes, mount+"/")
	}
	if !dataMounted {
		t.Errorf("%s: mount an emptyDir or a PersistentVolumeClaim at %s", where, dataDir)
	}
	args := strList(sidecar["args"])
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Errorf("%s: args %v name no --config FILE", where, args)
		return nil
	}
	text, err := os.ReadFile(filepath.Join(root, args[i+1]))
	if err != nil {
		t.Errorf("%s: --config %s is in no mounted ConfigMap or Secret", where, args[i+1])
		return nil
	}
	c := loadAt(t, where, root, string(text), prefixes...)
	if c == nil {
		return nil
	}
	ports := map[string]bool{}
	byName := map[string]string{}
	for _, raw := range asList(sidecar["ports"]) {
		p := asMap(raw)
		n := strconv.Itoa(p["containerPort"].(int))
		ports[n], ports[str(p["name"])] = true, true
		byName[str(p["name"])] = n
	}
	checkProbes(t, where, sidecar, c, byName)
	checkLoopbackApp(t, d, spec, c, objects)
	return ports
}

// volumeFiles returns the files a ConfigMap or Secret volume holds, or nil
// for other volumes.
func volumeFiles(t *testing.T, where string, v map[string]any, objects map[string]doc) map[string]string {
	t.Helper()
	var key, field string
	switch {
	case v["configMap"] != nil:
		key, field = "ConfigMap/"+str(mapAt(v, "configMap")["name"]), "data"
	case v["secret"] != nil:
		key, field = "Secret/"+str(mapAt(v, "secret")["secretName"]), "stringData"
	default:
		return nil
	}
	obj, ok := objects[key]
	if !ok {
		t.Errorf("%s: volume %s: no %s in deploy/", where, v["name"], key)
		return nil
	}
	files := map[string]string{}
	for name, val := range mapAt(obj.m, field) {
		files[name] = str(val)
	}
	return files
}

// checkProbes requires startup, liveness and readiness probes that ask
// gatehouse's own health paths on the port that serves them.
func checkProbes(t *testing.T, where string, c map[string]any, cfg *config.Config, portByName map[string]string) {
	t.Helper()
	paths := map[string][]string{} // port → health paths served there, alive first
	if p := cfg.File.Proxy; p != nil {
		paths[port(p.Listen)] = []string{"/oauth2/healthz", "/oauth2/readyz"}
	}
	if a := cfg.File.AuthServer; a != nil {
		base := ""
		if u, err := url.Parse(a.Issuer); err == nil {
			base = strings.TrimSuffix(u.Path, "/")
		}
		paths[port(a.Listen)] = []string{base + "/healthz", base + "/readyz"}
	}
	for probe, want := range map[string]int{"startupProbe": 0, "livenessProbe": 0, "readinessProbe": 1} {
		get := mapAt(mapAt(c, probe), "httpGet")
		if get == nil {
			t.Errorf("%s: no %s.httpGet", where, probe)
			continue
		}
		p := fmt.Sprint(get["port"])
		if n, ok := portByName[p]; ok {
			p = n
		}
		served := paths[p]
		if served == nil {
			t.Errorf("%s: %s asks port %s, where gatehouse serves no health path", where, probe, p)
		} else if get["path"] != served[want] {
			t.Errorf("%s: %s asks %v on port %s; want %s", where, probe, get["path"], p, served[want])
		}
	}
}

// checkLoopbackApp requires every route to forward to a loopback address,
// the other containers to declare no port, and the app's own configuration
// (a mounted ConfigMap) to listen on that loopback address: then nothing
// outside the pod reaches the app without passing gatehouse.
func checkLoopbackApp(t *testing.T, d doc, spec map[string]any, cfg *config.Config, objects map[string]doc) {
	t.Helper()
	if cfg.File.Proxy == nil {
		return
	}
	var apps []map[string]any
	for _, raw := range asList(spec["containers"]) {
		apps = append(apps, asMap(raw))
	}
	for i, r := range cfg.File.Proxy.Routes {
		u, err := url.Parse(r.Upstream)
		if r.Upstream == "" || err != nil {
			continue
		}
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s: proxy.routes[%d].upstream %s is not on 127.0.0.1; an app listening beyond the pod can be reached without signing in", d, i, r.Upstream)
			continue
		}
		found := false
		for _, app := range apps {
			for _, raw := range asList(app["volumeMounts"]) {
				v := mountVolume(spec, str(asMap(raw)["name"]))
				for _, text := range volumeFiles(t, str(d), v, objects) {
					found = found || strings.Contains(text, u.Host)
				}
			}
		}
		if !found {
			t.Errorf("%s: no app container's mounted configuration listens on %s, where proxy.routes[%d] forwards", d, u.Host, i)
		}
	}
	for _, app := range apps {
		if app["ports"] != nil {
			t.Errorf("%s: container %s declares ports %v; the app listens on loopback and only gatehouse's port is served", d, app["name"], app["ports"])
		}
	}
}

func mountVolume(spec map[string]any, name string) map[string]any {
	for _, v := range asList(spec["volumes"]) {
		if str(asMap(v)["name"]) == name {
			return asMap(v)
		}
	}
	return map[string]any{}
}

// checkService requires each port of a Service selecting the pod to target
// a port of the gatehouse container.
func checkService(t *testing.T, svc doc, gatehousePorts map[string]bool) {
	t.Helper()
	for _, raw := range asList(mapAt(svc.m, "spec")["ports"]) {
		p := asMap(raw)
		target := fmt.Sprint(p["targetPort"])
		if p["targetPort"] == nil {
			target = fmt.Sprint(p["port"])
		}
		if !gatehousePorts[target] {
			t.Errorf("%s: port %v targets %s, which is not gatehouse's; the Service would bypass sign-in", svc, p["name"], target)
		}
	}
}

func selects(spec map[string]any, labels map[string]any) bool {
	sel := mapAt(spec, "selector")
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Accessors for decoded YAML: a missing or mistyped value reads as empty,
// and the checks then report what is missing.

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func mapAt(m map[string]any, key string) map[string]any { return asMap(m[key]) }

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strList(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
