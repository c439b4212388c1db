package pricing

// ReadingCode names one reading the engine takes where the specification
// leaves a point open (digest §5.13 and the team's "Decided" notes). The codes
// are stable: explanations and JSON output carry them.
type ReadingCode string

// Reading is one such reading: its code, the digest section that discusses
// the open point, and what the engine does.
type Reading struct {
	Code    ReadingCode
	Section string // digest section, e.g. "5.5"
	Text    string
}

// The readings, in the order explanations list them.
const (
	ReadPerDimension       ReadingCode = "per_dimension_selection"
	ReadDuplicateComponent ReadingCode = "first_duplicate_component"
	ReadTariffIDAssumed    ReadingCode = "period_without_tariff_id"
	ReadIdenticalCopies    ReadingCode = "identical_tariff_copies"
	ReadZone               ReadingCode = "time_zone_chain"
	ReadTimeWindow         ReadingCode = "time_window"
	ReadDayOfWeek          ReadingCode = "day_of_week_of_instant"
	ReadDateAndTime        ReadingCode = "dates_with_times_daily"
	ReadDuration           ReadingCode = "duration_from_session_start"
	ReadPowerCurrent       ReadingCode = "power_current_dimensions"
	ReadBoundary           ReadingCode = "boundary_inside_period"
	ReadMixedPeriod        ReadingCode = "reservation_and_charging_period"
	ReadExpired            ReadingCode = "expired_reservation"
	ReadFlatOncePerPhase   ReadingCode = "flat_once_per_phase"
	ReadFlatBucket         ReadingCode = "flat_bucket"
	ReadDeclaredVolumes    ReadingCode = "declared_volumes_whole_seconds"
	ReadStepCeiling        ReadingCode = "step_ceiling"
	ReadStepTime           ReadingCode = "step_time_dimensions"
	ReadStepReservation    ReadingCode = "step_reservation_alone"
	ReadStepAcrossTariffs  ReadingCode = "step_across_tariffs"
	ReadNegativeEnergy     ReadingCode = "negative_energy_zero"
	ReadVATAbsent          ReadingCode = "vat_absent_221"
	ReadTaxIncluded        ReadingCode = "tax_included_yes"
	ReadTaxesUnknown       ReadingCode = "taxes_not_computable"
	ReadClamp              ReadingCode = "min_max_clamp"
	ReadClampInclDerived   ReadingCode = "clamp_incl_derived"
	ReadRounding           ReadingCode = "rounding_policy"
	ReadCredit             ReadingCode = "credit_total_only"
	ReadVersionInEffect    ReadingCode = "tariff_version_in_effect"
	ReadConnectorAdHoc     ReadingCode = "connector_ad_hoc_left_out"
)

// readings is the catalogue; a Result records which ones it took as bits in
// this order.
var readings = []Reading{
	{ReadPerDimension, "5.3", "each dimension takes the first element in list order that has a component of it and whose restrictions match; an element without the dimension is skipped for it (2.1.1's \"first matching element\" is read the same way)"},
	{ReadDuplicateComponent, "5.3", "two components of one type in an element: the first prices, the second is ignored (flagged)"},
	{ReadTariffIDAssumed, "5.1", "a period without tariff_id (or naming a tariff that is not given) is priced by the only tariff given and flagged, also among periods that have one (decided); OCPI's literal \"no tariff\" is not taken; among several tariffs given the CDR is not priceable (no_tariff_applies)"},
	{ReadIdenticalCopies, "5.1", "copies of one tariff id that price the same (currency, tax_included, min/max price and elements equal as values, not as bytes) are one tariff; copies that differ make the CDR not priceable"},
	{ReadZone, "5.4", "restrictions are evaluated in the location's local time: the stored Location's time_zone (a 2.1.1 CDR's embedded one), else a single-zone country, else the coordinates, else UTC; every source but a given or location zone is flagged, and so is a time_zone passed over because it is not an IANA name; a local time is the real instant's (a repeated autumn hour matches twice, a skipped spring hour never)"},
	{ReadTimeWindow, "5.4", "start_time is inclusive and end_time exclusive; end_time 00:00 means midnight at the end of the day; end before start wraps past midnight; only end_time counts from 00:00; start_time == end_time is the whole day (flagged)"},
	{ReadDayOfWeek, "5.4", "day_of_week is the local weekday of the evaluated instant (the period start), also inside a window that wraps past midnight"},
	{ReadDateAndTime, "5.4", "start_date/end_date with start_time/end_time are a daily time window on each day of the date range (end_date exclusive)"},
	{ReadDuration, "5.4", "min_duration/max_duration count seconds from the session start, parking included"},
	{ReadPowerCurrent, "5.4", "min/max_power and min/max_current compare the period's MIN_/MAX_ dimension (power in kW in every version, though 2.1.1's example meant amperes); a period without it matches, and is flagged unverifiable only when the element so chosen bills a quantity in that period (a volume, or the phase's one FLAT)"},
	{ReadBoundary, "5.2", "a restriction boundary strictly inside a period does not split it: the state at the period start prices the whole period (flagged)"},
	{ReadMixedPeriod, "5.11", "a period with RESERVATION_TIME and ENERGY, TIME or PARKING_TIME prices its reservation time in the reservation phase and the rest in the charging phase (decided), and is flagged"},
	{ReadExpired, "5.10", "reservation time is priced only by elements with a reservation restriction (their TIME and FLAT), charging only by elements without one; a reservation expired without a session only when no period has ENERGY, TIME or PARKING_TIME; then RESERVATION_EXPIRES elements come first, RESERVATION elements price what they lack, and unrestricted elements price nothing"},
	{ReadFlatOncePerPhase, "5.5", "FLAT is charged at most once per phase (reservation, charging), in the first period of the phase where a FLAT component applies; a different FLAT that applies later is not charged (flagged); a 2.1.1 CDR's FLAT dimension is no volume (the tariff's FLAT prices the fee)"},
	{ReadFlatBucket, "3.6", "a charging FLAT is total_parking_cost only when its element prices nothing but PARKING_TIME besides it; any other (a start fee) is total_fixed_cost (decided); a reservation FLAT is total_reservation_cost"},
	{ReadDeclaredVolumes, "5.6", "the declared hour volumes are priced, converted to whole seconds (nearest, half up) before any step; period timestamps only check them"},
	{ReadStepCeiling, "5.6", "step_size rounds the session total up to a multiple of the step (ceiling; step 0 means 1) with the step of the last billable period's component (billable: a component of the dimension applies, even at price 0); the extra is billed in that period at its price, so volume added in a cheaper last period can lower the total"},
	{ReadStepTime, "5.6", "TIME and PARKING_TIME are rounded once for the pair, as the policy's step reading says"},
	{ReadStepReservation, "5.6", "reservation time is rounded on its own, with the step of the last reservation TIME component"},
	{ReadStepAcrossTariffs, "5.6", "periods priced by different tariffs share one rounding per dimension, as elements do (a change of tariff is not a rounding point), and the session's min/max price is the first period's tariff's"},
	{ReadNegativeEnergy, "5.5", "negative ENERGY (export) is priced as 0: V2G pricing is undefined (flagged)"},
	{ReadVATAbsent, "5.8", "an OCPI 2.2 component without vat has no VAT (absent is not 0 %): incl = excl"},
	{ReadTaxIncluded, "5.8", "tax_included YES: the price is the amount after taxes; before taxes = after × 100 / (100 + vat)"},
	{ReadTaxesUnknown, "5.8", "a tariff that states no tax rate where taxes apply (2.3.0 tax_included NO or absent without vat; 2.1.1, whose VAT is outside OCPI; tax_included YES without vat) lets only one side be computed: compare that side only, the partner's taxes are not verifiable"},
	{ReadClamp, "5.7", "min_price/max_price clamp the session total (reservation included) separately before and after tax; the difference is the adjustment, booked to no sub-total"},
	{ReadClampInclDerived, "5.7", "a min/max price without its incl value bounds the incl total at that bound times the session's own incl/excl ratio (decided), flagged"},
	{ReadRounding, "5.9", "lines are exact at 10 decimals; amounts are rounded to the currency's ISO 4217 minor units where the policy says (default: each total once, half up)"},
	{ReadCredit, "3.5", "a credit CDR negates total_cost only; the sub-totals keep their sign"},
	{ReadVersionInEffect, "5.1", "the tariff version in effect is the one with the greatest last_updated not after the session start whose [start_date_time, end_date_time) contains it (end exclusive)"},
	{ReadConnectorAdHoc, "5.1", "when no period names a tariff and the connector lists several, its AD_HOC_PAYMENT tariffs are left out (an eMSP's CDR is never a session paid ad hoc), so that a REGULAR beside an AD_HOC_PAYMENT tariff prices the session (flagged); two or more other tariffs still make the CDR not priceable"},
}

// Readings returns the catalogue of every reading the engine takes on an
// open point of the spec, in explanation order.
func Readings() []Reading { return append([]Reading(nil), readings...) }

var readingBit = func() map[ReadingCode]uint64 {
	m := make(map[ReadingCode]uint64, len(readings))
	for i, r := range readings {
		m[r.Code] = 1 << uint(i)
	}
	return m
}()

// take records that the price depended on a reading.
func (r *Result) take(c ReadingCode) {
	b, ok := readingBit[c]
	if !ok {
		panic("pricing: unknown reading " + string(c))
	}
	r.readings |= b
}

// Readings returns the readings of open points this price depended on, in
// catalogue order.
func (r *Result) Readings() []Reading {
	var out []Reading
	for i, rd := range readings {
		if r.readings&(1<<uint(i)) != 0 {
			out = append(out, rd)
		}
	}
	return out
}

// TookReading reports whether the price depended on the reading.
func (r *Result) TookReading(c ReadingCode) bool { return r.readings&readingBit[c] != 0 }
