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
