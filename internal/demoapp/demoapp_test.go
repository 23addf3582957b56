package demoapp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestShowsIdentityHeaders(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	for _, tc := range []struct {
		accept string
		want   []string
	}{
		{"text/html", []string{"Hello, alice!", "alice@example.com", "a,b", "&lt;script&gt;"}},
		{"application/json", []string{`"X-Forwarded-User":"u-1"`}},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/some/path?q=1", nil)
		req.Header.Set("Accept", tc.accept)
		req.Header.Set("X-Forwarded-User", "u-1")
		req.Header.Set("X-Forwarded-Email", "alice@example.com")
		req.Header.Set("X-Forwarded-Preferred-Username", "alice")
		req.Header.Set("X-Forwarded-Groups", "a,b")
		req.Header.Set("X-Other", "<script>")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: got status %d, want 200", tc.accept, resp.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: body lacks %q:\n%s", tc.accept, w, body)
			}
		}
		if tc.accept == "application/json" {
			var v view
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			if v.Path != "/some/path?q=1" || v.Identity["X-Forwarded-Groups"] != "a,b" {
				t.Errorf("got %+v", v)
			}
		}
	}
}
