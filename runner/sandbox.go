package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxReply bounds one line of the executor's replies.
const maxReply = 4 << 10

// readyLimit bounds the sandbox's start: bwrap plus the executor's exec.
const readyLimit = 10 * time.Second

// execBox is one bwrap for a whole Run, with this program inside as the
// executor (executor.go) running the steps one after another. Setting up
// the namespaces costs milliseconds; paying that once per stage instead of
// once per step is why it exists. Only Run's goroutine uses it.
type execBox struct {
	cmd     *exec.Cmd
	ctl     *os.File      // requests to the executor
	enc     *json.Encoder // on ctl
	out     *os.File      // read end of the output pipe every step writes to
	pr      *pipeReader   // on out, with Run's buffer
	replies chan reply    // closed when the executor's result pipe ends
	exited  chan struct{} // closed once bwrap has exited and been reaped
	stderr  *tail
	nextID  int
	broken  bool // a step left processes behind: start a new sandbox
}

// startSandbox starts bwrap with the executor and waits for its ready reply.
func (r *Runner) startSandbox(ctx context.Context, js *jobSpec, buf []byte) (*execBox, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("result pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{ctlR, ctlW, resR, resW} {
			f.Close()
		}
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	growPipe(outW)
	self, err := openSelf()
	if err != nil {
		for _, f := range []*os.File{ctlR, ctlW, resR, resW, outR, outW} {
			f.Close()
		}
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer self.Close()
	args := append(r.bwrapArgs(js, false), fmt.Sprintf("/proc/self/fd/%d", fdSelf))
	s := &execBox{
		cmd:     &exec.Cmd{Path: r.bwrap, Args: args, Dir: js.ws},
		ctl:     ctlW,
		enc:     json.NewEncoder(ctlW),
		out:     outR,
		replies: make(chan reply, 1),
		exited:  make(chan struct{}),
		stderr:  &tail{max: 4 << 10},
	}
	// Nothing of the server's environment enters the sandbox; each step's
	// environment travels in its request.
	s.cmd.Env = []string{executorVar + "=" + executorProtocol}
	s.cmd.ExtraFiles = []*os.File{ctlR, resW, outW, self} // fds 3 to 6: see protocol.go
	s.cmd.Stderr = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = s.cmd.Start()
	ctlR.Close()
	resW.Close()
	outW.Close()
	if err != nil {
		ctlW.Close()
		resR.Close()
		outR.Close()
		return nil, fmt.Errorf("start bwrap: %w", err)
	}
	if s.pr, err = newPipeReader(outR, buf); err != nil {
		s.kill()
		_ = s.cmd.Wait()
		return nil, err
	}
	go func() {
		defer close(s.replies)
		defer resR.Close()
		// One reply per line, each a few dozen bytes: a longer line is not
		// the executor's, and the sandbox is not trusted any more.
		rd := bufio.NewReaderSize(resR, maxReply)
		for {
			line, err := rd.ReadSlice('\n')
			if err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					s.kill()
				}
				return
			}
			var rep reply
			if err := json.Unmarshal(line, &rep); err != nil {
				s.kill()
				return
			}
			s.replies <- rep
		}
	}()
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	t := time.NewTimer(readyLimit)
	defer t.Stop()
	select {
	case rep, ok := <-s.replies:
		if ok && rep.Ready == executorProtocol {
			return s, nil
		}
		err = fmt.Errorf("executor not ready (%+v)", rep)
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = errors.New("executor not ready in time")
	}
	s.close()
	if msg := strings.TrimSpace(s.stderr.String()); msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return nil, err
}

// kill ends bwrap; --die-with-parent and the PID namespace take every
// process of the sandbox with it.
func (s *execBox) kill() { _ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) }

// close ends the sandbox between steps, when nothing runs in it. It kills
// rather than lets the executor exit at EOF: that would cost the executor's
// exit (a race-enabled build sleeps a second there) for nothing.
func (s *execBox) close() {
	s.ctl.Close()
	s.kill()
	<-s.exited
	for range s.replies { // the reader ends at EOF, now that every writer is gone
	}
	s.out.Close()
	reapOrphanSandboxes()
}

// send writes one request; a failure means the executor is gone, which
// the caller sees as its replies ending.
func (s *execBox) send(req request) { _ = s.enc.Encode(req) }

// tail keeps the last max bytes written to it: the executor's stderr, for
// the error when it fails to start.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
