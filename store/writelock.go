package store

import (
	"context"
	"fmt"
	"time"
)

// writeLock serializes SQLite's writers inside the process, first come first
// served. Why: SQLite's own lock is no queue. A writer that finds it taken
// sleeps and polls (up to 100 ms apart), so under steady contention one
// waiter can starve until busy_timeout fails it with SQLITE_BUSY; and while it
// waits it holds one of the few pooled connections that readers need. Blocked
// senders on a channel are served in order. busy_timeout still covers other
// processes using the same file.
type writeLock chan struct{}

// writeLockTimeout matches busy_timeout: a write waits as long as SQLite
// would have. It also bounds the wait of a caller that, inside InTx, wrongly
// writes through the Store instead of the Tx it was given.
const writeLockTimeout = 10 * time.Second

func newWriteLock() writeLock { return make(writeLock, 1) }

func (w writeLock) lock(ctx context.Context) (unlock func(), err error) {
	unlock = func() { <-w }
	select {
	case w <- struct{}{}:
		return unlock, nil
	default:
	}
	t := time.NewTimer(writeLockTimeout)
	defer t.Stop()
	select {
	case w <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the write lock: %w", ctx.Err())
	case <-t.C:
		return nil, fmt.Errorf("wait for the write lock: busy for %s", writeLockTimeout)
	}
}

// lockWrite takes the write lock for a write made outside a transaction in
// SQLite. Transactions take it in InTx; PostgreSQL has row locks.
func (o *ops) lockWrite(ctx context.Context) (unlock func(), err error) {
	if o.inTx || o.postgres() {
		return func() {}, nil
	}
	return o.db.writer.lock(ctx)
}
