package proxy

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// fuzzProxy is a proxy that is never contacted over the network.
func fuzzProxy(t testing.TB) *Proxy {
	pub, _ := url.Parse("http://localhost:8000")
	p, err := New(Config{
		PublicURL: pub,
		Provider:  ProviderConfig{IssuerURL: "http://127.0.0.1:9", ClientID: "c"},
		Cookie:    CookieConfig{Secrets: [][]byte{testSecret}},
		Routes:    []Route{{Path: "/", Upstream: "http://127.0.0.1:9"}},
		Now:       func() time.Time { return time.Unix(1800000000, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzSessionCookie feeds arbitrary Cookie headers through the hot path's
// cookie reading and session decoding: nothing may panic, the upstream's
// cookies never include the proxy's, and a session only comes out of a
// value the proxy itself minted.
func FuzzSessionCookie(f *testing.F) {
	p := fuzzProxy(f)
	s := &session{id: "i", expiry: time.Unix(1900000000, 0), renewAt: time.Unix(1900000000, 0), Identity: policy.Identity{Subject: "sub", Groups: []string{"g"}}}
	valid, err := encode(p.codecs.identity, p.cookieName, appendIdentity(nil, s))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"_gatehouse=" + valid,
		"a=1; _gatehouse=" + valid + "; _gatehouse_1=x; b=2",
		"_gatehouse=" + valid[:len(valid)/2],
		"_gatehouse_flow_x=1;_gatehouse",
		"=;;=_gatehouse=;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		value, rest, own := splitCookies([]string{header}, p.cookieName)
		if own {
			for part := range strings.SplitSeq(rest, ";") {
				n, _, _ := strings.Cut(strings.TrimSpace(part), "=")
				if ownCookie(n, p.cookieName) {
					t.Fatalf("cookie %q of the proxy left in %q for the upstream", n, rest)
				}
			}
		}
		got, err := p.loadSession(context.Background(), value)
		// Fuzzing workers each mint their own seed value, so compare what
		// came out rather than the input.
		if err == nil && (got.id != s.id || got.Subject != s.Subject) {
			t.Fatalf("session %+v came out of %q, which the proxy did not mint", got, value)
		}
	})
}

// FuzzSessionDecoders feeds arbitrary bytes, as if they had decrypted, to
// the binary decoders: they must not panic or allocate beyond the input,
// and what they accept must encode back to the same bytes, so every value
// has one reading.
func FuzzSessionDecoders(f *testing.F) {
	s := &session{
		id: "id", expiry: time.Unix(1900000000, 0), sid: "op-sid", Identity: policy.Identity{Subject: "s", Email: "e@x", Name: "n", Groups: []string{"a", "b"}},
		tokens: tokens{access: "a", refresh: "r", id: "i", accessExpiry: time.Unix(1900000000, 0)},
	}
	f.Add(appendIdentity(nil, s))
	f.Add(encodeRecord(s))
	f.Add((&flow{state: "st", nonce: "n", verifier: "v", returnTo: "/", created: time.Unix(1800000000, 0)}).encode())
	f.Add([]byte{identityFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Values of earlier formats are read, and written in the current one.
		current := len(b) > 0 && b[0] == identityFormat
		if got, err := decodeIdentity(b); err == nil && current {
			if again := appendIdentity(nil, got); !bytes.Equal(again, b) {
				t.Fatalf("identity %x decoded and re-encoded as %x", b, again)
			}
		}
		if got, err := decodeRecord(b); err == nil && current {
			if again := encodeRecord(got); !bytes.Equal(again, b) {
				t.Fatalf("record %x decoded and re-encoded as %x", b, again)
			}
		}
		if got, err := decodeFlow(b); err == nil {
			if again := got.encode(); !bytes.Equal(again, b) {
				t.Fatalf("flow %x decoded and re-encoded as %x", b, again)
			}
		}
	})
}
