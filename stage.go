package greenlight

import "time"

// StageType is what a stage does.
type StageType string

const (
	StageBuild    StageType = "build"
	StageDeploy   StageType = "deploy"
	StageApproval StageType = "approval"
)

// StageStatus is where a stage is in its life (SPEC §5).
type StageStatus string

const (
	StagePending   StageStatus = "pending"
	StageRunning   StageStatus = "running"
	StageWaiting   StageStatus = "waiting"
	StageSucceeded StageStatus = "succeeded"
	StageFailed    StageStatus = "failed"
	StageRejected  StageStatus = "rejected"
	StageExpired   StageStatus = "expired"
	StageCancelled StageStatus = "cancelled"
	StageSkipped   StageStatus = "skipped"
)

// Terminal reports whether a stage in this status is done.
func (s StageStatus) Terminal() bool {
	switch s {
	case StageSucceeded, StageFailed, StageRejected, StageExpired, StageCancelled, StageSkipped:
		return true
	}
	return false
}

// Stage is one stage of a run. Index is its position in the pipeline.
type Stage struct {
	Index       int         `json:"-"`
	Name        string      `json:"name"`
	Type        StageType   `json:"type"`
	Environment string      `json:"environment,omitempty"` // deploy stages
	Status      StageStatus `json:"status"`
	StartedAt   *time.Time  `json:"started_at"`
	FinishedAt  *time.Time  `json:"finished_at"`
	Error       string      `json:"error"`
	// Reason says what a waiting stage waits for (Run.Reason); "" otherwise.
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts,omitempty"` // starts; > 1 after a crash ran it again (an orderly shutdown takes its start back)
}
