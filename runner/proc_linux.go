package runner

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Linux constants the syscall package does not name.
const (
	prSetChildSubreaper = 36
	pPID                = 1
	wNOWAIT             = 0x1000000
	fSETPIPESZ          = 1031
)

// becomeSubreaper makes orphaned descendants of the server re-parent to it
// rather than to init, so sweep can find and reap them. It is a process-wide
// attribute; setting it again is harmless.
func becomeSubreaper() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return e
	}
	return nil
}

// waitExited blocks until pid has exited without reaping it (WNOWAIT): while
// the zombie stands, its pid and process group id cannot be reused, so
// killing the group afterwards cannot hit a stranger.
func waitExited(pid int) {
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// growPipe enlarges a pipe's buffer; a failure only costs speed.
func growPipe(f *os.File) {
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSETPIPESZ, pipeSize)
}

// inode identifies a pipe: /proc/PID/fd links of its holders read "pipe:[N]".
func inode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// children lists pid's children. A process's children hang off the thread
// that forked them (or that inherited them as a subreaper), so every thread
// is read.
func children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(dir + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// descendants lists pid's subtree, pid excluded, parents before children.
func descendants(pid int) []int {
	var out []int
	queue := children(pid)
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children(p)...)
	}
	return out
}

const sweepLimit = 5 * time.Second

// sweep kills and reaps what one step left behind among the server's
// children (see the package doc). leader is the step's own process, already
// exited but not reaped; cmd.Wait reaps it.
func sweep(leader, pgid int, marker string, pipe uint64) {
	self := os.Getpid()
	deadline := time.Now().Add(sweepLimit)
	for time.Now().Before(deadline) {
		var tree []int
		for _, pid := range children(self) {
			if pid != leader && belongs(pid, pgid, marker, pipe) {
				tree = append(tree, freeze(pid)...)
			}
		}
		if len(tree) == 0 {
			return
		}
		for _, p := range tree {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		for _, p := range tree {
			reap(p, deadline)
		}
	}
}

// freeze stops pid and then, top down, its descendants, so that none can
// fork while the tree is listed. It returns the stopped pids.
func freeze(pid int) []int {
	tree := []int{pid}
	for i := 0; i < len(tree) && len(tree) < 100000; i++ {
		_ = syscall.Kill(tree[i], syscall.SIGSTOP)
		tree = append(tree, children(tree[i])...)
	}
	return tree
}

// reap waits for a killed process. It becomes the server's child once its
// own parent (also killed) is gone; until then wait4 says ECHILD.
func reap(pid int, deadline time.Time) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != syscall.ECHILD:
			return
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil || time.Now().After(deadline) {
			return // reaped by its parent, or stuck beyond our patience
		}
		time.Sleep(time.Millisecond)
	}
}

// belongs reports whether a child of the server came from the step: still
// in its process group, carrying its marker, or holding its output pipe.
func belongs(pid, pgid int, marker string, pipe uint64) bool {
	proc := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) state ppid pgrp session …"; comm may itself hold ")".
	i := bytes.LastIndexByte(stat, ')')
	j := bytes.IndexByte(stat, '(')
	if i < 0 || j < 0 || j > i {
		return false
	}
	comm := string(stat[j+1 : i])
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return false
	}
	if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
		return true
	}
	// bwrap's PID-namespace init leads its own session (--new-session); the
	// outer bwrap exits with the step's status without waiting for it, so it
	// lands here, alive for a moment or a zombie. The outer bwraps the runner
	// starts stay in the server's session (Setpgid only), so a session-leading
	// bwrap child of the server is always such an orphan, of a step that is
	// over: claiming another step's is as harmless as claiming our own.
	if sid, err := strconv.Atoi(f[3]); err == nil && sid == pid && comm == "bwrap" {
		return true
	}
	if f[0] == "Z" {
		return false // a zombie has no environment or files left to tell
	}
	if env, err := os.ReadFile(proc + "/environ"); err == nil {
		want := []byte(stepIDVar + "=" + marker + "\x00")
		if bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...)) {
			return true
		}
	}
	if pipe == 0 {
		return false
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return false
	}
	want := "pipe:[" + strconv.FormatUint(pipe, 10) + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(proc + "/fd/" + fd.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}

// reapOrphanSandboxes kills and reaps the namespace inits of finished
// bwraps that re-parented to this process (see belongs); it only has any
// when the process is a subreaper, as a test binary that also ran steps
// without a sandbox is. Called when a sandbox has exited.
func reapOrphanSandboxes() {
	deadline := time.Now().Add(sweepLimit)
	for _, pid := range children(os.Getpid()) {
		if orphanSandbox(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			reap(pid, deadline)
		}
	}
}

// orphanSandbox reports whether a child of this process is the PID
// namespace init of a bwrap (it leads its own session, --new-session) whose
// outer bwrap exited without waiting for it. The outer bwraps the runner
// starts stay in the server's session (Setpgid only), so a session-leading
// bwrap child of the server is always such an orphan, of a sandbox that is
// over.
func orphanSandbox(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) state ppid pgrp session …"; comm may itself hold ")".
	i := bytes.LastIndexByte(stat, ')')
	j := bytes.IndexByte(stat, '(')
	if i < 0 || j < 0 || j > i || string(stat[j+1:i]) != "bwrap" {
		return false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return false
	}
	sid, err := strconv.Atoi(f[3])
	return err == nil && sid == pid
}
