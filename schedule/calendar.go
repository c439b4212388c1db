package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// calendar turns a cron expression into the instants it is due at in a zone.
//
// robfig/cron evaluates a spec by adding hours to instants in the zone, so a
// 02:30 spec in Europe/Berlin is due twice on the autumn change and never on
// the spring one (stack.md). calendar instead evaluates the spec on wall
// clocks (the zone's local date and time, held as UTC values, where no hour is
// repeated or skipped) and maps each wall-clock slot to one instant:
//
//   - a wall time that occurs twice (autumn) maps to its first occurrence, so
//     the slot is due once;
//   - a wall time that does not occur (spring) maps to the end of the gap,
//     the first instant after it, so the slot is not lost; slots that map to
//     the same instant are due once.
type calendar struct {
	spec *cron.SpecSchedule // Location is UTC: it sees wall clocks only
	loc  *time.Location
}

// cronParser is the standard five fields (minute hour day-of-month month
// day-of-week) plus descriptors such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseCalendar(expr string, loc *time.Location) (calendar, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		// The zone has its own key; robfig/cron v3.0.1 also panics on some
		// malformed TZ= prefixes (robfig/cron#470, #554).
		return calendar{}, fmt.Errorf("%q: set the zone with the zone key, not a TZ= prefix", expr)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return calendar{}, fmt.Errorf("%q: %v", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return calendar{}, fmt.Errorf("%q: @every is a fixed interval, not a time of day; use a cron expression", expr)
	}
	spec.Location = time.UTC
	c := calendar{spec: spec, loc: loc}
	if c.next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return calendar{}, fmt.Errorf("%q: never due (no such date)", expr)
	}
	return c, nil
}

// wall is t's local date and time in loc, held as a UTC value.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// next is the first instant strictly after t at which the spec is due, or
// the zero time if it is never due again (within robfig/cron's five years).
//
// Starting from t's own wall clock is enough: a wall-clock slot before it
// either occurred before t or lay in a gap that ended by t. A slot after it
// that maps to an instant not after t is one that was already due in the
// first pass of a repeated hour, and is skipped.
func (c calendar) next(t time.Time) time.Time {
	w := wall(t, c.loc)
	for {
		w = c.spec.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at := c.resolve(w); at.After(t) {
			return at
		}
	}
}

// prev is the latest instant not after t at which the spec was due, or the
// zero time if none within five years.
func (c calendar) prev(t time.Time) time.Time {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour} {
		var last time.Time
		for at := c.next(t.Add(-back)); !at.IsZero() && !at.After(t); at = c.next(at) {
			last = at
		}
		if !last.IsZero() {
			return last
		}
	}
	return time.Time{}
}

// resolve maps a wall-clock time (held as UTC) to the instant it stands for
// in c.loc: its first occurrence, or the end of the gap it falls in.
func (c calendar) resolve(w time.Time) time.Time {
	// UTC offsets lie within ±14 h, so the zone periods in effect within 15 h
	// either side of w as an instant hold every instant whose wall clock is w.
	for u := w.Add(-15 * time.Hour); u.Before(w.Add(15 * time.Hour)); {
		l := u.In(c.loc)
		_, off := l.Zone()
		start, end := l.ZoneBounds()
		at := w.Add(-time.Duration(off) * time.Second)
		if (start.IsZero() || !at.Before(start)) && (end.IsZero() || at.Before(end)) {
			return at // first period, so first occurrence
		}
		if end.IsZero() {
			break
		}
		_, offAfter := end.In(c.loc).Zone()
		before, after := end.Add(time.Duration(off)*time.Second), end.Add(time.Duration(offAfter)*time.Second)
		if !w.Before(before) && w.Before(after) {
			return end // w was skipped: due when the gap ends
		}
		u = end
	}
	// Unreachable for real zone data; fall back on the time package's choice.
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), c.loc)
}
