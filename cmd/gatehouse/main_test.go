package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		wantErr    string // "" for success
		wantStdout string
	}{
		{name: "version", args: []string{"version"}, wantStdout: "gatehouse "},
		{name: "version names the Go release", args: []string{"version"}, wantStdout: "\ngo: " + runtime.Version() + "\n"},
		{name: "healthcheck without config", args: []string{"healthcheck", "--ready"}, wantErr: "healthcheck needs --config FILE"},
		{name: "check example", args: []string{"check", "--config", "../../config.example.yaml"}, wantStdout: "is valid"},
		{name: "check redacts", args: []string{"check", "--config", "../../config.example.yaml"}, wantStdout: "    client_secret: REDACTED\n"},
		{name: "check warns of the demo secrets", args: []string{"check", "--config", "../../config.example.yaml"}, wantStdout: ": proxy.cookie.secrets[0]: has about"},
		{name: "check missing file", args: []string{"check", "--config", "nope.yaml"}, wantErr: "nope.yaml"},
		{name: "serve without config", args: []string{"serve"}, wantErr: "serve needs --config FILE"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "hash-password without input", args: []string{"hash-password"}, stdin: "", wantErr: "no password given"},
		{name: "hash-password too long", args: []string{"hash-password"}, stdin: strings.Repeat("x", 73), wantErr: "at most 72"},
		{name: "hash-password argon2id has no length limit", args: []string{"hash-password", "--argon2id"}, stdin: strings.Repeat("x", 73), wantStdout: "$argon2id$v=19$m=19456,t=2,p=1$"},
		{name: "hash-password argon2id without input", args: []string{"hash-password", "--argon2id"}, stdin: "", wantErr: "no password given"},
		{name: "hash-password with an argument", args: []string{"hash-password", "secret"}, wantErr: "takes no arguments"},
		{name: "hash-password unknown flag", args: []string{"hash-password", "--scrypt"}, wantErr: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
		})
	}
}

func TestHashPasswordArgon2idFromPipe(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"hash-password", "--argon2id"}, strings.NewReader("s3cret pass\n"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(stdout.String())
	d, err := directory.New([]directory.User{{ID: "u", PasswordHash: []byte(hash)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Authenticate("u", "s3cret pass") == nil || d.Authenticate("u", "s3cret pass\n") != nil {
		t.Fatalf("printed hash %q does not match exactly the piped password", hash)
	}
}

func TestHashPasswordFromPipe(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"hash-password"}, strings.NewReader("s3cret pass\n"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(stdout.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret pass")); err != nil {
		t.Fatalf("printed hash %q does not match the piped password: %v", hash, err)
	}
}
