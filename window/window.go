// Package window answers when a deploy may start in an environment: inside
// one of its deploy windows (weekly wall-clock hours in a time zone) and
// outside all of its freezes (absolute intervals). It is pure calendar math
// on the standard library: no clock of its own, no I/O.
//
// Windows are read on the wall clock of their zone, so daylight saving time
// needs no special case: "09:00–16:00 Europe/Berlin" is 09:00–16:00 on the
// clocks in Berlin in winter and in summer. On the night the clocks go
// forward, a window opening inside the skipped hour opens when the clocks
// jump (02:30 opens at 03:00); on the night they go back, a window opening
// inside the repeated hour opens at its first occurrence.
package window

import (
	"fmt"
	"strings"
	"time"
)

// MinutesPerDay is the largest To: "24:00", the end of the day.
const MinutesPerDay = 24 * 60

// Window is a weekly deploy window.
type Window struct {
	// Days are the weekdays (indexed by time.Weekday) on which the window
	// opens. An overnight window belongs to the day it opens on.
	Days [7]bool
	// From and To are minutes after midnight on the zone's wall clock,
	// From in [0, 24:00), To in (0, 24:00]. To <= From is an overnight
	// window: it closes at To on the next day (To == From: 24 hours).
	From, To int
	// Location is the zone of the wall clock; nil means UTC.
	Location *time.Location
}

// Freeze is an interval in which no deploy starts: From inclusive, To
// exclusive.
type Freeze struct {
	From, To time.Time
	Reason   string
}

// Policy is an environment's windows and freezes. The zero Policy allows
// every moment.
type Policy struct {
	Windows []Window
	Freezes []Freeze
}

// Empty reports whether the policy restricts nothing.
func (p Policy) Empty() bool { return len(p.Windows) == 0 && len(p.Freezes) == 0 }

func (w Window) loc() *time.Location {
	if w.Location == nil {
		return time.UTC
	}
	return w.Location
}

// Overnight reports whether the window closes on the day after it opens.
func (w Window) Overnight() bool { return w.To <= w.From }

// Contains reports whether t is inside the window, on its zone's wall clock.
func (w Window) Contains(t time.Time) bool {
	lt := t.In(w.loc())
	wd := lt.Weekday()
	s := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()
	from, to := w.From*60, w.To*60
	if !w.Overnight() {
		return w.Days[wd] && s >= from && s < to
	}
	return (w.Days[wd] && s >= from) || (w.Days[(wd+6)%7] && s < to)
}

// openingOn returns the first instant whose wall clock, on the date y-m-d of
// the window's zone, reads From or later.
func (w Window) openingOn(y int, m time.Month, d int) time.Time {
	loc := w.loc()
	h, min := w.From/60, w.From%60
	u := time.Date(y, m, d, h, min, 0, 0, loc)
	ly, lm, ld := u.Date()
	switch wall := u.Hour()*60 + u.Minute(); {
	case ly == y && lm == m && ld == d && wall == w.From:
		// The wall time exists; when it exists twice (the clocks went
		// back), time.Date may pick the later one: take the first.
		start, _ := u.ZoneBounds()
		if start.IsZero() {
			return u
		}
		_, before := start.Add(-time.Nanosecond).Zone()
		_, now := u.Zone()
		if before > now {
			alt := u.Add(-time.Duration(before-now) * time.Second)
			if alt.Before(start) && sameWall(alt.In(loc), u) {
				return alt
			}
		}
		return u
	case time.Date(ly, lm, ld, wall/60, wall%60, 0, 0, time.UTC).After(time.Date(y, m, d, h, min, 0, 0, time.UTC)):
		// The wall time was skipped (the clocks went forward) and Go moved
		// it past the gap: the window opens when the clocks jump.
		if start, _ := u.ZoneBounds(); !start.IsZero() {
			return start
		}
		return u
	default:
		// Skipped, and moved before the gap: it opens at the gap's end.
		if _, end := u.ZoneBounds(); !end.IsZero() {
			return end
		}
		return u
	}
}

func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}

// nextOpening returns the window's first opening after t.
func (w Window) nextOpening(t time.Time) (time.Time, bool) {
	lt := t.In(w.loc())
	y, m, d := lt.Date()
	for k := 0; k <= 8; k++ {
		// Noon is never inside a DST gap, so it names the date safely.
		day := time.Date(y, m, d+k, 12, 0, 0, 0, w.loc())
		if !w.Days[day.Weekday()] {
			continue
		}
		dy, dm, dd := day.Date()
		if o := w.openingOn(dy, dm, dd); o.After(t) {
			return o, true
		}
	}
	return time.Time{}, false
}

// InWindow reports whether t is inside one of the windows; with no windows,
// every moment is.
func (p Policy) InWindow(t time.Time) bool {
	if len(p.Windows) == 0 {
		return true
	}
	for _, w := range p.Windows {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// FreezeAt returns the freeze t is in (the one that ends last, if several
// overlap), or nil.
func (p Policy) FreezeAt(t time.Time) *Freeze {
	var out *Freeze
	for i := range p.Freezes {
		f := &p.Freezes[i]
		if !t.Before(f.From) && t.Before(f.To) && (out == nil || f.To.After(out.To)) {
			out = f
		}
	}
	return out
}

// Allowed reports whether a deploy may start at t.
func (p Policy) Allowed(t time.Time) bool {
	return p.InWindow(t) && p.FreezeAt(t) == nil
}

// maxSteps bounds Next's search: each step jumps to a window's opening or
// past a freeze, so only windows that never open (all of their time inside
// a skipped hour) come near it.
const maxSteps = 2000

// Next returns the first moment at or after t at which a deploy may start,
// or false if there is none within maxSteps window openings and freezes.
func (p Policy) Next(t time.Time) (time.Time, bool) {
	cur := t
	for range maxSteps {
		if f := p.FreezeAt(cur); f != nil {
			cur = f.To
			continue
		}
		if p.InWindow(cur) {
			return cur, true
		}
		var best time.Time
		for _, w := range p.Windows {
			if o, ok := w.nextOpening(cur); ok && (best.IsZero() || o.Before(best)) {
				best = o
			}
		}
		if best.IsZero() {
			return time.Time{}, false
		}
		cur = best
	}
	return time.Time{}, false
}

// Hold says why a deploy may not start at t, for people: "" when it may.
//
//	outside the deploy windows; the next opens Mon 09:00 Europe/Berlin
//	frozen until 2027-01-04 00:00 +01:00: holidays
//	frozen until 2027-01-04 00:00 +01:00: holidays; then deploys may start Mon 2027-01-04 09:00 Europe/Berlin
func (p Policy) Hold(t time.Time) string {
	if p.Allowed(t) {
		return ""
	}
	next, ok := p.Next(t)
	if f := p.FreezeAt(t); f != nil {
		s := "frozen until " + f.To.Format("2006-01-02 15:04 -07:00")
		if f.Reason != "" {
			s += ": " + f.Reason
		}
		switch {
		case !ok:
			s += "; then no deploy window opens"
		case !next.Equal(f.To):
			s += "; then deploys may start " + p.Describe(t, next)
		}
		return s
	}
	if !ok {
		return "outside the deploy windows; none opens again"
	}
	return "outside the deploy windows; the next opens " + p.Describe(t, next)
}

// Describe names the moment next (as seen at now) for people, on the wall
// clock of the window it falls in: "Mon 09:00 Europe/Berlin" within the
// coming six days, with the date further out ("Mon 2027-01-04 09:00 …").
func (p Policy) Describe(now, next time.Time) string {
	loc := p.Zone(next)
	lt := next.In(loc)
	layout := "Mon 15:04"
	if next.Sub(now) >= 6*24*time.Hour {
		layout = "Mon 2006-01-02 15:04"
	}
	name := loc.String()
	if name == "" || name == "Local" {
		name = lt.Format("-07:00")
	}
	return lt.Format(layout) + " " + name
}

// Zone is the zone a moment is best shown in: that of the window it falls
// in (or the first window's), else that of the freeze ending then, else UTC.
func (p Policy) Zone(t time.Time) *time.Location {
	for _, w := range p.Windows {
		if w.Contains(t) {
			return w.loc()
		}
	}
	if len(p.Windows) > 0 {
		return p.Windows[0].loc()
	}
	for _, f := range p.Freezes {
		if f.To.Equal(t) {
			return f.To.Location()
		}
	}
	return time.UTC
}

// String shows a window as it is written in greenlight.yml.
func (w Window) String() string {
	days := ""
	for i := range 7 {
		wd := time.Weekday((i + 1) % 7) // Monday first
		if w.Days[wd] {
			if days != "" {
				days += ","
			}
			days += dayNames[wd]
		}
	}
	return fmt.Sprintf("%s %s-%s %s", days, Clock(w.From), Clock(w.To), w.loc())
}

// Clock formats minutes after midnight as HH:MM.
func Clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDay reads a day name (mon … sun, or monday … sunday, any case).
func ParseDay(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		long := time.Weekday(i).String()
		if strings.EqualFold(s, n) || strings.EqualFold(s, long) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// ParseClock reads "HH:MM" (00:00 to 24:00) as minutes after midnight.
func ParseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

func digits(s string) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
