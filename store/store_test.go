package store_test

import (
	"context"
	"log/slog"
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

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn, admin := storetest.PostgresAdmin(t)
	storetest.Run(t, storetest.PostgresOpener(dsn, admin))
}

func TestDialect(t *testing.T) {
	t.Parallel()
	if got := openSQLite(t).(*store.DB).Dialect(); got != "sqlite" {
		t.Errorf("got dialect %q, want sqlite", got)
	}
	dsn, admin := storetest.PostgresAdmin(t)
	if got := storetest.PostgresOpener(dsn, admin)(t).(*store.DB).Dialect(); got != "postgres" {
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
