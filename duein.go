package greenlight

import (
	"fmt"
	"time"
)

// DueIn says how long until a deadline, the way every page and mail shows
// it: "in 3 days", "in 2 days 23 hours", "in 45 minutes", or "passed".
//
// The rule: the time left is rounded up to the whole minute (a 72h gate seen
// a few seconds after it opened still reads "in 3 days"), then shown in its
// largest unit and the next one, each rounded down. So it never promises
// more time than is left, by less than a minute at most: 71h59m reads
// "in 2 days 23 hours", not "in 3 days" nor (truncating) "in 2 days".
func DueIn(left time.Duration) string {
	if left <= 0 {
		return "passed"
	}
	m := int64((left + time.Minute - 1) / time.Minute) // whole minutes, rounded up
	days, hours, minutes := m/(24*60), m/60%24, m%60
	switch {
	case days > 0:
		return "in " + count(days, "day") + and(hours, "hour")
	case hours > 0:
		return "in " + count(hours, "hour") + and(minutes, "minute")
	}
	return "in " + count(minutes, "minute")
}

func and(n int64, unit string) string {
	if n == 0 {
		return ""
	}
	return " " + count(n, unit)
}

// count writes n and the unit, in the plural unless n is 1.
func count(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
