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
}

// internalScale is the number of decimals every line amount is computed at
// (half away from zero) before any policy rounding: time amounts
// (price × seconds / 3600) do not terminate, so one fixed scale is needed,
// and the kernel's int64 fixed point uses the same one.
const internalScale = 10

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
	return h.Mul(decimal.NewFromInt(3600)).Round(0).IntPart()
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
// first period's tariff.
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
	cur := tariffs[0].Currency
	for i := range tariffs {
		if !strings.EqualFold(tariffs[i].Currency, cur) {
			return nil, fmt.Errorf("pricing: CDR %s: tariffs in %s and %s", cdr.ID, cur, tariffs[i].Currency)
		}
	}
	res := &Result{CDRID: cdr.ID, Currency: strings.ToUpper(cur), Policy: pol, Credit: cdr.Credit}
	warn := func(c Code, period int, format string, a ...any) {
		res.Warnings = append(res.Warnings, Warning{Code: c, Period: period, Message: fmt.Sprintf(format, a...)})
	}
	minor, ok := pol.minorUnits(cur)
	if !ok {
		warn(WarnUnknownCurrency, -1, "currency %q is not ISO 4217: %d minor units assumed", cur, minor)
	}
	res.MinorUnits = minor
	if cdr.Currency != "" && !strings.EqualFold(cdr.Currency, cur) {
		warn(WarnCurrencyMismatch, -1, "CDR currency %s, tariff currency %s", cdr.Currency, cur)
	}
	for ti := range tariffs {
		lintTariff(&tariffs[ti], func(c Code, msg string) { warn(c, -1, "tariff %s: %s", tariffs[ti].ID, msg) })
	}

	res.Zone = resolveZone(cdr, &opts)
	switch res.Zone.Source {
	case ZoneUnresolved:
		warn(WarnZoneUnresolved, -1, "no time zone for location %q (%s): priced in UTC", cdr.Location.ID, cdr.Location.Country)
	case ZoneCoordinates:
		if res.Zone.Note != "" {
			warn(WarnZoneFromCoordinates, -1, "time zone %s from the coordinates (%s)", res.Zone.Name, res.Zone.Note)
		} else {
			warn(WarnZoneFromCoordinates, -1, "time zone %s from the coordinates", res.Zone.Name)
		}
	case ZoneCountry:
		warn(WarnZoneFromCountry, -1, "time zone %s from country %s", res.Zone.Name, cdr.Location.Country)
	}

	periods := buildPeriods(cdr, tariffs, res.Zone.Loc, warn)
	// The reservation expired without a session when the CDR has reservation
	// time and no charging period with any volume (digest §5.10).
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
	if res.Expired {
		warn(WarnExpiredReservation, -1, "reservation without a charging session: priced as expired")
	}

	// Select a component per dimension and period.
	energyBefore := decimal.Zero
	for i := range periods {
		p := &periods[i]
		pt := periodTrace{start: p.start, end: p.end, local: p.local, phase: phaseName(p.phase)}
		pt.volumes = fmt.Sprintf("energy %s kWh, time %d s, parking %d s, reservation %d s", p.energy, p.timeS, p.parkS, p.resvS)
		for d := range p.picks {
			p.picks[d] = noPick
		}
		if p.tariff >= 0 {
			t := &tariffs[p.tariff]
			pt.tariffID = t.ID
			ep := evalPoint{
				local: p.local, energyBefore: energyBefore,
				durationSoFar: p.start.Unix() - cdr.StartDateTime.Unix(),
				minCurrent:    p.minCur, maxCurrent: p.maxCur, minPower: p.minPow, maxPower: p.maxPow,
			}
			for d := 0; d < numDims; d++ {
				if p.phase == phaseReservation && (d == dEnergy || d == dParking) {
					continue
				}
				pk, rejected := selectComponent(t, d, p.phase, res.Expired, &ep)
				if pk.element >= 0 {
					pk.tariff = p.tariff
					if pk.unverifiable {
						warn(WarnUnverifiable, i, "%s element %d has a power/current restriction the period cannot verify: treated as matching", dimNames[d], pk.element)
					}
				}
				p.picks[d] = pk
				pt.dims = append(pt.dims, dimTrace{dim: dimLabel(d, p.phase), element: pk.element, rejected: rejected})
			}
		}
		energyBefore = energyBefore.Add(p.energy)
		res.trace = append(res.trace, pt)
	}

	flagBoundaries(cdr, periods, tariffs, res.Zone.Loc, warn)

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
				warn(WarnFlatChanged, i, "FLAT of element %d active after the one of element %d: not charged again", p.picks[dFlat].element, f.element)
			}
		}
	}

	applySteps(periods, tariffs, pol.Step, res)

	// Lines.
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
				Period: i, Dimension: dimLabel(d, p.phase), Bucket: bucketOf(d, p.phase, el),
				TariffID: t.ID, Element: pk.element, Component: pk.component,
				UnitPrice: pc.Price, VAT: pc.VAT, Billed: p.billed[d], Extra: p.extra[d], StepSize: p.stepApplied[d],
			}
			ln.Quantity = ln.Billed.Sub(ln.Extra)
			var base decimal.Decimal
			switch d {
			case dFlat:
				ln.Unit = "session"
				base = pc.Price.Round(internalScale)
			case dEnergy:
				ln.Unit = "kWh"
				base = ln.Billed.Mul(pc.Price).Round(internalScale)
			default:
				ln.Unit = "s"
				base = pc.Price.Mul(ln.Billed).DivRound(decimal.NewFromInt(3600), internalScale)
			}
			ln.Amount = applyTax(base, pc.VAT, t, func() {
				if !res.HasWarning(WarnTaxesUnknown) {
					warn(WarnTaxesUnknown, i, "tariff %s taxes apply but component has no vat: incl = excl", t.ID)
				}
			})
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
		total = clamp(total, &tariffs[limitTariff], func(c Code, msg string) { warn(c, -1, "%s", msg) })
	}
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
	}
	tt.TotalEnergy, tt.TotalParkingTime = decimal.Zero, decimal.Zero
	for i := range periods {
		tt.TotalEnergy = tt.TotalEnergy.Add(periods[i].energyRaw)
		tt.TotalParkingTime = tt.TotalParkingTime.Add(periods[i].parkRaw)
	}
	tt.TotalTime = decimal.NewFromInt(cdr.EndDateTime.Unix()-cdr.StartDateTime.Unix()).DivRound(decimal.NewFromInt(3600), 6)
	return res, nil
}

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

// bucketOf places a line in its CDR sub-total (digest §3.6).
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
	for _, pc := range el.PriceComponents {
		if pc.Type == ocpi.TariffDimParkingTime {
			return BucketParking
		}
	}
	return BucketFixed
}

// applyTax turns a computed line amount into before/after tax (digest §5.8).
func applyTax(computed decimal.Decimal, vat decimal.NullDecimal, t *ocpi.Tariff, unknown func()) Amount {
	hundred := decimal.NewFromInt(100)
	switch strings.ToUpper(t.TaxIncluded) {
	case ocpi.TaxIncludedNA:
		return Amount{computed, computed}
	case ocpi.TaxIncludedYes:
		if !vat.Valid {
			unknown()
			return Amount{computed, computed}
		}
		return Amount{computed.Mul(hundred).DivRound(hundred.Add(vat.Decimal), internalScale), computed}
	}
	if !vat.Valid {
		if t.Version == ocpi.V230 && strings.EqualFold(t.TaxIncluded, ocpi.TaxIncludedNo) {
			unknown()
		}
		return Amount{computed, computed}
	}
	return Amount{computed, computed.Mul(hundred.Add(vat.Decimal)).DivRound(hundred, internalScale)}
}

// clamp applies min_price then max_price, separately to the totals before and
// after tax (digest §5.7). A bound without its incl value gives an incl bound
// in proportion to the session's own tax: bound.excl × incl / excl.
func clamp(total Amount, t *ocpi.Tariff, warn func(Code, string)) Amount {
	derived := func(bound decimal.Decimal) decimal.Decimal {
		if total.Excl.IsZero() {
			return bound
		}
		return bound.Mul(total.Incl).DivRound(total.Excl, internalScale)
	}
	out := total
	if l := t.MinPrice; l != nil {
		inclBound := l.InclVAT.Decimal
		if !l.InclVAT.Valid {
			inclBound = derived(l.ExclVAT)
			warn(WarnLimitInclDerived, fmt.Sprintf("min_price of tariff %s has no incl value: %s used", t.ID, inclBound))
		}
		if out.Excl.LessThan(l.ExclVAT) || out.Incl.LessThan(inclBound) {
			warn(WarnMinPriceApplied, fmt.Sprintf("min_price %s / %s of tariff %s applied", l.ExclVAT, inclBound, t.ID))
		}
		out.Excl = decimal.Max(out.Excl, l.ExclVAT)
		out.Incl = decimal.Max(out.Incl, inclBound)
	}
	if l := t.MaxPrice; l != nil {
		inclBound := l.InclVAT.Decimal
		if !l.InclVAT.Valid {
			inclBound = derived(l.ExclVAT)
			warn(WarnLimitInclDerived, fmt.Sprintf("max_price of tariff %s has no incl value: %s used", t.ID, inclBound))
		}
		if out.Excl.GreaterThan(l.ExclVAT) || out.Incl.GreaterThan(inclBound) {
			warn(WarnMaxPriceApplied, fmt.Sprintf("max_price %s / %s of tariff %s applied", l.ExclVAT, inclBound, t.ID))
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
func selectComponent(t *ocpi.Tariff, d int, ph phase, expired bool, ep *evalPoint) (pick, []string) {
	var rejected []string
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
					rejected = append(rejected, fmt.Sprintf("element %d: %s", ei, phaseMismatch(kind, ph, expired)))
				}
				continue
			}
			ok, why, unverifiable := matchRestrictions(el.Restrictions, ep)
			if !ok {
				rejected = append(rejected, fmt.Sprintf("element %d: %s", ei, why))
				continue
			}
			return pick{tariff: 0, element: ei, component: ci, unverifiable: unverifiable}, rejected
		}
	}
	return noPick, rejected
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

// buildPeriods sorts the periods, derives their ends, local times, tariffs and
// volumes. A CDR without periods gets one built from its totals.
func buildPeriods(cdr *ocpi.CDR, tariffs []ocpi.Tariff, loc *time.Location, warn func(Code, int, string, ...any)) []refPeriod {
	src := cdr.ChargingPeriods
	if len(src) == 0 {
		warn(WarnPeriodsSynthesized, -1, "CDR has no charging periods: one period built from total_energy, total_time and total_parking_time")
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
		warn(WarnPeriodsUnsorted, -1, "charging periods not in time order: sorted by start_date_time")
		sort.SliceStable(order, func(a, b int) bool { return src[order[a]].StartDateTime.Before(src[order[b]].StartDateTime) })
	}
	out := make([]refPeriod, len(src))
	for k, oi := range order {
		cp := &src[oi]
		p := &out[k]
		p.start = cp.StartDateTime
		if k+1 < len(order) {
			p.end = src[order[k+1]].StartDateTime
		} else {
			p.end = cdr.EndDateTime
		}
		p.local = cp.StartDateTime.In(loc)
		var assumed bool
		p.tariff, assumed = periodTariff(cp.TariffID, tariffs)
		switch {
		case p.tariff < 0:
			warn(WarnPeriodNoTariff, k, "tariff %q of the period not among the %d tariffs given: not priced", cp.TariffID, len(tariffs))
		case assumed:
			if cp.TariffID == "" {
				warn(WarnTariffIDAssumed, k, "period has no tariff_id: priced with the only tariff given, %s", tariffs[0].ID)
			} else {
				warn(WarnTariffIDAssumed, k, "period names tariff %q: priced with the only tariff given, %s", cp.TariffID, tariffs[0].ID)
			}
		}
		p.energy, p.energyRaw, p.parkRaw = decimal.Zero, decimal.Zero, decimal.Zero
		for _, dim := range cp.Dimensions {
			v := dim.Volume
			switch strings.ToUpper(dim.Type) {
			case ocpi.DimEnergy:
				p.energyRaw = p.energyRaw.Add(v)
			case ocpi.DimTime:
				p.timeS += nonNegSeconds(v, k, dim.Type, warn)
			case ocpi.DimParkingTime:
				p.parkRaw = p.parkRaw.Add(v)
				p.parkS += nonNegSeconds(v, k, dim.Type, warn)
			case ocpi.DimReservationTime:
				p.resvS += nonNegSeconds(v, k, dim.Type, warn)
				p.phase = phaseReservation
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
				warn(WarnUnknownDimension, k, "dimension %s not priced", dim.Type)
			}
		}
		p.energy = p.energyRaw
		if p.energyRaw.IsNegative() {
			warn(WarnNegativeVolume, k, "ENERGY %s kWh: priced as 0 (V2G pricing is undefined)", p.energyRaw)
			p.energy = decimal.Zero
		}
		if length := p.end.Unix() - p.start.Unix(); p.timeS+p.parkS+p.resvS > length+60 {
			warn(WarnVolumeExceedsPeriod, k, "time volumes %d s exceed the period's %d s", p.timeS+p.parkS+p.resvS, length)
		}
	}
	return out
}

func nonNegSeconds(h decimal.Decimal, k int, typ string, warn func(Code, int, string, ...any)) int64 {
	if h.IsNegative() {
		warn(WarnNegativeVolume, k, "%s %s h: priced as 0", typ, h)
		return 0
	}
	return hoursToSeconds(h)
}

// periodTariff finds the period's tariff by id. A period without tariff_id,
// or naming a tariff that is not there, uses the only tariff given (assumed
// true); with several tariffs it is not priced.
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
