package settle

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Party is a CDR owner (a CPO): country code and party id, upper-cased.
// The zero Party stands for every owner in a Scope.
type Party struct {
	CountryCode, PartyID string
}

// NewParty is the party with its identifiers upper-cased (ocpi.Key).
func NewParty(countryCode, partyID string) Party {
	return Party{ocpi.Key(countryCode), ocpi.Key(partyID)}
}

// IsZero reports whether p is "every owner".
func (p Party) IsZero() bool { return p.CountryCode == "" && p.PartyID == "" }

// String is "CC-PID", or "*" for every owner.
func (p Party) String() string {
	if p.IsZero() {
		return "*"
	}
	return p.CountryCode + "-" + p.PartyID
}

// Period is a settlement period: a range of calendar days, the first
// included and End excluded, read in a zone by Window. A calendar month is
// the usual period; any from/to range of days is one too.
type Period struct {
	Start, End civilDate
}

// civilDate is a calendar day.
type civilDate struct {
	Year  int
	Month time.Month
	Day   int
}

func dateOf(t time.Time) civilDate { return civilDate{t.Year(), t.Month(), t.Day()} }

func (d civilDate) in(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d civilDate) String() string { return d.in(time.UTC).Format("2006-01-02") }

// Month is the calendar month.
func Month(year int, month time.Month) Period {
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	return Period{dateOf(first), dateOf(first.AddDate(0, 1, 0))}
}

// Days is the period from the first day to the last, both included.
func Days(first, last time.Time) (Period, error) {
	p := Period{dateOf(first), dateOf(last.AddDate(0, 0, 1))}
	if !p.Start.in(time.UTC).Before(p.End.in(time.UTC)) {
		return Period{}, &Error{Op: "period", Kind: ErrInvalid, Object: p.String(), Err: fmt.Errorf("the last day is before the first")}
	}
	return p, nil
}

// ParsePeriod reads "YYYY-MM" (a calendar month) or "YYYY-MM-DD..YYYY-MM-DD"
// (the first and the last day, both included).
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if from, to, ok := strings.Cut(s, ".."); ok {
		f, err1 := time.Parse("2006-01-02", strings.TrimSpace(from))
		l, err2 := time.Parse("2006-01-02", strings.TrimSpace(to))
		if err1 != nil || err2 != nil {
			return Period{}, &Error{Op: "parse period", Kind: ErrInvalid, Object: s, Err: fmt.Errorf("want YYYY-MM or YYYY-MM-DD..YYYY-MM-DD")}
		}
		return Days(f, l)
	}
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, &Error{Op: "parse period", Kind: ErrInvalid, Object: s, Err: fmt.Errorf("want YYYY-MM or YYYY-MM-DD..YYYY-MM-DD")}
	}
	return Month(m.Year(), m.Month()), nil
}

// IsZero reports whether the period is unset.
func (p Period) IsZero() bool { return p.Start == civilDate{} }

// String is "YYYY-MM" for a calendar month, else "YYYY-MM-DD..YYYY-MM-DD"
// (the last day included); ParsePeriod reads it back.
func (p Period) String() string {
	s, e := p.Start.in(time.UTC), p.End.in(time.UTC)
	if s.Day() == 1 && s.AddDate(0, 1, 0).Equal(e) {
		return s.Format("2006-01")
	}
	return s.Format("2006-01-02") + ".." + e.AddDate(0, 0, -1).Format("2006-01-02")
}

// Window is the period's instants in a zone (nil: UTC): from midnight of
// the first day to midnight after the last, local time.
func (p Period) Window(zone *time.Location) Window {
	if zone == nil {
		zone = time.UTC
	}
	return Window{From: p.Start.in(zone).UTC(), To: p.End.in(zone).UTC()}
}

// Window is a half-open range of instants [From, To).
type Window struct {
	From, To time.Time
}

// Contains reports whether t is in [From, To).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// PeriodTime is the instant that decides a CDR's settlement period
// (DESIGN invariant 7): its end_date_time. A CDR whose end is unknown
// (missing, or the OCPI 1970 sentinel) is settled by its start, and one
// whose start is unknown too by when it was received, so that every stored
// CDR belongs to exactly one period of each zone (it is counted, as not
// priceable, rather than lost). The store's scope query applies the same
// rule in SQL; a test ties the two.
func PeriodTime(start, end, received time.Time) time.Time {
	switch {
	case !end.IsZero() && !ocpi.IsUnknownDateTime(end):
		return end
	case !start.IsZero() && !ocpi.IsUnknownDateTime(start):
		return start
	}
	return received
}

// Selection is which CDRs a run reads: those whose PeriodTime falls in
// their owner's window. It is what settle computes from a Scope and the
// partners' policies, and what the store's scope query takes.
type Selection struct {
	// Owner limits the selection to one owner (zero: every owner).
	Owner Party
	// Default is the window of every owner not in Zoned (the period in UTC).
	Default Window
	// Zoned are the owners whose policy names a zone, with their windows,
	// sorted by party.
	Zoned []OwnerWindow
}

// OwnerWindow is one owner's window.
type OwnerWindow struct {
	Party  Party
	Window Window
}

// WindowOf is the owner's window.
func (s *Selection) WindowOf(p Party) Window {
	for _, z := range s.Zoned {
		if z.Party == p {
			return z.Window
		}
	}
	return s.Default
}

// Contains reports whether a CDR of owner p whose PeriodTime is t is in
// the selection.
func (s *Selection) Contains(p Party, t time.Time) bool {
	if !s.Owner.IsZero() && p != s.Owner {
		return false
	}
	return s.WindowOf(p).Contains(t)
}

// Span is the smallest window that holds every window of the selection.
func (s *Selection) Span() Window {
	w := s.Default
	if !s.Owner.IsZero() {
		w = s.WindowOf(s.Owner)
	}
	for _, z := range s.Zoned {
		if !s.Owner.IsZero() && z.Party != s.Owner {
			continue
		}
		if z.Window.From.Before(w.From) {
			w.From = z.Window.From
		}
		if z.Window.To.After(w.To) {
			w.To = z.Window.To
		}
	}
	return w
}

// Scope is what a run settles: a period and one owner (zero: every owner).
type Scope struct {
	Period  Period
	Partner Party
}

// String is "PERIOD/CC-PID" or "PERIOD/*".
func (s Scope) String() string { return s.Period.String() + "/" + s.Partner.String() }

// Selection applies the period rule to the scope: each owner's window is
// the period in the zone its policy names (zones[party]; absent or nil:
// UTC).
func (s Scope) Selection(zones map[Party]*time.Location) Selection {
	sel := Selection{Owner: s.Partner, Default: s.Period.Window(time.UTC)}
	for p, z := range zones {
		if z == nil || z == time.UTC || (!s.Partner.IsZero() && p != s.Partner) {
			continue
		}
		sel.Zoned = append(sel.Zoned, OwnerWindow{p, s.Period.Window(z)})
	}
	sort.Slice(sel.Zoned, func(a, b int) bool {
		pa, pb := sel.Zoned[a].Party, sel.Zoned[b].Party
		return pa.CountryCode < pb.CountryCode || pa.CountryCode == pb.CountryCode && pa.PartyID < pb.PartyID
	})
	return sel
}

// Kind is what a run produces.
type Kind string

// KindReprice re-prices the scope's CDRs and compares them with what was
// billed (priced_cdrs, priced_lines).
const KindReprice Kind = "reprice"

// Run is a run's identity: what it does, over which scope. Two runs with
// the same identity settle the same CDRs (under the same policies), and
// the later one replaces what the earlier one wrote.
type Run struct {
	Kind  Kind
	Scope Scope
}

// ID is the run's stable identity, "KIND:PERIOD/PARTNER", e.g.
// "reprice:2026-10/*" or "reprice:2026-10/DE-ABC".
func (r Run) ID() string { return string(r.Kind) + ":" + r.Scope.String() }
