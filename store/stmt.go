package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// stmtCache keeps SQLite's prepared statements. Parsing a query costs SQLite
// more than running it (profiled: 40% of a token lookup), and the driver
// caches nothing. PostgreSQL needs no cache here: pgx keeps prepared
// statements per connection itself. The cache is bounded, so queries built
// with a varying number of arguments cannot grow it without limit; past the
// bound queries are simply prepared each time.
type stmtCache struct {
	enabled bool
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
}

const maxCachedStmts = 256

// get returns the statement for query, preparing it on db if prepare is set
// and it is not cached yet; nil if it is not cached.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string, prepare bool) (*sql.Stmt, error) {
	if !c.enabled {
		return nil, nil
	}
	c.mu.RLock()
	st, full := c.m[query], len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if st != nil || full || !prepare {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[query]; prev != nil { // prepared meanwhile by another caller
		st.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}
