package config

import (
	"testing"
	"time"
)

// TestWindowsParsed checks what a valid windows and freezes section becomes;
// the golden file windows.txt checks the problems.
func TestWindowsParsed(t *testing.T) {
	src := `pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages: [{name: build, type: build}, {name: production, type: deploy, environment: production}]
    environments:
      production:
        targets: [{local: /srv/p}]
        windows:
          - {days: [mon, thu], from: 09:00, to: "16:30", timezone: Europe/Berlin}
          - {days: [fri], from: "22:00", to: "02:00", timezone: UTC}
        freezes:
          - {from: 2026-12-20T00:00:00+01:00, to: "2027-01-04T00:00:00+01:00", reason: " holidays "}
`
	s, err := Parse("greenlight.yml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := s.Pipelines[0].Environments["production"]
	if len(env.Windows) != 2 || len(env.Freezes) != 1 {
		t.Fatalf("got %d windows and %d freezes, want 2 and 1", len(env.Windows), len(env.Freezes))
	}
	w := env.Windows[0]
	if got := w.String(); got != "mon,thu 09:00-16:30 Europe/Berlin" {
		t.Errorf("window 0 = %s", got)
	}
	if got := env.Windows[1]; !got.Overnight() || got.Location != time.UTC {
		t.Errorf("window 1 = %s, want an overnight window in UTC", got)
	}
	f := env.Freezes[0]
	if f.Reason != "holidays" || f.From.Format(time.RFC3339) != "2026-12-20T00:00:00+01:00" ||
		f.To.Format(time.RFC3339) != "2027-01-04T00:00:00+01:00" {
		t.Errorf("freeze = %+v", f)
	}
	// Thursday 16:00 in Berlin is inside; Friday 10:00 is not; a Monday in
	// the freeze is not either.
	p := env.Policy()
	for when, want := range map[string]bool{
		"2026-12-10T15:00:00Z":      true,
		"2026-12-11T09:00:00Z":      false,
		"2026-12-21T10:00:00+01:00": false,
		"2026-12-11T23:00:00Z":      true,
	} {
		tm, _ := time.Parse(time.RFC3339, when)
		if got := p.Allowed(tm); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", when, got, want)
		}
	}
}
