package proxy

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// TestIdentityFormats: the current format keeps the provider's session
// id, and a value of format 3, from before it was kept, still decodes.
func TestIdentityFormats(t *testing.T) {
	at := time.Unix(1900000000, 0)
	base := session{id: "id", expiry: at, touched: at, renewAt: at, kept: keepRefresh, Identity: policy.Identity{Subject: "s"}}
	withSID := base
	withSID.sid = "op-session-1"
	// Format 3 is format 4 without the trailing sid, an empty string.
	v3 := appendIdentity(nil, &base)
	v3[0], v3 = identityFormatV3, v3[:len(v3)-1]

	for _, tt := range []struct {
		name    string
		value   []byte
		wantSID string
	}{
		{"current with sid", appendIdentity(nil, &withSID), "op-session-1"},
		{"current without sid", appendIdentity(nil, &base), ""},
		{"format 3", v3, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeIdentity(tt.value)
			if err != nil {
				t.Fatalf("decodeIdentity: %v", err)
			}
			if got.sid != tt.wantSID || got.Subject != "s" || !got.expiry.Equal(at) || got.kept != keepRefresh {
				t.Fatalf("got sid %q sub %q expiry %s kept %b, want sid %q sub s expiry %s kept %b", got.sid, got.Subject, got.expiry, got.kept, tt.wantSID, at, keepRefresh)
			}
		})
	}
	if _, err := decodeIdentity(append([]byte{identityFormat + 1}, v3[1:]...)); err == nil {
		t.Fatal("a value of a later format decoded")
	}
}
