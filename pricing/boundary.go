package pricing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// maxBoundaryDays bounds the local days scanned for time-of-day, date and
// weekday boundaries inside one period (a period of weeks is itself a
// finding; scanning it all says nothing more).
const maxBoundaryDays = 62

// flagBoundaries warns, per period, when a restriction boundary of an element
// that could price the period falls strictly inside it (digest §5.2: the CPO
// must start a new period there). Candidates are the local instants where a
// start_time/end_time, a start_date/end_date, a change of weekday or a
// min/max_duration is reached, and the energies where min/max_kwh is; a
// candidate counts only if the element's restrictions really change there
// (evaluated just before and at it), so 18:00 on a Saturday does not count
// for a Monday-to-Friday element. Power and current have no known instant
// and are not checked. The price is not changed: the restriction state at
// the period start prices the whole period, as the spec says.
func flagBoundaries(cdr *ocpi.CDR, periods []refPeriod, tariffs []ocpi.Tariff, loc *time.Location, res *Result) {
	energyBefore := decimal.Zero
	flagged := -1
	for i := range periods {
		p := &periods[i]
		e0 := energyBefore
		energyBefore = energyBefore.Add(p.energy)
		if p.tariff < 0 || !p.end.After(p.start) || p.idx == flagged {
			continue
		}
		t := &tariffs[p.tariff]
		ep := evalPoint{energyBefore: e0, minCurrent: p.minCur, maxCurrent: p.maxCur, minPower: p.minPow, maxPower: p.maxPow}
		if msg := periodBoundary(cdr, p, t, loc, ep, energyBefore); msg != "" {
			flagged = p.idx // the two parts of a mixed period are one period
			res.take(ReadBoundary)
			res.warnf(WarnBoundaryInPeriod, p.idx, "%s, inside the period %s-%s: the CPO should have started a new period there; priced with the state at the period start",
				msg, p.start.In(loc).Format("15:04:05"), p.end.In(loc).Format("15:04:05 MST"))
		}
	}
}

// periodBoundary returns a description of the first boundary inside the
// period, or "".
func periodBoundary(cdr *ocpi.CDR, p *refPeriod, t *ocpi.Tariff, loc *time.Location, ep evalPoint, energyAfter decimal.Decimal) string {
	at := func(el *ocpi.TariffElement, inst time.Time) bool {
		q := ep
		q.local = inst.In(loc)
		q.durationSoFar = inst.Unix() - cdr.StartDateTime.Unix()
		failed, _ := matchRestrictions(el.Restrictions, &q)
		return failed == noFailure
	}
	first, firstMsg := time.Time{}, ""
	for ei := range t.Elements {
		el := &t.Elements[ei]
		r := el.Restrictions
		if r == nil || !elementCanPrice(el, p) {
			continue
		}
		for _, inst := range boundaryInstants(cdr, r, p, loc) {
			if !inst.After(p.start) || !inst.Before(p.end) || at(el, inst.Add(-time.Second)) == at(el, inst) {
				continue
			}
			if firstMsg == "" || inst.Before(first) {
				first, firstMsg = inst, fmt.Sprintf("element %d's restrictions change at %s", ei, inst.In(loc).Format("Mon 2006-01-02 15:04:05 MST"))
			}
			break // instants come in time order
		}
		if firstMsg != "" {
			continue
		}
		for _, b := range []decimal.NullDecimal{r.MinKWh, r.MaxKWh} {
			if !b.Valid || !ep.energyBefore.LessThan(b.Decimal) || !b.Decimal.LessThan(energyAfter) {
				continue
			}
			below, reached := ep, ep
			below.local, reached.local = p.local, p.local
			below.durationSoFar = p.start.Unix() - cdr.StartDateTime.Unix()
			reached.durationSoFar = below.durationSoFar
			below.energyBefore = b.Decimal.Sub(decimal.New(1, -6))
			reached.energyBefore = b.Decimal
			failedBelow, _ := matchRestrictions(r, &below)
			failedReached, _ := matchRestrictions(r, &reached)
			if (failedBelow == noFailure) != (failedReached == noFailure) {
				return fmt.Sprintf("element %d's kWh bound %s is reached (%s -> %s kWh in the session)", ei, b.Decimal, ep.energyBefore, energyAfter)
			}
		}
	}
	return firstMsg
}

// elementCanPrice says whether the element has a component for a dimension
// the period bills, in the period's phase (FLAT is charged once, at the
// start of a phase: a boundary inside a period does not move it).
func elementCanPrice(el *ocpi.TariffElement, p *refPeriod) bool {
	resv := el.Restrictions != nil && el.Restrictions.Reservation != ""
	if resv != (p.phase == phaseReservation) {
		return false
	}
	for _, pc := range el.PriceComponents {
		switch strings.ToUpper(pc.Type) {
		case ocpi.TariffDimEnergy:
			if p.energy.IsPositive() && !resv {
				return true
			}
		case ocpi.TariffDimTime:
			if p.timeS > 0 || p.resvS > 0 {
				return true
			}
		case ocpi.TariffDimParkingTime:
			if p.parkS > 0 && !resv {
				return true
			}
		}
	}
	return false
}

// boundaryInstants lists, in time order, the instants within the period's
// local days where one of the element's time restrictions may change.
func boundaryInstants(cdr *ocpi.CDR, r *ocpi.TariffRestrictions, p *refPeriod, loc *time.Location) []time.Time {
	var clocks []int64
	for _, s := range []string{r.StartTime, r.EndTime} {
		if s == "" {
			continue
		}
		if c, err := parseClock(s); err == nil {
			clocks = append(clocks, c)
		}
	}
	midnight := len(r.DayOfWeek) > 0 || r.StartDate != "" || r.EndDate != ""
	var out []time.Time
	ls := p.start.In(loc)
	y, m, d := ls.Date()
	for day := 0; day < maxBoundaryDays; day++ {
		dayStart := time.Date(y, m, d+day, 0, 0, 0, 0, loc)
		if dayStart.After(p.end) {
			break
		}
		if midnight {
			out = append(out, dayStart)
		}
		for _, c := range clocks {
			out = append(out, time.Date(y, m, d+day, int(c/3600), int(c%3600/60), 0, 0, loc))
		}
	}
	for _, dur := range []*int64{r.MinDuration, r.MaxDuration} {
		if dur != nil {
			out = append(out, cdr.StartDateTime.Add(time.Duration(*dur)*time.Second))
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
