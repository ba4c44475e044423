package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/datadir"
)

// TestServeRefusesALockedDataDir: serve on a data directory that another
// Greenlight holds fails at once, naming the holder, and touches nothing in
// the directory (no admin token generated, no database created or migrated).
func TestServeRefusesALockedDataDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "greenlight.yml")
	yml := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\npipelines:\n  - name: hello\n    source: {repo: %s/repo.git}\n    stages: [{name: build, type: build}]\n", data, dir)
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := datadir.Acquire(data) // through its own open file description, as another process
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"serve", "--config", file}, func(string) (string, bool) { return "", false }, &stdout, &stderr)
	var inUse *datadir.InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("serve on a held data directory: %v, want it refused as in use", err)
	}
	if msg := err.Error(); !strings.Contains(msg, data) || !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("message %q names neither the data directory nor the holder's pid", msg)
	}
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		if e.Name() != datadir.LockFile {
			t.Errorf("the refused server wrote %s into the data directory", e.Name())
		}
	}
	if stdout.Len() > 0 {
		t.Errorf("the refused server printed %q", stdout.String())
	}
}
