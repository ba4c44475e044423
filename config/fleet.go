package config

import (
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight/window"
)

// Strategies (SPEC §9).
const (
	StrategyAllAtOnce = "all-at-once"
	StrategyRolling   = "rolling"
	StrategyCanary    = "canary"
	StrategyLinear    = "linear"
	StrategyBlueGreen = "blue-green"
)

// Environment is where a deploy stage puts the artifact: its targets, how a
// release reaches them, and how a target is found healthy.
type Environment struct {
	Name     string
	Targets  []Target // every target; in blue-green each has its Group
	Groups   []string // blue-green group names, in file order; nil otherwise
	Strategy Strategy
	Router   *Router // nil: no traffic router
	Health   Health
	Parallel int // most targets changed at once; default 10
	Keep     int // releases kept per target; default 5
	// Windows are when a deploy may start (none: any time); Freezes when
	// it may not, whatever the windows say. A rollback ignores both.
	Windows []window.Window
	Freezes []window.Freeze
}

// Policy is the environment's windows and freezes, to ask when a deploy
// may start.
func (e *Environment) Policy() window.Policy {
	return window.Policy{Windows: e.Windows, Freezes: e.Freezes}
}

// Target is one place that receives releases: a local directory or an SSH
// host's directory. Exactly one of Local and SSH is set.
type Target struct {
	Local string            // absolute directory on the server's machine
	SSH   *SSHTarget        // a host reached over SSH
	Group string            // blue-green group, "" otherwise
	Env   map[string]string // given to hooks and to the health URL template
	// User (local targets) is the account the target's hooks, and so its
	// app, run as: a user name of this machine or a numeric uid. "" runs
	// them confined in a sandbox.
	User string
}

// Name is how the target is shown in logs and release outcomes.
func (t Target) Name() string {
	if t.SSH != nil {
		return t.SSH.Name()
	}
	return t.Local
}

// SSHTarget is `ssh: user@host[:port]` with `dir`, and the environment's
// `ssh:` defaults (key, known_hosts) filled in.
type SSHTarget struct {
	User       string
	Host       string
	Port       int    // default 22
	Dir        string // absolute, on the host
	Key        string // private key file; "" = the SSH agent (SSH_AUTH_SOCK)
	KnownHosts string // known_hosts file; required
}

// Name is user@host:port:dir.
func (s *SSHTarget) Name() string {
	return s.User + "@" + s.Host + ":" + strconv.Itoa(s.Port) + ":" + s.Dir
}

// Amount is a count of hosts or a share of hosts or traffic: `3` or `25%`.
type Amount struct {
	N       int
	Percent bool
}

// Strategy is how a release reaches an environment's targets (SPEC §9).
type Strategy struct {
	Type      string       // one of the Strategy constants; default all-at-once
	Batch     Amount       // rolling: hosts per batch; default 1
	MaxFailed int          // rolling: hosts that may fail before everything rolls back
	Steps     []CanaryStep // canary
	Step      Amount       // linear: hosts (or traffic with a router) added each interval
	Interval  time.Duration
	KeepOld   time.Duration // blue-green: how long the old group stays live after the switch; default 0
}

// CanaryStep is one step of a canary: Hosts or Traffic (one is set), then
// Bake, during which health checks keep passing.
type CanaryStep struct {
	Hosts   Amount
	Traffic Amount
	Bake    time.Duration
}

// Router is the load balancer Greenlight steers (SPEC §9).
type Router struct {
	Type         string // nginx | command
	UpstreamFile string // nginx: the file Greenlight writes
	Upstream     string // nginx: the upstream block's name
	Reload       string // nginx: default "nginx -s reload"
	Test         string // nginx: default "nginx -t"
	Switch       string // command: run with GREENLIGHT_WEIGHTS
}

// Health is an environment's health check. URL and Command "" skip it. The
// URL may use {host} and {env.NAME} (SPEC §9).
type Health struct {
	URL      string
	Body     string        // a regular expression the body must match; "" for any
	Command  string        // run on the target (in the release directory) instead of, or besides, URL
	Timeout  time.Duration // default 30s
	Passes   int           // consecutive passes needed, default 1
	Interval time.Duration // between attempts, default 1s
}
