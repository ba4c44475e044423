package source

import (
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestScheduleNext(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	berlin := mustLoad(t, "Europe/Berlin")
	utc := time.UTC
	at := func(loc *time.Location, s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec string
		loc  *time.Location
		from string
		want []string // successive firings, wall clock in loc, with zone abbreviation
	}{
		{"* * * * *", utc, "2026-01-01 10:00", []string{"2026-01-01 10:01 UTC", "2026-01-01 10:02 UTC"}},
		{"*/15 * * * *", utc, "2026-01-01 10:07", []string{"2026-01-01 10:15 UTC", "2026-01-01 10:30 UTC", "2026-01-01 10:45 UTC", "2026-01-01 11:00 UTC"}},
		{"0 3 * * 1-5", utc, "2026-01-02 04:00", []string{"2026-01-05 03:00 UTC", "2026-01-06 03:00 UTC"}}, // Fri → Mon
		{"0 3 * * mon-fri", utc, "2026-01-02 02:00", []string{"2026-01-02 03:00 UTC", "2026-01-05 03:00 UTC"}},
		{"30 8 1,15 * *", utc, "2026-01-01 09:00", []string{"2026-01-15 08:30 UTC", "2026-02-01 08:30 UTC"}},
		{"0 0 1 jan *", utc, "2026-06-01 00:00", []string{"2027-01-01 00:00 UTC"}},
		{"0 0 29 2 *", utc, "2026-01-01 00:00", []string{"2028-02-29 00:00 UTC"}},
		{"0 12 * * 7", utc, "2026-01-01 00:00", []string{"2026-01-04 12:00 UTC"}},                                                    // 7 = Sunday
		{"0 12 13 * fri", utc, "2026-01-01 00:00", []string{"2026-01-02 12:00 UTC", "2026-01-09 12:00 UTC", "2026-01-13 12:00 UTC"}}, // either day field
		// A "*" step still restricts its field; with either day field
		// "*"-based both must match (Vixie cron), never "every day".
		{"0 3 * * */2", utc, "2026-01-01 04:00", []string{"2026-01-03 03:00 UTC", "2026-01-04 03:00 UTC", "2026-01-06 03:00 UTC"}}, // Sun, Tue, Thu, Sat
		{"0 3 */2 * *", utc, "2026-01-01 04:00", []string{"2026-01-03 03:00 UTC", "2026-01-05 03:00 UTC", "2026-01-07 03:00 UTC"}}, // odd days
		{"0 3 */2 * mon", utc, "2026-01-01 00:00", []string{"2026-01-05 03:00 UTC", "2026-01-19 03:00 UTC"}},                       // odd Mondays
		{"0 3 1 * */2", utc, "2026-01-01 04:00", []string{"2026-02-01 03:00 UTC", "2026-03-01 03:00 UTC", "2026-08-01 03:00 UTC"}}, // 1st on Sun/Tue/Thu/Sat
		{"5/20 9-10 * * *", utc, "2026-01-01 00:00", []string{"2026-01-01 09:05 UTC", "2026-01-01 09:25 UTC", "2026-01-01 09:45 UTC", "2026-01-01 10:05 UTC"}},
		{"@daily", utc, "2026-01-01 00:00", []string{"2026-01-02 00:00 UTC"}},
		{"@hourly", utc, "2026-01-01 00:30", []string{"2026-01-01 01:00 UTC"}},
		{"@weekly", utc, "2026-01-01 00:00", []string{"2026-01-04 00:00 UTC"}},
		{"0 3 * * *", berlin, "2026-01-01 04:00", []string{"2026-01-02 03:00 CET"}},
		// Spring forward in New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
		{"30 2 * * *", ny, "2026-03-07 12:00", []string{"2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"}},
		{"0 * * * *", ny, "2026-03-08 00:30", []string{"2026-03-08 01:00 EST", "2026-03-08 03:00 EDT", "2026-03-08 04:00 EDT"}},
		// Fall back, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 fires once.
		{"30 1 * * *", ny, "2026-10-31 12:00", []string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
		{"0 * * * *", ny, "2026-11-01 00:30", []string{"2026-11-01 01:00 EDT", "2026-11-01 02:00 EST", "2026-11-01 03:00 EST"}},
		{"0 3 * * *", ny, "2026-11-01 00:00", []string{"2026-11-01 03:00 EST"}},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, tt.loc)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", tt.spec, err)
		}
		cur := at(tt.loc, tt.from)
		for i, want := range tt.want {
			cur = s.Next(cur)
			if got := cur.In(tt.loc).Format("2006-01-02 15:04 MST"); got != want {
				t.Errorf("%q from %s, firing %d: got %s, want %s", tt.spec, tt.from, i+1, got, want)
				break
			}
		}
	}
}

func TestScheduleNextFromSecondPass(t *testing.T) {
	// Started during the repeated hour of a fall-back night: the second
	// 01:30 is still ahead.
	ny := mustLoad(t, "America/New_York")
	s, err := ParseSchedule("30 1 * * *", ny)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC) // 01:10 EST
	if got, want := s.Next(from).In(ny).Format("2006-01-02 15:04 MST"), "2026-11-01 01:30 EST"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		spec, want string
	}{
		{"", "want 5 fields"},
		{"* * * *", "want 5 fields"},
		{"* * * * * *", "want 5 fields"},
		{"60 * * * *", "minute: 60 is out of range 0-59"},
		{"* 24 * * *", "hour: 24 is out of range 0-23"},
		{"* * 0 * *", "day of month: 0 is out of range 1-31"},
		{"* * * 13 *", "month: 13 is out of range 1-12"},
		{"* * * * 8", "day of week: 8 is out of range 0-7"},
		{"* * * foo *", `month: "foo" is not a number or a name (jan…dec)`},
		{"x * * * *", `minute: "x" is not a number`},
		{"5-1 * * * *", `minute: range "5-1" goes backwards`},
		{"*/0 * * * *", `minute: invalid step "0"`},
		{"1,,2 * * * *", "minute: empty item"},
		{"0 0 30 2 *", "never fires"},
		{"@often", "unknown macro"},
	}
	for _, tt := range tests {
		_, err := ParseSchedule(tt.spec, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q) = %v, want an error containing %q", tt.spec, err, tt.want)
		}
	}
}

func TestScheduleNeverNoLoop(t *testing.T) {
	// 31 only in months that have it: fine; Feb 30 with a weekday fires on the weekday.
	s, err := ParseSchedule("0 0 30 2 mon", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got.Weekday() != time.Monday {
		t.Errorf("got %v, want a Monday", got)
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, spec := range []string{"*/5 * * * *", "0 3 * * 1-5", "0 0 29 2 *"} {
		s, err := ParseSchedule(spec, ny)
		if err != nil {
			b.Fatal(err)
		}
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, ny)
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.Next(from)
			}
		})
	}
}
