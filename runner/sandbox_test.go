package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// The server's data dir is hidden from steps even when the workspace lives
// inside it; only the workspace, the cache and /tmp are writable.
func TestSandboxIsolation(t *testing.T) {
	requireBwrap(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "greenlight.db"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(data, "workspaces", "hello-1")
	cache := filepath.Join(data, "cache", "hello")
	outside := t.TempDir()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		ok     bool
	}{
		{"data dir shows only the mount points", `test "$(ls -A ` + data + ` | tr '\n' ' ')" = "cache workspaces "`, true},
		{"database unreadable", `cat ` + data + `/greenlight.db`, false},
		{"workspace writable", `echo hi > made && test "$(cat made)" = hi`, true},
		{"cache writable", `touch "$XDG_CACHE_HOME/c"`, true},
		{"home and tmpdir writable", `touch "$HOME/h" "$TMPDIR/t" /tmp/x`, true},
		{"host read-only", `touch /etc/greenlight-sandbox-test`, false},
		{"other dirs read-only", `touch ` + outside + `/x`, false},
		{"own pid namespace", `test $$ -lt 10`, true},
	}
	for _, mode := range []string{SandboxBwrap, bwrapPerStep} {
		r := newRunner(t, mode, data)
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				logText, err := run(t, r, context.Background(), Job{Workspace: ws, Cache: cache,
					Steps: []Step{{Name: "probe", Run: tt.script}}})
				if tt.ok && err != nil {
					t.Fatalf("Run = %v, want success\n%s", err, logText)
				}
				var se *StepError
				if !tt.ok && (!errors.As(err, &se) || se.ExitCode == 0) {
					t.Fatalf("Run = %v, want the step to fail\n%s", err, logText)
				}
			})
		}
	}
	if _, err := os.Stat("/etc/greenlight-sandbox-test"); err == nil {
		t.Error("a step wrote into /etc")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a step wrote outside the workspace: %v", ents)
	}
	if b, err := os.ReadFile(filepath.Join(data, "greenlight.db")); err != nil || string(b) != "secret" {
		t.Errorf("database changed: %q, %v", b, err)
	}
	for _, f := range []string{filepath.Join(ws, "made"), filepath.Join(cache, "c")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("write inside the sandbox did not reach the host: %v", err)
		}
	}
}

func TestNewSandboxChoice(t *testing.T) {
	requireBwrap(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	r, err := New(Config{Log: log})
	if err != nil || !r.Isolated() {
		t.Fatalf("New(auto) with bwrap = %v, isolated %v; want isolated", err, r != nil && r.Isolated())
	}

	t.Setenv("PATH", t.TempDir()) // no bwrap here
	r, err = New(Config{Sandbox: SandboxAuto, Path: "/usr/bin:/bin", Log: log})
	if err != nil || r.Isolated() {
		t.Fatalf("New(auto) without bwrap = %v; want a runner that is not isolated", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "builds are NOT isolated") {
		t.Errorf("no error-level warning logged: %s", logs.String())
	}
	if _, err := New(Config{Sandbox: SandboxBwrap, Log: log}); err == nil || greenlight.ErrorCode(err) != "invalid" {
		t.Errorf("New(bwrap) without bwrap = %v, want an invalid error", err)
	}
	if _, err := New(Config{Sandbox: "docker"}); err == nil || !strings.Contains(err.Error(), `unknown sandbox "docker"`) {
		t.Errorf("New(docker) = %v, want unknown sandbox", err)
	}
}

// Hidden files (keys, known_hosts) cannot be opened in the sandbox, hidden
// directories (the config dir) look empty, and a file inside a hidden
// directory or one reached through a symlink stays hidden too.
func TestSandboxHidesFiles(t *testing.T) {
	requireBwrap(t)
	etc := hostDir(t) // the config dir
	keys := hostDir(t)
	// World-readable, so that only hiding keeps them from a step (which,
	// under root, runs as a uid that could not read a private file anyway).
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(etc, "greenlight.yml"), "token: s3cret-config")
	write(filepath.Join(etc, "deploy_key"), "s3cret-key-in-etc")
	write(filepath.Join(keys, "id_ed25519"), "s3cret-key")
	write(filepath.Join(keys, "public.txt"), "visible")
	link := filepath.Join(hostDir(t), "key-link")
	if err := os.Symlink(filepath.Join(keys, "id_ed25519"), link); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	tests := []struct {
		name   string
		script string
		ok     bool
	}{
		{"config dir empty", `test -z "$(ls -A ` + etc + `)"`, true},
		{"config unreadable", `cat ` + etc + `/greenlight.yml`, false},
		{"key in config dir unreadable", `cat ` + etc + `/deploy_key`, false},
		{"key unreadable", `cat ` + keys + `/id_ed25519`, false},
		{"key has no content", `test -z "$(cat ` + keys + `/id_ed25519 2>/dev/null)"`, true},
		{"key through its link unreadable", `cat ` + link, false},
		{"neighbour still readable", `test "$(cat ` + keys + `/public.txt)" = visible`, true},
		{"missing path ignored", `true`, true},
	}
	for _, mode := range []string{SandboxBwrap, bwrapPerStep} {
		r := newRunner(t, mode, etc, filepath.Join(etc, "deploy_key"), link, filepath.Join(keys, "missing"))
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				logText, err := run(t, r, context.Background(), Job{Workspace: ws,
					Steps: []Step{{Name: "probe", Run: tt.script}}})
				if tt.ok && err != nil {
					t.Fatalf("Run = %v, want success\n%s", err, logText)
				}
				var se *StepError
				if !tt.ok && (!errors.As(err, &se) || se.ExitCode == 0) {
					t.Fatalf("Run = %v, want the step to fail\n%s", err, logText)
				}
				if strings.Contains(logText, "s3cret") {
					t.Fatalf("a secret reached the log:\n%s", logText)
				}
			})
		}
	}
}

// hostDir is a temporary directory outside /tmp, which the sandbox replaces
// with its own tmpfs and so would hide everything in it anyway. /var/tmp,
// not the package directory: a checkout may itself live under /tmp (CI).
func hostDir(t *testing.T) string {
	t.Helper()
	parent := "/var/tmp"
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		parent = "."
	}
	d, err := os.MkdirTemp(parent, "greenlight-hostdir-")
	if err != nil {
		t.Fatal(err)
	}
	// Readable by all, like the host's own files: as root, steps run as
	// another uid, which could not read a private directory anyway.
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	abs, err := filepath.Abs(d)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
