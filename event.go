package greenlight

import (
	"encoding/json"
	"time"
)

// EventType names a state change written to the event log.
type EventType string

const (
	EventRunCreated        EventType = "run.created"         // Data: RunCreated, or none
	EventRunFinished       EventType = "run.finished"        // any terminal status; Data: RunFinished
	EventStageStarted      EventType = "stage.started"       // Data: StageStarted
	EventStageFinished     EventType = "stage.finished"      // Data: StageFinished
	EventApprovalOpened    EventType = "approval.opened"     // Data: ApprovalOpened
	EventApprovalDecided   EventType = "approval.decided"    // Data: ApprovalDecided
	EventApprovalRevoked   EventType = "approval.revoked"    // run superseded or cancelled: tell approvers; Data: Revocation
	EventReleaseLive       EventType = "release.live"        // Data: ReleaseOutcome
	EventReleaseRolledBack EventType = "release.rolled-back" // Data: ReleaseOutcome
	EventReleaseFailed     EventType = "release.failed"      // failed before changing anything, or its rollback failed; Data: ReleaseOutcome
)

// EventData is the typed Data of an event: it knows its event's type.
// Field names in JSON are what the event log stores and its readers
// (notify, the API) decode: never rename one.
type EventData interface {
	EventType() EventType
}

// NewEvent is the event of data about run runID of pipeline, at at. Its Data
// is data in JSON; none for a RunCreated without fields.
func NewEvent(pipeline string, runID int64, data EventData, at time.Time) *Event {
	var raw json.RawMessage
	if data != (RunCreated{}) {
		raw, _ = json.Marshal(data) // our own types: cannot fail
	}
	return &Event{Pipeline: pipeline, RunID: runID, Type: data.EventType(), Data: raw, CreatedAt: at}
}

// Event is one entry of the durable event log (the SNS topic of the original
// system). Seq orders all events; within a pipeline it is the order of the
// changes. Events are written in the same transaction as the change.
type Event struct {
	Seq       int64           `json:"seq"`
	Pipeline  string          `json:"pipeline"`
	RunID     int64           `json:"run"`
	Type      EventType       `json:"type"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// ApprovalOpened is the Data of EventApprovalOpened. It carries no token: the
// approval-mail subscriber makes each approver's token in the same transaction
// that queues their mail, so a raw token exists only inside that mail. The
// changes since production are on the Approval itself.
type ApprovalOpened struct {
	ApprovalID int64 `json:"approval"`
}

// ApprovalDecided is the Data of EventApprovalDecided.
type ApprovalDecided struct {
	ApprovalID int64          `json:"approval"`
	Approver   string         `json:"approver"`
	Verdict    Verdict        `json:"decision"`
	Status     ApprovalStatus `json:"status"` // the gate's status after this decision
}

// Revocation is the Data of EventApprovalRevoked.
type Revocation struct {
	ApprovalID int64  `json:"approval"`
	Reason     string `json:"reason"` // superseded | cancelled
}

// RunFinished is the Data of EventRunFinished.
type RunFinished struct {
	Status RunStatus `json:"status"`
	Error  string    `json:"error,omitempty"`
}

// RunCreated is the Data of EventRunCreated. A run a trigger starts has
// none (the zero RunCreated); a rollback run names the environment and the
// run whose release it deploys again.
type RunCreated struct {
	Environment string `json:"environment,omitempty"`
	RollbackOf  int64  `json:"rollback_of,omitempty"`
}

// StageStarted is the Data of EventStageStarted.
type StageStarted struct {
	Stage   string `json:"stage"`
	Attempt int    `json:"attempt"` // 1 at the first start; more after a crash cut it off
}

// StageFinished is the Data of EventStageFinished.
type StageFinished struct {
	Stage  string      `json:"stage"`
	Status StageStatus `json:"status"`
	Error  string      `json:"error,omitempty"`
}

// ReleaseOutcome is the Data of EventReleaseLive, EventReleaseRolledBack
// and EventReleaseFailed: which one follows from Status.
type ReleaseOutcome struct {
	Environment string        `json:"environment"`
	Status      ReleaseStatus `json:"status"`
}

func (RunCreated) EventType() EventType      { return EventRunCreated }
func (RunFinished) EventType() EventType     { return EventRunFinished }
func (StageStarted) EventType() EventType    { return EventStageStarted }
func (StageFinished) EventType() EventType   { return EventStageFinished }
func (ApprovalOpened) EventType() EventType  { return EventApprovalOpened }
func (ApprovalDecided) EventType() EventType { return EventApprovalDecided }
func (Revocation) EventType() EventType      { return EventApprovalRevoked }

// EventType is release.live, release.rolled-back or release.failed.
func (o ReleaseOutcome) EventType() EventType {
	switch o.Status {
	case ReleaseLive:
		return EventReleaseLive
	case ReleaseRolledBack:
		return EventReleaseRolledBack
	}
	return EventReleaseFailed
}
