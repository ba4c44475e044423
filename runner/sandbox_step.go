package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// runStep runs one step through the executor, from header to footer: the
// sandbox's counterpart of Runner.runStep, with the same log lines, grace
// periods and errors.
func (s *execBox) runStep(ctx context.Context, sp stepSpec) error {
	st := sp.step
	start := time.Now()
	logErr := sp.say("==> %s: %s\n", st.Name, headline(st.Run))

	s.nextID++
	id := s.nextID
	stop := make(chan struct{})
	copied := make(chan copyResult, 1)
	go func() { copied <- s.copyStep(sp, stop) }()
	s.send(request{Op: "run", ID: id, Dir: sp.ws, Script: st.Run, Env: append(sp.env, stepIDVar+"="+newMarker())})

	stepCtx := ctx
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, st.Timeout)
		defer cancel()
	}
	var stopped error // why we ended the step, nil when it ended by itself
	rep, ok := reply{}, false
	select {
	case rep, ok = <-s.replies:
	case <-stepCtx.Done():
		stopped = stepCtx.Err()
		rep, ok = s.stop(id)
	}
	if ok && rep.ID != id {
		ok = false // a protocol error: trust nothing more from this sandbox
	}
	if !ok || rep.Leftover > 0 {
		s.broken = true
	}

	// Every process of the step is dead once its reply came, so what it
	// wrote is all in the pipe: read it to the end, then write the footer.
	_ = s.out.SetReadDeadline(time.Now())
	close(stop)
	cr := <-copied

	var status exitStatus
	switch {
	case !ok:
		status.err = errors.New("sandbox executor died")
		if msg := strings.TrimSpace(s.stderr.String()); msg != "" {
			status.err = fmt.Errorf("sandbox executor died: %s", msg)
		}
	case rep.Err != "":
		status.err = errors.New(rep.Err)
	case rep.Signal > 0:
		status = exitStatus{exited: true, signal: syscall.Signal(rep.Signal)}
	default:
		status = exitStatus{exited: true, code: rep.Exit}
	}
	serr := stepResult(st, stopped, stageCause(ctx), status, time.Since(start))
	if rep.Leftover > 0 && serr == nil {
		serr = &StepError{Step: st.Name, ExitCode: -1,
			Err: fmt.Errorf("%d processes of the step would not die", rep.Leftover)}
	}
	return finishStep(sp, start, serr, cr, logErr)
}

// stop asks the executor to end the step as a timeout does without a
// sandbox: SIGTERM to all of it, SIGKILL after killGrace. If the executor
// still does not answer, bwrap is killed and the sandbox with it.
func (s *execBox) stop(id int) (reply, bool) {
	s.send(request{Op: "signal", ID: id, Signal: int(syscall.SIGTERM)})
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case rep, ok := <-s.replies:
		return rep, ok
	case <-t.C:
	}
	s.send(request{Op: "signal", ID: id, Signal: int(syscall.SIGKILL)})
	t.Reset(waitDelay)
	select {
	case rep, ok := <-s.replies:
		return rep, ok
	case <-t.C:
	}
	s.kill()
	rep, ok := <-s.replies // ends: the executor died with the sandbox
	return rep, ok
}

// copyStep streams the output pipe into the log until stop, then reads what
// is left. The pipe stays open across steps, so there is no EOF to wait
// for: stop comes after a read deadline in the past wakes the reader.
func (s *execBox) copyStep(sp stepSpec, stop <-chan struct{}) (res copyResult) {
	for {
		n, eof, err := s.pr.fill()
		res.add(sp.out, sp.buf[:n])
		if eof {
			return res
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			<-stop // set just before stop closes: clearing it now is final
			_ = s.out.SetReadDeadline(time.Time{})
			drain(sp.out, s.out, sp.buf, &res, waitDelay)
			return res
		}
		if err != nil {
			return res
		}
	}
}
