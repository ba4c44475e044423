package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A job's steps share one sandbox, and what a step leaves running (in the
// background, in a new session, still writing to the log) is gone before
// the next step starts: the next step finds only bwrap's init, the executor
// and itself in the sandbox.
func TestSandboxPerJobKillsLeftovers(t *testing.T) {
	r := newRunner(t, SandboxBwrap)
	ws := t.TempDir()
	logText, err := run(t, r, context.Background(), Job{Workspace: ws, Steps: []Step{
		{Name: "leave", Run: "touch /tmp/same-sandbox\n" +
			"sleep 987041 & (sleep 987042 &) ; setsid sleep 987043 & env -i setsid sh -c 'sleep 987044' >/dev/null 2>&1 </dev/null &\n" +
			"(while :; do echo bg; sleep 0.001; done) &\n" +
			"echo fg; sleep 0.05"},
		// Shell builtins only: any other process would be listed too.
		{Name: "look", Run: "test -e /tmp/same-sandbox\n" +
			`for d in /proc/[0-9]*; do read -r c < "$d/comm" && echo "${d#/proc/} $c" >> procs.txt; done; echo $$ > self.txt`},
	}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logText)
	}
	b, err := os.ReadFile(filepath.Join(ws, "procs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.ReadFile(filepath.Join(ws, "self.txt"))
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pid, comm, _ := strings.Cut(l, " ")
		switch {
		case pid == strings.TrimSpace(string(self)):
			got = append(got, "step shell")
		case pid == "1":
			got = append(got, "init "+comm)
		default:
			got = append(got, comm)
		}
	}
	sort.Strings(got)
	// The executor's comm is the name bwrap executed: /proc/self/fd/N.
	want := []string{strconv.Itoa(fdSelf), "init bwrap", "step shell"}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("processes seen by the next step: %q, want %q", got, want)
	}
	// The background writer's lines all come before the step's footer.
	footer := strings.Index(logText, "==> leave: exit 0")
	if footer < 0 || !strings.Contains(logText[:footer], "fg\n") {
		t.Fatalf("log lacks the step's output or footer:\n%s", logText)
	}
	if strings.Contains(logText[footer:], "bg\n") {
		t.Errorf("output of a step's background process after its footer:\n%s", logText[footer:])
	}
	noneLeft(t, "sleep 98704")
}

// The executor reports a shell killed by a signal, and a step that cannot
// start, like a bare process would.
func TestExecutorStatuses(t *testing.T) {
	r := newRunner(t, SandboxBwrap)
	tests := []struct {
		name string
		job  Job
		code int
		err  string
	}{
		// A first step makes the job use the executor: a one-step job gets its own bwrap.
		{"killed", Job{Steps: []Step{{Name: "a", Run: "true"}, {Name: "k", Run: "kill -9 $$"}}}, 137, "killed by signal 9 (killed)"},
		{"exit status", Job{Steps: []Step{{Name: "a", Run: "true"}, {Name: "e", Run: "exit 3"}}}, 3, ""},
		{"later step fails", Job{Steps: []Step{{Name: "a", Run: "true"}, {Name: "b", Run: "false"}}}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logText, err := run(t, r, context.Background(), tt.job)
			var se *StepError
			if !errors.As(err, &se) || se.ExitCode != tt.code || se.TimedOut || se.Cancelled {
				t.Fatalf("Run = %v, want exit code %d\n%s", err, tt.code, logText)
			}
			if tt.err != "" && (se.Err == nil || se.Err.Error() != tt.err) {
				t.Errorf("Err = %v, want %q", se.Err, tt.err)
			}
		})
	}
}

// A binary that speaks another protocol version refuses to serve, so the
// server never drives an executor it does not understand.
func TestExecutorRefusesOtherProtocol(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{executorVar + "=0"}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("executor with protocol 0: %v, want exit status 2\n%s", err, out)
	}
	if !strings.Contains(string(out), `protocol "0", want "`+executorProtocol+`"`) {
		t.Errorf("output %q does not name the protocols", out)
	}
}
