package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// TestExplainAgreesWithTheProxy asks Explain about every combination of a
// set of people and requests, then sends each request through the proxy
// and through forward-auth, and checks that all three agree.
func TestExplainAgreesWithTheProxy(t *testing.T) {
	e := newPolicyEnv(t, func(c *Config) { c.TrustedProxies = []string{"192.0.2.0/24"} })
	people := []policy.Identity{
		{Subject: "user-42", Email: "ada@example.com", EmailVerified: true, Groups: []string{"eng"}},
		{Subject: "mallory", Email: "mallory@example.com", Groups: []string{"eng"}}, // unverified
		{Subject: "root", Groups: []string{"admins"}},
		{Subject: "bob", Email: "bob@contractor.example", EmailVerified: true, Groups: []string{"contractors", "admins"}},
		{Subject: "eve"},
	}
	hosts := []string{"app.example.com", "admin.example.com", "wiki.apps.example.com", "ADMIN.example.com."}
	paths := []string{"/", "/admin", "/admin/x", "/ADMIN/x", "/public/x", "/PUBLIC/x", "/public/../admin",
		"/api/health", "/api/users", "/api/docs/a.html", "/x/%2e%2e/admin/", "/admin%2Fx", "/a;b", "/caf%C3%A9"}
	methods := []string{"GET", "POST"}
	checked := 0
	for _, id := range people {
		s := e.testSession()
		s.Identity = id
		cookie := cookieHeader(e.mint(s))
		for _, host := range hosts {
			for _, path := range paths {
				for _, method := range methods {
					name := fmt.Sprintf("%s %s %s%s", id.Subject, method, host, path)
					ex := e.proxy.Explain(context.Background(), method, "https://"+host+path, &id)

					req := httptest.NewRequest(method, "http://"+host+path, nil)
					req.Header.Set("Cookie", cookie)
					req.Header.Set("Accept", "application/json")
					rec := httptest.NewRecorder()
					e.proxy.ServeHTTP(rec, req)
					if rec.Code != ex.Status {
						t.Errorf("%s: the proxy answers %d, explain says %d (%s)", name, rec.Code, ex.Status, ex.Why)
					}

					fa := httptest.NewRequest(http.MethodGet, "http://gatehouse.internal"+authPath, nil)
					fa.Header = http.Header{
						"Cookie": {cookie}, "Accept": {"application/json"},
						"X-Forwarded-Method": {method}, "X-Forwarded-Host": {host}, "X-Forwarded-Uri": {path}, "X-Forwarded-Proto": {"https"},
					}
					rec = httptest.NewRecorder()
					e.proxy.ServeHTTP(rec, fa)
					if rec.Code != ex.ForwardAuth {
						t.Errorf("%s: forward-auth answers %d, explain says %d (%s)", name, rec.Code, ex.ForwardAuth, ex.Why)
					}
					checked++
				}
			}
		}
	}
	if checked != len(people)*len(hosts)*len(paths)*len(methods) {
		t.Fatalf("checked %d combinations", checked)
	}
}

func TestExplainOutput(t *testing.T) {
	e := newPolicyEnv(t)
	id := &policy.Identity{Subject: "user-42", Groups: []string{"eng"}}
	got := e.proxy.Explain(context.Background(), "GET", "https://app.example.com:8443/public/../Admin/x?q=1", id).String()
	for _, want := range []string{
		"request:      GET https://app.example.com:8443/public/../Admin/x?q=1\n",
		"canonical:    https://app.example.com:8443/Admin/x\n",
		`route:        routes[1] "admin" (any host, path /admin)`,
		"decision:     refused by rule allow: only members of groups admins may pass\n",
		"proxy:        403 Forbidden\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explain output lacks %q:\n%s", want, got)
		}
	}
}
