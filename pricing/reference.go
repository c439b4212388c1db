package pricing

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// Options are the inputs of a price computation besides the CDR and tariffs.
type Options struct {
	// TimeZone, when set, is the local zone (the CLI's --tz); it wins over Zones.
	TimeZone *time.Location
	// Zones resolves the zone of the CDR's location (store, coordinates, country).
	// The embedded 2.1.1 time_zone and the single-zone country table are always
	// tried after it; when nothing answers the CDR is priced in UTC and flagged.
	Zones ZoneResolver
	// Policy is the partner's policy; the zero value means DefaultPolicy().
	Policy Policy
	// Readings are readings of open points the caller took before pricing
	// (ReadVersionInEffect when it chose the tariff version); the Result
	// lists them with its own.
	Readings []ReadingCode
}

// internalScale is the number of decimals every line amount is computed at
// (half away from zero) before any policy rounding: time amounts
// (price × seconds / 3600) do not terminate, so one fixed scale is needed,
// and the kernel's int64 fixed point uses the same one.
const internalScale = 10

// secondsPerHour and hundred are the reference's constant divisors, made
// once (a decimal is immutable, so shared by every goroutine).
var secondsPerHour, hundred = decimal.NewFromInt(3600), decimal.NewFromInt(100)

const (
	dFlat = iota
	dEnergy
	dTime
	dParking
	numDims
)

var dimNames = [numDims]string{ocpi.TariffDimFlat, ocpi.TariffDimEnergy, ocpi.TariffDimTime, ocpi.TariffDimParkingTime}

type phase uint8

const (
	phaseCharging phase = iota
	phaseReservation
)

// pick is the component chosen for one dimension of one period.
type pick struct {
	tariff, element, component int // tariff -1: none
	unverifiable               bool
}

var noPick = pick{tariff: -1, element: -1, component: -1}

type refPeriod struct {
	// idx is the index of the CDR period (sorted by start). A period with
	// reservation time and charging volumes becomes two parts with one idx:
	// its reservation part, then its charging part (mixed).
	idx         int
	mixed       bool
	start, end  time.Time
	local       time.Time
	tariff      int // index into tariffs, -1 none
	phase       phase
	energy      decimal.Decimal // kWh, negative clamped to 0
	energyRaw   decimal.Decimal
	timeS       int64
	parkS       int64
	resvS       int64
	parkRaw     decimal.Decimal
	minCur      decimal.NullDecimal
	maxCur      decimal.NullDecimal
	minPow      decimal.NullDecimal
	maxPow      decimal.NullDecimal
	picks       [numDims]pick
	billed      [numDims]decimal.Decimal // kWh for energy, seconds for time dims, 1 for flat
	extra       [numDims]decimal.Decimal
	stepApplied [numDims]int64
}

// hoursToSeconds converts a declared hour volume to whole seconds, nearest
// (half up): 0.0834 h is 300 s, not 300.24 s bumped to the next step.
func hoursToSeconds(h decimal.Decimal) int64 {
	if s, ok := hoursSecondsFast(h); ok {
		return s
	}
	return h.Mul(secondsPerHour).Round(0).IntPart()
}

// warnf records a warning about the CDR (period -1) or one of its periods.
func (r *Result) warnf(c Code, period int, format string, a ...any) {
	r.Warnings = append(r.Warnings, Warning{Code: c, Period: period, Message: fmt.Sprintf(format, a...)})
}

// Price recomputes one CDR with the given tariffs (the versions in effect, or
// the CDR's embedded ones) following digest §5. It is the exact decimal
// reference the kernel is checked against, and the per-CDR entry point of the
// CLI (it also records what Explain tells).
//
// Each period is priced with the tariff named by its tariff_id; a period
// without tariff_id uses the only tariff given (flagged). Several tariffs in
// one CDR share one step rounding, as elements do (a switch between tariffs is
// not a rounding point), and the session's min/max price is the one of the
// first period's tariff. Copies of one tariff id that price the same are one
// tariff.
//
// A CDR the tariffs cannot price gives a *NotPriceable error with a stable
// Reason: a tariff in another currency than the CDR (CheckCurrency), or two
// different tariffs under one id.
func Price(cdr *ocpi.CDR, tariffs []ocpi.Tariff, opts Options) (*Result, error) {
	if cdr == nil {
		return nil, errors.New("pricing: nil CDR")
	}
	if len(tariffs) == 0 {
		return nil, fmt.Errorf("pricing: CDR %s: no tariff to price with", cdr.ID)
	}
	pol := opts.Policy
	if pol.Mode == "" {
		pol = DefaultPolicy()
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	tariffs, merged, err := distinctTariffs(cdr.ID, tariffs)
	if err != nil {
		return nil, err
	}
	cur := tariffs[0].Currency
	for i := range tariffs {
		if err := CheckCurrency(cdr.ID, cdr.Currency, tariffs[i].ID, tariffs[i].Currency); err != nil {
			return nil, err
		}
		if !strings.EqualFold(tariffs[i].Currency, cur) {
			return nil, &NotPriceable{Reason: ReasonCurrencyMismatch, CDRID: cdr.ID,
				Message: fmt.Sprintf("tariff %s is in %s but tariff %s is in %s", tariffs[0].ID, strings.ToUpper(cur), tariffs[i].ID, strings.ToUpper(tariffs[i].Currency))}
		}
	}
	res := &Result{CDRID: cdr.ID, Currency: strings.ToUpper(cur), Policy: pol, Credit: cdr.Credit}
	for _, c := range opts.Readings {
		res.take(c)
	}
	if merged {
		res.take(ReadIdenticalCopies)
	}
	minor, ok := pol.minorUnits(cur)
	if !ok {
		res.warnf(WarnUnknownCurrency, -1, "currency %q is not ISO 4217: %d minor units assumed", cur, minor)
	}
	res.MinorUnits = minor
	for ti := range tariffs {
		lintTariff(&tariffs[ti], func(c Code, msg string) {
			res.warnf(c, -1, "tariff %s: %s", tariffs[ti].ID, msg)
			if c == WarnDuplicateComponent {
				res.take(ReadDuplicateComponent)
			}
		})
	}

	res.Zone = resolveZone(cdr, &opts)
	for _, bad := range res.Zone.Invalid {
		res.warnf(WarnZoneInvalid, -1, "%s is not an IANA zone name: priced in %s (%s) instead", bad, res.Zone.Name, res.Zone.Source)
	}
	switch res.Zone.Source {
	case ZoneUnresolved:
		res.warnf(WarnZoneUnresolved, -1, "no time zone for location %q (%s): priced in UTC", cdr.Location.ID, cdr.Location.Country)
	case ZoneCoordinates:
		if res.Zone.Note != "" {
			res.warnf(WarnZoneFromCoordinates, -1, "time zone %s from the coordinates (%s)", res.Zone.Name, res.Zone.Note)
		} else {
			res.warnf(WarnZoneFromCoordinates, -1, "time zone %s from the coordinates", res.Zone.Name)
		}
	case ZoneCountry:
		res.warnf(WarnZoneFromCountry, -1, "time zone %s from country %s", res.Zone.Name, cdr.Location.Country)
	}

	periods, nOrig := buildPeriods(cdr, tariffs, res.Zone.Loc, res)
	if msg := unpricedPeriods(cdr, tariffs); msg != "" {
		return nil, &NotPriceable{Reason: ReasonNoTariffApplies, CDRID: cdr.ID, Message: msg}
	}
	// The reservation expired without a session when the CDR has reservation
	// time and no period (or part of a mixed period) with charging volume
	// (digest §5.10, §5.11 decided).
	hasResv, hasCharging := false, false
	for i := range periods {
		p := &periods[i]
		if p.phase == phaseReservation {
			hasResv = true
		} else if p.energy.IsPositive() || p.timeS > 0 || p.parkS > 0 {
			hasCharging = true
		}
	}
	res.Expired = hasResv && !hasCharging
	if hasResv {
		res.take(ReadExpired)
	}
	if res.Expired {
		res.warnf(WarnExpiredReservation, -1, "reservation without a charging session: priced as expired")
	}

	// Select a component per dimension and period (part).
	res.trace = make([]periodTrace, nOrig)
	var vols []periodVolumes
	vols = make([]periodVolumes, nOrig)
	// The parts' evaluation points in one allocation, and each period's
	// choices made at their usual size (the trace keeps both), rather than
	// a point per part and a slice grown choice by choice.
	points := make([]evalPoint, len(periods))
	localTime := false
	energyBefore := decimal.Zero
	usedTariffs := map[int]bool{}
	for i := range periods {
		p := &periods[i]
		pt := &res.trace[p.idx]
		if len(pt.dims) == 0 && pt.phase == "" {
			pt.start, pt.end, pt.local = p.start, p.end, p.local
		}
		pt.phase = phaseName(p.phase)
		if p.mixed {
			pt.phase = phaseMixed
		}
		v := &vols[p.idx]
		v.energy, v.timeS, v.parkS, v.resvS = v.energy.Add(p.energy), v.timeS+p.timeS, v.parkS+p.parkS, v.resvS+p.resvS
		for d := range p.picks {
			p.picks[d] = noPick
		}
		if p.tariff >= 0 {
			t := &tariffs[p.tariff]
			usedTariffs[p.tariff] = true
			if t.Version == ocpi.V211 {
				res.take(ReadPerDimension)
			}
			pt.tariffID = t.ID
			ep := &points[i]
			*ep = evalPoint{
				local: p.local, energyBefore: energyBefore,
				durationSoFar: p.start.Unix() - cdr.StartDateTime.Unix(),
				minCurrent:    p.minCur, maxCurrent: p.maxCur, minPower: p.minPow, maxPower: p.maxPow,
			}
			if pt.dims == nil {
				pt.dims = make([]dimTrace, 0, numDims)
			}
			for d := 0; d < numDims; d++ {
				if p.phase == phaseReservation && (d == dEnergy || d == dParking) {
					continue
				}
				pk, rejected := selectComponent(t, d, p.phase, res.Expired, ep, func(r *ocpi.TariffRestrictions) {
					localTime = noteRestrictions(r, res) || localTime
				})
				if pk.element >= 0 {
					pk.tariff = p.tariff
				}
				p.picks[d] = pk
				pt.dims = append(pt.dims, dimTrace{dim: dimLabel(d, p.phase), phase: phaseName(p.phase), element: pk.element,
					rejected: rejected, at: ep})
			}
		}
		energyBefore = energyBefore.Add(p.energy)
	}
	for i := range res.trace {
		res.trace[i].volumes = vols[i] // formatted by Explain only: reconcile prices many CDRs it never explains
	}
	if localTime && res.Zone.Source != ZoneGiven {
		res.take(ReadZone)
	}
	if len(usedTariffs) > 1 {
		res.take(ReadStepAcrossTariffs)
	}

	flagBoundaries(cdr, periods, tariffs, res.Zone.Loc, res)

	// FLAT: once per phase, in the first period of the phase with an active FLAT.
	for _, ph := range []phase{phaseCharging, phaseReservation} {
		first := -1
		for i := range periods {
			p := &periods[i]
			if p.phase != ph || p.picks[dFlat].tariff < 0 {
				continue
			}
			if first < 0 {
				first = i
				p.billed[dFlat] = decimal.NewFromInt(1)
				continue
			}
			f := periods[first].picks[dFlat]
			if p.picks[dFlat].tariff != f.tariff || p.picks[dFlat].element != f.element {
				res.warnf(WarnFlatChanged, p.idx, "FLAT of element %d active after the one of element %d: not charged again", p.picks[dFlat].element, f.element)
			}
		}
	}

	applySteps(periods, tariffs, pol.Step, res)

	// A power or current restriction read as matching for want of the
	// dimension matters only where the element so chosen bills a quantity:
	// a volume of its dimension, or the phase's one FLAT (digest §5.4).
	for i := range periods {
		p := &periods[i]
		for d := 0; d < numDims; d++ {
			if pk := p.picks[d]; pk.tariff >= 0 && pk.unverifiable && p.billed[d].IsPositive() {
				res.warnf(WarnUnverifiable, p.idx, "%s priced by element %d, whose power/current restriction the period cannot verify (no such dimension): read as matching",
					dimLabel(d, p.phase), pk.element)
			}
		}
	}

	// Lines: about two per part.
	res.Lines = make([]Line, 0, 2*len(periods))
	for i := range periods {
		p := &periods[i]
		for d := 0; d < numDims; d++ {
			pk := p.picks[d]
			if pk.tariff < 0 || p.billed[d].IsZero() {
				continue
			}
			t := &tariffs[pk.tariff]
			el := &t.Elements[pk.element]
			pc := &el.PriceComponents[pk.component]
			ln := Line{
				Period: p.idx, Phase: phaseName(p.phase), Dimension: dimLabel(d, p.phase), Bucket: bucketOf(d, p.phase, el),
				TariffID: t.ID, Element: pk.element, Component: pk.component,
				UnitPrice: pc.Price, VAT: pc.VAT, Billed: p.billed[d], Extra: p.extra[d], StepSize: p.stepApplied[d],
			}
			ln.Quantity = ln.Billed.Sub(ln.Extra)
			var base decimal.Decimal
			switch d {
			case dFlat:
				ln.Unit = "session"
				base = pc.Price.Round(internalScale)
				res.take(ReadFlatOncePerPhase)
				res.take(ReadFlatBucket)
			case dEnergy:
				ln.Unit = "kWh"
				base = ln.Billed.Mul(pc.Price).Round(internalScale)
			default:
				ln.Unit = "s"
				base = pc.Price.Mul(ln.Billed).DivRound(secondsPerHour, internalScale)
			}
			var gap Sides
			ln.Amount, gap = applyTax(base, pc.VAT, t)
			res.noteTax(t, pc.VAT.Valid, gap, p.idx)
			if pol.Level == RoundLine {
				ln.Amount = Amount{roundMinor(ln.Amount.Excl, minor, pol.Mode), roundMinor(ln.Amount.Incl, minor, pol.Mode)}
			}
			res.Lines = append(res.Lines, ln)
		}
	}

	// Totals.
	var buckets [numBuckets]Amount
	for b := range buckets {
		buckets[b] = Amount{decimal.Zero, decimal.Zero}
	}
	for _, ln := range res.Lines {
		buckets[ln.Bucket] = buckets[ln.Bucket].Add(ln.Amount)
	}
	total := Amount{decimal.Zero, decimal.Zero}
	for _, b := range buckets {
		total = total.Add(b)
	}
	limitTariff := -1
	for i := range periods {
		if periods[i].tariff >= 0 {
			limitTariff = periods[i].tariff
			break
		}
	}
	if limitTariff >= 0 {
		total = clamp(total, &tariffs[limitTariff], res)
	}
	res.take(ReadRounding)
	if pol.Level == RoundTotal {
		for b := range buckets {
			buckets[b] = Amount{roundMinor(buckets[b].Excl, minor, pol.Mode), roundMinor(buckets[b].Incl, minor, pol.Mode)}
		}
		total = Amount{roundMinor(total.Excl, minor, pol.Mode), roundMinor(total.Incl, minor, pol.Mode)}
	}
	tt := &res.Totals
	tt.TotalFixedCost, tt.TotalEnergyCost, tt.TotalTimeCost = buckets[BucketFixed], buckets[BucketEnergy], buckets[BucketTime]
	tt.TotalParkingCost, tt.TotalReservationCost = buckets[BucketParking], buckets[BucketReservation]
	sum := Amount{decimal.Zero, decimal.Zero}
	for _, b := range buckets {
		sum = sum.Add(b)
	}
	tt.Adjustment = Amount{total.Excl.Sub(sum.Excl), total.Incl.Sub(sum.Incl)}
	tt.TotalCost = total
	if cdr.Credit {
		// Only total_cost carries the negated amounts on a credit CDR (§3.5).
		tt.TotalCost = Amount{total.Excl.Neg(), total.Incl.Neg()}
		res.take(ReadCredit)
	}
	tt.TotalEnergy, tt.TotalParkingTime = decimal.Zero, decimal.Zero
	for i := range periods {
		tt.TotalEnergy = tt.TotalEnergy.Add(periods[i].energyRaw)
		tt.TotalParkingTime = tt.TotalParkingTime.Add(periods[i].parkRaw)
	}
	tt.TotalTime = decimal.NewFromInt(cdr.EndDateTime.Unix()-cdr.StartDateTime.Unix()).DivRound(secondsPerHour, 6)
	return res, nil
}

// periodVolumes are a CDR period's volumes, as Explain shows them.
type periodVolumes struct {
	energy              decimal.Decimal
	timeS, parkS, resvS int64
}

const phaseMixed = "reservation and charging"

func phaseName(p phase) string {
	if p == phaseReservation {
		return "reservation"
	}
	return "charging"
}

func dimLabel(d int, p phase) string {
	if p == phaseReservation && d == dTime {
		return ocpi.DimReservationTime
	}
	return dimNames[d]
}

// bucketOf places a line in its CDR sub-total (digest §3.6, decided): a
// charging FLAT is parking cost only when its element prices nothing but
// PARKING_TIME besides it; otherwise it is a start fee (fixed cost).
func bucketOf(d int, p phase, el *ocpi.TariffElement) Bucket {
	if p == phaseReservation {
		return BucketReservation
	}
	switch d {
	case dEnergy:
		return BucketEnergy
	case dTime:
		return BucketTime
	case dParking:
		return BucketParking
	}
	return flatBucket(el)
}

// flatBucket is the sub-total of a charging FLAT of the element (§3.6).
func flatBucket(el *ocpi.TariffElement) Bucket {
	parking, other := false, false
	for _, pc := range el.PriceComponents {
		switch strings.ToUpper(pc.Type) {
		case ocpi.TariffDimParkingTime:
			parking = true
		case ocpi.TariffDimEnergy, ocpi.TariffDimTime:
			other = true
		}
	}
	if parking && !other {
		return BucketParking
	}
	return BucketFixed
}

// taxRule says how a component's lines are taxed (digest §5.8) and which
// side of their amounts its tariff leaves unknown. Both pricing paths use it.
//
//   - tax_included N/A: no taxes, incl = excl.
//   - tax_included YES: the price is after taxes; before taxes is derived
//     with the vat, and unknown without one.
//   - otherwise (NO, absent, versions without the field): the price is
//     before taxes; incl adds the vat. Without a vat, a 2.2 tariff has no VAT
//     (absent is not 0 %), while a 2.3.0 tariff's taxes are not stated and a
//     2.1.1 tariff's VAT is outside OCPI: after taxes is unknown.
func taxRule(t *ocpi.Tariff, hasVAT bool) (mode uint8, unknown Sides) {
	switch strings.ToUpper(t.TaxIncluded) {
	case ocpi.TaxIncludedNA:
		return taxNone, 0
	case ocpi.TaxIncludedYes:
		if !hasVAT {
			return taxGross, SideExcl
		}
		return taxGross, 0
	}
	if !hasVAT && (t.Version == ocpi.V211 || t.Version == ocpi.V230) {
		return taxNet, SideIncl
	}
	return taxNet, 0
}

// applyTax turns a computed line amount into before/after tax (taxRule). An
// unknown side holds the other side's amount: incl = excl is a lower bound,
// excl = incl an upper one.
func applyTax(computed decimal.Decimal, vat decimal.NullDecimal, t *ocpi.Tariff) (Amount, Sides) {
	mode, unknown := taxRule(t, vat.Valid)
	switch {
	case mode == taxNone || !vat.Valid:
		return Amount{computed, computed}, unknown
	case mode == taxGross:
		return Amount{computed.Mul(hundred).DivRound(hundred.Add(vat.Decimal), internalScale), computed}, 0
	}
	return Amount{computed, computed.Mul(hundred.Add(vat.Decimal)).DivRound(hundred, internalScale)}, 0
}

// noteTax records the tax reading a line took, and a side its tariff leaves
// unknown (one warning per side).
func (r *Result) noteTax(t *ocpi.Tariff, hasVAT bool, gap Sides, period int) {
	mode, _ := taxRule(t, hasVAT)
	switch {
	case gap != 0:
		r.take(ReadTaxesUnknown)
	case mode == taxGross:
		r.take(ReadTaxIncluded)
	case mode == taxNet && !hasVAT:
		r.take(ReadVATAbsent)
	}
	if gap&^r.NotComputable == 0 {
		return
	}
	r.NotComputable |= gap
	switch {
	case gap == SideExcl:
		r.warnf(WarnTaxesUnknown, period, "tariff %s prices include taxes (tax_included YES) at a rate it does not state: the amounts before taxes are not computable, compare after taxes only", t.ID)
	case t.Version == ocpi.V211:
		r.warnf(WarnTaxesUnknown, period, "tariff %s is OCPI 2.1.1, whose prices exclude VAT and state no rate: taxes are not computable, compare before taxes only", t.ID)
	default:
		r.warnf(WarnTaxesUnknown, period, "tariff %s states no tax rate (tax_included %s, no vat): taxes are not computable, compare before taxes only", t.ID, orDash(t.TaxIncluded))
	}
}

// clamp applies min_price then max_price, separately to the totals before and
// after tax (digest §5.7). A bound without its incl value gives an incl bound
// in proportion to the session's own tax: bound.excl × incl / excl.
func clamp(total Amount, t *ocpi.Tariff, res *Result) Amount {
	derived := func(bound decimal.Decimal) decimal.Decimal {
		if total.Excl.IsZero() {
			return bound
		}
		return bound.Mul(total.Incl).DivRound(total.Excl, internalScale)
	}
	out := total
	if t.MinPrice != nil || t.MaxPrice != nil {
		res.take(ReadClamp)
	}
	if l := t.MinPrice; l != nil {
		inclBound := l.InclVAT.Decimal
		if !l.InclVAT.Valid {
			inclBound = derived(l.ExclVAT)
			res.take(ReadClampInclDerived)
			res.warnf(WarnLimitInclDerived, -1, "min_price of tariff %s has no incl value: %s used (the bound times the session's incl/excl ratio)", t.ID, inclBound)
		}
		if out.Excl.LessThan(l.ExclVAT) || out.Incl.LessThan(inclBound) {
			res.warnf(WarnMinPriceApplied, -1, "min_price %s / %s of tariff %s applied", l.ExclVAT, inclBound, t.ID)
		}
		out.Excl = decimal.Max(out.Excl, l.ExclVAT)
		out.Incl = decimal.Max(out.Incl, inclBound)
	}
	if l := t.MaxPrice; l != nil {
		inclBound := l.InclVAT.Decimal
		if !l.InclVAT.Valid {
			inclBound = derived(l.ExclVAT)
			res.take(ReadClampInclDerived)
			res.warnf(WarnLimitInclDerived, -1, "max_price of tariff %s has no incl value: %s used (the bound times the session's incl/excl ratio)", t.ID, inclBound)
		}
		if out.Excl.GreaterThan(l.ExclVAT) || out.Incl.GreaterThan(inclBound) {
			res.warnf(WarnMaxPriceApplied, -1, "max_price %s / %s of tariff %s applied", l.ExclVAT, inclBound, t.ID)
		}
		out.Excl = decimal.Min(out.Excl, l.ExclVAT)
		out.Incl = decimal.Min(out.Incl, inclBound)
	}
	return out
}

// roundMinor rounds to the currency's minor units in the policy's mode.
func roundMinor(d decimal.Decimal, minor int, mode RoundingMode) decimal.Decimal {
	if mode == HalfEven {
		return d.RoundBank(int32(minor))
	}
	return d.Round(int32(minor))
}

// selectComponent walks the elements in list order for one dimension
// (digest §5.3, §5.10) and records why each earlier element did not price it.
// note is called with the restrictions of every element it evaluates.
func selectComponent(t *ocpi.Tariff, d int, ph phase, expired bool, ep *evalPoint, note func(*ocpi.TariffRestrictions)) (pick, []rejection) {
	var rejected []rejection
	passes := []string{""}
	if ph == phaseReservation {
		passes = []string{ocpi.ReservationReservation}
		if expired {
			passes = []string{ocpi.ReservationExpires, ocpi.ReservationReservation}
		}
	}
	for _, want := range passes {
		for ei := range t.Elements {
			el := &t.Elements[ei]
			ci := componentIndex(el, dimNames[d])
			if ci < 0 {
				continue
			}
			kind := ""
			if el.Restrictions != nil {
				kind = strings.ToUpper(el.Restrictions.Reservation)
			}
			if kind != want {
				if len(passes) == 1 || want == passes[len(passes)-1] {
					rejected = append(rejected, rejection{element: ei, kind: kind, phase: ph, expired: expired})
				}
				continue
			}
			note(el.Restrictions)
			failed, unverifiable := matchRestrictions(el.Restrictions, ep)
			if failed != noFailure {
				rejected = append(rejected, rejection{element: ei, restrictions: el.Restrictions, failed: failed})
				continue
			}
			return pick{tariff: 0, element: ei, component: ci, unverifiable: unverifiable}, rejected
		}
	}
	return noPick, rejected
}

// rejection is an element that did not price a dimension: its reservation
// kind does not fit the phase (failed is noFailure), or a restriction
// failed. Explain words it (why).
type rejection struct {
	element      int
	restrictions *ocpi.TariffRestrictions
	failed       restrictionCheck
	kind         string // the element's reservation kind
	phase        phase
	expired      bool
}

// why says why the element was skipped, at the evaluation point at.
func (x rejection) why(at *evalPoint) string {
	reason := phaseMismatch(x.kind, x.phase, x.expired)
	if x.failed != noFailure {
		reason = describe(x.failed, x.restrictions, at)
	}
	return fmt.Sprintf("element %d: %s", x.element, reason)
}

func phaseMismatch(kind string, ph phase, expired bool) string {
	switch {
	case ph == phaseCharging:
		return "reservation element (" + kind + ") does not price a charging period"
	case kind == "":
		return "charging element does not price reservation time"
	case kind == ocpi.ReservationExpires && !expired:
		return "RESERVATION_EXPIRES applies only to an expired reservation"
	default:
		return "reservation kind " + kind + " not applicable"
	}
}

// componentIndex returns the first component of the type in the element.
func componentIndex(el *ocpi.TariffElement, typ string) int {
	for i := range el.PriceComponents {
		if strings.EqualFold(el.PriceComponents[i].Type, typ) {
			return i
		}
	}
	return -1
}

// lintTariff reports element shapes the engine has to pick a reading for.
func lintTariff(t *ocpi.Tariff, warn func(Code, string)) {
	for ei := range t.Elements {
		el := &t.Elements[ei]
		seen := map[string]bool{}
		for _, pc := range el.PriceComponents {
			k := strings.ToUpper(pc.Type)
			if seen[k] {
				warn(WarnDuplicateComponent, fmt.Sprintf("element %d has two %s components: the first prices", ei, k))
			}
			seen[k] = true
		}
		if r := el.Restrictions; r != nil && r.StartTime != "" && r.StartTime == r.EndTime && r.StartTime != "00:00" {
			warn(WarnTimeWindowAllDay, fmt.Sprintf("element %d has start_time == end_time %s: read as the whole day", ei, r.StartTime))
		}
	}
}

// noteRestrictions records the readings evaluating the restrictions takes,
// and reports whether they depend on local time.
func noteRestrictions(r *ocpi.TariffRestrictions, res *Result) (localTime bool) {
	if r == nil {
		return false
	}
	times := r.StartTime != "" || r.EndTime != ""
	dates := r.StartDate != "" || r.EndDate != ""
	if times {
		res.take(ReadTimeWindow)
	}
	if len(r.DayOfWeek) > 0 {
		res.take(ReadDayOfWeek)
	}
	if times && dates {
		res.take(ReadDateAndTime)
	}
	if r.MinDuration != nil || r.MaxDuration != nil {
		res.take(ReadDuration)
	}
	if r.MinPower.Valid || r.MaxPower.Valid || r.MinCurrent.Valid || r.MaxCurrent.Valid {
		res.take(ReadPowerCurrent)
	}
	return times || dates || len(r.DayOfWeek) > 0
}

// buildPeriods sorts the periods, derives their ends, local times, tariffs and
// volumes. A CDR without periods gets one built from its totals. A period
// with reservation time and charging volumes (ENERGY, TIME or PARKING_TIME)
// is irregular but real (digest §5.11, decided): it becomes two parts, its
// reservation time priced in the reservation phase and the rest in the
// charging phase. It returns the parts and the number of CDR periods.
func buildPeriods(cdr *ocpi.CDR, tariffs []ocpi.Tariff, loc *time.Location, res *Result) ([]refPeriod, int) {
	src := cdr.ChargingPeriods
	if len(src) == 0 {
		res.warnf(WarnPeriodsSynthesized, -1, "CDR has no charging periods: one period built from total_energy, total_time and total_parking_time")
		dims := []ocpi.CDRDimension{{Type: ocpi.DimEnergy, Volume: cdr.TotalEnergy}}
		charging := cdr.TotalTime
		if cdr.TotalParkingTime.Valid {
			charging = charging.Sub(cdr.TotalParkingTime.Decimal)
			dims = append(dims, ocpi.CDRDimension{Type: ocpi.DimParkingTime, Volume: cdr.TotalParkingTime.Decimal})
		}
		dims = append(dims, ocpi.CDRDimension{Type: ocpi.DimTime, Volume: charging})
		src = []ocpi.ChargingPeriod{{StartDateTime: cdr.StartDateTime, Dimensions: dims}}
	}
	order := make([]int, len(src))
	for i := range order {
		order[i] = i
	}
	sorted := sort.SliceIsSorted(order, func(a, b int) bool { return src[order[a]].StartDateTime.Before(src[order[b]].StartDateTime) })
	if !sorted {
		res.warnf(WarnPeriodsUnsorted, -1, "charging periods not in time order: sorted by start_date_time")
		sort.SliceStable(order, func(a, b int) bool { return src[order[a]].StartDateTime.Before(src[order[b]].StartDateTime) })
	}
	out := make([]refPeriod, 0, len(src))
	for k, oi := range order {
		cp := &src[oi]
		p := refPeriod{idx: k, start: cp.StartDateTime}
		if k+1 < len(order) {
			p.end = src[order[k+1]].StartDateTime
		} else {
			p.end = cdr.EndDateTime
		}
		p.local = cp.StartDateTime.In(loc)
		var assumed bool
		p.tariff, assumed = periodTariff(cp.TariffID, tariffs)
		if assumed { // a period with no tariff (-1) makes Price refuse the CDR: unpricedPeriods
			res.take(ReadTariffIDAssumed)
			if cp.TariffID == "" {
				res.warnf(WarnTariffIDAssumed, k, "period has no tariff_id: priced with the only tariff given, %s", tariffs[0].ID)
			} else {
				res.warnf(WarnTariffIDAssumed, k, "period names tariff %q: priced with the only tariff given, %s", cp.TariffID, tariffs[0].ID)
			}
		}
		p.energy, p.energyRaw, p.parkRaw = decimal.Zero, decimal.Zero, decimal.Zero
		resv := false
		for _, dim := range cp.Dimensions {
			v := dim.Volume
			switch strings.ToUpper(dim.Type) {
			case ocpi.DimEnergy:
				p.energyRaw = p.energyRaw.Add(v)
			case ocpi.DimTime:
				p.timeS += nonNegSeconds(v, k, dim.Type, res)
			case ocpi.DimParkingTime:
				p.parkRaw = p.parkRaw.Add(v)
				p.parkS += nonNegSeconds(v, k, dim.Type, res)
			case ocpi.DimReservationTime:
				p.resvS += nonNegSeconds(v, k, dim.Type, res)
				resv = true
			case ocpi.DimMinCurrent:
				p.minCur = decimal.NewNullDecimal(v)
			case ocpi.DimMaxCurrent:
				p.maxCur = decimal.NewNullDecimal(v)
			case ocpi.DimMinPower:
				p.minPow = decimal.NewNullDecimal(v)
			case ocpi.DimMaxPower:
				p.maxPow = decimal.NewNullDecimal(v)
			case ocpi.DimFlat:
				// 2.1.1: the fee applied; the tariff's FLAT prices it.
			default:
				res.warnf(WarnUnknownDimension, k, "dimension %s not priced", dim.Type)
			}
		}
		p.energy = p.energyRaw
		if p.energyRaw.IsNegative() {
			res.take(ReadNegativeEnergy)
			res.warnf(WarnNegativeVolume, k, "ENERGY %s kWh: priced as 0 (V2G pricing is undefined)", p.energyRaw)
			p.energy = decimal.Zero
		}
		if length := p.end.Unix() - p.start.Unix(); p.timeS+p.parkS+p.resvS > length+60 {
			res.warnf(WarnVolumeExceedsPeriod, k, "time volumes %d s exceed the period's %d s", p.timeS+p.parkS+p.resvS, length)
		}
		if p.timeS > 0 || p.parkS > 0 || p.resvS > 0 {
			res.take(ReadDeclaredVolumes)
		}
		if !resv {
			out = append(out, p)
			continue
		}
		if !p.energy.IsPositive() && p.timeS == 0 && p.parkS == 0 {
			p.phase = phaseReservation
			out = append(out, p)
			continue
		}
		res.take(ReadMixedPeriod)
		res.warnf(WarnMixedPeriod, k, "the period has RESERVATION_TIME and ENERGY, TIME or PARKING_TIME: its reservation time is priced as reservation, the rest as charging")
		r := p
		r.phase, r.mixed = phaseReservation, true
		r.energy, r.energyRaw, r.parkRaw, r.timeS, r.parkS = decimal.Zero, decimal.Zero, decimal.Zero, 0, 0
		p.mixed, p.resvS = true, 0
		out = append(out, r, p)
	}
	return out, len(src)
}

func nonNegSeconds(h decimal.Decimal, k int, typ string, res *Result) int64 {
	if h.IsNegative() {
		res.warnf(WarnNegativeVolume, k, "%s %s h: priced as 0", typ, h)
		return 0
	}
	return hoursToSeconds(h)
}

// unpricedPeriods says which periods no tariff given applies to (no
// tariff_id among several tariffs, or a tariff_id not given among several),
// or "". Such a CDR is not priceable: pricing the other periods alone would
// give an amount the CPO's tariffs never gave (a connector with two
// tariffs priced 0.00 against the whole billed amount).
func unpricedPeriods(cdr *ocpi.CDR, tariffs []ocpi.Tariff) string {
	ids := make([]string, len(tariffs))
	for i := range tariffs {
		ids[i] = tariffs[i].ID
	}
	given := strings.Join(ids, ", ")
	periods := cdr.ChargingPeriods
	if len(periods) == 0 { // the one buildPeriods makes from the totals
		periods = []ocpi.ChargingPeriod{{StartDateTime: cdr.StartDateTime}}
	}
	var first string
	n := 0
	for k := range periods {
		cp := &periods[k]
		if ti, _ := periodTariff(cp.TariffID, tariffs); ti >= 0 {
			continue
		}
		n++
		if first != "" {
			continue
		}
		if cp.TariffID == "" {
			first = fmt.Sprintf("a period starting %s has no tariff_id and %d tariffs were given (%s): which one applies cannot be told",
				ocpi.FormatDateTime(cp.StartDateTime), len(tariffs), given)
		} else {
			first = fmt.Sprintf("a period starting %s names tariff %q, not among the tariffs given (%s)",
				ocpi.FormatDateTime(cp.StartDateTime), cp.TariffID, given)
		}
	}
	if n > 1 {
		first += fmt.Sprintf(" (%d periods in all)", n)
	}
	return first
}

// periodTariff finds the period's tariff by id. A period without tariff_id,
// or naming a tariff that is not there, uses the only tariff given (assumed
// true); with several tariffs it has none (-1: the CDR is not priceable).
func periodTariff(id string, tariffs []ocpi.Tariff) (index int, assumed bool) {
	for i := range tariffs {
		if id != "" && ocpi.Key(tariffs[i].ID) == ocpi.Key(id) {
			return i, false
		}
	}
	if len(tariffs) == 1 {
		return 0, true
	}
	return -1, false
}
