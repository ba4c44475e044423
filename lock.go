package greenlight

import "time"

// EnvironmentLock holds every deploy to one environment of a pipeline until
// it is removed (a rollback excepted). One lock at most per environment.
type EnvironmentLock struct {
	Pipeline    string    `json:"-"`
	Environment string    `json:"-"`
	Reason      string    `json:"reason"` // why, for people; never empty
	By          string    `json:"by"`     // who locked it: "admin" for the admin token
	At          time.Time `json:"at"`
}

// Hold says why a deploy waits for the lock, for people:
// "production is locked by admin: incident 123".
func (l *EnvironmentLock) Hold() string {
	return l.Environment + " is locked by " + l.By + ": " + l.Reason
}

// MaxLockReason bounds a lock's or an override's reason, in bytes.
const MaxLockReason = 1000

// EventDeployOverridden records that a person started a deploy that a
// window, a freeze or a lock held. Data: Override.
const EventDeployOverridden EventType = "deploy.overridden"

// Override is the Data of EventDeployOverridden.
type Override struct {
	Stage       string `json:"stage"`
	Environment string `json:"environment"`
	By          string `json:"by"`
	Reason      string `json:"reason"` // the person's
	Held        string `json:"held"`   // what held the deploy until then
}

// DeployGate is what holds deploys to an environment now.
type DeployGate struct {
	Lock *EnvironmentLock `json:"lock"` // nil when unlocked
	// Next is the next moment the windows and freezes allow a deploy to
	// start (now, if they allow it now), on the wall clock of the window
	// it falls in; nil without windows and freezes, or when none opens.
	Next *time.Time `json:"next_window"`
	// Hold says why a deploy starting now would wait; "" if it would not.
	Hold string `json:"hold"`
}

// EventType makes Override the typed data of its event.
func (Override) EventType() EventType { return EventDeployOverridden }
