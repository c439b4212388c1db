package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Period is a settlement month. Its bounds are instants in a zone (UTC by
// default, or the zone a partner's policy names: DESIGN.md invariant 7).
type Period struct {
	Year  int
	Month time.Month
}

// PeriodOf is the period containing t in loc.
func PeriodOf(t time.Time, loc *time.Location) Period {
	l := t.In(loc)
	return Period{l.Year(), l.Month()}
}

// ParsePeriod reads "YYYY-MM".
func ParsePeriod(s string) (Period, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return Period{}, fmt.Errorf("period %q: want YYYY-MM, e.g. 2026-10", s)
	}
	return Period{t.Year(), t.Month()}, nil
}

func (p Period) String() string { return fmt.Sprintf("%04d-%02d", p.Year, int(p.Month)) }

// IsZero reports whether p is the zero Period (no period).
func (p Period) IsZero() bool { return p == Period{} }

// Next is the following month.
func (p Period) Next() Period {
	if p.Month == time.December {
		return Period{p.Year + 1, time.January}
	}
	return Period{p.Year, p.Month + 1}
}

// Prev is the preceding month.
func (p Period) Prev() Period {
	if p.Month == time.January {
		return Period{p.Year - 1, time.December}
	}
	return Period{p.Year, p.Month - 1}
}

// Before reports whether p is an earlier month than q.
func (p Period) Before(q Period) bool {
	return p.Year < q.Year || p.Year == q.Year && p.Month < q.Month
}

// Start is the first instant of p in loc.
func (p Period) Start(loc *time.Location) time.Time {
	return time.Date(p.Year, p.Month, 1, 0, 0, 0, 0, loc)
}

// End is the first instant after p in loc (the start of the next month).
func (p Period) End(loc *time.Location) time.Time { return p.Next().Start(loc) }

// Grace is how long after a period's end late CDRs are still awaited before
// the period is finalised: whole calendar days (in the period's zone) plus a
// duration.
type Grace struct {
	Days  int
	Extra time.Duration
}

// DefaultGrace is the default: five days.
var DefaultGrace = Grace{Days: 5}

var graceRe = regexp.MustCompile(`^(?:(\d+)d)?(.*)$`)

// ParseGrace reads "5d", "36h", "5d12h" or "0". Days are calendar days, so a
// grace of "5d" ends at midnight five days after the month, DST or not.
func ParseGrace(s string) (Grace, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("grace %q: want days and/or a duration, e.g. 5d, 36h or 5d12h", s)
	if s == "" {
		return Grace{}, bad
	}
	if s == "0" {
		return Grace{}, nil
	}
	m := graceRe.FindStringSubmatch(s)
	var g Grace
	if m[1] != "" {
		d, err := strconv.Atoi(m[1])
		if err != nil || d > 366 {
			return Grace{}, fmt.Errorf("grace %q: at most 366 days", s)
		}
		g.Days = d
	}
	if m[2] != "" {
		d, err := time.ParseDuration(m[2])
		if err != nil || d < 0 {
			return Grace{}, bad
		}
		g.Extra = d
	}
	if m[1] == "" && m[2] == "" {
		return Grace{}, bad
	}
	return g, nil
}

func (g Grace) String() string {
	switch {
	case g.Days == 0 && g.Extra == 0:
		return "0"
	case g.Extra == 0:
		return fmt.Sprintf("%dd", g.Days)
	case g.Days == 0:
		return g.Extra.String()
	}
	return fmt.Sprintf("%dd%s", g.Days, g.Extra)
}

// Deadline is the instant from which p may be finalised: its end in loc plus
// the grace.
func (g Grace) Deadline(p Period, loc *time.Location) time.Time {
	return p.End(loc).AddDate(0, 0, g.Days).Add(g.Extra)
}
