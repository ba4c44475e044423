// Package failpoint kills the process at a named point of its durable work,
// so that tests can prove that a crash (kill -9) at that point loses and
// duplicates nothing. It is armed only by the environment variable
// GREENLIGHT_FAILPOINT=NAME or NAME:N=COUNT (the COUNTth time NAME is
// reached; the first by default); unarmed, Hit is one comparison. The store names its
// points after what it writes: "after:EVENT" once a transaction that
// appended that event committed, "before:EVENT" just before its commit
// (build and deploy events add ":STAGE"), and "before:"/"after:" the mail
// and status outbox records and target states.
package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env is the variable that arms a failpoint.
const Env = "GREENLIGHT_FAILPOINT"

var (
	armed string // "" when unarmed
	nth   = 1
	mu    sync.Mutex
	hits  int
)

func init() {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	name, n, ok := strings.Cut(v, ":N=")
	if ok {
		if c, err := strconv.Atoi(n); err == nil && c > 0 {
			nth = c
		}
	}
	armed = name
}

// Armed reports whether a failpoint is armed, for callers that would do
// work only to name a point.
func Armed() bool { return armed != "" }

// Hit kills the process with SIGKILL if name is the armed failpoint,
// reached for the Nth time. It says so on stderr first.
func Hit(name string) {
	if armed == "" || name != armed {
		return
	}
	mu.Lock()
	hits++
	fire := hits == nth
	mu.Unlock()
	if !fire {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint %s reached: killing the process\n", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught: wait for it
}
