package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight/config"
)

// A generated admin token is long enough for the configuration's own rule,
// kept 0600, and a kept token shorter than that rule is replaced.
func TestGeneratedAdminTokenIsLongEnough(t *testing.T) {
	cfg := &config.Server{DataDir: t.TempDir()}
	path := filepath.Join(cfg.DataDir, "admin-token")
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tok, err := adminToken(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < config.MinAdminToken || !strings.Contains(out.String(), tok) {
		t.Fatalf("generated token %q (%d characters), printed %q; want at least %d characters, printed once",
			tok, len(tok), out.String(), config.MinAdminToken)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin-token file: %v %v, want mode 0600", fi.Mode(), err)
	}
	out.Reset()
	again, err := adminToken(cfg, &out)
	if err != nil || again != tok || out.Len() != 0 {
		t.Errorf("second start: %q %v, printed %q; want the kept token, printed nothing", again, err, out.String())
	}
}
