package runner

import (
	"os"
	"testing"
)

// TestMain lets this test binary serve as the sandbox's executor: the
// runner re-executes its own program inside bwrap.
func TestMain(m *testing.M) {
	RunExecutorIfRequested()
	os.Exit(m.Run())
}
