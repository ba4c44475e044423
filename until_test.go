package greenlight_test

import (
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestUntil: a loop sleeps to the due time on the wall clock, at most its
// re-check interval; on a clock that is not the wall clock (a test's), at
// most a second, so moving that clock needs no wake-up.
func TestUntil(t *testing.T) {
	wall := greenlight.Now(time.Now)
	fixed := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	fake := greenlight.Now(func() time.Time { return fixed })
	near := func(got, want time.Duration) bool { return got <= want && got > want-100*time.Millisecond }
	if got := wall.Until(time.Time{}, time.Minute); got != time.Minute {
		t.Errorf("nothing due: %s, want the re-check interval", got)
	}
	if got := wall.Until(time.Now().Add(10*time.Second), time.Minute); !near(got, 10*time.Second) {
		t.Errorf("due in 10s: %s", got)
	}
	if got := wall.Until(time.Now().Add(time.Hour), time.Minute); got != time.Minute {
		t.Errorf("due in an hour: %s, want the re-check interval", got)
	}
	if got := wall.Until(time.Now().Add(-time.Hour), time.Minute); got != 0 {
		t.Errorf("due an hour ago: %s, want 0", got)
	}
	if got := fake.Until(fixed.Add(time.Hour), time.Minute); got != time.Second {
		t.Errorf("a test's clock, due in an hour: %s, want 1s", got)
	}
	if got := fake.Until(time.Time{}, time.Minute); got != time.Second {
		t.Errorf("a test's clock, nothing due: %s, want 1s", got)
	}
	if got := fake.Until(fixed.Add(300*time.Millisecond), time.Minute); got != 300*time.Millisecond {
		t.Errorf("a test's clock, due in 300ms: %s", got)
	}
}
