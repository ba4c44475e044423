package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// SQLite opens a fresh SQLite store in a temporary directory.
func SQLite(t *testing.T) greenlight.Store {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir(), slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens a fresh PostgreSQL database of the test's own (see
// PostgresAdmin for when it skips).
func Postgres(t *testing.T) greenlight.Store {
	t.Helper()
	dsn, admin := PostgresAdmin(t)
	return PostgresOpener(dsn, admin)(t)
}

// PostgresAdmin returns the URL of the test server and a connection to it, or
// skips the test when it is unreachable (fails instead when CI is set to anything).
func PostgresAdmin(t *testing.T) (string, *sql.DB) {
	dsn := os.Getenv("GREENLIGHT_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("pgx", dsn)
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("postgres unreachable: %v", err)
		}
		t.Skipf("postgres unreachable (set GREENLIGHT_TEST_POSTGRES): %v", err)
	}
	admin.SetMaxOpenConns(4)
	t.Cleanup(func() { admin.Close() })
	return dsn, admin
}

// PostgresDatabase creates a PostgreSQL database of the test's own, dropped
// when the test ends, and returns its URL: for a server the test starts
// (see PostgresAdmin for when it skips).
func PostgresDatabase(t *testing.T) string {
	t.Helper()
	dsn, admin := PostgresAdmin(t)
	return freshDatabase(t, dsn, admin)
}

func freshDatabase(t *testing.T, dsn string, admin *sql.DB) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "gl_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// PostgresOpener returns an opener that gives each test a database of its own,
// dropped when the test ends, so tests run in parallel.
func PostgresOpener(dsn string, admin *sql.DB) Opener {
	return func(t *testing.T) greenlight.Store {
		ctx := context.Background()
		db, err := store.Open(ctx, freshDatabase(t, dsn, admin), "", slog.New(slog.NewTextHandler(t.Output(), nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // runs before the drop
		return db
	}
}
