package runner

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestCleanEnvironment(t *testing.T) {
	t.Setenv("GREENLIGHT_SERVER_SECRET", "leaked")
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			ws, cache := t.TempDir(), t.TempDir()
			logText, err := run(t, r, context.Background(), Job{
				Workspace: ws,
				Cache:     cache,
				Env:       map[string]string{"GREENLIGHT_RUN": "7", "CGO_ENABLED": "0", "LAYER": "job"},
				Steps: []Step{{Name: "env", Run: "env | sort > env.txt; touch \"$HOME/h\" \"$TMPDIR/t\"",
					Env: map[string]string{"LAYER": "step"}}},
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logText)
			}
			b, err := os.ReadFile(filepath.Join(ws, "env.txt"))
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, _ := strings.Cut(l, "=")
				env[k] = v
			}
			want := map[string]string{
				"GREENLIGHT_RUN": "7", "CGO_ENABLED": "0", "LAYER": "step", "LANG": "C.UTF-8",
				"PATH":           os.Getenv("PATH"),
				"HOME":           filepath.Join(ws, ".greenlight", "home"),
				"TMPDIR":         filepath.Join(ws, ".greenlight", "tmp"),
				"XDG_CACHE_HOME": cache,
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			if v, ok := env["GREENLIGHT_SERVER_SECRET"]; ok {
				t.Errorf("server environment leaked into the step: GREENLIGHT_SERVER_SECRET=%q", v)
			}
			for k := range env {
				if _, ok := want[k]; !ok && k != "PWD" && k != "SHLVL" && k != "OLDPWD" && k != stepIDVar && k != "_" {
					t.Errorf("unexpected variable %s=%q", k, env[k])
				}
			}
			for _, f := range []string{".greenlight/home/h", ".greenlight/tmp/t"} {
				if _, err := os.Stat(filepath.Join(ws, f)); err != nil {
					t.Errorf("step could not write %s: %v", f, err)
				}
			}
		})
	}
}

func TestFailingStepStopsJob(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			ws := t.TempDir()
			logText, err := run(t, r, context.Background(), Job{Workspace: ws, Steps: []Step{
				{Name: "ok", Run: "echo fine"},
				{Name: "test", Run: "echo broken >&2; exit 3"},
				{Name: "never", Run: "touch never"},
			}})
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("Run = %v, want a *StepError", err)
			}
			if se.Step != "test" || se.ExitCode != 3 || se.TimedOut || se.Cancelled {
				t.Errorf("got %+v, want step test with exit code 3", se)
			}
			if got, want := err.Error(), `step "test" exited with status 3`; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(ws, "never")); err == nil {
				t.Error("the step after the failing one ran")
			}
			for _, want := range []string{"==> ok: echo fine\nfine\n==> ok: exit 0 in ",
				"==> test: echo broken >&2; exit 3\nbroken\n==> test: exit 3 in "} {
				if !strings.Contains(logText, want) {
					t.Errorf("log lacks %q:\n%s", want, logText)
				}
			}
			if strings.Contains(logText, "never") {
				t.Errorf("log mentions the step that should not run:\n%s", logText)
			}
		})
	}
}

func TestShellStopsAtFirstFailingCommand(t *testing.T) {
	r := newRunner(t, SandboxNone)
	ws := t.TempDir()
	_, err := run(t, r, context.Background(), Job{Workspace: ws, Steps: []Step{{Name: "e", Run: "false\ntouch after"}}})
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 1 {
		t.Fatalf("Run = %v, want exit status 1", err)
	}
	if _, err := os.Stat(filepath.Join(ws, "after")); err == nil {
		t.Error("sh -e went on after a failing command")
	}
}

func TestStepTimeoutKillsEverything(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			start := time.Now()
			logText, err := run(t, r, context.Background(), Job{Steps: []Step{{
				Name:    "hang",
				Run:     "sleep 987001 & (sleep 987002 &) ; setsid sleep 987003 & sleep 987004",
				Timeout: 300 * time.Millisecond,
			}}})
			within(t, "timed-out step", time.Since(start), 15*time.Second)
			var se *StepError
			if !errors.As(err, &se) || !se.TimedOut || se.Cancelled {
				t.Fatalf("Run = %v, want a timed-out *StepError", err)
			}
			if got, want := err.Error(), `step "hang" timed out after 300ms`; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if !strings.Contains(logText, "==> hang: timed out after 300ms in ") {
				t.Errorf("log lacks the timeout footer:\n%s", logText)
			}
			noneLeft(t, "sleep 98700")
		})
	}
}

func TestStageDeadlineAndCancel(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)

			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			_, err := run(t, r, ctx, Job{Steps: []Step{{Name: "wait", Run: "sleep 987011"}, {Name: "next", Run: "true"}}})
			within(t, "cancelled step", time.Since(start), 15*time.Second)
			var se *StepError
			if !errors.As(err, &se) || !se.Cancelled || se.TimedOut || se.Step != "wait" {
				t.Fatalf("Run = %v, want step wait cancelled", err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error does not wrap context.Canceled: %v", err)
			}

			ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err = run(t, r, ctx, Job{Steps: []Step{{Name: "slow", Run: "sleep 987012"}}})
			if !errors.As(err, &se) || !se.TimedOut || se.Step != "slow" {
				t.Fatalf("Run = %v, want step slow timed out by the stage deadline", err)
			}
			noneLeft(t, "sleep 98701")

			// An already cancelled stage runs nothing.
			ws := t.TempDir()
			_, err = run(t, r, ctx, Job{Workspace: ws, Steps: []Step{{Name: "late", Run: "touch ran"}}})
			if !errors.As(err, &se) || se.Step != "late" {
				t.Fatalf("Run = %v, want step late refused", err)
			}
			if _, err := os.Stat(filepath.Join(ws, "ran")); err == nil {
				t.Error("a step ran after the stage's deadline")
			}
		})
	}
}

// Orphans that escape the process group are found through the subreaper.
func TestOrphansAreReaped(t *testing.T) {
	r := newRunner(t, SandboxNone)
	cases := map[string]string{
		"setsid":           "setsid sleep 987021 >/dev/null 2>&1 </dev/null &",
		"setsid subtree":   "setsid sh -c 'env -i sleep 987022; true' >/dev/null 2>&1 </dev/null &",
		"clean env + pipe": "env -i setsid sleep 987023 &",
		"double fork":      "(setsid sh -c 'sleep 987024 & sleep 987025' >/dev/null 2>&1 </dev/null &)",
	}
	for name, script := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			logText, err := run(t, r, context.Background(), Job{Steps: []Step{{Name: "bg", Run: script + "\nsleep 0.1"}}})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logText)
			}
			within(t, "step with orphans", time.Since(start), 15*time.Second)
			noneLeft(t, "sleep 98702")
		})
	}
}

// A grandchild holding the output pipe must not keep Run waiting.
func TestGrandchildHoldingOutput(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			start := time.Now()
			logText, err := run(t, r, context.Background(), Job{Steps: []Step{{
				Name: "hold",
				Run:  "echo before; (sleep 987031 &); sleep 987032 > /dev/stdout & env -i setsid sleep 987033 & echo after",
			}}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			within(t, "step whose grandchildren hold stdout", time.Since(start), waitDelay+killGrace+10*time.Second)
			if !strings.Contains(logText, "before\n") || !strings.Contains(logText, "after\n") {
				t.Errorf("output lost:\n%s", logText)
			}
			noneLeft(t, "sleep 98703")
		})
	}
}

func TestFloodEveryLineKept(t *testing.T) {
	const lines = 300000
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			logText, err := run(t, r, context.Background(), Job{Steps: []Step{
				{Name: "flood", Run: "seq 1 300000; seq 1 1000 >&2"},
				{Name: "tail", Run: "printf 'no newline'"},
			}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			sc := bufio.NewScanner(strings.NewReader(logText))
			n, next := 0, 1
			for sc.Scan() {
				if sc.Text() == strconv.Itoa(next) && next <= lines {
					next++
				}
				n++
			}
			if next != lines+1 {
				t.Errorf("stdout lines in order up to %d, want %d", next-1, lines)
			}
			// 300000 + 1000 output lines, 2 headers, 2 footers, "no newline".
			if want := lines + 1000 + 5; n != want {
				t.Errorf("log has %d lines, want %d", n, want)
			}
			if !strings.Contains(logText, "no newline\n==> tail: exit 0 in ") {
				t.Errorf("footer not on a line of its own:\n%s", logText[len(logText)-200:])
			}
		})
	}
}

// The log is readable while the step writes it.
func TestLogReadableWhileRunning(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { logReadableWhileRunning(t, newRunner(t, mode)) })
	}
}

func logReadableWhileRunning(t *testing.T, r *Runner) {
	ws := t.TempDir()
	f := logFile(t)
	release := func() {
		if err := os.WriteFile(filepath.Join(ws, "go"), nil, 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(release) // never leave the step looping, even when the test fails
	done := make(chan error, 1)
	go func() {
		done <- r.Run(context.Background(), Job{Workspace: ws, Log: f, Steps: []Step{{
			Name: "slow", Run: "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second",
		}}})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(f.Name())
		if strings.Contains(string(b), "first\n") {
			if strings.Contains(string(b), "\nsecond") {
				t.Fatal("second line written before the step was let go")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first line not in the log while the step runs; log: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	b, _ := os.ReadFile(f.Name())
	if !strings.Contains(string(b), "first\nsecond\n==> slow: exit 0") {
		t.Errorf("final log:\n%s", b)
	}
}

func TestInvalidJobs(t *testing.T) {
	r := newRunner(t, SandboxNone)
	ws := t.TempDir()
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"no workspace", Job{}, "workspace"},
		{"missing workspace", Job{Workspace: filepath.Join(ws, "nope")}, "does not exist"},
		{"env name with =", Job{Workspace: ws, Env: map[string]string{"A=B": "x"}}, `invalid env name "A=B"`},
		{"env value with NUL", Job{Workspace: ws, Steps: []Step{{Name: "s", Run: "true", Env: map[string]string{"A": "x\x00"}}}}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Run(context.Background(), tt.job)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.want)
			}
			if code := greenlight.ErrorCode(err); code != "invalid" {
				t.Errorf("code = %q, want invalid", code)
			}
		})
	}
}

func TestStepErrorMessages(t *testing.T) {
	tests := []struct {
		err  StepError
		want string
	}{
		{StepError{Step: "test", ExitCode: 2}, `step "test" exited with status 2`},
		{StepError{Step: "x", TimedOut: true, Timeout: 5 * time.Minute}, `step "x" timed out after 5m0s`},
		{StepError{Step: "x", Cancelled: true, Err: context.Canceled}, `step "x" was cancelled`},
		{StepError{Step: "x", TimedOut: true, Err: context.DeadlineExceeded}, `step "x" timed out`},
		{StepError{Step: "x", ExitCode: -1, Err: errors.New("start: no such file")}, `step "x" failed: start: no such file`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestKilledBySignal(t *testing.T) {
	r := newRunner(t, SandboxNone)
	_, err := run(t, r, context.Background(), Job{Steps: []Step{{Name: "k", Run: "kill -9 $$"}}})
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 137 || se.TimedOut {
		t.Fatalf("Run = %v, want exit code 137", err)
	}
}
