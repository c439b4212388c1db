package reconcile

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// The bulk path. Most CDRs of a period are right: every stated total is
// the recomputed one and no rule finds anything. Screen tells those from
// the columns the store holds (the CDR's billed totals, volumes and
// period starts, and the priced row settle's kernel wrote) without
// loading the whole CDR or re-pricing it with the decimal reference; every
// other CDR is evaluated whole (Input.Evaluate). A screen is conservative:
// it accepts a CDR only when no rule could fire on it and no total could
// differ, so the bulk path's report is the per-CDR path's (a store test
// compares them on a generated month). Where a check is not exact in
// integers (a boundary close to a tolerance, an amount too large for the
// products, a DST change inside a period) the CDR is evaluated whole.

// Row is what the screen reads of one CDR and its priced row.
type Row struct {
	Key                      int64
	CountryCode, PartyID, ID string // as sent
	Currency                 string
	V211, Credit             bool
	// Suspect: the store already knows the CDR needs the whole evaluation
	// (a required field empty, a decoder finding, a blocking finding).
	Suspect    bool
	Start, End int64 // unix microseconds, both known (else Suspect)
	// Billed are the stated totals in millionths, as stored (not rounded).
	Billed                  Totals
	TotalEnergy, TotalTime  int64 // millionths of kWh and h
	TotalParking            int64
	HasParking              bool
	TokenUID, TokenContract string
	InvoiceReferenceID      string
	// CreditReferenceID is what a credit references (the screen does not
	// read it: a credit is evaluated whole, with the CDR it credits).
	CreditReferenceID string
	LocationKnown     bool // the context's location and EVSE were published (or the owner published none)
	Priced            bool // priced by the kernel with a published version in effect
	Tariff            int32
	Zone              int16
	Flags             int32
	Computed          [2 * NumFields]int64 // the priced totals, excl then incl per Field
	Periods           []PeriodRow
}

// PeriodRow is one charging period as the screen reads it: its start
// (unix microseconds) and its volumes in millionths (energy kWh, times h).
type PeriodRow struct {
	Start                                              int64
	StartKnown                                         bool
	Energy, Time, Parking, Reservation                 int64
	HasEnergy, HasTime, HasParking, HasReservationTime bool
}

// Reset empties the row for reuse, keeping its period buffer.
func (r *Row) Reset() { *r = Row{Periods: r.Periods[:0]} }

// ScreenTariff is what the screen needs of a tariff version a priced row
// names: its currency and minor units, whether it clamps, its VAT range
// and, per restricted element, where its restrictions can change inside a
// period.
type ScreenTariff struct {
	Currency   string
	MinorUnits int
	Clamps     bool // min_price or max_price
	// VAT range in millionths of a percent (vatOK false: not screenable,
	// or unknown: every CDR that states incl VAT is evaluated whole).
	vatLo, vatHi    int64
	vatCheck, vatOK bool
	elements        []screenElement // the restricted elements
}

// screenElement is one restricted element as the boundary check reads it
// (pricing's flagBoundaries): the dimensions it prices, its clock
// instants (seconds of the local day), whether it changes at midnight
// (weekday or date restrictions), its time-of-day window, dates and
// weekdays (to tell whether it really changes at an instant), durations
// since the start (seconds) and energies (millionths of kWh).
type screenElement struct {
	energy, time, parking, reservation bool
	clocks                             []int64
	midnight                           bool
	hasStart, hasEnd                   bool
	start, end                         int64 // seconds of the day
	hasFrom, hasTo                     bool
	from, to                           int64 // days since 1970-01-01
	days                               uint8 // bit i: ocpi.DaysOfWeek[i]
	hasDays                            bool
	durations                          []int64
	energies                           []int64
	// unreadable: a clock, date or kWh bound the screen cannot read; the
	// element is then taken to change inside every period it can price.
	unreadable bool
}

// NewScreenTariff reads what the screen needs of a tariff version priced
// with minor units.
func NewScreenTariff(t *ocpi.Tariff, minor int) *ScreenTariff {
	s := &ScreenTariff{Currency: strings.ToUpper(t.Currency), MinorUnits: minor, Clamps: t.MinPrice != nil || t.MaxPrice != nil}
	lo, hi, ok := vatRange(t)
	if s.vatCheck = ok; ok {
		l, lok := microOf(lo)
		h, hok := microOf(hi)
		s.vatLo, s.vatHi, s.vatOK = l, h, lok && hok && l >= 0 && h <= 200_000_000
	}
	for i := range t.Elements {
		r := t.Elements[i].Restrictions
		if r == nil {
			continue
		}
		e := screenElement{reservation: r.Reservation != ""}
		for _, pc := range t.Elements[i].PriceComponents {
			switch strings.ToUpper(pc.Type) {
			case ocpi.TariffDimEnergy:
				e.energy = true
			case ocpi.TariffDimTime:
				e.time = true
			case ocpi.TariffDimParkingTime:
				e.parking = true
			}
		}
		var ok bool
		if r.StartTime != "" {
			if e.start, ok = clockSeconds(r.StartTime); !ok {
				e.unreadable = true
			}
			e.hasStart = true
			e.clocks = append(e.clocks, e.start)
		}
		if r.EndTime != "" {
			if e.end, ok = clockSeconds(r.EndTime); !ok {
				e.unreadable = true
			}
			e.hasEnd = true
			e.clocks = append(e.clocks, e.end)
		}
		if r.StartDate != "" {
			if e.from, ok = dayNumber(r.StartDate); !ok {
				e.unreadable = true
			}
			e.hasFrom = true
		}
		if r.EndDate != "" {
			if e.to, ok = dayNumber(r.EndDate); !ok {
				e.unreadable = true
			}
			e.hasTo = true
		}
		if len(r.DayOfWeek) > 0 {
			e.hasDays = true
			for _, d := range r.DayOfWeek {
				for j, name := range ocpi.DaysOfWeek {
					if strings.EqualFold(strings.TrimSpace(d), name) {
						e.days |= 1 << j
					}
				}
			}
		}
		e.midnight = e.hasDays || e.hasFrom || e.hasTo
		for _, d := range []*int64{r.MinDuration, r.MaxDuration} {
			if d != nil {
				e.durations = append(e.durations, *d)
			}
		}
		for _, b := range []decimal.NullDecimal{r.MinKWh, r.MaxKWh} {
			if b.Valid {
				m, ok := microOf(b.Decimal)
				if !ok {
					e.unreadable = true
				}
				e.energies = append(e.energies, m)
			}
		}
		if len(e.clocks) > 0 || e.midnight || len(e.durations) > 0 || len(e.energies) > 0 || e.unreadable {
			s.elements = append(s.elements, e)
		}
	}
	return s
}

// canPrice is pricing's elementCanPrice (a superset): the element has a
// component for a dimension the period bills. A period with reservation
// time is taken to be priceable by every element.
func (e *screenElement) canPrice(p *PeriodRow) bool {
	if p.HasReservationTime {
		return true
	}
	if e.reservation {
		return false
	}
	return (e.energy && p.HasEnergy && p.Energy > 0) || (e.time && p.HasTime && p.Time > 0) ||
		(e.parking && p.HasParking && p.Parking > 0)
}

// clockMatch is pricing's matchRestrictions for the restrictions that
// read the local time (window, dates, weekday) at local second tod of
// local day day.
func (e *screenElement) clockMatch(day, tod int64) bool {
	if e.hasStart || e.hasEnd {
		s, end := e.start, e.end
		if !e.hasStart {
			s = 0
		}
		if !e.hasEnd || end == 0 {
			end = 86400
		}
		in := tod >= s && tod < end
		if s >= end {
			in = tod >= s || tod < end
		}
		if !in {
			return false
		}
	}
	if (e.hasFrom && day < e.from) || (e.hasTo && day >= e.to) {
		return false
	}
	// 1970-01-01 was a Thursday (DaysOfWeek[3]).
	return !e.hasDays || e.days&(1<<mod(day+3, 7)) != 0
}

// changesAt says whether the element's time restrictions differ between
// the local second before lt (local microseconds) and lt.
func (e *screenElement) changesAt(lt int64) bool {
	const day = 86400 * micro
	at := func(l int64) bool { return e.clockMatch(floorDiv(l, day), floorDiv(mod(l, day), micro)) }
	return at(lt-micro) != at(lt)
}

// dayNumber reads "YYYY-MM-DD" as days since 1970-01-01 (pricing's
// reading).
func dayNumber(s string) (int64, bool) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, false
	}
	return floorDiv(t.Unix(), 86400), true
}

// microOf is d in millionths when it has at most 6 decimals.
func microOf(d decimal.Decimal) (int64, bool) {
	m := d.Shift(Scale)
	if !m.Equal(m.Truncate(0)) || m.Abs().GreaterThan(decimal.New(1, 15)) {
		return 0, false
	}
	return m.IntPart(), true
}

// clockSeconds reads "HH:MM" as seconds of the day (pricing's strict
// reading: five characters).
func clockSeconds(s string) (int64, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for i, c := range []byte(s) {
		if i != 2 && (c < '0' || c > '9') {
			return 0, false
		}
	}
	h, m := int64(s[0]-'0')*10+int64(s[1]-'0'), int64(s[3]-'0')*10+int64(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*3600 + m*60, true
}

const micro = 1_000_000 // microseconds in a second

// Screen accepts the CDRs the bulk path can settle from columns.
type Screen struct {
	// Tariffs and Zones are the priced rows' dictionaries by ref (nil:
	// a ref that cannot be screened); ZoneSources names each zone's source.
	Tariffs     []*ScreenTariff
	Zones       []*time.Location
	ZoneSources []string
	Tokens      *Tokens
	Limits      Limits
	// Received are the upper-cased ids received again or in conflict
	// (Stored.Received): those CDRs are evaluated whole.
	Received map[string]bool
	// groups are the accepted CDRs' groups by the rows' values (last: the
	// newest one).
	groups map[AcceptedGroup]*groupEntry
	last   *groupEntry
	// Misses counts the CDRs sent to the whole evaluation by the check
	// that sent them (for performance work: `reconcile` logs them).
	Misses map[string]int64
}

func (s *Screen) miss(check string) (Accepted, bool) {
	if s.Misses == nil {
		s.Misses = map[string]int64{}
	}
	s.Misses[check]++
	return Accepted{}, false
}

// Accepted is a CDR the screen accepted: OK, no reason, no finding, its
// billed total_cost the recomputed one at minor units.
type Accepted struct {
	Key int64
	ID  string
	// The owner, currency and zone source are the group's (read as the
	// CDR's own): a month's millions of accepted CDRs have a handful of
	// groups, and each points at its own instead of copying it.
	*AcceptedGroup
	Billed, Recomputed Amount // total_cost
	InvoiceReferenceID string
}

// AcceptedGroup is what an owner's accepted CDRs of one currency and zone
// source share.
type AcceptedGroup struct {
	CountryCode, PartyID string
	Currency             string
	MinorUnits           int
	ZoneSource           string
}

// Screen returns the row as Accepted when no rule can find anything in it
// and every stated total is the recomputed one; ok false: evaluate it
// whole.
func (s *Screen) Screen(r *Row) (Accepted, bool) {
	switch {
	case r.Suspect:
		return s.miss("suspect")
	case r.Credit:
		return s.miss("credit")
	case !r.Priced || r.Tariff < 0 || int(r.Tariff) >= len(s.Tariffs) || int(r.Zone) >= len(s.Zones) || r.Zone < 0:
		return s.miss("not priced")
	case !r.LocationKnown:
		return s.miss("location")
	case len(r.Periods) == 0:
		return s.miss("no periods")
	}
	t := s.Tariffs[r.Tariff]
	loc := s.Zones[r.Zone]
	if t == nil || loc == nil || r.Currency == "" || !strings.EqualFold(r.Currency, t.Currency) {
		return s.miss("tariff-zone-currency")
	}
	const unsure = int32(pricing.FlagExpired | pricing.FlagMinApplied | pricing.FlagMaxApplied | pricing.FlagUnverifiable |
		pricing.FlagFlatChanged | pricing.FlagExclUnknown)
	if r.Flags&unsure != 0 {
		return s.miss("flags")
	}
	lim := s.Limits.MaxSession
	if lim <= 0 {
		lim = DefaultLimits().MaxSession
	}
	if r.End < r.Start || r.End-r.Start > lim.Microseconds() {
		return s.miss("session-length")
	}
	if s.Received[ocpi.Key(r.ID)] {
		return s.miss("received")
	}
	if s.Tokens != nil && s.Tokens.Len() > 0 && (r.TokenUID != "" || r.TokenContract != "") {
		v := ocpi.V221
		if r.V211 {
			v = ocpi.V211
		}
		if !s.Tokens.Known(&ocpi.CDRToken{UID: r.TokenUID, ContractID: r.TokenContract}, v) {
			return s.miss("token")
		}
	}
	m := t.MinorUnits
	inclKnown := r.Flags&int32(pricing.FlagInclUnknown) == 0
	for f := range NumFields {
		b := r.Billed[f]
		if !b.HasExcl {
			if f == TotalCost {
				return s.miss("no-total-cost")
			}
			continue
		}
		c := Amount{Excl: r.Computed[2*f], Incl: r.Computed[2*f+1], HasExcl: true, HasIncl: inclKnown}
		if Compare(b, c, m).Outcome == Different {
			return s.miss("total-differs")
		}
	}
	switch {
	case !s.taxOK(r, t):
		return s.miss("tax")
	case !totalsOK(r, t, m):
		return s.miss("totals")
	case !volumesOK(r):
		return s.miss("volumes")
	case !periodsOK(r):
		return s.miss("periods")
	case !boundariesOK(r, t, loc):
		return s.miss("boundaries")
	}
	b := roundAmount(r.Billed[TotalCost], m)
	return Accepted{Key: r.Key, ID: r.ID, AcceptedGroup: s.group(r, m), Billed: b,
		Recomputed:         Amount{Excl: r.Computed[0], Incl: r.Computed[1], HasExcl: true, HasIncl: inclKnown},
		InvoiceReferenceID: r.InvoiceReferenceID}, true
}

// group is the row's accepted group, shared with the screen's earlier rows
// of the same one.
func (s *Screen) group(r *Row, minor int) *AcceptedGroup {
	k := AcceptedGroup{CountryCode: r.CountryCode, PartyID: r.PartyID, Currency: r.Currency, MinorUnits: minor,
		ZoneSource: s.ZoneSources[r.Zone]}
	if s.last != nil && s.last.key == k {
		return &s.last.group
	}
	e, ok := s.groups[k]
	if !ok {
		// The row's strings alias its batch: the entry keeps copies.
		k = AcceptedGroup{CountryCode: strings.Clone(k.CountryCode), PartyID: strings.Clone(k.PartyID),
			Currency: strings.Clone(k.Currency), MinorUnits: minor, ZoneSource: strings.Clone(k.ZoneSource)}
		e = &groupEntry{key: k, group: k}
		e.group.Currency = strings.ToUpper(k.Currency)
		if s.groups == nil {
			s.groups = map[AcceptedGroup]*groupEntry{}
		}
		s.groups[k] = e
	}
	s.last = e
	return &e.group
}

// groupEntry is an accepted group and the row values it was made of.
type groupEntry struct {
	key, group AcceptedGroup
}

// amountBound: products of amounts below it with percentages (at most
// 200 %) in millionths stay below 2^63.
const amountBound = 10_000_000_000 // ten thousand units, in millionths

// taxOK is ruleTax finding nothing.
func (s *Screen) taxOK(r *Row, t *ScreenTariff) bool {
	for f := range NumFields {
		b := r.Billed[f]
		if b.HasExcl && b.HasIncl && abs64(b.Incl) < abs64(b.Excl) {
			return false
		}
	}
	tc := r.Billed[TotalCost]
	if t.Clamps || !tc.HasIncl || !t.vatCheck {
		return true
	}
	if !t.vatOK {
		return false
	}
	excl, incl := abs64(tc.Excl), abs64(tc.Incl)
	if excl > amountBound || incl > amountBound {
		return false
	}
	// incl within excl × (100 + lo..hi) / 100 ± two minor units, in
	// millionths of a percent: ×1e8.
	tol := 2 * pow10[Scale-min(max(t.MinorUnits, 0), Scale)]
	const hundred = 100 * 1_000_000
	lo := excl*(hundred+t.vatLo) - tol*hundred
	hi := excl*(hundred+t.vatHi) + tol*hundred
	x := incl * hundred
	// Strict margins: an amount on a bound is evaluated whole.
	return x > lo && x < hi
}

// totalsOK is ruleTotals finding nothing.
func totalsOK(r *Row, t *ScreenTariff, minor int) bool {
	b := &r.Billed
	if r.Credit || !b[TotalCost].HasExcl || !b[TotalFixedCost].HasExcl || !b[TotalEnergyCost].HasExcl ||
		!b[TotalTimeCost].HasExcl || !b[TotalParkingCost].HasExcl || t.Clamps {
		return true
	}
	parts := []Field{TotalFixedCost, TotalEnergyCost, TotalTimeCost, TotalParkingCost}
	if b[TotalReservationCost].HasExcl {
		parts = append(parts, TotalReservationCost)
	}
	tol := int64(len(parts)) * pow10[Scale-min(max(minor, 0), Scale)]
	var excl, incl int64
	allIncl := b[TotalCost].HasIncl
	for _, f := range parts {
		excl += b[f].Excl
		if b[f].HasIncl {
			incl += b[f].Incl
		} else {
			allIncl = false
		}
	}
	if abs64(b[TotalCost].Excl-excl) > tol {
		return false
	}
	return !allIncl || abs64(b[TotalCost].Incl-incl) <= tol
}

// volumesOK is ruleVolumes finding nothing (with the tolerance of the
// fewest dimensions a period table can hold: stricter, never looser).
func volumesOK(r *Row) bool {
	var energy, timeSum, parking int64
	var nEnergy, nTime, nParking int64
	for i := range r.Periods {
		p := &r.Periods[i]
		var used int64
		if p.HasEnergy {
			energy, nEnergy = energy+p.Energy, nEnergy+1
		}
		if p.HasTime {
			timeSum, nTime, used = timeSum+p.Time, nTime+1, used+p.Time
		}
		if p.HasParking {
			parking, nParking = parking+p.Parking, nParking+1
			timeSum, nTime, used = timeSum+p.Parking, nTime+1, used+p.Parking
		}
		if p.HasReservationTime {
			used += p.Reservation
		}
		end := r.End
		if i+1 < len(r.Periods) {
			end = r.Periods[i+1].Start
		}
		// The rule measures the period in whole seconds (time.Unix).
		s0, s1 := floorDiv(p.Start, micro), floorDiv(end, micro)
		if end <= p.Start || s1 <= s0 {
			continue
		}
		// used - length > 0.002 h, in millionths of an hour times 3600,
		// with a margin: a period on the bound is evaluated whole.
		if used*3600-(s1-s0)*1_000_000 >= 2000*3600 {
			return false
		}
	}
	within := func(total, sum, n int64) bool { return abs64(total-sum) < (n+1)*1000 }
	if nEnergy > 0 && !within(r.TotalEnergy, energy, nEnergy) {
		return false
	}
	if nTime > 0 && !within(r.TotalTime, timeSum, nTime) {
		return false
	}
	if r.HasParking && nTime > 0 && !within(r.TotalParking, parking, nParking) {
		return false
	}
	return true
}

// periodsOK is rulePeriodsOrder finding nothing.
func periodsOK(r *Row) bool {
	prev := r.Start
	for i := range r.Periods {
		p := &r.Periods[i]
		if !p.StartKnown || p.Start < r.Start || p.Start >= r.End || p.Start < prev {
			return false
		}
		prev = p.Start
	}
	return true
}

// boundariesOK is rulePeriodNotSplit finding nothing: for each element
// that can price a period, no instant at which its restrictions change
// falls strictly inside the period. Time-of-day, weekday and date
// instants count only where the element's time restrictions really
// change (as the reference checks); duration and kWh bounds count
// whenever they fall inside (a superset: the reference also evaluates the
// element's other restrictions there).
func boundariesOK(r *Row, t *ScreenTariff, loc *time.Location) bool {
	if len(t.elements) == 0 {
		return true
	}
	var energy int64
	for i := range r.Periods {
		p := &r.Periods[i]
		end := r.End
		if i+1 < len(r.Periods) {
			end = r.Periods[i+1].Start
		}
		e0 := energy
		if p.HasEnergy {
			energy += p.Energy
		}
		if end <= p.Start {
			continue
		}
		clocked := false
		for k := range t.elements {
			el := &t.elements[k]
			if !el.canPrice(p) {
				continue
			}
			if el.unreadable {
				return false
			}
			for _, b := range el.energies {
				if e0 < b && b < energy {
					return false
				}
			}
			for _, d := range el.durations {
				if at := r.Start + d*micro; p.Start < at && at < end {
					return false
				}
			}
			clocked = clocked || len(el.clocks) > 0 || el.midnight
		}
		if !clocked {
			continue
		}
		if end-p.Start >= 86400*micro {
			return false
		}
		_, off0 := time.UnixMicro(p.Start).In(loc).Zone()
		_, off1 := time.UnixMicro(end).In(loc).Zone()
		if off0 != off1 {
			return false // a DST change inside the period
		}
		ls, le := p.Start+int64(off0)*micro, end+int64(off0)*micro
		const day = 86400 * micro
		// next is the first local instant at clock c strictly after ls.
		next := func(c int64) int64 {
			at := ls - mod(ls, day) + c*micro
			if at <= ls {
				at += day
			}
			return at
		}
		for k := range t.elements {
			el := &t.elements[k]
			if !el.canPrice(p) {
				continue
			}
			if at := next(0); el.midnight && at < le && el.changesAt(at) {
				return false
			}
			for _, c := range el.clocks {
				if at := next(c); at < le && el.changesAt(at) {
					return false
				}
			}
		}
	}
	return true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
