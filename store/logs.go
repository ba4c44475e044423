package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/greenlight-cd/greenlight"
)

// Logs keeps each stage's output in Dir/<run>/<stage>.log: files 0600 in
// directories 0700, since build output may hold secrets the masking missed.
// Writers append, so a stage run again after a restart adds to its log.
type Logs struct {
	Dir string
}

var _ greenlight.Logs = (*Logs)(nil)

// Create opens the stage's log for appending, creating it if needed.
func (l *Logs) Create(runID int64, stage string) (io.WriteCloser, error) {
	path, err := l.path(runID, stage)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	return f, nil
}

// Open opens the stage's log for reading; ENOTFOUND if nothing was written.
func (l *Logs) Open(runID int64, stage string) (io.ReadCloser, error) {
	path, err := l.path(runID, stage)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "no log for run %d stage %s", runID, stage)
	}
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// path validates the names so that no path can leave Dir.
func (l *Logs) path(runID int64, stage string) (string, error) {
	if l.Dir == "" {
		return "", greenlight.Errorf(greenlight.EINTERNAL, "logs: no directory configured")
	}
	if runID <= 0 {
		return "", greenlight.Errorf(greenlight.EINVALID, "invalid run id %d", runID)
	}
	if !greenlight.ValidName(stage) {
		return "", greenlight.Errorf(greenlight.EINVALID, "invalid stage name %q", stage)
	}
	return filepath.Join(l.Dir, strconv.FormatInt(runID, 10), stage+".log"), nil
}
