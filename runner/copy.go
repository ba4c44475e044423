package runner

import (
	"io"
	"os"
	"syscall"
	"time"
)

type copyResult struct {
	wrote bool
	last  byte // last byte written, to end the output with a newline
	err   error
}

// copyOut streams the pipe into the log through one buffer: bounded memory
// and no per-line work whatever the volume. It ends at EOF or when a read
// deadline set on r expires. After a write error it keeps draining so the
// step is not blocked on a full pipe.
func copyOut(w io.Writer, r *os.File, buf []byte) (res copyResult) {
	pr, err := newPipeReader(r, buf)
	if err != nil {
		res.err = err
		return res
	}
	for {
		n, eof, err := pr.fill()
		res.add(w, buf[:n])
		if eof || err != nil {
			return res
		}
	}
}

func (res *copyResult) add(w io.Writer, b []byte) {
	if len(b) == 0 {
		return
	}
	res.wrote, res.last = true, b[len(b)-1]
	if res.err == nil {
		_, res.err = w.Write(b)
	}
}

// pipeReader reads a non-blocking pipe through the poller.
type pipeReader struct {
	rc   syscall.RawConn
	buf  []byte
	read func(fd uintptr) bool // allocated once: a closure per call would be one allocation per read

	n   int
	eof bool
	err error
}

func newPipeReader(r *os.File, buf []byte) (*pipeReader, error) {
	rc, err := r.SyscallConn()
	if err != nil {
		return nil, err
	}
	pr := &pipeReader{rc: rc, buf: buf}
	pr.read = pr.readReady
	return pr, nil
}

// fill reads until buf is full or the pipe is empty, and parks in the
// poller only when it has nothing yet. A writer like base64 writes 4 KiB at
// a time; reading whatever is there and writing it out at once would cost
// one log write (and often one poller wake-up) per 4 KiB. The read deadline
// of the file still applies while parked, so a holder of the pipe that
// never closes it cannot block forever.
func (pr *pipeReader) fill() (n int, eof bool, err error) {
	pr.n, pr.eof, pr.err = 0, false, nil
	err = pr.rc.Read(pr.read)
	if err == nil {
		err = pr.err
	}
	return pr.n, pr.eof, err
}

func (pr *pipeReader) readReady(fd uintptr) bool {
	for pr.n < len(pr.buf) {
		m, e := syscall.Read(int(fd), pr.buf[pr.n:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return pr.n > 0
		case e != nil:
			pr.err = e
			return true
		case m == 0:
			pr.eof = true
			return true
		}
		pr.n += m
	}
	return true
}

// drain reads what is left in a pipe whose writers are all gone or idle
// (the executor reports a step's end only once every process of the step is
// dead) until it is empty, or until limit passes if something still writes.
func drain(w io.Writer, r *os.File, buf []byte, res *copyResult, limit time.Duration) {
	rc, err := r.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n, more := 0, false
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			for n < len(buf) {
				m, e := syscall.Read(int(fd), buf[n:])
				if e == syscall.EINTR {
					continue
				}
				if e != nil && e != syscall.EAGAIN {
					rerr = e
				}
				if m <= 0 {
					return true // empty (EAGAIN), EOF or an error: never park
				}
				n += m
			}
			more = true // the buffer filled up: there may be more
			return true
		})
		res.add(w, buf[:n])
		if err != nil || rerr != nil || !more {
			return
		}
	}
}
