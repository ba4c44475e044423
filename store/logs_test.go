package store_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store"
)

func TestLogs(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	logs := &store.Logs{Dir: dir}

	_, err := logs.Open(3, "build")
	if got := greenlight.ErrorCode(err); got != greenlight.ENOTFOUND {
		t.Fatalf("open before any write: got %v, want ENOTFOUND", err)
	}
	for _, chunk := range []string{"line 1\n", "line 2\n"} { // a second Create appends
		w, err := logs.Create(3, "build")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, chunk); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := logs.Open(3, "build")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "line 1\nline 2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	file := filepath.Join(dir, "3", "build.log")
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(file): 0o700, file: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %v, want %v", path, got, want)
		}
	}
}

// TestLogsNames refuses every name that could leave the directory.
func TestLogsNames(t *testing.T) {
	t.Parallel()
	logs := &store.Logs{Dir: t.TempDir()}
	tests := []struct {
		run   int64
		stage string
		ok    bool
	}{
		{1, "build", true},
		{1, "deploy-staging-2", true},
		{1, "", false},
		{1, "..", false},
		{1, "../../etc/passwd", false},
		{1, "a/b", false},
		{1, "Build", false},
		{1, "build.log", false},
		{1, "nul\x00", false},
		{0, "build", false},
		{-1, "build", false},
	}
	for _, tt := range tests {
		w, err := logs.Create(tt.run, tt.stage)
		if tt.ok {
			if err != nil {
				t.Errorf("Create(%d, %q): %v", tt.run, tt.stage, err)
				continue
			}
			w.Close()
			continue
		}
		if got := greenlight.ErrorCode(err); got != greenlight.EINVALID {
			t.Errorf("Create(%d, %q): got %v, want EINVALID", tt.run, tt.stage, err)
		}
		if _, err := logs.Open(tt.run, tt.stage); greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("Open(%d, %q): got %v, want EINVALID", tt.run, tt.stage, err)
		}
	}
}
