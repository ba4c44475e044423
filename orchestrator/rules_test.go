package orchestrator

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

func stages(statuses ...greenlight.StageStatus) *greenlight.Run {
	names := []string{"build", "staging", "approval", "production"}
	r := &greenlight.Run{ID: 1, Pipeline: "hello", Status: greenlight.RunRunning}
	for i, st := range statuses {
		r.Stages = append(r.Stages, greenlight.Stage{Index: i, Name: names[i], Status: st})
	}
	return r
}

func TestNextStage(t *testing.T) {
	const (
		p = greenlight.StagePending
		r = greenlight.StageRunning
		s = greenlight.StageSucceeded
		w = greenlight.StageWaiting
	)
	tests := []struct {
		name string
		run  *greenlight.Run
		want string
	}{
		{"fresh run starts at the first stage", stages(p, p, p, p), "build"},
		{"a stage cut off by a restart runs again", stages(s, r, p, p), "staging"},
		{"after succeeded stages", stages(s, s, p, p), "approval"},
		{"a waiting gate is next", stages(s, s, w, p), "approval"},
		{"all done", stages(s, s, s, s), ""},
	}
	for _, tt := range tests {
		got := ""
		if st := nextStage(tt.run); st != nil {
			got = st.Name
		}
		if got != tt.want {
			t.Errorf("%s: next = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFinish(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &Engine{cfg: Config{Now: func() time.Time { return now }}}
	run := stages(greenlight.StageSucceeded, greenlight.StageSucceeded, greenlight.StageWaiting, greenlight.StagePending)
	run.Status = greenlight.RunWaiting
	em := &emitter{run: run, now: e.cfg.Now}
	if err := e.finish(run, em, greenlight.RunRejected, "approval", greenlight.StageRejected, "rejected by pm@example.com"); err != nil {
		t.Fatal(err)
	}

	want := []greenlight.StageStatus{greenlight.StageSucceeded, greenlight.StageSucceeded, greenlight.StageRejected, greenlight.StageSkipped}
	for i, st := range run.Stages {
		if st.Status != want[i] {
			t.Errorf("stage %s = %s, want %s", st.Name, st.Status, want[i])
		}
	}
	if run.Status != greenlight.RunRejected || run.FinishedAt == nil || !run.FinishedAt.Equal(now) || run.Error != "rejected by pm@example.com" {
		t.Errorf("run = %s finished %v error %q", run.Status, run.FinishedAt, run.Error)
	}
	if run.Stages[2].Error != "rejected by pm@example.com" || run.Stages[3].Error != "" {
		t.Errorf("stage errors = %q, %q", run.Stages[2].Error, run.Stages[3].Error)
	}
	var types []greenlight.EventType
	for _, ev := range em.events {
		types = append(types, ev.Type)
	}
	if len(types) != 2 || types[0] != greenlight.EventStageFinished || types[1] != greenlight.EventRunFinished {
		t.Errorf("events = %v, want stage.finished then run.finished", types)
	}
}

func TestStageErr(t *testing.T) {
	expired, cancel := stageContext(context.Background(), greenlight.StageBuild, time.Nanosecond)
	defer cancel()
	<-expired.Done()
	live, cancel2 := stageContext(context.Background(), greenlight.StageDeploy, 0)
	defer cancel2()
	stepErr := errors.New(`step "test" was cancelled`)
	if got := stageErr(expired, stepErr).Error(); got != `the build took longer than its timeout of 1ns (step "test" was cancelled)` {
		t.Errorf("timed-out stage: %q", got)
	}
	if got := stageErr(live, stepErr); got != stepErr {
		t.Errorf("stage without timeout: %v, want the error unchanged", got)
	}
	if got := stageErr(expired, nil); got != nil {
		t.Errorf("no error: %v", got)
	}
}

// A commit's build file that links out of the workspace is not read.
func TestReadBuildFile(t *testing.T) {
	ws, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "admin-token")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ws, "ok.yml"), []byte("steps: [{run: make}]\n"), 0o644)
	os.Symlink(secret, filepath.Join(ws, "abs.yml"))
	os.Symlink("../"+filepath.Base(outside)+"/admin-token", filepath.Join(ws, "rel.yml"))
	os.WriteFile(filepath.Join(ws, "big.yml"), make([]byte, config.MaxBuildFileSize+100), 0o644)

	if data, err := readBuildFile(ws, "ok.yml"); err != nil || string(data) != "steps: [{run: make}]\n" {
		t.Errorf("plain file: %q, %v", data, err)
	}
	for _, name := range []string{"abs.yml", "rel.yml"} {
		if data, err := readBuildFile(ws, name); err == nil || strings.Contains(string(data), "s3cret") {
			t.Errorf("%s links out of the workspace: read %q, %v", name, data, err)
		}
	}
	if data, err := readBuildFile(ws, "big.yml"); err != nil || len(data) != config.MaxBuildFileSize+1 {
		t.Errorf("oversized file: read %d bytes, %v; want %d", len(data), err, config.MaxBuildFileSize+1)
	}
	if _, err := readBuildFile(ws, "none.yml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want not exist", err)
	}
}
