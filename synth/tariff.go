package synth

import (
	"math/rand/v2"
	"slices"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Tariff dimensions, in the order of the CDR cost buckets.
const (
	dimFlat = iota
	dimEnergy
	dimTime
	dimParking
	numDims
)

var dimNames = [numDims]string{ocpi.TariffDimFlat, ocpi.TariffDimEnergy, ocpi.TariffDimTime, ocpi.TariffDimParkingTime}

// component is a PriceComponent. price has 4 decimals (scale 10^4) in the
// tariff's currency per kWh, per hour or per session; step is in Wh or s.
type component struct {
	dim    int
	price  int64
	vat    int // percentage, whole numbers only (see doc.go)
	hasVAT bool
	step   int64
}

// restriction is a TariffRestrictions with -1 (or 0 for days) for an absent bound.
type restriction struct {
	startMin, endMin int   // minutes of the local day
	days             uint8 // bit i = weekday i (0 = Monday); 0 = every day
	minDur, maxDur   int64 // seconds since session start
	maxPowerW        int64 // compared with the period's MAX_POWER
}

var unrestricted = restriction{startMin: -1, endMin: -1, minDur: -1, maxDur: -1, maxPowerW: -1}

func (r *restriction) hasTimeOfDay() bool { return r.startMin >= 0 || r.endMin >= 0 || r.days != 0 }

// matchClock evaluates start_time, end_time and day_of_week (§5.4): an
// end before the start wraps past midnight, end 00:00 means end of day.
func (r *restriction) matchClock(minute, weekday int) bool {
	if r.days != 0 && r.days&(1<<weekday) == 0 {
		return false
	}
	s, e := r.startMin, r.endMin
	switch {
	case s >= 0 && e >= 0:
		if s < e {
			return minute >= s && minute < e
		}
		return minute >= s || minute < e
	case s >= 0:
		return minute >= s
	case e >= 0:
		return minute < e
	}
	return true
}

// match evaluates every restriction at the start of a period. maxPowerW < 0
// means the period has no MAX_POWER dimension: a power restriction then
// cannot be checked and matches (the reading in §5.4).
func (r *restriction) match(minute, weekday int, sinceStart, maxPowerW int64) bool {
	if !r.matchClock(minute, weekday) {
		return false
	}
	if r.minDur >= 0 && sinceStart < r.minDur {
		return false
	}
	if r.maxDur >= 0 && sinceStart >= r.maxDur {
		return false
	}
	if r.maxPowerW >= 0 && maxPowerW >= 0 && maxPowerW >= r.maxPowerW {
		return false
	}
	return true
}

type element struct {
	comps []component
	r     restriction
	// restricted is false when the element has no restrictions object.
	restricted bool
}

type priceLimit struct{ excl, incl int64 } // scale 10^4

type tariffVersion struct {
	lastUpdated   int64
	startDateTime int64 // 0: absent
	elements      []element
	minPrice      *priceLimit
	maxPrice      *priceLimit
}

// tariff is one tariff id with its versions, oldest first. Versions differ
// in prices only, so the instants at which restrictions change are shared.
type tariff struct {
	id          string
	name        string
	typ         string
	taxIncluded string
	versions    []tariffVersion
	// clockBounds are the instants in the generated range at which some
	// element's time-of-day or weekday restriction changes in local time.
	clockBounds []int64
	durBounds   []int64 // min/max_duration thresholds, seconds since start
	usesPower   bool
	has         [numDims]bool
	// inclRate is the single VAT rate of a tax_included YES tariff.
	inclRate int
}

// versionAt returns the index of the version in effect for a session
// starting at u: the latest whose last_updated is not after u.
func (t *tariff) versionAt(u int64) int {
	i := 0
	for j := range t.versions {
		if t.versions[j].lastUpdated <= u {
			i = j
		}
	}
	return i
}

const (
	monFri = 0b0011111
	satSun = 0b1100000
	sat    = 0b0100000
)

func hm(h, m int) int { return h*60 + m }

// buildTariffs makes the party's three tariffs (AC standard, DC fast,
// destination) with a first version published before the month and, for
// some of them, a second version with new prices from a day of the month.
func buildTariffs(p *party, rng *rand.Rand, monthStart int64) []*tariff {
	v211 := p.version == ocpi.V211
	typ := ""
	if !v211 {
		typ = ocpi.TariffRegular
	}
	comp := func(dim int, eurE4, step int64) component {
		c := component{dim: dim, price: p.price(eurE4), step: step}
		c.vat, c.hasVAT = p.vatFor(dim)
		return c
	}
	el := func(r restriction, cs ...component) element {
		return element{comps: cs, r: r, restricted: r != unrestricted}
	}
	with := func(f func(*restriction)) restriction {
		r := unrestricted
		f(&r)
		return r
	}
	limits := !v211 && p.taxIncluded != ocpi.TaxIncludedYes
	limit := func(eurE4 int64) *priceLimit {
		excl := p.price(eurE4)
		incl := excl
		if p.vat > 0 {
			incl = roundToGran(excl*int64(100+p.vat), 100, p.cur.gran)
		}
		return &priceLimit{excl: excl, incl: incl}
	}

	// AC standard: start fee, a night energy rate wrapping past midnight,
	// a day rate, and a weekday daytime parking fee.
	ac := &tariff{id: "AC-STD", name: "AC standard", typ: typ}
	acEl := []element{el(unrestricted, comp(dimFlat, 3500, 1))}
	if v211 { // 2.1.1 has no wrap-around rule: the night is two windows
		acEl = append(acEl,
			el(with(func(r *restriction) { r.startMin, r.endMin = hm(0, 0), hm(7, 0) }), comp(dimEnergy, 2900, 100)),
			el(with(func(r *restriction) { r.startMin = hm(23, 0) }), comp(dimEnergy, 2900, 100)))
	} else {
		acEl = append(acEl,
			el(with(func(r *restriction) { r.startMin, r.endMin = hm(23, 0), hm(7, 0) }), comp(dimEnergy, 2900, 100)))
	}
	acEl = append(acEl,
		el(unrestricted, comp(dimEnergy, 3900, 100)),
		el(with(func(r *restriction) { r.startMin, r.endMin, r.days = hm(9, 0), hm(20, 0), monFri }), comp(dimParking, 30000, 300)))
	acV := tariffVersion{elements: acEl}
	if limits {
		acV.minPrice = limit(10000)
	}
	ac.versions = []tariffVersion{acV}

	// DC fast: cheaper energy while the car draws under 50 kW (2.2+ only,
	// 2.1.1 CDRs have no power dimension), a time fee after the first hour,
	// and an idle fee.
	dc := &tariff{id: "DC-FAST", name: "DC fast", typ: typ}
	var dcEl []element
	if !v211 {
		dcEl = append(dcEl, el(with(func(r *restriction) { r.maxPowerW = 50000 }), comp(dimEnergy, 4900, 1)))
	}
	dcEl = append(dcEl,
		el(unrestricted, comp(dimEnergy, 5900, 1)),
		el(with(func(r *restriction) { r.minDur = 3600 }), comp(dimTime, 12000, 60)),
		el(unrestricted, comp(dimParking, 90000, 60)))
	dcV := tariffVersion{elements: dcEl}
	if limits {
		dcV.maxPrice = limit(600000)
	}
	dc.versions = []tariffVersion{dcV}

	// Destination: time-based with a weekend rate, a weekday daytime rate,
	// cheap energy and evening parking until midnight.
	dest := &tariff{id: "AC-DEST", name: "Destination charging", typ: typ}
	destEl := []element{
		el(with(func(r *restriction) { r.days = satSun }), comp(dimTime, 15000, 900)),
		el(with(func(r *restriction) { r.startMin, r.endMin, r.days = hm(8, 0), hm(18, 0), monFri }), comp(dimTime, 20000, 300)),
		el(unrestricted, comp(dimTime, 10000, 300), comp(dimEnergy, 2500, 500)),
	}
	if v211 {
		destEl = append(destEl, el(with(func(r *restriction) { r.startMin = hm(18, 0) }), comp(dimParking, 10000, 900)))
	} else {
		destEl = append(destEl, el(with(func(r *restriction) { r.startMin, r.endMin = hm(18, 0), hm(0, 0) }), comp(dimParking, 10000, 900)))
	}
	destV := tariffVersion{elements: destEl}
	if limits {
		destV.maxPrice = limit(250000)
	}
	dest.versions = []tariffVersion{destV}

	ts := []*tariff{ac, dc, dest}
	changeDay := 7 + rng.IntN(15) // the new prices apply from local midnight of this day (0-based)
	for i, t := range ts {
		t.taxIncluded = p.taxIncluded
		t.versions[0].lastUpdated = monthStart - int64(10+rng.IntN(30))*86400 - int64(rng.IntN(86400))
		if i == 0 || rng.IntN(2) == 0 {
			pct := int64(4 + rng.IntN(9))
			v2 := bumpPrices(t.versions[0], pct, p.cur.gran)
			v2.lastUpdated = p.dayStart[changeDay]
			if !v211 {
				v2.startDateTime = v2.lastUpdated
			}
			t.versions = append(t.versions, v2)
		}
		t.finish(p)
	}
	return ts
}

// bumpPrices copies a version with every non-zero price raised by pct %.
func bumpPrices(v tariffVersion, pct, gran int64) tariffVersion {
	out := v
	out.elements = make([]element, len(v.elements))
	for i, e := range v.elements {
		cs := slices.Clone(e.comps)
		for j := range cs {
			if cs[j].price == 0 {
				continue
			}
			np := roundToGran(cs[j].price*(100+pct), 100, gran)
			if np == cs[j].price {
				np += gran
			}
			cs[j].price = np
		}
		out.elements[i] = element{comps: cs, r: e.r, restricted: e.restricted}
	}
	bump := func(l *priceLimit) *priceLimit {
		if l == nil {
			return nil
		}
		return &priceLimit{excl: roundToGran(l.excl*(100+pct), 100, gran), incl: roundToGran(l.incl*(100+pct), 100, gran)}
	}
	out.minPrice, out.maxPrice = bump(v.minPrice), bump(v.maxPrice)
	return out
}

// finish derives what period splitting needs from the first version.
func (t *tariff) finish(p *party) {
	t.derive()
	t.clockBounds = clockBoundaries(t.versions[0].elements, &p.zone, p.zone.from[0], p.rangeEnd)
}

// derive collects the dimensions, duration thresholds, power restrictions
// and VAT rate of the first version.
func (t *tariff) derive() {
	els := t.versions[0].elements
	for _, e := range els {
		for _, c := range e.comps {
			t.has[c.dim] = true
			if c.hasVAT {
				t.inclRate = c.vat
			}
		}
		if e.r.minDur >= 0 {
			t.durBounds = append(t.durBounds, e.r.minDur)
		}
		if e.r.maxDur >= 0 {
			t.durBounds = append(t.durBounds, e.r.maxDur)
		}
		if e.r.maxPowerW >= 0 {
			t.usesPower = true
		}
	}
	slices.Sort(t.durBounds)
	t.durBounds = slices.Compact(t.durBounds)
}

// clockBoundaries walks the range minute by minute (restrictions and zone
// transitions fall on whole minutes) and records every instant at which the
// set of elements whose clock restrictions match changes. Walking the local
// clock this way handles wrap-around windows, weekdays, and the repeated or
// skipped hour of a DST change without special cases.
func clockBoundaries(els []element, z *zoneTable, start, end int64) []int64 {
	any := false
	for _, e := range els {
		any = any || e.r.hasTimeOfDay()
	}
	if !any {
		return nil
	}
	sig := func(u int64) uint64 {
		m, wd := clock(z.local(u))
		var s uint64
		for i, e := range els {
			if e.r.hasTimeOfDay() && e.r.matchClock(m, wd) {
				s |= 1 << i
			}
		}
		return s
	}
	start -= floorMod(start, 60)
	var out []int64
	prev := sig(start)
	for u := start + 60; u < end; u += 60 {
		if s := sig(u); s != prev {
			out = append(out, u)
			prev = s
		}
	}
	return out
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
