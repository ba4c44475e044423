package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second Acquire, through its own open file description as a second
// process would have, is refused and names the holder; closing the first
// lets it through.
func TestLockHeldThenReleased(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, LockFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v, want mode 0600", fi, err)
	}
	second, err := Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		second.Close()
		t.Fatalf("second Acquire: %v, want an *InUseError", err)
	}
	if inUse.Holder.PID != os.Getpid() || inUse.Dir != dir || time.Since(inUse.Holder.Started) > time.Minute {
		t.Errorf("holder %+v of %s, want pid %d of %s started just now", inUse.Holder, inUse.Dir, os.Getpid(), dir)
	}
	msg := err.Error()
	for _, want := range []string{dir, "pid " + strconv.Itoa(os.Getpid()), "started ", "another data_dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Close: %v", err)
	}
	again.Close()
}

// A lock file left by a process that is gone (a crash, kill -9) does not
// block: the lock is the kernel's, the content only informative.
func TestStaleLockFileIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := "pid: " + strconv.Itoa(dead.Process.Pid) + "\nstarted: 2020-01-02T03:04:05Z\ncommand: greenlight serve --config a-much-longer-command-line-than-this-test-binary-has.yml --drain 30s --and-more\n"
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire over a stale file: %v", err)
	}
	defer l.Close()
	b, _ := os.ReadFile(filepath.Join(dir, LockFile))
	f, _ := os.Open(filepath.Join(dir, LockFile))
	defer f.Close()
	if h := parse(f); h.PID != os.Getpid() || strings.Contains(string(b), "2020-") || strings.Contains(string(b), "--and-more") {
		t.Errorf("lock file after takeover:\n%s\nwant this process's pid %d and nothing of the stale content", b, os.Getpid())
	}
}

// The descriptor is close-on-exec: a child (a build, a hook, the app a hook
// leaves running) never inherits it, or the lock would outlive the server.
func TestLockNotInherited(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := exec.Command("sh", "-c", "ls -l /proc/self/fd/").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), LockFile) {
		t.Errorf("a child process inherited the lock:\n%s", out)
	}
}

// A held lock whose file names a pid this process cannot see (its holder
// runs in a container, say) says so rather than that no pid was written.
func TestHolderNotVisible(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte("pid: 2147483646\nstarted: 2026-01-02T03:04:05Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "pid 2147483646") || !strings.Contains(err.Error(), "not visible from here") {
		t.Errorf("Acquire = %v, want the unseen holder's pid named", err)
	}
}
