//go:build !linux

package runner

import (
	"errors"
	"os"
)

// The runner's containment needs Linux (subreaper, waitid WNOWAIT, /proc);
// elsewhere New fails and these are never called.

func becomeSubreaper() error { return errors.New("the runner needs Linux") }

func waitExited(int)                 {}
func growPipe(*os.File)              {}
func inode(*os.File) uint64          { return 0 }
func children(int) []int             { return nil }
func descendants(int) []int          { return nil }
func sweep(int, int, string, uint64) {}
func reapOrphanSandboxes()           {}
