package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestClientLogoutSettings checks post_logout_redirect_uris and
// backchannel_logout_uri: what loads reaches the directory, what does not
// is named by file, line and field.
func TestClientLogoutSettings(t *testing.T) {
	tests := []struct {
		name  string
		extra string // appended to minimalAuth's client
		want  string // a substring of the error; "" means it loads
	}{
		{
			name:  "both set",
			extra: "      post_logout_redirect_uris: [http://localhost:8000/oauth2/signed_out]\n      backchannel_logout_uri: http://localhost:8000/oauth2/backchannel_logout\n",
		},
		{
			name:  "https back channel elsewhere",
			extra: "      backchannel_logout_uri: https://app.example.com/oauth2/backchannel_logout\n",
		},
		{
			name:  "relative post-logout URI",
			extra: "      post_logout_redirect_uris: [/signed_out]\n",
			want:  `:12: authserver.clients[0].post_logout_redirect_uris[0]: "/signed_out" is not an absolute http(s) URL`,
		},
		{
			name:  "post-logout URI with a fragment",
			extra: "      post_logout_redirect_uris: [http://localhost:8000/bye, \"http://localhost:8000/x#y\"]\n",
			want:  ":12: authserver.clients[0].post_logout_redirect_uris[1]: a redirect URI must not contain a fragment",
		},
		{
			name:  "back channel over http to another host",
			extra: "      backchannel_logout_uri: http://app.example.com/oauth2/backchannel_logout\n",
			want:  ":12: authserver.clients[0].backchannel_logout_uri: http://app.example.com/oauth2/backchannel_logout uses http on a host other than this machine",
		},
		{
			name:  "back channel not a URL",
			extra: "      backchannel_logout_uri: mailto:ops@example.com\n",
			want:  `:12: authserver.clients[0].backchannel_logout_uri: "mailto:ops@example.com" is not an absolute http(s) URL`,
		},
		{
			name:  "back channel with a fragment",
			extra: "      backchannel_logout_uri: \"https://app.example.com/bc#x\"\n",
			want:  ":12: authserver.clients[0].backchannel_logout_uri: must not contain a fragment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(minimalAuth+tt.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), path+tt.want) {
					t.Fatalf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ac, err := c.AuthServer(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, want := ac.Directory.Client("c"), c.File.AuthServer.Clients[0]
			if !slices.Equal(got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) || got.BackchannelLogoutURI != want.BackchannelLogoutURI {
				t.Errorf("directory client %+v lacks the logout settings %+v", got, want)
			}
		})
	}
}

// TestBackchannelHTTPWithInsecureFlag: as for the issuer, the section's
// insecure_allow_http admits an http back channel to another host.
func TestBackchannelHTTPWithInsecureFlag(t *testing.T) {
	yaml := minimalAuth + "      backchannel_logout_uri: http://app.internal/oauth2/backchannel_logout\n  insecure_allow_http: true\n"
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("got %v, want it to load with insecure_allow_http", err)
	}
}
