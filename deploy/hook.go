package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// hookCmd is one lifecycle hook to run on the local machine.
//
// Command is a shell command line run as `/bin/sh -e -c COMMAND` in Dir, so a
// hook `deploy/start.sh` runs that file, which must be executable (like a
// build step, the value is a command, not a script to feed to sh).
type hookCmd struct {
	Name    string
	Command string
	Dir     string
	Env     []string
	Timeout time.Duration
	// Output is a file the hook's stdout and stderr are appended to; what it
	// gains while the hook runs is copied to the stage log.
	//
	// Why a file and not a pipe: start hooks launch servers in the
	// background (`nohup ./app &`), and nohup keeps a non-terminal stdout.
	// Such a server would hold a pipe open forever, so the deploy would have
	// to close it after the hook exits; the server's next log line would then
	// die of SIGPIPE. A file stays writable, like nohup.out, and the hook's
	// end is the shell's exit, not the last writer's.
	Output string
}

// waitDelay bounds how long Wait lingers after a timeout's kill; with output
// going to a file there is no pipe to drain, so it only guards the kill.
const waitDelay = 2 * time.Second

// runHook runs h and copies its output to log as it is written. It returns
// when the hook's shell exits; background processes it started keep running
// in the hook's own session. On timeout or cancellation the hook's whole
// process group is killed.
func runHook(ctx context.Context, h hookCmd, log io.Writer) error {
	out, err := os.OpenFile(h.Output, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("hook %s: open output: %w", h.Name, err)
	}
	defer out.Close()
	tail, err := os.Open(h.Output)
	if err != nil {
		return fmt.Errorf("hook %s: open output: %w", h.Name, err)
	}
	defer tail.Close()
	if _, err := tail.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("hook %s: open output: %w", h.Name, err)
	}

	hctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "/bin/sh", "-e", "-c", h.Command)
	cmd.Dir = h.Dir
	cmd.Env = h.Env
	cmd.Stdout = out
	cmd.Stderr = out
	// Its own session: apps it starts are not in the server's process group
	// (a Ctrl-C or a group kill of the server leaves them running), and the
	// hook's group can be killed as one on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("hook %s: %w", h.Name, err)
	}
	done := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		follow(tail, log, done)
	}()
	err = cmd.Wait()
	close(done)
	<-copied

	switch {
	case err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("hook %s cancelled: %w", h.Name, ctx.Err())
	case hctx.Err() != nil:
		return fmt.Errorf("hook %s timed out after %s", h.Name, h.Timeout)
	}
	return fmt.Errorf("hook %s failed: %w", h.Name, err)
}

// follow copies what is appended to f to w until done is closed, then copies
// the rest once more.
func follow(f *os.File, w io.Writer, done <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		io.Copy(w, f)
		select {
		case <-done:
			// Only what is there now: a server the hook left behind may
			// go on writing for as long as it lives.
			if fi, err := f.Stat(); err == nil {
				if pos, err := f.Seek(0, io.SeekCurrent); err == nil && fi.Size() > pos {
					io.CopyN(w, f, fi.Size()-pos)
				}
			}
			return
		case <-tick.C:
		}
	}
}
