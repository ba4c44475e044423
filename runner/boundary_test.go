package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A step never holds a privilege that could undo the sandbox: no
// capabilities, not root when the server is, no way to unmount what hides
// the data directory (not even from a user namespace of its own), and no
// view of the server's processes.
func TestStepHoldsNoPrivilege(t *testing.T) {
	requireBwrap(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "greenlight.db"), []byte("s3cret-db"), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(data, "workspaces", "1")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	server := os.Getpid()
	tests := []struct {
		name, script string
		ok           bool
	}{
		{"no capabilities", `grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status && grep -q '^CapPrm:[[:space:]]*0000000000000000$' /proc/self/status`, true},
		{"not root", `test "$(id -u)" != 0`, os.Geteuid() == 0},
		{"no supplementary groups", `test "$(id -G)" = "$(id -g)"`, true},
		{"cannot unmount the hiding tmpfs", `umount -l ` + data, false},
		{"cannot unmount /tmp", `umount -l /tmp`, false},
		{"cannot remount the host writable", `mount -o remount,rw,bind /`, false},
		{"no way around the mounts from a user namespace", `unshare -Urm sh -c 'umount -l ` + data + ` 2>/dev/null; cat ` + data + `/greenlight.db' 2>/dev/null | grep s3cret`, false},
		{"server's process invisible", fmt.Sprintf(`kill -0 %d 2>/dev/null || test -e /proc/%d/environ`, server, server), false},
		{"database hidden", `cat ` + data + `/greenlight.db`, false},
	}
	for _, mode := range []string{SandboxBwrap, bwrapPerStep} {
		r := newRunner(t, mode, data)
		for _, tt := range tests {
			if (tt.name == "not root" || tt.name == "no supplementary groups") && os.Geteuid() != 0 {
				continue
			}
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				logText, err := run(t, r, context.Background(), Job{Workspace: ws, Steps: []Step{{Name: "probe", Run: tt.script}}})
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
}

// Each limit stops what outgrows it, with a reason in the log, under every
// sandbox mode where it applies.
func TestLimits(t *testing.T) {
	small := Limits{Processes: 32, Memory: 64 << 20, Disk: 8 << 20, Log: 256 << 10, Tmp: 2 << 20}
	tests := []struct {
		name, script string
		sandboxOnly  bool
		want         string // in the log
		ok           bool
	}{
		{"processes", `i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; wait`, true, "", false},
		{"memory per process", `dd if=/dev/zero of=/dev/null bs=200M count=1`, false, "memory exhausted", false},
		{"file size", `dd if=/dev/zero of=big bs=1M count=20 2>/dev/null`, false, "", false},
		{"disk", `i=0; while [ $i -lt 12 ]; do dd if=/dev/zero of=f$i bs=1M count=1 2>/dev/null; i=$((i+1)); done; sleep 60`, false, "disk limit exceeded", false},
		{"tmp", `dd if=/dev/zero of=/tmp/big bs=1M count=4`, true, "No space left on device", false},
		{"log total", `i=0; while [ $i -lt 2000 ]; do printf '%0200d\n' $i; i=$((i+1)); done`, false, "==> log cut: the build printed more than 256 KiB; the rest is not kept", true},
		{"long line", `head -c 300000 /dev/zero | tr '\0' x; echo; echo after`, false, "… [line cut: longer than 65536 bytes]\nafter\n", true},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			if tt.sandboxOnly && mode == SandboxNone {
				continue
			}
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				r := newRunner(t, mode)
				logText, err := run(t, r, context.Background(), Job{Limits: small, Steps: []Step{{Name: "probe", Run: tt.script}}})
				if tt.ok != (err == nil) {
					t.Fatalf("Run = %v, want ok=%v\n%.2000s", err, tt.ok, logText)
				}
				if !strings.Contains(logText, tt.want) {
					t.Errorf("log lacks %q:\n%.2000s", tt.want, logText)
				}
				if len(logText) > int(small.Log)+4096 {
					t.Errorf("log holds %d bytes, over the limit of %d", len(logText), small.Log)
				}
				if tt.name == "disk" {
					var se *StepError
					var de *DiskError
					if !errors.As(err, &se) || !errors.As(err, &de) || se.Cancelled || se.TimedOut {
						t.Errorf("Run = %#v, want a StepError caused by a DiskError, not a cancel", err)
					}
				}
			})
		}
	}
}

// network: none leaves a step only a loopback of its own: the host's
// listeners, the server's among them, are out of reach.
func TestNetworkNone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			c.Close()
		}
	}()
	probe := `curl -s --max-time 5 http://` + ln.Addr().String() + `/`
	for _, mode := range []string{SandboxBwrap, bwrapPerStep} {
		r := newRunner(t, mode)
		t.Run(mode+"/host", func(t *testing.T) {
			if logText, err := run(t, r, context.Background(), Job{Steps: []Step{{Name: "probe", Run: probe}}}); err != nil {
				t.Fatalf("with the host's network: %v\n%s", err, logText)
			}
		})
		t.Run(mode+"/none", func(t *testing.T) {
			logText, err := run(t, r, context.Background(), Job{Network: NetworkNone, Steps: []Step{{Name: "probe", Run: probe}}})
			if err == nil {
				t.Fatalf("network: none reached the host's listener\n%s", logText)
			}
		})
	}
	r := newRunner(t, SandboxNone)
	if _, err := run(t, r, context.Background(), Job{Network: NetworkNone, Steps: []Step{{Name: "probe", Run: "true"}}}); err == nil {
		t.Error("network: none ran without a sandbox")
	}
}

// logCap keeps lines up to LineMax and the log up to its limit, and lets
// the runner's own lines through whole.
func TestLogCap(t *testing.T) {
	var b strings.Builder
	c := &logCap{w: &b, max: 100}
	c.Write([]byte("short\n"))
	c.Write([]byte(strings.Repeat("y", LineMax+10)))
	c.Write([]byte("z\nnext\n"))
	// The cut falls at the end of the last whole line that fits.
	if got, want := b.String(), "short\n\n==> log cut: the build printed more than 100 bytes; the rest is not kept\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	n := b.Len()
	c.Write([]byte("more\n"))
	if b.Len() != n {
		t.Errorf("wrote past the limit: %q", b.String()[n:])
	}
	c.ownWrite(&b, "==> footer\n")
	if !strings.HasSuffix(b.String(), "==> footer\n") {
		t.Errorf("the runner's own line was cut: %q", b.String())
	}

	b.Reset()
	c = &logCap{w: &b, max: 1 << 30}
	c.Write([]byte(strings.Repeat("x", LineMax-1)))
	c.Write([]byte("ab"))
	c.Write([]byte("cd\nok\n"))
	want := strings.Repeat("x", LineMax-1) + "a… [line cut: longer than 65536 bytes]\nok\n"
	if b.String() != want {
		t.Errorf("got …%q, want …%q", lastOf(b.String()), lastOf(want))
	}
}

func lastOf(s string) string { return s[max(0, len(s)-60):] }

// The executor runs as the steps' uid, but a step can neither read its
// descriptors nor trace it (it is non-dumpable): otherwise it could take the
// results pipe and forge or flood the executor's replies.
func TestExecutorOutOfReach(t *testing.T) {
	requireBwrap(t)
	r := newRunner(t, SandboxBwrap)
	script := `set +e
exe=""
for p in /proc/[0-9]*; do
  if tr '\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^/proc/self/fd/'; then exe=${p#/proc/}; fi
done
echo "executor=$exe"
test -n "$exe" || exit 3
if ls /proc/$exe/fd >/dev/null 2>&1; then echo "REACHED its descriptors"; fi
if cat /proc/$exe/environ >/dev/null 2>&1; then echo "REACHED its environment"; fi
true`
	logText, err := run(t, r, context.Background(), Job{Steps: []Step{{Name: "a", Run: script}, {Name: "b", Run: "true"}}})
	if err != nil {
		t.Fatalf("Run = %v\n%s", err, logText)
	}
	if !strings.Contains(logText, "executor=") || strings.Contains(logText, "executor=\n") {
		t.Fatalf("the probe did not find the executor:\n%s", logText)
	}
	if strings.Contains(logText, "REACHED") {
		t.Errorf("a step reached the executor:\n%s", logText)
	}
}

// Builds of the same pipeline running at once each have the whole process
// limit: one build's processes do not count against another's.
func TestProcessLimitPerBuild(t *testing.T) {
	requireBwrap(t)
	if os.Geteuid() != 0 {
		t.Skip("as another user, each sandbox's user namespace already counts its own processes")
	}
	for _, mode := range []string{SandboxBwrap, bwrapPerStep} {
		t.Run(mode, func(t *testing.T) {
			r := newRunner(t, mode)
			gate := filepath.Join(t.TempDir(), "held")
			limits := Limits{Processes: 40}
			hold := Job{Owner: "same", Limits: limits, Steps: []Step{{Name: "hold", Run: `i=0; while [ $i -lt 25 ]; do sleep 30 & i=$((i+1)); done; touch held; wait`}}}
			hold.Workspace = filepath.Dir(gate)
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				_, err := run(t, r, ctx, hold)
				done <- err
			}()
			for i := 0; i < 300; i++ {
				if _, err := os.Stat(gate); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if _, err := os.Stat(gate); err != nil {
				t.Fatal("the first build did not start its processes")
			}
			logText, err := run(t, r, context.Background(), Job{Owner: "same", Limits: limits,
				Steps: []Step{{Name: "second", Run: `i=0; while [ $i -lt 25 ]; do sleep 1 & i=$((i+1)); done; wait`}}})
			if err != nil {
				t.Errorf("a second build of the pipeline could not start its processes: %v\n%s", err, logText)
			}
			cancel()
			<-done
		})
	}
}

// The disk watcher measures trees whose paths are too long to name and
// stops a build it cannot measure.
func TestDiskUsageDeepAndUnreadable(t *testing.T) {
	root := t.TempDir()
	d := root
	name := strings.Repeat("d", 200)
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 30 levels of 200-character names: a path of 6,000 bytes, too long
	// for any path-based walk.
	for i := 0; i < 30; i++ {
		if err := syscall.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		nfd, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		syscall.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = nfd
	}
	file, err := syscall.Openat(fd, "big", syscall.O_WRONLY|syscall.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(file), "big")
	if _, err := f.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	syscall.Close(fd)
	used, err := diskUsage(context.Background(), []string{d})
	if err != nil || used < 3<<20 {
		t.Errorf("diskUsage = %d, %v; want at least 3 MiB counted", used, err)
	}
	if _, err := diskUsage(context.Background(), []string{filepath.Join(root, "missing")}); err != nil {
		t.Errorf("a directory removed meanwhile: %v", err)
	}
}

// fitLines agrees with the line-by-line rule on lines around LineMax.
func TestFitLines(t *testing.T) {
	line := func(n int) string { return strings.Repeat("x", n) + "\n" }
	tests := []struct {
		p      string
		start  int
		ok     bool
		remain int
	}{
		{line(10) + line(20), 0, true, 0},
		{line(LineMax - 1), 0, true, 0},
		{line(LineMax), 0, false, 0},
		{line(5) + strings.Repeat("y", LineMax), 0, true, LineMax},
		{line(5) + strings.Repeat("y", LineMax+1), 0, false, 0},
		{"abc", LineMax - 3, true, LineMax},
		{"abcd", LineMax - 3, false, 0},
		{line(2), LineMax - 3, true, 0},
		{line(3), LineMax - 3, false, 0},
		{strings.Repeat(line(100), 3000), 7, true, 0},
		{strings.Repeat(line(100), 1000) + line(LineMax) + line(1), 0, false, 0},
	}
	for i, tt := range tests {
		got, ok := fitLines([]byte(tt.p), tt.start)
		if ok != tt.ok || ok && got != tt.remain {
			t.Errorf("case %d: fitLines = %d, %v; want %d, %v", i, got, ok, tt.remain, tt.ok)
		}
	}
}
