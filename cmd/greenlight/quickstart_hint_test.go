package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/greenlight-cd/greenlight/config"
)

// TestStopHintShowsOnlyPids: app.pid is written by the release's own code;
// the printed command holds plain process ids only.
func TestStopHintShowsOnlyPids(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Server{Pipelines: []*config.Pipeline{{Name: "hello", Environments: map[string]*config.Environment{
		"staging":    {Targets: []config.Target{{Local: filepath.Join(dir, "staging")}}},
		"production": {Targets: []config.Target{{Local: filepath.Join(dir, "production")}}},
	}}}}
	for env, pid := range map[string]string{"staging": "4242\n", "production": "-9 -1"} {
		os.MkdirAll(filepath.Join(dir, env, "current"), 0o755)
		os.WriteFile(filepath.Join(dir, env, "current", "app.pid"), []byte(pid), 0o644)
	}
	if got := stopHint(cfg); got != "kill 4242" {
		t.Errorf("stopHint = %q, want %q", got, "kill 4242")
	}
}
