package greenlight

import "time"

// StatusState is the state of a commit status, in Greenlight's words; each
// forge client translates it into its forge's vocabulary (SPEC §10).
type StatusState string

const (
	StatusPending   StatusState = "pending"   // queued, or waiting for an approval
	StatusRunning   StatusState = "running"   // a stage is at work
	StatusSuccess   StatusState = "success"   // passed
	StatusFailure   StatusState = "failure"   // failed, rejected or expired: the commit did not make it
	StatusCancelled StatusState = "cancelled" // cancelled or superseded: nobody judged the commit
)

// CommitStatus is the newest state of one context (greenlight/<pipeline> or
// greenlight/<pipeline>/<stage>) on one commit, waiting in the store's outbox
// to be posted to the pipeline's forge. Only the newest state per (Pipeline,
// SHA, Context) is kept: a state not yet posted when a newer one arrives is
// never posted.
type CommitStatus struct {
	ID          int64
	Pipeline    string
	RunID       int64 // the run that set this state
	SHA         string
	Context     string
	State       StatusState
	Description string
	TargetURL   string
	// Version grows with each new state of the row, so that the outcome of
	// posting an older state cannot mark a newer one done.
	Version     int64
	Attempts    int
	NextAttempt time.Time
	LastError   string
	// DoneAt is when the state was posted, or given up on (then LastError
	// says why); nil while it is due.
	DoneAt    *time.Time
	UpdatedAt time.Time
}
