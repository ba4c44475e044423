// Package store persists Greenlight's state in SQLite (the default) or
// PostgreSQL behind greenlight.Store, and the output of stages as files
// behind greenlight.Logs.
//
// It is an adapter: it writes and reads rows and decides nothing. The
// conditional operations (UseToken, LockApproval, SetApprovalStatus,
// EnqueueMail, RecordDelivery) are single conditional statements, so that of
// several racing callers exactly one sees true; the rules that use them live
// in the domain packages.
//
// Both dialects run one implementation (ops, over database/sql) with queries
// written once using ? placeholders; for PostgreSQL they are rebound to $n.
// The schema differs only in types (times are INTEGER microseconds in SQLite,
// TIMESTAMPTZ in PostgreSQL) and is migrated with goose at Open.
// Times are kept to the microsecond and returned in UTC.
//
// Concurrency: SQLite has one writer at a time; writers queue in the process
// (writeLock) before SQLite's own lock, and a few pooled connections serve
// concurrent reads under WAL. PostgreSQL runs at read committed with the row
// locks of the conditional updates, plus one advisory lock that makes events
// commit in Seq order (see eventLockKey).
package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Dialect names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is a Greenlight store on SQLite or PostgreSQL. Its Tx methods run outside
// any transaction (each statement on its own, multi-statement writes in their
// own transaction); InTx gives fn the same methods inside one transaction.
type DB struct {
	ops
	sql     *sql.DB
	dialect string
	log     *slog.Logger
	stmts   stmtCache
	writer  writeLock // SQLite only
	// inboxBatch groups concurrent EnqueueDelivery calls (SQLite only).
	inboxBatch enqueueBatch
}

var _ greenlight.Store = (*DB)(nil)

// Open connects to the database and migrates it to the current schema.
// dsn "" opens SQLite at <dataDir>/greenlight.db (created 0600);
// "postgres://…" or "postgresql://…" opens PostgreSQL. log may be nil.
func Open(ctx context.Context, dsn string, dataDir string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log, writer: newWriteLock()}
	var err error
	switch {
	case dsn == "":
		db.dialect = SQLite
		db.sql, err = openSQLite(ctx, dataDir)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.dialect = Postgres
		db.sql, err = openPostgres(ctx, dsn)
	default:
		// The DSN is not echoed: it may hold a password.
		return nil, greenlight.Errorf(greenlight.EINVALID, "database: want \"\" (SQLite) or a postgres:// URL")
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db.sql, db.dialect, log); err != nil {
		db.sql.Close()
		return nil, err
	}
	db.ops = ops{q: db.sql, db: db}
	db.stmts.enabled = db.dialect == SQLite
	log.Debug("store open", "dialect", db.dialect)
	return db, nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Close closes the database. Calls after Close fail.
func (db *DB) Close() error {
	db.stmts.close()
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.dialect, err)
	}
	return nil
}
