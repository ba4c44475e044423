package config

import (
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight/window"
)

// windows decodes an environment's deploy windows:
//
//	windows: [{days: [mon, tue], from: "09:00", to: "16:00", timezone: Europe/Berlin}]
//
// to at or before from is an overnight window (22:00–02:00 closes on the
// next day); from equal to to is refused, as it could mean nothing or all day.
func (d *decoder) windows(env *object, path string) []window.Window {
	var out []window.Window
	for i, item := range env.sequence("windows") {
		ip := index(path, i)
		o, ok := d.object(item, ip, "days", "from", "to", "timezone")
		if !ok {
			continue
		}
		w, good := window.Window{Location: time.UTC}, true
		names, nodes := o.strings("days")
		switch {
		case o.missing("days"):
			d.errorf(item, "%s.days: required (like [mon, tue, wed, thu, fri])", ip)
			good = false
		case o.valid("days") && len(names) == 0:
			d.errorf(o.at("days"), "%s.days: at least one day is required", ip)
			good = false
		}
		for j, name := range names {
			wd, ok := window.ParseDay(strings.TrimSpace(name))
			switch {
			case !ok:
				d.errorf(nodes[j], "%s.days[%d]: unknown day %q (use mon, tue, wed, thu, fri, sat or sun)", ip, j, name)
				good = false
			case w.Days[wd]:
				d.errorf(nodes[j], "%s.days[%d]: %s is listed twice", ip, j, name)
			}
			w.Days[wd] = ok
		}
		var okFrom, okTo bool
		w.From, okFrom = d.clock(o, ip, "from", false)
		w.To, okTo = d.clock(o, ip, "to", true)
		good = good && okFrom && okTo
		if okFrom && okTo && w.From == w.To {
			d.errorf(o.at("to"), "%s: from and to are both %s: a window needs a length (for a whole day, write from: \"00:00\", to: \"24:00\")", ip, window.Clock(w.From))
			good = false
		}
		if o.missing("timezone") {
			d.errorf(item, "%s.timezone: required: an IANA name like Europe/Berlin, or UTC", ip)
			good = false
		} else if tz := o.str("timezone", ""); o.valid("timezone") {
			if l, ok := loadZone(tz); ok {
				w.Location = l
			} else {
				d.errorf(o.at("timezone"), "%s.timezone: unknown time zone %q (use an IANA name like Europe/Berlin or UTC)", ip, tz)
				good = false
			}
		} else {
			good = false
		}
		if good {
			out = append(out, w)
		}
	}
	return out
}

// clock reads an "HH:MM" key of a window; 24:00 only as its end.
func (d *decoder) clock(o *object, path, key string, end bool) (int, bool) {
	if o.missing(key) {
		d.errorf(o.node, "%s.%s: required, as \"HH:MM\"", path, key)
		return 0, false
	}
	s := o.str(key, "")
	if !o.valid(key) {
		return 0, false
	}
	m, ok := window.ParseClock(strings.TrimSpace(s))
	if !ok || (!end && m == window.MinutesPerDay) {
		d.errorf(o.at(key), "%s.%s: invalid time %q: use \"HH:MM\" on a 24-hour clock, 00:00 to 23:59 (24:00 only as to)", path, key, s)
		return 0, false
	}
	return m, true
}

// freezes decodes an environment's freezes:
//
//	freezes: [{from: "2026-12-20T00:00:00+01:00", to: "2027-01-04T00:00:00+01:00", reason: holidays}]
func (d *decoder) freezes(env *object, path string) []window.Freeze {
	var out []window.Freeze
	for i, item := range env.sequence("freezes") {
		ip := index(path, i)
		o, ok := d.object(item, ip, "from", "to", "reason")
		if !ok {
			continue
		}
		f := window.Freeze{Reason: strings.TrimSpace(o.str("reason", ""))}
		from, okFrom := d.instant(o, ip, "from")
		to, okTo := d.instant(o, ip, "to")
		f.From, f.To = from, to
		if okFrom && okTo && !to.After(from) {
			d.errorf(o.at("to"), "%s.to: must be after from (%s)", ip, from.Format(time.RFC3339))
			continue
		}
		if okFrom && okTo {
			out = append(out, f)
		}
	}
	return out
}

// instant reads an RFC 3339 time with its offset; the offset is kept, so
// messages show the time as it was written.
func (d *decoder) instant(o *object, path, key string) (time.Time, bool) {
	if o.missing(key) {
		d.errorf(o.node, "%s.%s: required, as an RFC 3339 time like 2026-12-20T00:00:00+01:00", path, key)
		return time.Time{}, false
	}
	s := o.str(key, "")
	if !o.valid(key) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		d.errorf(o.at(key), "%s.%s: invalid time %q: use RFC 3339 with an offset, like 2026-12-20T00:00:00+01:00", path, key, s)
		return time.Time{}, false
	}
	return t, true
}

// loadZone loads an IANA zone; "Local" (and "") is refused: the server's
// own zone would make a file mean different hours on different machines.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || strings.EqualFold(name, "local") {
		return nil, false
	}
	l, err := time.LoadLocation(name)
	return l, err == nil
}
