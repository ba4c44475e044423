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

	"github.com/greenlight-cd/greenlight/sandbox"
)

// jobSpec is what every step of a Run shares.
type jobSpec struct {
	ws, cache string
	id        sandbox.Identity // who the steps run as
	limits    Limits           // defaults applied
	rl        []rlimit         // the limits set on each step's processes
	network   string
	cap       *logCap // the stage log, cut to limits; the runner's own lines pass whole
}

// stepSpec is everything one step needs; Run builds it.
type stepSpec struct {
	*jobSpec
	step Step
	env  []string
	out  io.Writer // masked, then cut by cap
	buf  []byte    // reused by every step of a Run
}

// say writes a line of the runner's own (a header or footer) to the log.
func (sp stepSpec) say(format string, args ...any) error {
	return sp.cap.ownWrite(sp.out, format, args...)
}

// runStep runs one step from header to footer. It returns a *StepError when
// the step did not succeed, or another error when its log could not be written.
func (r *Runner) runStep(ctx context.Context, sp stepSpec) error {
	st := sp.step
	start := time.Now()
	logErr := sp.say("==> %s: %s\n", st.Name, headline(st.Run))

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
		sp.say("==> %s: %s in %s\n", st.Name, serr.footer(), seconds(time.Since(start)))
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

	serr := stepResult(st, stopped, stageCause(ctx), processStatus(cmd, waitErr), time.Since(start))
	return finishStep(sp, start, serr, cr, logErr)
}

// finishStep ends the step's output with a newline if it lacks one, writes
// the footer and picks the error Run returns.
func finishStep(sp stepSpec, start time.Time, serr *StepError, cr copyResult, logErr error) error {
	if cr.wrote && cr.last != '\n' {
		sp.say("\n")
	}
	if err := sp.say("==> %s: %s in %s\n", sp.step.Name, serr.footer(), seconds(time.Since(start))); logErr == nil {
		logErr = err
	}
	if logErr == nil {
		logErr = cr.err
	}
	if serr != nil {
		return serr
	}
	if logErr != nil {
		return fmt.Errorf("runner: write log of step %q: %w", sp.step.Name, logErr)
	}
	return nil
}

// exitStatus is how a step's shell ended, whoever waited for it.
type exitStatus struct {
	exited bool           // false: no status (err says why)
	code   int            // the exit status, when not signalled
	signal syscall.Signal // the signal that killed it, or 0
	err    error
}

// processStatus reads the status of a step run without the executor.
func processStatus(cmd *exec.Cmd, waitErr error) exitStatus {
	ps := cmd.ProcessState
	if ps == nil {
		return exitStatus{err: fmt.Errorf("wait: %w", waitErr)}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitStatus{exited: true, signal: ws.Signal()}
	}
	return exitStatus{exited: true, code: ps.ExitCode()}
}

// stageCause is why the stage's ctx ended: its error, or the *DiskError
// the disk watcher stopped it with.
func stageCause(ctx context.Context) error {
	var de *DiskError
	if err := context.Cause(ctx); errors.As(err, &de) {
		return err
	}
	return ctx.Err()
}

// stepResult turns how the step ended into a *StepError, or nil on success.
func stepResult(st Step, stopped, stageErr error, status exitStatus, took time.Duration) *StepError {
	serr := &StepError{Step: st.Name, ExitCode: -1}
	var de *DiskError
	switch {
	case stopped != nil && errors.As(stageErr, &de): // the disk watcher ended it
		serr.Err = de
		return serr
	case stopped != nil && stageErr != nil: // the stage's ctx ended, not the step's own timeout
		serr.Err = stageErr
		serr.Cancelled = errors.Is(stageErr, context.Canceled)
		serr.TimedOut = !serr.Cancelled
		serr.Timeout = took.Round(time.Second)
		return serr
	case stopped != nil:
		serr.TimedOut, serr.Timeout, serr.Err = true, st.Timeout, stopped
		return serr
	case !status.exited:
		serr.Err = status.err
		return serr
	case status.signal != 0:
		serr.ExitCode = 128 + int(status.signal)
		serr.Err = fmt.Errorf("killed by signal %d (%v)", int(status.signal), status.signal)
		return serr
	case status.code == 0:
		return nil
	}
	serr.ExitCode = status.code
	return serr
}

// command is the process of one step, bare or inside its own bwrap (when
// the executor is not used), with prlimit setting its limits in between.
func (r *Runner) command(sp stepSpec, script string) *exec.Cmd {
	var args []string
	if r.prlimit != "" {
		args = prlimitArgs(r.prlimit, sp.rl)
	}
	args = append(args, "/bin/sh", "-e", "-c", script)
	if r.bwrap == "" {
		return &exec.Cmd{Path: args[0], Args: args, Dir: sp.ws}
	}
	// The environment goes to bwrap as its own (exec env, not --setenv, so
	// values stay out of the process list); bwrap passes it on unchanged.
	args = append(r.bwrapArgs(sp.jobSpec), args...)
	return &exec.Cmd{Path: r.bwrap, Args: args, Dir: sp.ws}
}

// bwrapArgs is the sandbox of a job, up to the command: sandbox.Args (the
// host read-only, the hidden dirs empty and hidden files unreadable, a user
// namespace that cannot make more), the workspace and cache writable, its
// own PID namespace, the host's network or none, dying with the server.
//
// It ends with "--" or, when the server is root, with the setpriv command
// that becomes the build's uid: what follows is the command to run.
func (r *Runner) bwrapArgs(js *jobSpec) []string {
	args := sandbox.Args(r.hide, js.limits.Tmp)
	if r.setpriv != "" {
		args = sandbox.RootArgs(r.hide, sandbox.Cover([]string{js.ws, js.cache}, js.id, "/tmp"), js.limits.Tmp)
	}
	// Later mounts show through the tmpfs above, so a workspace inside the
	// hidden data dir is still there.
	args = append(args, sandbox.MountPoints(js.ws, js.cache)...)
	args = append(args, "--bind", js.ws, js.ws)
	if js.cache != "" {
		args = append(args, "--bind", js.cache, js.cache)
	}
	args = append(args, "--unshare-pid")
	if js.network == NetworkNone {
		args = append(args, "--unshare-net")
	}
	args = append(args, "--die-with-parent", "--new-session", "--chdir", js.ws, "--")
	if r.setpriv != "" {
		args = append(args, sandbox.DropTo(r.setpriv, js.id)...)
	}
	return args
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
