package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/greenlight-cd/greenlight"
)

// SnapshotSQLite writes a consistent copy of the SQLite database of dataDir
// to dest (which must not exist) while a server may be using it: VACUUM INTO
// reads one snapshot of the database in a read transaction, which under WAL
// never blocks the server's writes. The copy is a whole database on its own
// (no -wal file), left with mode 0600; dest's directory must be private.
// The source is not migrated or changed.
func SnapshotSQLite(ctx context.Context, dataDir, dest string) error {
	path := filepath.Join(dataDir, "greenlight.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.ENOTFOUND, "no database at %s", path)
	} else if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return greenlight.Errorf(greenlight.ECONFLICT, "%s exists", dest)
	}
	// SQLite creates dest with the umask's mode: callers put it in a
	// directory only they can enter (the copy holds everything).
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("snapshot: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		os.Remove(dest)
		return fmt.Errorf("snapshot of %s: %w", path, err)
	}
	return os.Chmod(dest, 0o600)
}
