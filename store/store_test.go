package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store"
	"github.com/greenlight-cd/greenlight/store/storetest"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func openSQLite(t *testing.T) greenlight.Store { return newSQLite(t) }

func newSQLite(tb testing.TB) *store.DB {
	db, err := store.Open(context.Background(), "", tb.TempDir(), testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

// postgresAdmin returns the URL of the test server and a connection to it, or
// skips the test when it is unreachable (fails instead when CI=true).
func postgresAdmin(t *testing.T) (string, *sql.DB) {
	dsn := os.Getenv("GREENLIGHT_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("pgx", dsn)
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgres unreachable: %v", err)
		}
		t.Skipf("postgres unreachable (set GREENLIGHT_TEST_POSTGRES): %v", err)
	}
	admin.SetMaxOpenConns(4)
	t.Cleanup(func() { admin.Close() })
	return dsn, admin
}

// openPostgres returns an opener that gives each test a database of its own,
// dropped when the test ends, so tests run in parallel.
func openPostgres(dsn string, admin *sql.DB) storetest.Opener {
	return func(t *testing.T) greenlight.Store {
		ctx := context.Background()
		var b [6]byte
		rand.Read(b[:])
		name := "gl_test_" + hex.EncodeToString(b[:])
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
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
		db, err := store.Open(ctx, u.String(), "", testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // runs before the drop
		return db
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn, admin := postgresAdmin(t)
	storetest.Run(t, openPostgres(dsn, admin))
}

func TestDialect(t *testing.T) {
	t.Parallel()
	if got := openSQLite(t).(*store.DB).Dialect(); got != "sqlite" {
		t.Errorf("got dialect %q, want sqlite", got)
	}
	dsn, admin := postgresAdmin(t)
	if got := openPostgres(dsn, admin)(t).(*store.DB).Dialect(); got != "postgres" {
		t.Errorf("got dialect %q, want postgres", got)
	}
}

// TestSQLiteFiles checks the database is private to its owner, and that
// reopening it keeps the data (migrations run once).
func TestSQLiteFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db, err := store.Open(ctx, "", dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := db.RecordDelivery(ctx, "hello", "d-1", testTime())
	if err != nil || !ok {
		t.Fatalf("record: got %v, %v", ok, err)
	}
	for _, name := range []string{"greenlight.db", "greenlight.db-wal", "greenlight.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", name, got)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: got %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(ctx, "", dir, testLogger(t))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	ok, err = db.RecordDelivery(ctx, "hello", "d-1", testTime())
	if err != nil || ok {
		t.Fatalf("after reopen: got %v, %v; want the delivery remembered", ok, err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name, dsn, dir string
		code           string
	}{
		{"unknown scheme", "mysql://root@localhost/db", t.TempDir(), greenlight.EINVALID},
		{"sqlite without a data dir", "", "", greenlight.EINVALID},
		{"malformed postgres url", "postgres://user:secret@host:notaport/db", "", greenlight.EINVALID},
		{"unreachable postgres", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "", greenlight.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(ctx, tt.dsn, tt.dir, nil)
			if err == nil {
				db.Close()
				t.Fatal("got no error")
			}
			if got := greenlight.ErrorCode(err); got != tt.code {
				t.Errorf("got code %s (%v), want %s", got, err, tt.code)
			}
		})
	}
}
