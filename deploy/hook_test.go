package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Hooks see the server's PATH and LANG, HOME set to their release, the
// GREENLIGHT_* variables and the target's env, and nothing else of the
// server's environment. Not
// parallel: it sets the server's environment.
func TestHookEnvironment(t *testing.T) {
	t.Setenv("SERVER_SECRET", "do-not-leak")
	t.Setenv("LANG", "en_US.UTF-8")
	e := newEnv(t)
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v1"})
	req := Request{
		Pipeline: "hello", Environment: "production", RunID: 12, Commit: "c0ffee",
		Release: "12", Archive: archive, Digest: digest,
		Hooks:   greenlight.Hooks{AfterInstall: "env | sort"},
		Targets: []Target{{Local: e.dir, Env: map[string]string{"PORT": "8082", "GREENLIGHT_RUN": "spoofed"}}},
		Log:     e.log,
	}
	if _, err := New(nil).Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	log := e.log.String()
	for _, want := range []string{
		"GREENLIGHT_PIPELINE=hello\n", "GREENLIGHT_ENVIRONMENT=production\n", "GREENLIGHT_RUN=12\n",
		"GREENLIGHT_COMMIT=c0ffee\n", "GREENLIGHT_RELEASE_DIR=" + e.dir + "/releases/12\n",
		"PORT=8082\n", "LANG=en_US.UTF-8\n", "PATH=",
		"HOME=" + e.dir + "/releases/12\n", // not the server's
	} {
		if !strings.Contains(log, want) {
			t.Errorf("hook env lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "SERVER_SECRET") || strings.Contains(log, "spoofed") {
		t.Errorf("hook env leaks the server's env or lets the target spoof GREENLIGHT_RUN:\n%s", log)
	}
}

// Output written without a final newline still reaches the log as a line,
// and lines from a hook are prefixed like the deploy's own.
func TestHookOutputLines(t *testing.T) {
	dir := t.TempDir()
	var buf syncBuffer
	log := newStageLog(&buf).target("web1")
	err := runHook(context.Background(), hookCmd{
		Name: "start", Command: "echo one; printf two; echo three >&2; exit 4",
		Dir: dir, Timeout: 5 * time.Second, Output: dir + "/out.log",
	}, log)
	log.Flush()
	if err == nil || err.Error() != "hook start failed: exit status 4" {
		t.Errorf("error = %v, want exit status 4", err)
	}
	if got, want := buf.String(), "[web1] one\n[web1] twothree\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func TestHookCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := runHook(ctx, hookCmd{Name: "start", Command: "sleep 30", Dir: dir, Timeout: time.Minute, Output: dir + "/out.log"},
		newStageLog(nil).target("t"))
	if err == nil || !strings.Contains(err.Error(), "hook start cancelled: context canceled") {
		t.Errorf("error = %v, want cancelled", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cancelled hook took %s", took)
	}
}
