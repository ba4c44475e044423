package deploy

import "time"

// Strategy types (SPEC §9).
const (
	AllAtOnce = "all-at-once"
	Rolling   = "rolling"
	Canary    = "canary"
	Linear    = "linear"
	BlueGreen = "blue-green"
)

// Amount is a count of hosts, or a share of hosts or traffic (Percent).
type Amount struct {
	N       int
	Percent bool
}

// Strategy is how a release reaches the targets of an environment.
type Strategy struct {
	Type      string       // default AllAtOnce
	Batch     Amount       // rolling: hosts per batch (N, or N% rounded up); default 1
	MaxFailed int          // rolling: failed hosts tolerated before everything rolls back
	Steps     []CanaryStep // canary; hosts the steps leave out are deployed after the last one
	// Linear: Step more every Interval until all: a share of the traffic
	// when there is a Router and Step is a percentage, else hosts.
	Step     Amount
	Interval time.Duration
	// KeepOld is for the caller: how long the old blue-green group stays
	// live after the switch before it calls Deployer.Retire. Deploy does not
	// wait for it.
	KeepOld time.Duration
}

// CanaryStep moves Hosts or Traffic (one is set) to the new release, then
// bakes: health checks keep passing for Bake.
type CanaryStep struct {
	Hosts   Amount
	Traffic Amount
	Bake    time.Duration
}

// Router is the load balancer a deploy steers (SPEC §9), in canary and
// linear traffic steps and in blue-green's switch; other strategies leave
// it alone. Its servers are each target's {host}:{env.PORT}. Commands run
// with /bin/sh -c on the server's machine, their output in the stage log,
// each bounded by Request.HookTimeout.
type Router struct {
	Type         string // RouterNginx | RouterCommand
	UpstreamFile string // nginx: absolute; written atomically as `upstream NAME { server … weight=W; }`
	Upstream     string // nginx: the upstream's name
	Reload       string // nginx: default "nginx -s reload"
	Test         string // nginx: default "nginx -t"; a failure puts the old file back, nothing switched
	Switch       string // command: run with GREENLIGHT_WEIGHTS and GREENLIGHT_ENVIRONMENT
}

// Target phases, as stored through Request.Progress.
const (
	PhasePending     = "pending"      // not touched yet
	PhaseInstalling  = "installing"   // being changed: its state on disk is uncertain
	PhaseLive        = "live"         // the new release is live and healthy here
	PhaseRollingBack = "rolling-back" // being returned to Previous
	PhaseRolledBack  = "rolled-back"
	PhaseFailed      = "failed" // failed and could not be returned to Previous
)

// TargetState is where one target is in a deploy.
type TargetState struct {
	Target   string // Target.Name()
	Phase    string
	Previous string // the release live before this deploy touched the target; "" for none
	Error    string
}
