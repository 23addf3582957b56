// Package sqltest gives tests a PostgreSQL schema of their own, so test
// runs sharing one database never see each other's rows.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// DSNEnv names the environment variable with the test database's DSN.
const DSNEnv = "GATEHOUSE_TEST_POSTGRES_DSN"

// PostgresDSN returns the test database's DSN, or skips the test when
// GATEHOUSE_TEST_POSTGRES_DSN is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		t.Skip(DSNEnv + " not set: skipping PostgreSQL tests")
	}
	return dsn
}

// FreshSchema names a schema no other test or test run uses, and drops it
// when t ends. The schema itself is created by sqlstore.Open.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	schema := "gatehouse_test_" + rand.Text()[:12]
	t.Cleanup(func() {
		connector, err := pq.NewConnector(dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		db := sql.OpenDB(connector)
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pq.QuoteIdentifier(schema)+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
