package main

import (
	"context"
	"io"
	"path/filepath"
	"syscall"
	"testing"
)

// serve makes the process non-dumpable before anything else, so that a
// process of its uid (a deploy hook's app, when the server is not root)
// cannot read its environment or memory through /proc or ptrace. It stays
// so for the test binary, which is harmless.
func TestServeIsNotDumpable(t *testing.T) {
	const prGetDumpable = 3
	missing := filepath.Join(t.TempDir(), "no-such.yml")
	err := run(context.Background(), []string{"serve", "--config", missing}, func(string) (string, bool) { return "", false },
		io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve with a missing config succeeded")
	}
	dumpable, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prGetDumpable, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	if dumpable != 0 {
		t.Errorf("after serve started, the process is dumpable (%d): same-uid processes can read its environment", dumpable)
	}
}
