package orchestrator

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// fullBelow is the free space under which a failed build is said to have
// failed because the disk is full: a step that met "no space left on
// device" says so only in its own log, and its exit status says nothing.
const fullBelow = 1 << 20

// diskFull adds to a failed build's error that the disk holding its
// workspace is full, when it is, so that people see the cause rather than an
// exit status; the build log says it too. Other errors are returned as they
// are.
func diskFull(err error, ws string, log io.Writer) error {
	var st unix.Statfs_t
	if unix.Statfs(ws, &st) != nil {
		return err
	}
	free := st.Bavail * uint64(st.Bsize)
	if free >= fullBelow {
		return err
	}
	fmt.Fprintf(log, "==> the disk holding the build's workspace is full (%d KiB free): the server's data directory needs space\n", free>>10)
	return fmt.Errorf("%w: the disk is full (%d KiB free where builds run)", err, free>>10)
}
