package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// hookScript runs one hook on the host the way runHook does locally (see
// hook.go for why output goes to a file): `/bin/sh -e -c HOOK` in the
// release directory, in a session of its own (setsid) so that what it
// starts outlives the SSH session and its group can be killed as one, with
// only the host's PATH, HOME and LANG plus the given env. stdin is
// /dev/null and stdout/stderr are appended to the hook's log file, so a
// background server holding them open holds only that file, not the SSH
// channel: the deploy goes on when the hook's shell exits.
//
// The script tells its process group on stderr ("pgid N"), then streams
// what the log gains to stdout with `tail --pid`, which ends once the hook's
// shell has exited, and exits with the hook's status. setsid runs in a
// background job of a non-interactive sh, so it is no group leader and
// becomes the session leader itself, without forking: $! is the group.
// While the hook runs, its group and start time are noted in the target's
// directory for Reap, as a local host does (hookCmd.Running).
const hookScript = `cd %[1]s || exit 125
log=%[2]s
: >> "$log" || exit 125
off=$(($(wc -c < "$log") + 1))
env -i PATH="$PATH" HOME="$HOME" LANG="${LANG:-C.UTF-8}" %[3]s setsid /bin/sh -e -c %[4]s >> "$log" 2>&1 < /dev/null &
pid=$!
echo "pgid $pid" >&2
echo "$pid $(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f20)" > %[5]s
tail -c +$off -s 0.1 --pid=$pid -f "$log"
wait $pid
st=$?
rm -f %[5]s
exit $st
`

// wrapperFailed is hookScript's own exit status when it cannot start the hook.
const wrapperFailed = 125

func (s *sshHost) Run(ctx context.Context, release, hook, command string, env map[string]string, timeout time.Duration, log io.Writer) error {
	dir := s.releaseDir(release)
	all := make(map[string]string, len(env)+1)
	for k, v := range env {
		all[k] = v
	}
	all["GREENLIGHT_RELEASE_DIR"] = dir
	vars, err := envAssignments(all)
	if err != nil {
		return fmt.Errorf("hook %s: %w", hook, err)
	}
	script := fmt.Sprintf(hookScript, shellQuote(dir), shellQuote(".greenlight-"+hook+".log"),
		strings.Join(vars, " "), shellQuote(command), shellQuote(s.running()))

	client, err := s.pool.client(ctx, s.t)
	if err != nil {
		return fmt.Errorf("hook %s: %w", hook, err)
	}
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("hook %s: %s: open session: %w", hook, sshName(s.t), err)
	}
	defer sess.Close()
	stderr, err := sess.StderrPipe()
	if err != nil {
		return fmt.Errorf("hook %s: %w", hook, err)
	}
	sess.Stdout = log
	// The script goes on stdin, not in the command line: it holds the
	// target's env, and a command line is visible to every user of the
	// host (ps) for as long as the hook runs. Nothing in it reads stdin.
	sess.Stdin = strings.NewReader(script)
	pgid := make(chan int, 1)
	var wrapperMsg strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "pgid "); ok {
				if id, err := strconv.Atoi(n); err == nil && id > 1 {
					pgid <- id
					continue
				}
			}
			if wrapperMsg.Len() < maxStderr {
				wrapperMsg.WriteString(sc.Text() + "\n")
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	if err := sess.Start("/bin/sh -s"); err != nil {
		return fmt.Errorf("hook %s: %s: %w", hook, sshName(s.t), err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case err = <-done:
	case <-hctx.Done():
		// Kill the hook's whole group on the host; its shell's exit then
		// ends tail and the session. A lost connection ends it too.
		select {
		case id := <-pgid:
			kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			s.run(kctx, "kill hook "+hook, "kill -s KILL -- -"+strconv.Itoa(id)+" 2>/dev/null || true", nil, nil)
			kcancel()
		default:
		}
		select {
		case err = <-done:
		case <-time.After(waitDelay):
			// sshd holds the session until its command exits: if the kill
			// did not reach the host, give up on the session rather than
			// wait for it.
			sess.Close()
			select {
			case err = <-done:
			case <-time.After(waitDelay):
				if ctx.Err() != nil {
					return fmt.Errorf("hook %s cancelled, and could not be killed on %s", hook, sshName(s.t))
				}
				return fmt.Errorf("hook %s timed out after %s, and could not be killed on %s", hook, timeout, sshName(s.t))
			}
		}
	}
	wg.Wait()

	var exit *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("hook %s cancelled: %w", hook, ctx.Err())
	case hctx.Err() != nil:
		return fmt.Errorf("hook %s timed out after %s", hook, timeout)
	case errors.As(err, &exit) && exit.ExitStatus() == wrapperFailed:
		return fmt.Errorf("hook %s: cannot run in %s on %s: %s", hook, path.Clean(dir), sshName(s.t), strings.TrimSpace(wrapperMsg.String()))
	case errors.As(err, &exit):
		return fmt.Errorf("hook %s failed: exit status %d", hook, exit.ExitStatus())
	}
	return fmt.Errorf("hook %s: %s: connection lost: %w", hook, sshName(s.t), err)
}

// running is where hookScript notes the hook it runs.
func (s *sshHost) running() string { return path.Join(s.t.Dir, ".greenlight-hook.pid") }

// reapScript is Reap on the host: reapHook's logic in sh. Only a plain file
// of the login user's own is believed, and on a host without /proc (no
// start time to check a reused pid against) nothing is killed.
const reapScript = `f=%[1]s
[ -f "$f" ] && [ ! -L "$f" ] || exit 0
[ -O "$f" ] || { rm -f "$f"; exit 0; }
read pid start < "$f"
rm -f "$f"
case "$pid" in ''|*[!0-9]*) exit 0;; esac
[ "$pid" -gt 1 ] && [ -d /proc/self ] || exit 0
now=$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f20)
[ -n "$now" ] && [ "$now" = "$start" ] || exit 0
kill -s KILL -- -$pid 2>/dev/null && echo "$pid"
exit 0
`

func (s *sshHost) Reap(ctx context.Context, log io.Writer) error {
	out, err := s.output(ctx, "reap cut-off hook", fmt.Sprintf(reapScript, shellQuote(s.running())))
	if err != nil {
		return err
	}
	if pid := strings.TrimSpace(out); pid != "" {
		fmt.Fprintf(log, "killed process group %s on %s: a hook cut off by the server's restart\n", pid, sshName(s.t))
	}
	return nil
}
