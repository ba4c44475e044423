package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/greenlight-cd/greenlight"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// migrations holds the schema of each dialect; embed requires a package-level
// variable, and it is read-only.
//
//go:embed migrations
var migrations embed.FS

// sqlitePragmas make every connection wait for locks instead of failing,
// use WAL (readers never block the writer), fsync each commit, enforce
// foreign keys, and start every transaction with BEGIN IMMEDIATE: deferred
// read-then-write transactions fail with SQLITE_BUSY under contention.
// secure_delete overwrites deleted and replaced content with zeros, so that
// rows rewritten for secrecy (a mail's redacted links) leave no copy in the
// database file's free pages.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate"

func openSQLite(ctx context.Context, dataDir string) (*sql.DB, error) {
	if dataDir == "" {
		return nil, greenlight.Errorf(greenlight.EINVALID, "database: SQLite needs a data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dataDir, "greenlight.db")
	// Create the file ourselves so it is 0600; SQLite gives its -wal and -shm
	// files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	f.Close()
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + sqlitePragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// Reads run concurrently under WAL; writes are serialized by SQLite
	// anyway, so more connections would only wait on busy_timeout.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, greenlight.Errorf(greenlight.EINVALID, "database: malformed postgres URL")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}

// migrate brings the schema up to date. In PostgreSQL goose holds a session
// advisory lock meanwhile, so servers starting together migrate once; SQLite
// serializes the migration's write transaction by itself.
func migrate(ctx context.Context, db *sql.DB, dialect string, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations/"+dialect)
	if err != nil {
		return fmt.Errorf("migrations of %s: %w", dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(log)}
	gd := goose.DialectSQLite3
	if dialect == Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations of %s: %w", dialect, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", dialect, err)
	}
	return nil
}
