package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greenlight-cd/greenlight/sandbox"
)

// reexecReady records that this process called RunExecutorIfRequested, so
// that re-executing its own binary reaches the executor. A binary that never
// calls it (another package's test binary, say) would instead run its whole
// main or test suite inside the sandbox; New keeps the per-step path for it.
// It is a fact about the process image, like os.Args, hence package state.
var reexecReady atomic.Bool

// RunExecutorIfRequested turns this process into a build executor when the
// runner started it as one inside bwrap, and never returns then (it exits).
// Otherwise it returns at once. Call it first thing in main, and in the
// TestMain of any test binary that runs steps in bwrap.
func RunExecutorIfRequested() {
	v, ok := os.LookupEnv(executorVar)
	if !ok {
		reexecReady.Store(true)
		return
	}
	os.Exit(runExecutor(v))
}

// leftoverLimit bounds the wait for a step's processes to die after SIGKILL:
// only a process stuck in the kernel (D state) outlives it.
const leftoverLimit = 5 * time.Second

// runExecutor serves run requests until the control pipe closes. It runs as
// pid 2 of the sandbox's PID namespace, under bwrap's init, so that
// kill(-1, …) reaches every process of the sandbox except itself and that
// init; as a child subreaper it inherits every orphan a step leaves and can
// reap them all before it reports the step's end.
func runExecutor(version string) int {
	if version != executorProtocol {
		fmt.Fprintf(os.Stderr, "greenlight executor: protocol %q, want %q\n", version, executorProtocol)
		return 2
	}
	if err := becomeSubreaper(); err != nil {
		fmt.Fprintf(os.Stderr, "greenlight executor: become child subreaper: %v\n", err)
		return 2
	}
	// Non-dumpable, the executor cannot be traced nor its descriptors
	// taken (pidfd_getfd) to forge results by a step of its own uid (when
	// the server is not root); as root it runs steps as another uid anyway.
	// no_new_privs holds for every step it starts.
	if err := sandbox.NoDump(); err != nil {
		fmt.Fprintf(os.Stderr, "greenlight executor: %v\n", err)
		return 2
	}
	// As root (the server's), the executor holds root's supplementary
	// groups: no step inherits them.
	if os.Getuid() == 0 {
		if err := syscall.Setgroups(nil); err != nil {
			fmt.Fprintf(os.Stderr, "greenlight executor: clear groups: %v\n", err)
			return 2
		}
	}
	const prSetNoNewPrivs = 38
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "greenlight executor: no_new_privs: %v\n", e)
		return 2
	}
	// Steps must not inherit the protocol's pipes (they could forge
	// results), nor anything else this process was given.
	if err := sandbox.CloseInherited(); err != nil {
		fmt.Fprintf(os.Stderr, "greenlight executor: %v\n", err)
		return 2
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Fprintf(os.Stderr, "greenlight executor: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(os.NewFile(fdResults, "results"))
	if err := enc.Encode(reply{Ready: executorProtocol}); err != nil {
		return 2
	}
	reqs := make(chan request)
	go func() {
		defer close(reqs)
		dec := json.NewDecoder(os.NewFile(fdControl, "control"))
		for {
			var req request
			if err := dec.Decode(&req); err != nil {
				return
			}
			reqs <- req
		}
	}()
	for req := range reqs {
		if req.Op != "run" {
			continue // a signal for a step that is already over
		}
		rep, more := execStep(req, reqs, devNull.Fd())
		if err := enc.Encode(rep); err != nil || !more || rep.Leftover > 0 {
			return 0
		}
	}
	return 0
}

// execStep runs one step's shell and, once it has exited, kills and reaps
// everything else in the sandbox. Signals requested meanwhile go to every
// process but the executor. more is false when the control pipe closed.
func execStep(req request, reqs <-chan request, devNull uintptr) (rep reply, more bool) {
	rep.ID = req.ID
	argv := append(append([]string{}, req.Prefix...), "/bin/sh", "-e", "-c", req.Script)
	sys := &syscall.SysProcAttr{Setpgid: true}
	if req.Drop {
		sys.Credential = &syscall.Credential{Uid: req.UID, Gid: req.GID, Groups: []uint32{}}
	}
	if req.UserNS {
		// Its processes are counted against its process limit in this
		// namespace alone, not with every process of the uid on the host.
		uid, gid := int(req.UID), int(req.GID)
		sys.Cloneflags = syscall.CLONE_NEWUSER
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		sys.GidMappingsEnableSetgroups = false
	}
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir:   req.Dir,
		Env:   req.Env,
		Files: []uintptr{devNull, fdOutput, fdOutput},
		Sys:   sys,
	})
	if err != nil {
		rep.Exit, rep.Err = -1, fmt.Sprintf("start: %v", err)
		return rep, true
	}
	shell := make(chan syscall.WaitStatus, 1)
	reaped := make(chan struct{})
	go reapAll(pid, shell, reaped)
	more = true
	var limit <-chan time.Time
	for {
		select {
		case ws := <-shell:
			rep.Exit = ws.ExitStatus()
			if ws.Signaled() {
				rep.Exit, rep.Signal = -1, int(ws.Signal())
			}
			limit = time.After(leftoverLimit)
		case <-reaped:
			return rep, more
		case <-limit:
			rep.Leftover = len(children(os.Getpid()))
			return rep, more
		case r, ok := <-reqs:
			switch {
			case !ok: // the server is gone: so is the step
				more, reqs = false, nil
				_ = syscall.Kill(-1, syscall.SIGKILL)
			case r.Op == "signal" && r.ID == req.ID && r.Signal > 0:
				_ = syscall.Kill(-1, syscall.Signal(r.Signal))
			}
		}
	}
}

// reapAll waits for every child of the executor. When the step's shell
// exits it reports its status and kills all that is left: kill(-1) from a
// process that is not init signals every process of the namespace but the
// caller and init, and a fork racing with it either completes before (its
// child is signalled too) or is aborted by the parent's pending SIGKILL.
// Orphans re-parent to the executor (subreaper), so when wait4 says ECHILD
// nothing of the step is left.
func reapAll(shellPid int, shell chan<- syscall.WaitStatus, reaped chan<- struct{}) {
	defer close(reaped)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil: // ECHILD: no child left
			return
		}
		if pid == shellPid {
			shell <- ws
			_ = syscall.Kill(-1, syscall.SIGKILL)
		}
	}
}
