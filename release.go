package greenlight

import "time"

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
}

// TargetOutcome is what one deploy did on one target (SPEC §9).
type TargetOutcome struct {
	Target string `json:"target"`
	Status string `json:"status"` // live | failed | rolled-back
	Error  string `json:"error"`
}
