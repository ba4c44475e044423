package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// t encodes a time for the dialect: SQLite keeps INTEGER microseconds since
// the epoch, PostgreSQL a TIMESTAMPTZ. Both keep microseconds, so times are
// truncated to the microsecond here and compare the same way in both.
func (o *ops) t(t time.Time) any {
	us := t.UnixMicro()
	if o.postgres() {
		return time.UnixMicro(us).UTC()
	}
	return us
}

// nt encodes a nullable time.
func (o *ops) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return o.t(*t)
}

// utc scans a time column of either dialect into a UTC time.Time.
type utc struct{ dst *time.Time }

func (u utc) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*u.dst = time.UnixMicro(v).UTC()
	case time.Time:
		*u.dst = v.UTC()
	case nil:
		*u.dst = time.Time{}
	default:
		return fmt.Errorf("scan time from %T", src)
	}
	return nil
}

// nullUTC scans a nullable time column into a *time.Time.
type nullUTC struct{ dst **time.Time }

func (u nullUTC) Scan(src any) error {
	if src == nil {
		*u.dst = nil
		return nil
	}
	var t time.Time
	if err := (utc{&t}).Scan(src); err != nil {
		return err
	}
	*u.dst = &t
	return nil
}

// jsonText encodes lists and maps as JSON text.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// jsonCol scans JSON text into dst.
type jsonCol struct{ dst any }

func (j jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		return nil
	default:
		return fmt.Errorf("scan json from %T", src)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, j.dst); err != nil {
		return fmt.Errorf("decode json column: %w", err)
	}
	return nil
}

// nullString stores "" as NULL, for optional unique keys.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// violation is the kind of constraint a failed write broke.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

func classify(err error) violation {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return uniqueViolation
		case "23503":
			return foreignKeyViolation
		}
		return noViolation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
	}
	return noViolation
}

// notFound maps sql.ErrNoRows to an ENOTFOUND error saying what is missing,
// and wraps any other error with that context.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return greenlight.Errorf(greenlight.ENOTFOUND, format+" not found", args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// nullJSON encodes v as JSON text, or NULL when v is a nil pointer.
func nullJSON[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	return jsonText(v)
}
