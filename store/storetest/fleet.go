package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testTargetStates(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	mk := func(env string, run int64) *greenlight.Release {
		r := &greenlight.Release{Pipeline: "hello", Environment: env, RunID: run, Commit: "abc",
			Artifact: "sha", Status: greenlight.ReleaseDeploying, DeployedAt: at(0),
			Targets: []greenlight.TargetOutcome{{Target: "from-column", Status: "live"}}}
		must(t, s.CreateRelease(ctx, r))
		return r
	}
	old, rel, other := mk("production", 1), mk("production", 2), mk("staging", 2)
	named := &greenlight.Release{Pipeline: "hello", Environment: "staging", RunID: 3, Name: "1",
		Status: greenlight.ReleaseLive, DeployedAt: at(0)}
	must(t, s.CreateRelease(ctx, named))
	if live, err := s.LiveRelease(ctx, "hello", "staging"); err != nil || live.Name != "1" || live.DirName() != "1" {
		t.Fatalf("a rollback's release keeps the name of the one it returns to: got %+v, %v", live, err)
	}
	if old.DirName() != "1" {
		t.Errorf("a release without a name is in the directory of its run: got %q", old.DirName())
	}

	list, err := s.TargetStates(ctx, rel.ID)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("no states yet: got %+v", list)
	}
	set := func(st greenlight.TargetState) {
		t.Helper()
		must(t, s.SetTargetState(ctx, &st))
	}
	// Written out of order; read by position.
	set(greenlight.TargetState{ReleaseID: rel.ID, Target: "deploy@web2:22:/srv/hello", Position: 1, Group: "green",
		Phase: greenlight.PhasePending, Previous: "1", UpdatedAt: at(time.Second)})
	set(greenlight.TargetState{ReleaseID: rel.ID, Target: "deploy@web1:22:/srv/hello", Position: 0, Group: "green",
		Phase: greenlight.PhaseInstalling, Previous: "1", UpdatedAt: at(time.Second)})
	set(greenlight.TargetState{ReleaseID: other.ID, Target: "/srv/staging", Phase: greenlight.PhaseLive, UpdatedAt: at(0)})
	// A change replaces the row.
	set(greenlight.TargetState{ReleaseID: rel.ID, Target: "deploy@web2:22:/srv/hello", Position: 1, Group: "green",
		Phase: greenlight.PhaseFailed, Previous: "1", Error: "health: 503", UpdatedAt: at(2 * time.Second)})

	list, err = s.TargetStates(ctx, rel.ID)
	must(t, err)
	want := []greenlight.TargetState{
		{ReleaseID: rel.ID, Target: "deploy@web1:22:/srv/hello", Position: 0, Group: "green",
			Phase: greenlight.PhaseInstalling, Previous: "1", UpdatedAt: at(time.Second)},
		{ReleaseID: rel.ID, Target: "deploy@web2:22:/srv/hello", Position: 1, Group: "green",
			Phase: greenlight.PhaseFailed, Previous: "1", Error: "health: 503", UpdatedAt: at(2 * time.Second)},
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("states:\n got %+v\nwant %+v", list, want)
	}

	// Releases show the stored states as their targets; a release without
	// any keeps the targets UpdateRelease wrote.
	rels, err := s.Releases(ctx, "hello", "production", 0)
	must(t, err)
	if len(rels) != 2 || rels[0].ID != rel.ID || rels[1].ID != old.ID {
		t.Fatalf("releases: got %+v", rels)
	}
	wantTargets := []greenlight.TargetOutcome{
		{Target: "deploy@web1:22:/srv/hello", Status: "installing", Group: "green"},
		{Target: "deploy@web2:22:/srv/hello", Status: "failed", Error: "health: 503", Group: "green"},
	}
	if !reflect.DeepEqual(rels[0].Targets, wantTargets) {
		t.Errorf("release targets:\n got %+v\nwant %+v", rels[0].Targets, wantTargets)
	}
	if want := []greenlight.TargetOutcome{{Target: "from-column", Status: "live"}}; !reflect.DeepEqual(rels[1].Targets, want) {
		t.Errorf("release without states: targets %+v, want %+v", rels[1].Targets, want)
	}
	rel.Status = greenlight.ReleaseLive
	must(t, s.UpdateRelease(ctx, rel))
	live, err := s.LiveRelease(ctx, "hello", "production")
	must(t, err)
	if !reflect.DeepEqual(live.Targets, wantTargets) {
		t.Errorf("live release targets:\n got %+v\nwant %+v", live.Targets, wantTargets)
	}

	wantCode(t, s.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: other.ID + 100, Target: "x",
		Phase: greenlight.PhaseLive, UpdatedAt: at(0)}), greenlight.ENOTFOUND)

	// Inside a transaction too.
	must(t, s.InTx(ctx, func(tx greenlight.Tx) error {
		return tx.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: old.ID, Target: "/a", Phase: greenlight.PhaseLive, UpdatedAt: at(0)})
	}))
	list, err = s.TargetStates(ctx, old.ID)
	must(t, err)
	if len(list) != 1 || list[0].Target != "/a" {
		t.Errorf("state set in a transaction: got %+v", list)
	}
}

func testRetirements(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	rel := &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: 1, Status: greenlight.ReleaseLive, DeployedAt: at(0)}
	must(t, s.CreateRelease(ctx, rel))
	mk := func(env, group string, due time.Duration) *greenlight.Retirement {
		r := &greenlight.Retirement{Pipeline: "hello", Environment: env, Group: group, ReleaseID: rel.ID, DueAt: at(due)}
		must(t, s.CreateRetirement(ctx, r))
		if r.ID <= 0 {
			t.Fatalf("got retirement id %d", r.ID)
		}
		return r
	}
	late := mk("production", "blue", time.Hour)
	early := mk("production", "green", time.Minute)
	staging := mk("staging", "blue", 2*time.Minute)

	ids := func(list []*greenlight.Retirement) []int64 {
		out := []int64{}
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		now  time.Duration
		want []int64
	}{
		{0, []int64{}},
		{time.Minute, []int64{early.ID}},
		{time.Hour, []int64{early.ID, staging.ID, late.ID}},
	}
	for _, tt := range tests {
		list, err := s.DueRetirements(ctx, at(tt.now), 10)
		must(t, err)
		if got := ids(list); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("due at +%s: got %v, want %v", tt.now, got, tt.want)
		}
	}
	list, err := s.DueRetirements(ctx, at(time.Hour), 10)
	must(t, err)
	if !reflect.DeepEqual(list[0], early) {
		t.Errorf("round trip:\n got %+v\nwant %+v", list[0], early)
	}
	list, err = s.Retirements(ctx, "hello", "production")
	must(t, err)
	if got := ids(list); !reflect.DeepEqual(got, []int64{early.ID, late.ID}) {
		t.Errorf("production retirements: got %v", got)
	}

	ok, err := s.FinishRetirement(ctx, early.ID, at(2*time.Minute), "retired")
	must(t, err)
	if !ok {
		t.Fatal("first finish: got false")
	}
	ok, err = s.FinishRetirement(ctx, early.ID, at(3*time.Minute), "again")
	must(t, err)
	if ok {
		t.Error("second finish: got true, want false")
	}
	_, err = s.FinishRetirement(ctx, late.ID+100, at(0), "x")
	wantCode(t, err, greenlight.ENOTFOUND)
	list, err = s.DueRetirements(ctx, at(time.Hour), 10)
	must(t, err)
	if got := ids(list); !reflect.DeepEqual(got, []int64{staging.ID, late.ID}) {
		t.Errorf("due after finishing one: got %v", got)
	}
	wantCode(t, s.CreateRetirement(ctx, &greenlight.Retirement{Pipeline: "hello", Environment: "production",
		Group: "blue", ReleaseID: rel.ID + 100, DueAt: at(0)}), greenlight.ENOTFOUND)
}
