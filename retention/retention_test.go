package retention

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

// TestCollect: old runs go with their logs and the artifacts only they
// built; what a live release, a rollback, an unfinished run or the newest
// runs need stays; crash leftovers go; a second collection finds nothing.
func TestCollect(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if db == "postgres" {
				dsn = storetest.PostgresDatabase(t)
			}
			testCollect(t, dsn)
		})
	}
}

func testCollect(t *testing.T, dsn string) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := store.Open(ctx, dsn, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	dirs := Dirs{Logs: filepath.Join(data, "logs"), Artifacts: filepath.Join(data, "artifacts"), Workspaces: filepath.Join(data, "workspaces")}
	for _, d := range []string{dirs.Logs, dirs.Artifacts, dirs.Workspaces} {
		os.MkdirAll(d, 0o700)
	}
	// id: status, finished ago (0: unfinished), artifact
	specs := []struct {
		status   greenlight.RunStatus
		ago      time.Duration
		artifact byte
	}{
		{greenlight.RunSucceeded, 60 * day, '1'}, // 1: old, an older replaced release: goes
		{greenlight.RunSucceeded, 40 * day, '2'}, // 2: old, the rollback target: stays (logs go)
		{greenlight.RunFailed, 50 * day, '3'},    // 3: old failure: goes
		{greenlight.RunSucceeded, 2 * day, '4'},  // 4: live
		{greenlight.RunWaiting, 0, '5'},          // 5: waiting for approval
		{greenlight.RunFailed, 45 * day, '4'},    // 6: old, built the live artifact again: run goes, artifact stays
		{greenlight.RunFailed, 45 * day, '7'},    // 7: old, artifact also built by 8
		{greenlight.RunSucceeded, 1 * day, '7'},  // 8: the newest (keep: 1)
	}
	for i, sp := range specs {
		r := &greenlight.Run{Pipeline: "p", Status: sp.status, Trigger: greenlight.TriggerAPI,
			CreatedAt: now.Add(-sp.ago - time.Hour), Artifact: &greenlight.ArtifactRef{SHA256: sha(sp.artifact), Size: 1}}
		if sp.ago > 0 {
			f := now.Add(-sp.ago)
			r.FinishedAt = &f
		}
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.ID != int64(i+1) {
			t.Fatalf("run ids: got %d, want %d", r.ID, i+1)
		}
		os.MkdirAll(filepath.Join(dirs.Logs, strconv.Itoa(i+1)), 0o700)
		os.WriteFile(filepath.Join(dirs.Logs, strconv.Itoa(i+1), "build.log"), []byte("log"), 0o600)
	}
	for _, rel := range []*greenlight.Release{
		{Pipeline: "p", Environment: "prod", RunID: 1, Artifact: sha('1'), Status: greenlight.ReleaseReplaced},
		{Pipeline: "p", Environment: "prod", RunID: 2, Artifact: sha('2'), Status: greenlight.ReleaseReplaced},
		{Pipeline: "p", Environment: "prod", RunID: 4, Artifact: sha('4'), Status: greenlight.ReleaseLive},
	} {
		rel.DeployedAt = now
		if err := st.CreateRelease(ctx, rel); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-3 * day)
	for _, c := range "123457O" {
		name := sha(byte(c))
		if c == 'O' {
			name = strings.Repeat("0", 64) // an orphan no run names, old
		}
		p := filepath.Join(dirs.Artifacts, name+".tar.gz")
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, old, old)
	}
	young := filepath.Join(dirs.Artifacts, strings.Repeat("9", 64)+".tar.gz") // an orphan just stored
	os.WriteFile(young, []byte("x"), 0o600)
	os.Chtimes(young, now, now)
	os.MkdirAll(filepath.Join(dirs.Logs, "99"), 0o700) // logs of a run that is gone
	for _, w := range []string{"3", "5", "99", "8.cache"} {
		os.MkdirAll(filepath.Join(dirs.Workspaces, w), 0o700)
	}

	pol := Policy{Runs: 30 * day, Logs: 7 * day, Keep: 1}
	envs := Environments{"p": {"prod", "staging"}}
	plan, err := Make(ctx, st, pol, envs, dirs, now)
	if err != nil {
		t.Fatal(err)
	}
	var runs []int64
	for _, r := range plan.Runs {
		runs = append(runs, r.ID)
	}
	want := &Plan{Logs: []int64{1, 2, 3, 6, 7, 99}, Artifacts: []string{strings.Repeat("0", 64), sha('1'), sha('3')},
		Workspaces: []string{"3", "8.cache", "99"}}
	if !reflect.DeepEqual(sorted(runs), []int64{1, 3, 6, 7}) {
		t.Errorf("runs to delete: %v, want [1 3 6 7]", runs)
	}
	if !reflect.DeepEqual(plan.Logs, want.Logs) || !reflect.DeepEqual(plan.Artifacts, want.Artifacts) ||
		!reflect.DeepEqual(plan.Workspaces, want.Workspaces) {
		t.Errorf("plan:\n got logs %v artifacts %v workspaces %v\nwant logs %v artifacts %v workspaces %v",
			plan.Logs, plan.Artifacts, plan.Workspaces, want.Logs, want.Artifacts, want.Workspaces)
	}
	if _, err := os.Stat(filepath.Join(dirs.Logs, "1")); err != nil {
		t.Fatalf("planning deleted something: %v", err)
	}

	res, err := plan.Apply(ctx, st, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs != 4 || res.Artifacts != 3 || res.Logs != 6 || res.Workspaces != 3 {
		t.Errorf("applied: %s", res)
	}
	for id := int64(1); id <= 8; id++ {
		_, err := st.Run(ctx, id)
		gone := greenlight.ErrorCode(err) == greenlight.ENOTFOUND
		if want := id == 1 || id == 3 || id == 6 || id == 7; gone != want {
			t.Errorf("run %d gone: %v, want %v (%v)", id, gone, want, err)
		}
	}
	for _, c := range "2457" {
		if _, err := os.Stat(filepath.Join(dirs.Artifacts, sha(byte(c))+".tar.gz")); err != nil {
			t.Errorf("needed artifact %c deleted", c)
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young orphan artifact was deleted")
	}
	again, err := Make(ctx, st, pol, envs, dirs, now)
	if err != nil {
		t.Fatal(err)
	}
	if l := again.Lines(); len(l) != 1 || !strings.HasPrefix(l[0], "mail sent before") {
		t.Errorf("a second collection would delete %v", l)
	}

	// Retention off: nothing of those kinds goes.
	none, err := Make(ctx, st, Policy{}, envs, dirs, now.Add(1000*day))
	if err != nil {
		t.Fatal(err)
	}
	if len(none.Runs) != 0 || len(none.Logs) != 0 {
		t.Errorf("with retention off: runs %v logs %v", none.Runs, none.Logs)
	}
}

func sorted(ids []int64) []int64 {
	out := append([]int64(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
