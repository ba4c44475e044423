package greenlight

import (
	"strconv"
	"time"
)

// ReleaseStatus is the state of an artifact installed in an environment.
type ReleaseStatus string

const (
	ReleaseDeploying  ReleaseStatus = "deploying"
	ReleaseLive       ReleaseStatus = "live"
	ReleaseReplaced   ReleaseStatus = "replaced" // a later release went live
	ReleaseFailed     ReleaseStatus = "failed"
	ReleaseRolledBack ReleaseStatus = "rolled-back"
)

// Release is an artifact installed in one environment by one run.
type Release struct {
	ID          int64           `json:"-"`
	Pipeline    string          `json:"-"`
	Environment string          `json:"-"`
	RunID       int64           `json:"run"`
	Commit      string          `json:"commit"`
	Artifact    string          `json:"artifact"`
	Status      ReleaseStatus   `json:"status"`
	DeployedAt  time.Time       `json:"deployed_at"`
	Error       string          `json:"error,omitempty"`
	Targets     []TargetOutcome `json:"targets,omitempty"`
	// Name is the release's directory on the targets: the run id, or for a
	// rollback run the name of the release it returns to.
	Name string `json:"-"`
}

// DirName is the release's directory on the targets.
func (r *Release) DirName() string {
	if r.Name != "" {
		return r.Name
	}
	return strconv.FormatInt(r.RunID, 10)
}

// TargetOutcome is what one deploy did on one target (SPEC §9).
// While a deploy is under way, Status is the target's phase: pending,
// installing or rolling-back.
type TargetOutcome struct {
	Target string `json:"target"`
	Status string `json:"status"` // live | failed | rolled-back
	Error  string `json:"error"`
	Group  string `json:"group,omitempty"` // blue-green group
}

// Target phases of a deploy, as stored in TargetState.Phase: a target
// starts pending, is installing while its disk is changed, and ends live,
// rolled-back or failed (could not be returned to its previous release).
const (
	PhasePending     = "pending"
	PhaseInstalling  = "installing"
	PhaseLive        = "live"
	PhaseRollingBack = "rolling-back"
	PhaseRolledBack  = "rolled-back"
	PhaseFailed      = "failed"
)

// TargetState is where one target of one release's deploy is. The deploy
// stage stores it at every change, so that a deploy cut off by a crash can
// be resumed (targets already live are not redone) or rolled back (each
// target to its Previous release), and so that people see the fleet's
// progress while it deploys.
type TargetState struct {
	ReleaseID int64
	Target    string // the target's name (user@host:port:dir, or a local directory)
	Position  int    // its index among the environment's targets, for display order
	Group     string // blue-green group; "" otherwise
	Phase     string // one of the Phase constants
	Previous  string // release directory live here before this deploy; "" for none
	Error     string
	UpdatedAt time.Time
}

// Retirement is the scheduled stop of a blue-green group that a switch made
// idle: after keep_old its `stop` hook runs, unless a rollback made the
// group active again first. Rows survive restarts.
type Retirement struct {
	ID          int64
	Pipeline    string
	Environment string
	Group       string
	ReleaseID   int64 // the release Group runs, live until the switch: its stop hook runs
	DueAt       time.Time
	DoneAt      *time.Time
	Outcome     string // what happened: "retired", "skipped: …", or the error
}
