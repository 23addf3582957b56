package sqlstore

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
)

// TestPostgresDSNErrorsHidePassword opens DSNs that do not parse, or name a
// server that is not there, and checks the error says what is wrong without
// any piece of the password.
func TestPostgresDSNErrorsHidePassword(t *testing.T) {
	// A loopback port nothing listens on: the connection is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		dsn      string
		password []string // pieces that must not appear
		want     string   // what the error must say
	}{
		{"URL with a bad escape in the password", "postgres://gatehouse:s3cr%zzPW@db/gatehouse", []string{"s3cr", "PW", "%zz"}, "postgres DSN"},
		{"URL with a slash in the password", "postgres://gatehouse:s3cr/et@db/gatehouse", []string{"s3cr", "et@db"}, "postgres DSN"},
		{"URL with a space in the password", "postgres://gatehouse:s3cr et@db/gatehouse", []string{"s3cr", "et@"}, "postgres DSN"},
		{"URL with an unknown sslmode", "postgres://gatehouse:s3cretPW@db/gatehouse?sslmode=bogus", []string{"s3cretPW"}, "bogus"},
		{"URL with the password as a parameter", "postgres://db/gatehouse?password=s3cretPW&sslmode=bogus", []string{"s3cretPW"}, "bogus"},
		{"URL with a bad port", "postgres://gatehouse:s3cretPW@db:port/gatehouse", []string{"s3cretPW"}, "postgres DSN"},
		{"key=value with a space in an unquoted password", "host=db password=s3cr etPW dbname=gatehouse", []string{"s3cr", "etPW"}, "postgres DSN"},
		{"key=value with an unterminated quote", "host=db password='s3cretPW dbname=gatehouse", []string{"s3cretPW"}, "unterminated"},
		{"key=value with an unknown sslmode", "host=db password=s3cretPW sslmode=bogus", []string{"s3cretPW"}, "bogus"},
		{"URL to a server that is not there", "postgres://gatehouse:s3cretPW@" + closed + "/gatehouse?sslmode=disable", []string{"s3cretPW"}, closed + "/gatehouse"},
		{"key=value to a server that is not there", "host=127.0.0.1 port=" + closed[strings.LastIndex(closed, ":")+1:] + " user=gatehouse password=s3cretPW dbname=gatehouse sslmode=disable", []string{"s3cretPW"}, closed + "/gatehouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, Config{Driver: "postgres", DSN: tt.dsn, Logger: quiet})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			msg := err.Error()
			for _, p := range tt.password {
				if strings.Contains(msg, p) {
					t.Errorf("error quotes %q of the password: %s", p, msg)
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
		})
	}
}

// TestPostgresDSNForms opens the test database by URL and by key=value
// pairs, as the configuration documents, each in a schema of its own.
func TestPostgresDSNForms(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	s, err := Open(t.Context(), Config{Driver: "postgres", DSN: dsn, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var user, host, port, db string
	err = s.db.QueryRowContext(t.Context(), "SELECT current_user, COALESCE(inet_server_addr()::text, 'localhost'), current_setting('port'), current_database()").Scan(&user, &host, &port, &db)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, "/")
	// No sslmode: the default, prefer as in libpq, applies.
	kv := "host=" + host + " port=" + port + " user=" + user + " dbname='" + db + "'"
	for _, form := range []struct{ name, dsn string }{{"URL", dsn}, {"key=value", kv}} {
		t.Run(form.name, func(t *testing.T) {
			schema := sqltest.FreshSchema(t, dsn)
			s := openPostgresT(t, form.dsn, schema)
			defer s.Close()
			var got string
			if err := s.db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != schema {
				t.Errorf("current_schema() = %q, want %q", got, schema)
			}
		})
	}
}
