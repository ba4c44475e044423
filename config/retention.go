package config

import (
	"fmt"
	"time"
)

// Retention is `retention:`: what the server deletes as it ages (package
// retention applies it). Zero durations keep everything of that kind.
type Retention struct {
	Runs time.Duration // runs finished longer ago, with their approvals, releases and artifacts
	Logs time.Duration // stage logs of runs finished longer ago
	Keep int           // the newest runs of each pipeline, kept whatever their age
}

// Defaults of `retention:`.
const (
	DefaultRetainRuns = 90 * 24 * time.Hour
	DefaultRetainLogs = 30 * 24 * time.Hour
	DefaultRetainKeep = 20
)

func (d *decoder) retention(top *object, r *Retention) {
	o := top.child("retention", "runs", "logs", "keep")
	r.Runs = o.duration("runs", DefaultRetainRuns)
	r.Logs = o.duration("logs", DefaultRetainLogs)
	r.Keep = o.integer("keep", DefaultRetainKeep)
	for _, k := range []struct {
		key string
		v   time.Duration
	}{{"runs", r.Runs}, {"logs", r.Logs}} {
		if k.v < 0 && o.valid(k.key) {
			d.errorf(o.at(k.key), "retention.%s: must not be negative (0 keeps them all)", k.key)
		}
	}
	if r.Keep < 0 && o.valid("keep") {
		d.errorf(o.at("keep"), "retention.keep: must not be negative")
	}
	if r.Runs > 0 && r.Logs > r.Runs && o.valid("logs") {
		d.errorf(o.at("logs"), "retention.logs: %s is longer than retention.runs (%s): a run's logs go with it", days(r.Logs), days(r.Runs))
	}
}

// days shows a duration of whole days as they are written ("90d").
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
