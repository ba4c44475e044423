package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testReleases(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	_, err := s.LiveRelease(ctx, "hello", "production")
	wantCode(t, err, greenlight.ENOTFOUND)
	list, err := s.Releases(ctx, "hello", "production", 0)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("no releases yet: got %d", len(list))
	}

	mk := func(env string, run int64, status greenlight.ReleaseStatus) *greenlight.Release {
		r := &greenlight.Release{Pipeline: "hello", Environment: env, RunID: run, Commit: "abc123",
			Artifact: "sha-of-run", Status: status, DeployedAt: at(time.Duration(run) * time.Minute)}
		must(t, s.CreateRelease(ctx, r))
		if r.ID <= 0 {
			t.Fatalf("got release id %d, want > 0", r.ID)
		}
		return r
	}
	first := mk("production", 1, greenlight.ReleaseLive)
	staging := mk("staging", 2, greenlight.ReleaseLive)
	second := mk("production", 3, greenlight.ReleaseDeploying)
	failed := mk("production", 4, greenlight.ReleaseFailed)

	live, err := s.LiveRelease(ctx, "hello", "production")
	must(t, err)
	if live.ID != first.ID {
		t.Fatalf("live: got release %d, want %d", live.ID, first.ID)
	}

	// The second deploy goes live and replaces the first.
	second.Status = greenlight.ReleaseLive
	second.DeployedAt = at(time.Hour)
	second.Targets = []greenlight.TargetOutcome{{Target: "/srv/a", Status: "live"}, {Target: "web1", Status: "failed", Error: "timeout"}}
	must(t, s.UpdateRelease(ctx, second))
	first.Status = greenlight.ReleaseReplaced
	must(t, s.UpdateRelease(ctx, first))

	live, err = s.LiveRelease(ctx, "hello", "production")
	must(t, err)
	if !reflect.DeepEqual(live, second) {
		t.Fatalf("live:\n got %+v\nwant %+v", live, second)
	}
	tests := []struct {
		env   string
		limit int
		want  []int64
	}{
		{"production", 0, []int64{failed.ID, second.ID, first.ID}},
		{"production", 2, []int64{failed.ID, second.ID}},
		{"staging", 0, []int64{staging.ID}},
		{"nowhere", 0, []int64{}},
	}
	for _, tt := range tests {
		list, err := s.Releases(ctx, "hello", tt.env, tt.limit)
		must(t, err)
		ids := make([]int64, len(list))
		for i, r := range list {
			ids[i] = r.ID
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("releases %s limit %d: got %v, want %v", tt.env, tt.limit, ids, tt.want)
		}
	}
	_, err = s.LiveRelease(ctx, "other", "production")
	wantCode(t, err, greenlight.ENOTFOUND)
	wantCode(t, s.UpdateRelease(ctx, &greenlight.Release{ID: failed.ID + 100}), greenlight.ENOTFOUND)
}
