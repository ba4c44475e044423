package orchestrator

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func scheduledRuns(te *testEngine) []*greenlight.Run {
	var out []*greenlight.Run
	for _, r := range te.runs("nightly") {
		if r.Trigger == greenlight.TriggerSchedule {
			out = append(out, r)
		}
	}
	return out
}

func TestScheduleFiresInItsTimeZone(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-28 is a Saturday; Berlin moves to summer time on the 29th.
	clock := newFakeClock(time.Date(2026, 3, 27, 12, 0, 0, 0, berlin))
	te := newTestEngine(t, `
  - name: nightly
    source: {repo: `+repo.dir+`, branch: main, schedule: "30 2 * * *", timezone: Europe/Berlin}
    stages: [{name: build, type: build}]
`, clock, true)
	te.waitFor("the schedule loop to sleep", func() bool { return clock.sleepers() > 0 })
	if n := len(scheduledRuns(te)); n != 0 {
		t.Fatalf("%d runs before the first due time", n)
	}
	steps := []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 3, 28, 2, 29, 0, 0, berlin), 0},
		{time.Date(2026, 3, 28, 2, 30, 0, 0, berlin), 1},
		{time.Date(2026, 3, 28, 23, 0, 0, 0, berlin), 1},
		// 02:30 does not exist on the 29th: the run starts at 03:00 CEST.
		{time.Date(2026, 3, 29, 3, 0, 0, 0, berlin), 2},
		{time.Date(2026, 3, 30, 2, 30, 0, 0, berlin), 3},
	}
	for _, s := range steps {
		te.waitFor("the loop to sleep", func() bool { return clock.sleepers() > 0 })
		clock.set(s.at)
		te.waitFor("the loop to sleep again", func() bool { return clock.sleepers() > 0 })
		if got := len(scheduledRuns(te)); got != s.want {
			t.Fatalf("at %s: %d scheduled runs, want %d", s.at, got, s.want)
		}
	}
	runs := scheduledRuns(te)
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	for _, r := range runs {
		if r.Commit.SHA != head || r.Commit.Branch != "main" {
			t.Errorf("run %d built %s of %q, want %s of main", r.ID, r.Commit.SHA, r.Commit.Branch, head)
		}
	}
	if got := runs[1].CreatedAt.In(berlin).Format("2006-01-02 15:04 MST"); got != "2026-03-29 03:00 CEST" {
		t.Errorf("the run of the skipped time started at %s", got)
	}
}

func TestScheduleRunsOneMissedRunAfterDowntime(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	start := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	pipelines := `
  - name: nightly
    source: {repo: ` + repo.dir + `, branch: main, schedule: "0 * * * *", timezone: UTC}
    stages: [{name: build, type: build}]
`
	clock := newFakeClock(start)
	te := newTestEngine(t, pipelines, clock, false)
	// The last scheduled run was three days ago: 72 hourly runs were missed.
	if _, err := te.Trigger(context.Background(), "nightly", greenlight.TriggerRequest{Trigger: greenlight.TriggerSchedule}); err != nil {
		t.Fatal(err)
	}
	clock.set(start.Add(72*time.Hour + 30*time.Minute))
	if err := te.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		te.Shutdown(ctx)
	})
	te.waitFor("the catch-up run", func() bool { return len(scheduledRuns(te)) == 2 })
	te.waitFor("the loop to sleep", func() bool { return clock.sleepers() > 0 })
	if got := len(scheduledRuns(te)); got != 2 {
		t.Fatalf("%d scheduled runs after downtime, want 2 (the old one and one catch-up)", got)
	}
	clock.set(start.Add(73 * time.Hour)) // the next hour
	te.waitFor("the next hourly run", func() bool { return len(scheduledRuns(te)) == 3 })
}

// TestScheduledRunIsRetriedUntilTheNextTime: a run that cannot be created
// (the git host is down) is tried again with backoff, and given up only
// when the next scheduled time is due, which then runs once.
func TestScheduledRunIsRetriedUntilTheNextTime(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	start := time.Date(2026, 5, 4, 11, 59, 0, 0, time.UTC)
	clock := newFakeClock(start)
	te := newTestEngine(t, `
  - name: nightly
    source: {repo: `+repo.dir+`, branch: main, schedule: "*/10 * * * *", timezone: UTC}
    stages: [{name: build, type: build}]
`, clock, true)
	away := repo.dir + ".away"
	down := func() {
		t.Helper()
		if err := os.Rename(repo.dir, away); err != nil {
			t.Fatal(err)
		}
	}
	up := func() {
		t.Helper()
		if err := os.Rename(away, repo.dir); err != nil {
			t.Fatal(err)
		}
	}
	// wake moves the clock to the loop's next wake-up (at most until) and
	// waits until it sleeps again.
	wake := func(until time.Time) time.Time {
		t.Helper()
		te.waitFor("the loop to sleep", func() bool { return clock.sleepers() > 0 })
		at := clock.nextWake()
		if at.After(until) {
			at = until
		}
		clock.set(at)
		te.waitFor("the loop to sleep again", func() bool { return clock.sleepers() > 0 })
		return at
	}

	// 12:00 fails twice, then the host is back and the retry starts the run.
	down()
	wake(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	wake(time.Date(2026, 5, 4, 12, 9, 0, 0, time.UTC))
	if n := len(scheduledRuns(te)); n != 0 {
		t.Fatalf("%d scheduled runs while the git host is down", n)
	}
	up()
	at := wake(time.Date(2026, 5, 4, 12, 9, 0, 0, time.UTC))
	runs := scheduledRuns(te)
	if len(runs) != 1 {
		t.Fatalf("after the host came back at %s: %d scheduled runs, want 1 (the 12:00 run, retried)", at.Format("15:04:05"), len(runs))
	}
	if !runs[0].CreatedAt.After(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("the retried run was created at %s, want after 12:00", runs[0].CreatedAt)
	}

	// 12:10 fails until 12:20 is due: it is given up, and 12:20 runs once.
	te.waitFor("the loop to sleep", func() bool { return clock.sleepers() > 0 })
	down()
	for now := clock.Now(); now.Before(time.Date(2026, 5, 4, 12, 19, 59, 0, time.UTC)); {
		now = wake(time.Date(2026, 5, 4, 12, 19, 59, 0, time.UTC))
	}
	if n := len(scheduledRuns(te)); n != 1 {
		t.Fatalf("%d scheduled runs while the git host is down, want still 1", n)
	}
	up()
	wake(time.Date(2026, 5, 4, 12, 20, 0, 0, time.UTC))
	if n := len(scheduledRuns(te)); n != 2 {
		t.Fatalf("at 12:20: %d scheduled runs, want 2 (12:00 retried, 12:10 given up, 12:20)", n)
	}
}

// nextWake is the earliest time a sleeper waits for.
func (c *fakeClock) nextWake() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, w := range c.waiters {
		if at.IsZero() || w.at.Before(at) {
			at = w.at
		}
	}
	return at
}
