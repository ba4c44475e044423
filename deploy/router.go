package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// router steers traffic between an environment's targets (SPEC §9): the
// traffic steps of canary and linear deploys, and blue-green's switch.
//
// Contract: Set is called by one goroutine at a time. It returns once the
// weights are in effect as far as the load balancer tells (nginx: after its
// reload command returned), or with an error after which the load balancer
// still runs the weights it had before the call.
type router interface {
	// Set gives each server its weight; a weight of 0 takes no traffic.
	Set(ctx context.Context, ws []weight) error
}

// restorer is a router that can put back exactly what it had before a
// deploy changed it, rather than the weights the deploy computes.
type restorer interface {
	Restore(ctx context.Context, ws []weight) error
}

var _ restorer = (*nginxRouter)(nil)

// weight is one server's share of the traffic, relative to the others.
type weight struct {
	Server string // host:port
	Weight int
}

var (
	_ router = (*nginxRouter)(nil)
	_ router = (*commandRouter)(nil)
)

// Router types.
const (
	RouterNginx   = "nginx"
	RouterCommand = "command"
)

// upstreamName is what nginx accepts as an upstream's name without quoting.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// check fills the defaults and refuses a router that cannot work.
func (rt Router) check() (Router, error) {
	bad := func(format string, args ...any) (Router, error) {
		return rt, greenlight.Errorf(greenlight.EINVALID, "deploy router: "+format, args...)
	}
	switch rt.Type {
	case RouterNginx:
		if !filepath.IsAbs(rt.UpstreamFile) {
			return bad("nginx: upstream_file %q is not an absolute path", rt.UpstreamFile)
		}
		if !upstreamName.MatchString(rt.Upstream) {
			return bad("nginx: upstream %q: want letters, digits, '.', '_' or '-'", rt.Upstream)
		}
		if rt.Test == "" {
			rt.Test = "nginx -t"
		}
		if rt.Reload == "" {
			rt.Reload = "nginx -s reload"
		}
	case RouterCommand:
		if strings.TrimSpace(rt.Switch) == "" {
			return bad("command: no switch command")
		}
	default:
		return bad("unknown type %q: want nginx or command", rt.Type)
	}
	return rt, nil
}

// newRouter returns the router rt describes (already checked); its
// commands log to log and run with the deploy's hook timeout.
func newRouter(rt Router, req *Request, base []string, log *lineWriter) router {
	run := &shell{base: base, timeout: req.HookTimeout, log: log}
	if rt.Type == RouterCommand {
		return &commandRouter{cmd: rt.Switch, environment: req.Environment, run: run, log: log}
	}
	return &nginxRouter{file: rt.UpstreamFile, upstream: rt.Upstream, test: rt.Test, reload: rt.Reload, run: run, log: log}
}

// shell runs a router's commands with /bin/sh -c on the server's machine.
type shell struct {
	base    []string // PATH, HOME, LANG of the server
	timeout time.Duration
	log     *lineWriter
}

// run runs command with the base environment plus env, copies its output to
// the stage log, and returns the output too (for an error that quotes it).
// On timeout or cancellation its whole process group is killed.
func (s *shell) run(ctx context.Context, command string, env ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", command)
	cmd.Env = append(append([]string{}, s.base...), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	s.log.Printf("$ %s", command)
	err := cmd.Run()
	if out.Len() > 0 {
		s.log.Write(out.Bytes())
		s.log.Flush()
	}
	msg := strings.TrimSpace(out.String())
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s", s.timeout)
		}
		if msg != "" {
			return msg, fmt.Errorf("%s: %w: %s", command, err, msg)
		}
		return msg, fmt.Errorf("%s: %w", command, err)
	}
	return msg, nil
}
