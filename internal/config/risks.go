package config

import (
	"fmt"
	"math"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/gatehouse/gatehouse/proxy"
)

// Entropy wanted of secrets, in bits. Cookie secrets key the encryption
// and MAC of every session, as long as they are in use: 32 random bytes,
// which is what `openssl rand -base64 32` gives. A client secret is a
// password only machines type, so anything guessable is a flaw.
const (
	minCookieSecretBits = 256
	minClientSecretBits = 128
)

// risk records a setting that is valid but weakens security, for
// Config.Risks.
func (l *loader) risk(field, format string, args ...any) {
	l.risks = append(l.risks, Problem{File: l.path, Line: l.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// findRisks looks for valid settings that leave gatehouse open to attack.
func (l *loader) findRisks(f *File) {
	if a := f.AuthServer; a != nil {
		l.httpRisk("authserver.issuer", a.Issuer, a.InsecureAllowHTTP)
		for i, c := range a.Clients {
			field := fmt.Sprintf("authserver.clients[%d]", i)
			l.httpRisk(field+".backchannel_logout_uri", c.BackchannelLogoutURI, a.InsecureAllowHTTP)
			l.weakSecret(field+".secret", c.Secret, minClientSecretBits)
		}
		for i, s := range a.CookieSecrets {
			l.weakSecret(fmt.Sprintf("authserver.cookie_secrets[%d]", i), s, minCookieSecretBits)
		}
	}
	if p := f.Proxy; p != nil {
		l.httpRisk("proxy.public_url", p.PublicURL, p.InsecureAllowHTTP)
		l.httpRisk("proxy.provider.issuer", p.Provider.Issuer, p.InsecureAllowHTTP)
		if u, err := url.Parse(p.PublicURL); err == nil && !*p.Cookie.Secure && !isLoopback(u.Hostname()) {
			l.risk("proxy.cookie.secure", "is off for %s: browsers also send the session cookie over plain http, where anyone on the way can copy it and be signed in; leave secure at its default (on for https public_url)", u.Host)
		}
		if p.Provider.InsecureAssumeEmailVerified {
			l.risk("proxy.provider.insecure_assume_email_verified", "is on: anyone who can put an address they do not own into their account at the provider passes rules on emails and email_domains as that address")
		}
		for i, s := range p.Cookie.Secrets {
			l.weakSecret(fmt.Sprintf("proxy.cookie.secrets[%d]", i), s, minCookieSecretBits)
		}
		l.weakSecret("proxy.provider.client_secret", p.Provider.ClientSecret, minClientSecretBits)
		for i, d := range p.AllowedRedirectDomains {
			if name, below := strings.CutPrefix(d, "."); below {
				if suffix, _ := publicsuffix.PublicSuffix(name); suffix == name {
					l.risk(fmt.Sprintf("proxy.allowed_redirect_domains[%d]", i), "%q lets sign-in send people on to any site under %s, which anyone can register; name your own domain (.example.com) or hosts", d, name)
				}
			}
		}
		if cfg, err := proxyConfig(p); err == nil {
			for _, s := range proxy.Shadows(cfg) {
				l.risk("proxy."+s.Field, "%s", s.Msg)
			}
		}
	}
}

// httpRisk reports a plain-http URL off this machine that
// insecure_allow_http let through validation.
func (l *loader) httpRisk(field, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	if err != nil || !allowHTTP || u.Scheme != "http" || isLoopback(u.Hostname()) {
		return
	}
	l.risk(field, "%s uses http on another host (insecure_allow_http is on): passwords, codes, tokens and cookies cross the network in clear text; use https unless TLS ends in front of gatehouse on a network you trust", u.Redacted())
}

func (l *loader) weakSecret(field, secret string, minBits int) {
	if secret == "" {
		return
	}
	if bits := secretBits(secret); bits < float64(minBits) {
		l.risk(field, "has about %d bits of entropy, less than the %d wanted: it may be guessed; use a random one, e.g. from `openssl rand -base64 32`", int(bits), minBits)
	}
}

// secretBits estimates the entropy of a secret. A random string in hex or
// base64, as generators print them, carries 4 or 6 bits a character;
// anything else (words, patterns) is counted by how evenly it uses its
// characters, which is generous to passphrases but catches repetition.
func secretBits(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	var perChar float64 // Shannon entropy of the characters used
	for _, c := range counts {
		p := float64(c) / float64(n)
		perChar -= p * math.Log2(p)
	}
	alphabet := 0.0
	switch {
	case strings.Trim(s, "0123456789abcdef") == "" || strings.Trim(s, "0123456789ABCDEF") == "":
		alphabet = 4
	case strings.Trim(strings.TrimRight(s, "="), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_") == "":
		alphabet = 6
	}
	// A random string uses close to all the characters it could; one that
	// does not is a pattern, not the output of a generator.
	if alphabet > 0 && perChar >= 0.8*math.Log2(math.Min(math.Exp2(alphabet), float64(n))) {
		return alphabet * float64(len(strings.TrimRight(s, "=")))
	}
	return perChar * float64(n)
}
