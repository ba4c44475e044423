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
	Batch     Amount       // rolling: hosts per batch; default 1
	MaxFailed int          // rolling: failed hosts tolerated before everything rolls back
	Steps     []CanaryStep // canary
	Step      Amount       // linear: hosts, or traffic with a router, added each Interval
	Interval  time.Duration
	KeepOld   time.Duration // blue-green: the old group stays live this long after the switch
}

// CanaryStep moves Hosts or Traffic (one is set) to the new release, then
// bakes: health checks keep passing for Bake.
type CanaryStep struct {
	Hosts   Amount
	Traffic Amount
	Bake    time.Duration
}

// Router is the load balancer a deploy steers (SPEC §9).
type Router struct {
	Type         string // nginx | command
	UpstreamFile string
	Upstream     string
	Reload       string // default "nginx -s reload"
	Test         string // default "nginx -t"
	Switch       string // command: run with GREENLIGHT_WEIGHTS
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
