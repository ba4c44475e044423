// Package greenlight is the vocabulary of the Greenlight continuous-delivery
// server: runs, stages, artifacts, releases, approvals, events and mail, the
// legal moves between their statuses, and the interfaces the adapters
// implement. It imports only the standard library; every other package of the
// module speaks in these types.
//
// The flow, and the packages that own each part:
//
//	source, webhook → orchestrator → runner → artifact → deploy → approval → deploy
//	                        ↓ events (durable, ordered) → notify → mail
//
// store persists all of it (SQLite or PostgreSQL); web serves it over HTTP.
package greenlight

import "time"

// Version is the server's version, set at build time with
// -ldflags "-X github.com/greenlight-cd/greenlight.Version=…".
var Version = "0.1.0-dev"

// Now is the clock type injected wherever time matters, so tests can move it.
type Now func() time.Time

// Until is how long a loop that waits for due work sleeps to wake at t on
// this clock, at most longest (its safety re-check, which also catches
// work that another process created without waking it). A zero t means
// nothing is due: longest. A clock that is not the wall clock (a test's,
// which jumps when moved) is looked at again at least every second, so
// moving it needs no wake-up from the test.
func (n Now) Until(t time.Time, longest time.Duration) time.Duration {
	now := n()
	if d := now.Sub(time.Now()); d > time.Second || d < -time.Second {
		longest = min(longest, time.Second)
	}
	if t.IsZero() {
		return longest
	}
	return max(min(t.Sub(now), longest), 0)
}
