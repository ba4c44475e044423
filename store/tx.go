package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/failpoint"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what *sql.DB and *sql.Tx have in common, so that one set of
// methods (ops) works inside and outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops implements greenlight.Tx over a querier.
type ops struct {
	q    querier
	db   *DB
	inTx bool
	// points are the failpoints of what the transaction wrote, reached
	// around its commit (see package failpoint); nil outside one.
	points *[]string
}

var _ greenlight.Tx = (*ops)(nil)

// maxTxAttempts bounds the retries of a PostgreSQL transaction that the
// server aborted to keep transactions serializable (or out of a deadlock).
const maxTxAttempts = 5

// InTx runs fn in one transaction: it commits if fn returns nil, and rolls
// back if fn returns an error or panics (the panic goes on). In SQLite the
// transaction first waits its turn among the process's writers (writeLock),
// then starts with BEGIN IMMEDIATE, so it holds the write lock from the start
// and never fails with SQLITE_BUSY half-way. In PostgreSQL it
// runs at read committed; if the server aborts it with a serialization failure
// or a deadlock (SQLSTATE 40001, 40P01) it is run again, up to 5 times, and
// logged; nothing else is retried. fn may therefore run more than once and
// must have no effect outside the transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx greenlight.Tx) error) error {
	return db.inTx(ctx, func(o *ops) error { return fn(o) })
}

func (db *DB) inTx(ctx context.Context, fn func(o *ops) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || attempt == maxTxAttempts || !retryable(err) {
			return err
		}
		db.log.Info("transaction aborted by postgres, retrying", "attempt", attempt, "err", err)
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(o *ops) error) error {
	if db.dialect == SQLite {
		unlock, err := db.writer.lock(ctx)
		if err != nil {
			return err
		}
		defer unlock() // after the rollback deferred below
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done { // an error or a panic in fn
			tx.Rollback()
		}
	}()
	var points []string
	if err := fn(&ops{q: tx, db: db, inTx: true, points: &points}); err != nil {
		return err
	}
	done = true
	for _, p := range points {
		failpoint.Hit("before:" + p)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	for _, p := range points {
		failpoint.Hit("after:" + p)
	}
	return nil
}

// reached names a failpoint of a write: around the commit of the
// transaction it is part of, else around the write itself (write is then
// done between "before:" and "after:").
func (o *ops) reached(point string, write func() error) error {
	if !failpoint.Armed() {
		return write()
	}
	if o.points != nil {
		*o.points = append(*o.points, point)
		return write()
	}
	failpoint.Hit("before:" + point)
	if err := write(); err != nil {
		return err
	}
	failpoint.Hit("after:" + point)
	return nil
}

// atomic runs fn in the current transaction, or in a new one when o is
// outside any: for the methods made of several statements.
func (o *ops) atomic(ctx context.Context, fn func(o *ops) error) error {
	if o.inTx {
		return fn(o)
	}
	return o.db.inTx(ctx, fn)
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func (o *ops) postgres() bool { return o.db.dialect == Postgres }

// exec runs a write.
func (o *ops) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	unlock, err := o.lockWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	query = o.rebind(query)
	st, err := o.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return o.q.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (o *ops) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = o.rebind(query)
	st, err := o.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return o.q.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// row is a *sql.Row, or the error of preparing its statement.
type row struct {
	r      *sql.Row
	err    error
	unlock func() // of an insertRow; Scan ends the statement, then unlocks
}

func (r row) Scan(dest ...any) error {
	if r.unlock != nil {
		defer r.unlock()
	}
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// insertRow runs an INSERT … RETURNING; the caller must Scan the row, which
// releases the write lock.
func (o *ops) insertRow(ctx context.Context, query string, args ...any) row {
	unlock, err := o.lockWrite(ctx)
	if err != nil {
		return row{err: err}
	}
	r := o.queryRow(ctx, query, args...)
	r.unlock = unlock
	return r
}

func (o *ops) queryRow(ctx context.Context, query string, args ...any) row {
	query = o.rebind(query)
	st, err := o.prepared(ctx, query)
	if err != nil {
		return row{err: err}
	}
	if st == nil {
		return row{r: o.q.QueryRowContext(ctx, query, args...)}
	}
	return row{r: st.QueryRowContext(ctx, args...)}
}

// prepared returns the cached prepared statement for query, bound to the
// transaction when o is in one; nil when statements are not cached.
func (o *ops) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	tx, inTx := o.q.(*sql.Tx)
	// Inside a transaction only a statement prepared before is used: preparing
	// one now would take a second connection from the pool while this one
	// holds SQLite's write lock, and with every connection busy it would wait
	// for a connection that waits for the lock.
	st, err := o.db.stmts.get(ctx, o.db.sql, query, !inTx)
	if err != nil || st == nil {
		return nil, err
	}
	if inTx {
		// Reuses the statement already prepared on the tx's connection, or
		// prepares it on that connection.
		return tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// execOne runs a statement meant to touch one row and reports whether it did.
func (o *ops) execOne(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := o.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// exists reports whether a row matches; conditional methods use it only on
// their false path, to tell "condition failed" from "no such row".
func (o *ops) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := o.queryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, …. Queries in this
// package never contain a literal question mark.
func (o *ops) rebind(query string) string {
	if !o.postgres() {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
