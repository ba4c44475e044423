package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
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
	// Argv, when set, is what runs instead of /bin/sh -e -c Command: the
	// same shell inside bwrap (hookuser.go).
	Argv []string
	// Credential, when set, is the uid, gid and groups the hook starts as;
	// the output file is given to that uid too, so the app can reopen it.
	Credential *syscall.Credential
	// Owner is who the output file is given to when that is not the
	// process's Credential (a confined hook starts as root and drops inside
	// the sandbox); nil: Credential.
	Owner *syscall.Credential
	// Running, if set, is a file of the server's own (outside any release)
	// that holds the hook's process group and its start time while it runs,
	// so that a server restarted after a crash can kill a hook it cut off
	// (reapHook). A crash between the hook's start and the write loses it.
	Running string
}

// waitDelay bounds how long Wait lingers after a timeout's kill; with output
// going to a file there is no pipe to drain, so it only guards the kill.
const waitDelay = 2 * time.Second

// runHook runs h and copies its output to log as it is written. It returns
// when the hook's shell exits; background processes it started keep running
// in the hook's own session. On timeout or cancellation the hook's whole
// process group is killed.
func runHook(ctx context.Context, h hookCmd, log io.Writer) error {
	owner := h.Owner
	if owner == nil {
		owner = h.Credential
	}
	out, err := openOutput(h.Output, owner)
	if err != nil {
		return fmt.Errorf("hook %s: open output: %w", h.Name, err)
	}
	defer out.Close()
	fi, err := out.Stat()
	if err != nil {
		return fmt.Errorf("hook %s: open output: %w", h.Name, err)
	}
	// A reader of its own: the hook's writes move the shared offset of out.
	tail := &tailReader{f: out, off: fi.Size()}

	hctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	argv := h.Argv
	if argv == nil {
		argv = []string{"/bin/sh", "-e", "-c", h.Command}
	}
	cmd := exec.CommandContext(hctx, argv[0], argv[1:]...)
	cmd.Dir = h.Dir
	cmd.Env = h.Env
	cmd.Stdout = out
	cmd.Stderr = out
	// Its own session: apps it starts are not in the server's process group
	// (a Ctrl-C or a group kill of the server leaves them running), and the
	// hook's group can be killed as one on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: h.Credential}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("hook %s: %w", h.Name, err)
	}
	if h.Running != "" {
		if start, err := procStart(cmd.Process.Pid); err == nil && noteRunning(h.Running, cmd.Process.Pid, start) == nil {
			defer os.Remove(h.Running)
		}
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

// openOutput opens a hook's output file for appending. It lies in a release
// directory that the hook's uid owns, so the hook may have left a symlink, a
// hard link or a FIFO there for the server to write (or read) through: only
// a plain file of one link, opened without following a link, is used. It is
// given to cred's uid, so the app a hook starts can reopen it by name.
func openOutput(path string, cred *syscall.Credential) (*os.File, error) {
	// 0600: what a hook prints (a secret from the target's env, say) is not
	// for the other environments' hooks, which see the host read-only.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%s is not a plain file: refusing to write there", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, err
		}
	}
	if cred != nil && st.Uid != cred.Uid {
		if err := f.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// tailReader reads f from off on, with its own offset.
type tailReader struct {
	f   *os.File
	off int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.f.ReadAt(p, t.off)
	t.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// follow copies what is appended to f to w until done is closed, then copies
// the rest once more.
func follow(f *tailReader, w io.Writer, done <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		io.Copy(w, f)
		select {
		case <-done:
			// Only what is there now: a server the hook left behind may
			// go on writing for as long as it lives.
			if fi, err := f.f.Stat(); err == nil && fi.Size() > f.off {
				io.CopyN(w, f, fi.Size()-f.off)
			}
			return
		case <-tick.C:
		}
	}
}

// procStart is the start time of process pid (field 22 of /proc/PID/stat,
// in clock ticks since boot): with the pid, it names one process, not a
// later one that reused the pid.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f[19], nil // field 22: the fields after the name start at 3
}

// noteRunning writes the note of a running hook as a new file of the
// server's own: whatever stood at the name (a link a hook's uid left there,
// if the target directory was ever made writable to it) is removed first,
// and a name taken again meanwhile is refused (O_EXCL), never followed.
func noteRunning(path string, pid int, start string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %s\n", pid, start)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// reapHook kills the process group of a hook that a previous server
// process was running when it died, as noted in the file running (see
// hookCmd.Running), and removes the file. The group is killed only while
// its leader, the hook's shell, is the very process that was noted: once
// that shell exited the hook had ended, and what it started in the
// background is the business of the release's `stop` hook. It reports the
// group it killed, 0 if none.
func reapHook(running string) (int, error) {
	b, err := readNoFollow(running)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", running, err)
	}
	defer os.Remove(running)
	// Only a note the server wrote itself is believed: a file of another
	// uid there could name any process group.
	if fi, err := os.Lstat(running); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		return 0, nil
	}
	var pid int
	var start string
	if _, err := fmt.Sscan(string(b), &pid, &start); err != nil || pid <= 1 {
		return 0, nil // torn by the crash: nothing to go by
	}
	if now, err := procStart(pid); err != nil || now != start {
		return 0, nil
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("kill the cut-off hook's group %d: %w", pid, err)
	}
	return pid, nil
}
