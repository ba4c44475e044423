package greenlight

import (
	"encoding/json"
	"time"
)

// EventType names a state change written to the event log.
type EventType string

const (
	EventRunCreated        EventType = "run.created"
	EventRunFinished       EventType = "run.finished" // any terminal status; Data has status and error
	EventStageStarted      EventType = "stage.started"
	EventStageFinished     EventType = "stage.finished"
	EventApprovalOpened    EventType = "approval.opened" // Data: ApprovalOpened
	EventApprovalDecided   EventType = "approval.decided"
	EventApprovalRevoked   EventType = "approval.revoked" // run superseded or cancelled: tell approvers
	EventReleaseLive       EventType = "release.live"
	EventReleaseRolledBack EventType = "release.rolled-back"
	EventReleaseFailed     EventType = "release.failed" // failed before changing anything, or its rollback failed
)

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
