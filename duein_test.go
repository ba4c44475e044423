package greenlight_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestDueIn pins the rounding rule at its boundaries: round up to the
// minute, then two units, each rounded down.
func TestDueIn(t *testing.T) {
	const s, m, h, d = time.Second, time.Minute, time.Hour, 24 * time.Hour
	tests := []struct {
		left time.Duration
		want string
	}{
		{72 * h, "in 3 days"},
		{72*h - 5*s, "in 3 days"}, // the page opened a moment after the gate
		{72*h + s, "in 3 days"},   // 72h01m rounded up: the minute is below the second unit
		{72*h + m, "in 3 days"},
		{73 * h, "in 3 days 1 hour"},
		{72*h - m, "in 2 days 23 hours"},
		{71*h + 59*m + 30*s, "in 3 days"},
		{71 * h, "in 2 days 23 hours"},
		{48 * h, "in 2 days"},
		{25 * h, "in 1 day 1 hour"},
		{24 * h, "in 1 day"},
		{24*h - m, "in 23 hours 59 minutes"},
		{2 * h, "in 2 hours"},
		{h, "in 1 hour"},
		{59*m + s, "in 1 hour"},
		{59 * m, "in 59 minutes"},
		{90 * s, "in 2 minutes"},
		{m, "in 1 minute"},
		{s, "in 1 minute"},
		{0, "passed"},
		{-h, "passed"},
		{2*d + 2*h + 30*m, "in 2 days 2 hours"},
	}
	for _, tt := range tests {
		if got := greenlight.DueIn(tt.left); got != tt.want {
			t.Errorf("DueIn(%v) = %q, want %q", tt.left, got, tt.want)
		}
	}
}

// TestChangeReadsOldTitles: approvals stored before changes named their
// commits hold bare titles; they still load.
func TestChangeReadsOldTitles(t *testing.T) {
	var got []greenlight.Change
	if err := json.Unmarshal([]byte(`["Fix login", {"sha": "0123456789", "title": "Add banner", "author": "Ada"}]`), &got); err != nil {
		t.Fatal(err)
	}
	want := []greenlight.Change{{Title: "Fix login"}, {SHA: "0123456789", Title: "Add banner", Author: "Ada"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got[1].Short() != "0123456" || got[0].Short() != "" {
		t.Errorf("Short = %q, %q", got[1].Short(), got[0].Short())
	}
}

func TestGuardedEnvironment(t *testing.T) {
	run := &greenlight.Run{Stages: []greenlight.Stage{
		{Name: "build", Type: greenlight.StageBuild},
		{Name: "staging", Type: greenlight.StageDeploy, Environment: "staging"},
		{Name: "approval", Type: greenlight.StageApproval},
		{Name: "production", Type: greenlight.StageDeploy, Environment: "production"},
	}}
	if got := greenlight.GuardedEnvironment(run, "approval"); got != "production" {
		t.Errorf("got %q, want production", got)
	}
	if got := greenlight.GuardedEnvironment(run, "production"); got != "" {
		t.Errorf("after the last stage: got %q, want none", got)
	}
}
