package source

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed 5-field cron expression in a time zone:
//
//	minute hour day-of-month month day-of-week
//
// Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`,
// and comma lists of those; months and days of the week also take names
// (jan…dec, sun…sat; 0 and 7 are both Sunday). When both day fields are
// restricted a day matching either one fires, as in every cron since Vixie's;
// when either day field starts with `*` (`*` or a step like `*/2`) a day must
// match both.
// @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly
// stand for their usual expressions.
//
// Times are wall-clock times of the zone. Across daylight-saving changes
// every wall-clock time fires at most once: a time the clock skips (02:30 on
// the night it jumps from 02:00 to 03:00) fires at the moment of the jump,
// and a time the clock passes twice fires the first time only.
type Schedule struct {
	spec                        string
	loc                         *time.Location
	minute, hour, dom, mon, dow uint64 // bit n set: value n selected
	domAny, dowAny              bool   // the field was "*" or a "*" step: days AND, not OR
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseSchedule parses a cron expression for the zone loc (nil: UTC). The
// error says which field is wrong and why.
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	expr := strings.TrimSpace(spec)
	if m, ok := macros[strings.ToLower(expr)]; ok {
		expr = m
	} else if strings.HasPrefix(expr, "@") {
		return nil, fmt.Errorf("unknown macro %q: use @yearly, @monthly, @weekly, @daily or @hourly", expr)
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	s := &Schedule{spec: spec, loc: loc}
	var err error
	if s.minute, _, err = parseField(fields[0], "minute", 0, 59, nil); err != nil {
		return nil, err
	}
	if s.hour, _, err = parseField(fields[1], "hour", 0, 23, nil); err != nil {
		return nil, err
	}
	if s.dom, s.domAny, err = parseField(fields[2], "day of month", 1, 31, nil); err != nil {
		return nil, err
	}
	if s.mon, _, err = parseField(fields[3], "month", 1, 12, monthNames); err != nil {
		return nil, err
	}
	if s.dow, s.dowAny, err = parseField(fields[4], "day of week", 0, 7, dayNames); err != nil {
		return nil, err
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow = s.dow&^(1<<7) | 1
	}
	if !s.possible() {
		return nil, fmt.Errorf("%q never fires: no selected month has the selected day", spec)
	}
	return s, nil
}

// String is the expression as written.
func (s *Schedule) String() string { return s.spec }

// Location is the zone the schedule's times are in.
func (s *Schedule) Location() *time.Location { return s.loc }

// possible reports whether some selected month has a selected day of month
// (when only days of the month restrict the days).
func (s *Schedule) possible() bool {
	if s.domAny || !s.dowAny {
		return true
	}
	maxDays := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if s.mon&(1<<m) != 0 && s.dom&(1<<(maxDays[m]+1)-1) != 0 {
			return true
		}
	}
	return false
}

func parseField(f, name string, lo, hi int, names []string) (uint64, bool, error) {
	var set uint64
	star := false
	for part := range strings.SplitSeq(f, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > hi-lo+1 {
				return 0, false, fmt.Errorf("%s: invalid step %q in %q", name, stepText, f)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
			if name == "day of week" {
				to = 6
			}
			star = true
		case rng == "":
			return 0, false, fmt.Errorf("%s: empty item in %q", name, f)
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = fieldValue(a, name, lo, hi, names); err != nil {
				return 0, false, err
			}
			to = from
			if isRange {
				if to, err = fieldValue(b, name, lo, hi, names); err != nil {
					return 0, false, err
				}
				if to < from {
					return 0, false, fmt.Errorf("%s: range %q goes backwards", name, rng)
				}
			} else if hasStep {
				to = hi // "5/15" means 5-max/15
			}
		}
		for v := from; v <= to; v += step {
			set |= 1 << v
		}
	}
	return set, star && !strings.Contains(f, ","), nil
}

func fieldValue(s, name string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			if name == "month" {
				return i + 1, nil
			}
			return i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if names != nil {
			return 0, fmt.Errorf("%s: %q is not a number or a name (%s…%s)", name, s, names[0], names[len(names)-1])
		}
		return 0, fmt.Errorf("%s: %q is not a number", name, s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s: %d is out of range %d-%d", name, v, lo, hi)
	}
	return v, nil
}

// Next returns the first time strictly after t at which the schedule fires,
// or the zero time if it never fires within five years.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.In(s.loc)
	// Walk wall-clock times coded as UTC, where every day has 24 hours, and
	// map each match back to the zone.
	w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC).Add(time.Minute)
	end := w.AddDate(5, 0, 0)
	for w.Before(end) {
		switch {
		case s.mon&(1<<int(w.Month())) == 0:
			w = time.Date(w.Year(), w.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.dayMatches(w):
			w = time.Date(w.Year(), w.Month(), w.Day()+1, 0, 0, 0, 0, time.UTC)
		case s.hour&(1<<w.Hour()) == 0:
			w = w.Truncate(time.Hour).Add(time.Hour)
		case s.minute&(1<<w.Minute()) == 0:
			// Jump straight to the next selected minute of this hour.
			rest := s.minute >> (w.Minute() + 1)
			if rest == 0 {
				w = w.Truncate(time.Hour).Add(time.Hour)
			} else {
				w = w.Add(time.Duration(bits.TrailingZeros64(rest)+1) * time.Minute)
			}
		default:
			if at, ok := s.instant(w, t); ok {
				return at
			}
			w = w.Add(time.Minute)
		}
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(w time.Time) bool {
	dom := s.dom&(1<<w.Day()) != 0
	dow := s.dow&(1<<int(w.Weekday())) != 0
	// The "*" flags only choose how the fields combine; the bitsets are
	// always tested, since a "*" step such as "*/2" still restricts its field.
	if s.domAny || s.dowAny {
		return dom && dow
	}
	return dom || dow
}

// instant maps the wall-clock time w (coded as UTC) to the first instant
// after t that shows it in the zone; a time the zone skips maps to the end
// of the skip. ok is false when every such instant is at or before t.
func (s *Schedule) instant(w, t time.Time) (time.Time, bool) {
	_, before := w.Add(-14 * time.Hour).In(s.loc).Zone()
	_, after := w.Add(14 * time.Hour).In(s.loc).Zone()
	var found []time.Time
	for _, off := range []int{before, after} {
		c := w.Add(-time.Duration(off) * time.Second).In(s.loc)
		if sameWall(c, w) && c.After(t) {
			found = append(found, c)
		}
	}
	if len(found) > 0 {
		if len(found) == 2 && found[1].Before(found[0]) {
			return found[1], true
		}
		return found[0], true
	}
	for _, off := range []int{before, after} {
		c := w.Add(-time.Duration(off) * time.Second).In(s.loc)
		if sameWall(c, w) {
			return time.Time{}, false // exists, but not after t
		}
	}
	// Skipped by the zone: fire when the clock jumps over it.
	c := w.Add(-time.Duration(before) * time.Second).In(s.loc)
	start, _ := c.ZoneBounds()
	if !start.IsZero() && start.After(t) {
		return start.In(s.loc), true
	}
	return time.Time{}, false
}

func sameWall(c, w time.Time) bool {
	return c.Year() == w.Year() && c.Month() == w.Month() && c.Day() == w.Day() &&
		c.Hour() == w.Hour() && c.Minute() == w.Minute()
}
