package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stepSpec is everything one step needs; Run builds it.
type stepSpec struct {
	step  Step
	ws    string
	cache string
	env   []string
	out   io.Writer
	buf   []byte // reused by every step of a Run
}

// runStep runs one step from header to footer. It returns a *StepError when
// the step did not succeed, or another error when its log could not be written.
func (r *Runner) runStep(ctx context.Context, sp stepSpec) error {
	st := sp.step
	start := time.Now()
	_, logErr := fmt.Fprintf(sp.out, "==> %s: %s\n", st.Name, headline(st.Run))

	marker := newMarker()
	cmd := r.command(sp, st.Run)
	cmd.Env = append(sp.env, stepIDVar+"="+marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		return &StepError{Step: st.Name, ExitCode: -1, Err: fmt.Errorf("make output pipe: %w", err)}
	}
	growPipe(pw)
	// Both streams into one pipe, so lines interleave as the step wrote them.
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close() // the child holds its own copy; EOF comes when every holder is gone
	if err != nil {
		pr.Close()
		serr := &StepError{Step: st.Name, ExitCode: -1, Err: fmt.Errorf("start: %w", err)}
		fmt.Fprintf(sp.out, "==> %s: %s in %s\n", st.Name, serr.footer(), seconds(time.Since(start)))
		return serr
	}
	pid := cmd.Process.Pid
	pipe := inode(pr)

	copied := make(chan copyResult, 1)
	go func() { copied <- copyOut(sp.out, pr, sp.buf) }()
	exited := make(chan struct{})
	go func() {
		waitExited(pid) // leaves the leader a zombie: its pid, the group id, cannot be reused yet
		close(exited)
	}()

	stepCtx := ctx
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, st.Timeout)
		defer cancel()
	}
	var stopped error // why we ended the step, nil when it ended by itself
	select {
	case <-exited:
	case <-stepCtx.Done():
		stopped = stepCtx.Err()
		r.signal(pid, syscall.SIGTERM)
		t := time.NewTimer(killGrace)
		select {
		case <-exited:
		case <-t.C:
			r.signal(pid, syscall.SIGKILL)
			<-exited
		}
		t.Stop()
	}
	// Whatever happened, nothing the step started may outlive it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	sweep(pid, pid, marker, pipe)
	waitErr := cmd.Wait()

	// Output still buffered in the pipe is read to the end; a holder we could
	// not find gets waitDelay before the read is cut.
	var cr copyResult
	t := time.NewTimer(waitDelay)
	select {
	case cr = <-copied:
	case <-t.C:
		_ = pr.SetReadDeadline(time.Now())
		cr = <-copied
	}
	t.Stop()
	pr.Close()

	serr := stepResult(st, stopped, ctx.Err(), cmd, waitErr, time.Since(start))
	if cr.wrote && cr.last != '\n' {
		fmt.Fprintln(sp.out)
	}
	if _, err := fmt.Fprintf(sp.out, "==> %s: %s in %s\n", st.Name, serr.footer(), seconds(time.Since(start))); logErr == nil {
		logErr = err
	}
	if logErr == nil {
		logErr = cr.err
	}
	if serr != nil {
		return serr
	}
	if logErr != nil {
		return fmt.Errorf("runner: write log of step %q: %w", st.Name, logErr)
	}
	return nil
}

// stepResult turns how the step ended into a *StepError, or nil on success.
func stepResult(st Step, stopped, stageErr error, cmd *exec.Cmd, waitErr error, took time.Duration) *StepError {
	serr := &StepError{Step: st.Name, ExitCode: -1}
	switch {
	case stopped != nil && stageErr != nil: // the stage's ctx ended, not the step's own timeout
		serr.Err = stageErr
		serr.Cancelled = errors.Is(stageErr, context.Canceled)
		serr.TimedOut = !serr.Cancelled
		serr.Timeout = took.Round(time.Second)
		return serr
	case stopped != nil:
		serr.TimedOut, serr.Timeout, serr.Err = true, st.Timeout, stopped
		return serr
	}
	ps := cmd.ProcessState
	if ps == nil {
		serr.Err = fmt.Errorf("wait: %w", waitErr)
		return serr
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		serr.ExitCode = 128 + int(ws.Signal())
		serr.Err = fmt.Errorf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		return serr
	}
	if ps.ExitCode() == 0 {
		return nil
	}
	serr.ExitCode = ps.ExitCode()
	return serr
}

// command is the process of one step, bare or inside bwrap.
func (r *Runner) command(sp stepSpec, script string) *exec.Cmd {
	if r.bwrap == "" {
		return &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-e", "-c", script}, Dir: sp.ws}
	}
	args := []string{"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"}
	for _, h := range r.hide {
		// bwrap cannot make a mount point on the read-only host; a missing
		// directory has nothing to hide anyway.
		if fi, err := os.Stat(h); err == nil && fi.IsDir() {
			args = append(args, "--tmpfs", h)
		}
	}
	// Later mounts show through the tmpfs above, so a workspace inside the
	// hidden data dir is still there.
	args = append(args, "--bind", sp.ws, sp.ws)
	if sp.cache != "" {
		args = append(args, "--bind", sp.cache, sp.cache)
	}
	// The environment goes to bwrap as its own (exec env, not --setenv, so
	// values stay out of the process list); bwrap passes it on unchanged.
	args = append(args, "--unshare-all", "--share-net", "--die-with-parent", "--new-session",
		"--chdir", sp.ws, "--", "/bin/sh", "-e", "-c", script)
	return &exec.Cmd{Path: r.bwrap, Args: args, Dir: sp.ws}
}

// signal sends sig to everything the step runs. Without a sandbox that is the
// process group. In bwrap the step has its own session inside a PID
// namespace: SIGTERM goes to each process under the namespace's init, and
// SIGKILL to that init, which takes the whole namespace down with it.
func (r *Runner) signal(pid int, sig syscall.Signal) {
	if r.bwrap == "" {
		_ = syscall.Kill(-pid, sig)
		return
	}
	sent := false
	for _, init := range children(pid) {
		if sig == syscall.SIGKILL {
			_ = syscall.Kill(init, sig)
			sent = true
			continue
		}
		for _, p := range descendants(init) {
			sent = syscall.Kill(p, sig) == nil || sent
		}
	}
	if !sent {
		// Still setting up the sandbox: bwrap itself dies of the signal and
		// --die-with-parent takes the namespace down.
		_ = syscall.Kill(-pid, sig)
	}
}

type copyResult struct {
	wrote bool
	last  byte // last byte written, to end the output with a newline
	err   error
}

// copyOut streams the pipe into the log through one buffer: bounded memory
// and no per-line work whatever the volume. (splice(2) into the file was
// tried: no measurable gain, since the kernel still copies into the page
// cache.) After a write error it keeps draining so the step is not blocked
// on a full pipe.
func copyOut(w io.Writer, r *os.File, buf []byte) (res copyResult) {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			res.wrote, res.last = true, buf[n-1]
			if res.err == nil {
				_, res.err = w.Write(buf[:n])
			}
		}
		if err != nil {
			return res
		}
	}
}

const stepIDVar = "GREENLIGHT_STEP_ID"

// newMarker names one step's processes in their environment, for sweep.
func newMarker() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// headline is the first line of a step's script, for the log header.
func headline(script string) string {
	s := strings.TrimSpace(script)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
