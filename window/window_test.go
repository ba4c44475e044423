package window

import (
	"math/rand/v2"
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func days(ds ...time.Weekday) [7]bool {
	var out [7]bool
	for _, d := range ds {
		out[d] = true
	}
	return out
}

func clock(s string) int {
	m, ok := ParseClock(s)
	if !ok {
		panic("bad clock " + s)
	}
	return m
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// officeHours is SPEC's example: Monday to Thursday, 09:00–16:00 in Berlin.
func officeHours(t *testing.T) Window {
	return Window{Days: days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday),
		From: clock("09:00"), To: clock("16:00"), Location: zone(t, "Europe/Berlin")}
}

func TestContains(t *testing.T) {
	berlin := officeHours(t)
	overnight := Window{Days: days(time.Friday), From: clock("22:00"), To: clock("02:00"), Location: zone(t, "Europe/Berlin")}
	allDay := Window{Days: days(time.Saturday), From: 0, To: MinutesPerDay, Location: time.UTC}
	tests := []struct {
		w    Window
		t    string
		want bool
	}{
		{berlin, "2026-12-07T09:00:00+01:00", true},    // Monday, the opening minute
		{berlin, "2026-12-07T08:59:59+01:00", false},   // a second before
		{berlin, "2026-12-07T15:59:59+01:00", true},    // the last second
		{berlin, "2026-12-07T16:00:00+01:00", false},   // closed at To
		{berlin, "2026-12-07T08:30:00Z", true},         // 09:30 in Berlin
		{berlin, "2026-12-11T10:00:00+01:00", false},   // Friday
		{berlin, "2026-07-06T07:30:00Z", true},         // summer: 09:30 CEST
		{berlin, "2026-07-06T14:30:00Z", false},        // summer: 16:30 CEST
		{overnight, "2026-12-11T22:00:00+01:00", true}, // Friday evening
		{overnight, "2026-12-12T01:59:00+01:00", true}, // Saturday night, still Friday's window
		{overnight, "2026-12-12T02:00:00+01:00", false},
		{overnight, "2026-12-11T21:59:00+01:00", false},
		{overnight, "2026-12-10T23:00:00+01:00", false}, // Thursday opens nothing
		{overnight, "2026-12-11T01:00:00+01:00", false}, // Friday early: Thursday's would-be window
		{allDay, "2026-12-12T23:59:59Z", true},
		{allDay, "2026-12-13T00:00:00Z", false},
	}
	for _, tt := range tests {
		if got := tt.w.Contains(at(t, tt.t)); got != tt.want {
			t.Errorf("%s contains %s = %v, want %v", tt.w, tt.t, got, tt.want)
		}
	}
}

func TestNext(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	office := Policy{Windows: []Window{officeHours(t)}}
	// Sundays 02:30–04:00 in Berlin: inside the hour skipped on 29 March
	// 2026 and partly inside the hour repeated on 25 October 2026.
	night := Policy{Windows: []Window{{Days: days(time.Sunday), From: clock("02:30"), To: clock("04:00"), Location: berlin}}}
	overnight := Policy{Windows: []Window{{Days: days(time.Friday), From: clock("22:00"), To: clock("02:00"), Location: berlin}}}
	holidays := Freeze{From: at(t, "2026-12-20T00:00:00+01:00"), To: at(t, "2027-01-04T00:00:00+01:00"), Reason: "holidays"}
	frozenOffice := Policy{Windows: office.Windows, Freezes: []Freeze{holidays}}
	lateFreeze := Policy{Windows: office.Windows, Freezes: []Freeze{{From: holidays.From, To: at(t, "2027-01-04T10:30:00+01:00")}}}
	chained := Policy{Freezes: []Freeze{holidays, {From: at(t, "2027-01-03T00:00:00+01:00"), To: at(t, "2027-01-10T00:00:00+01:00")}}}
	tests := []struct {
		name string
		p    Policy
		t    string
		want string
	}{
		{"inside: now", office, "2026-12-07T10:00:00+01:00", "2026-12-07T10:00:00+01:00"},
		{"before opening", office, "2026-12-07T07:00:00+01:00", "2026-12-07T09:00:00+01:00"},
		{"after closing", office, "2026-12-07T16:00:00+01:00", "2026-12-08T09:00:00+01:00"},
		{"over the weekend", office, "2026-12-10T16:30:00+01:00", "2026-12-14T09:00:00+01:00"},
		// The clocks go forward on Sunday 29 March: Monday opens at 09:00
		// summer time, an hour earlier in UTC than the Monday before.
		{"into summer time", office, "2026-03-26T17:00:00+01:00", "2026-03-30T09:00:00+02:00"},
		{"into winter time", office, "2026-10-22T17:00:00+02:00", "2026-10-26T09:00:00+01:00"},
		// 02:30 does not exist on 29 March: the window opens at the jump.
		{"opening skipped", night, "2026-03-28T12:00:00+01:00", "2026-03-29T03:00:00+02:00"},
		// 02:30 happens twice on 25 October: the first one.
		{"opening repeated", night, "2026-10-24T12:00:00+02:00", "2026-10-25T02:30:00+02:00"},
		{"overnight", overnight, "2026-12-12T03:00:00+01:00", "2026-12-18T22:00:00+01:00"},
		{"overnight: inside after midnight", overnight, "2026-12-12T01:00:00+01:00", "2026-12-12T01:00:00+01:00"},
		{"frozen: window after the freeze", frozenOffice, "2026-12-21T10:00:00+01:00", "2027-01-04T09:00:00+01:00"},
		{"freeze ends inside a window", lateFreeze, "2026-12-21T10:00:00+01:00", "2027-01-04T10:30:00+01:00"},
		{"before the freeze", frozenOffice, "2026-12-18T10:00:00+01:00", "2027-01-04T09:00:00+01:00"}, // Friday; Monday 21 December is frozen
		{"overlapping freezes", chained, "2026-12-25T00:00:00Z", "2027-01-10T00:00:00+01:00"},
		{"UTC", Policy{Windows: []Window{{Days: days(time.Tuesday), From: clock("06:00"), To: MinutesPerDay}}}, "2026-12-07T10:00:00Z", "2026-12-08T06:00:00Z"},
		{"no rules", Policy{}, "2026-12-25T00:00:00Z", "2026-12-25T00:00:00Z"},
	}
	for _, tt := range tests {
		got, ok := tt.p.Next(at(t, tt.t))
		want := at(t, tt.want)
		if !ok || !got.Equal(want) {
			t.Errorf("%s: Next(%s) = %s, %v; want %s", tt.name, tt.t, got, ok, want)
		}
	}
}

func TestNextNever(t *testing.T) {
	// A window that never opens ends the search instead of looping.
	never := Policy{Windows: []Window{{Days: [7]bool{}, From: 0, To: 60, Location: time.UTC}}}
	if got, ok := never.Next(at(t, "2026-12-07T10:00:00Z")); ok {
		t.Errorf("a window without days opens at %s", got)
	}
	if got := never.Hold(at(t, "2026-12-07T10:00:00Z")); got != "outside the deploy windows; none opens again" {
		t.Errorf("Hold = %q", got)
	}
}

func TestHold(t *testing.T) {
	office := Policy{Windows: []Window{officeHours(t)}}
	holidays := Freeze{From: at(t, "2026-12-20T00:00:00+01:00"), To: at(t, "2027-01-04T00:00:00+01:00"), Reason: "holidays"}
	frozen := Policy{Windows: office.Windows, Freezes: []Freeze{holidays}}
	bare := Policy{Freezes: []Freeze{{From: holidays.From, To: holidays.To}}}
	tests := []struct {
		p    Policy
		t    string
		want string
	}{
		{office, "2026-12-07T10:00:00+01:00", ""},
		{office, "2026-12-11T10:00:00+01:00", "outside the deploy windows; the next opens Mon 09:00 Europe/Berlin"},
		{office, "2026-12-07T07:00:00Z", "outside the deploy windows; the next opens Mon 09:00 Europe/Berlin"},
		{frozen, "2026-12-21T10:00:00+01:00", "frozen until 2027-01-04 00:00 +01:00: holidays; then deploys may start Mon 2027-01-04 09:00 Europe/Berlin"},
		{bare, "2026-12-21T10:00:00+01:00", "frozen until 2027-01-04 00:00 +01:00"},
		{frozen, "2027-01-04T09:00:00+01:00", ""},
	}
	for _, tt := range tests {
		if got := tt.p.Hold(at(t, tt.t)); got != tt.want {
			t.Errorf("Hold(%s) = %q\nwant %q", tt.t, got, tt.want)
		}
	}
}

// TestNextIsFirstAllowedMinute checks Next against brute force: from random
// moments of a year with both daylight-saving changes, no minute before
// Next's answer is allowed, and the answer is.
func TestNextIsFirstAllowedMinute(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	p := Policy{
		Windows: []Window{
			officeHours(t),
			{Days: days(time.Sunday), From: clock("02:30"), To: clock("03:30"), Location: berlin},
			{Days: days(time.Friday, time.Saturday), From: clock("23:00"), To: clock("01:00"), Location: zone(t, "America/New_York")},
		},
		Freezes: []Freeze{
			{From: at(t, "2026-03-27T00:00:00Z"), To: at(t, "2026-03-31T08:15:00Z")},
			{From: at(t, "2026-10-20T12:00:00+02:00"), To: at(t, "2026-10-26T10:00:00+01:00")},
		},
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := at(t, "2026-01-01T00:00:00Z")
	for range 300 {
		from := start.Add(time.Duration(r.IntN(365*24*60)) * time.Minute)
		got, ok := p.Next(from)
		if !ok {
			t.Fatalf("Next(%s): none", from)
		}
		if !p.Allowed(got) {
			t.Fatalf("Next(%s) = %s, which is not allowed", from, got)
		}
		for m := from; m.Before(got); m = m.Add(time.Minute) {
			if p.Allowed(m) {
				t.Fatalf("Next(%s) = %s, but %s is allowed", from, got, m)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439, "24:00": 1440} {
		if got, ok := ParseClock(s); !ok || got != want {
			t.Errorf("ParseClock(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"9:00", "24:01", "25:00", "12:60", "ab:cd", "12-00", "", "12:000"} {
		if got, ok := ParseClock(s); ok {
			t.Errorf("ParseClock(%q) = %d, want an error", s, got)
		}
	}
	for s, want := range map[string]time.Weekday{"mon": time.Monday, "Sun": time.Sunday, "saturday": time.Saturday} {
		if got, ok := ParseDay(s); !ok || got != want {
			t.Errorf("ParseDay(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if _, ok := ParseDay("mo"); ok {
		t.Error(`ParseDay("mo") succeeded`)
	}
}
