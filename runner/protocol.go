package runner

// The protocol between the server and the executor it starts inside bwrap,
// one sandbox per Run (see sandbox.go and executor.go).
//
// The executor is this same program, started with executorVar set to
// executorProtocol in an otherwise empty environment. It inherits four
// descriptors: fdControl (read: requests, JSON lines), fdResults (write:
// replies, JSON lines), fdOutput (write: the stage log pipe, given to each
// step as stdout and stderr) and fdSelf (its own image, which bwrap
// executes). Its first reply is a ready message; then, for
// each run request, exactly one result once the step's shell has exited and
// every other process of the sandbox is dead and reaped. Closing the control
// pipe ends the executor.

const (
	executorVar      = "GREENLIGHT_RUNNER_EXECUTOR"
	executorProtocol = "5" // bumped on any change: a newer binary on disk must not guess
	fdControl        = 3
	fdResults        = 4
	fdOutput         = 5
	fdSelf           = 6
)

// request is a message from the server.
type request struct {
	Op     string   `json:"op"` // "run" or "signal"
	ID     int      `json:"id"`
	Dir    string   `json:"dir,omitempty"`    // run: the step's cwd
	Script string   `json:"script,omitempty"` // run: given to /bin/sh -e -c
	Prefix []string `json:"prefix,omitempty"` // run: the command that runs /bin/sh (prlimit, when the shell cannot set limits)
	UserNS bool     `json:"userns,omitempty"` // run: the shell gets a user namespace of its own, mapping only UID and GID
	Drop   bool     `json:"drop,omitempty"`   // run: the shell runs as UID and GID (the executor is root then)
	UID    uint32   `json:"uid,omitempty"`
	GID    uint32   `json:"gid,omitempty"`
	Env    []string `json:"env,omitempty"`    // run: the step's whole environment
	Signal int      `json:"signal,omitempty"` // signal: sent to every process of the step
}

// reply is a message from the executor.
type reply struct {
	Ready    string `json:"ready,omitempty"` // the first reply: the protocol spoken
	ID       int    `json:"id"`
	Exit     int    `json:"exit"`               // the shell's exit status, when it exited
	Signal   int    `json:"signal,omitempty"`   // the signal that killed the shell
	Err      string `json:"err,omitempty"`      // the step could not start
	Leftover int    `json:"leftover,omitempty"` // processes that would not die: the sandbox is unusable
}
