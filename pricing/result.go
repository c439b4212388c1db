package pricing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Bucket is the CDR sub-total a line belongs to (digest §3.6).
type Bucket uint8

const (
	BucketFixed       Bucket = iota // total_fixed_cost: FLAT fees of charging elements
	BucketEnergy                    // total_energy_cost
	BucketTime                      // total_time_cost: charging time
	BucketParking                   // total_parking_cost: parking time and FLAT of parking elements
	BucketReservation               // total_reservation_cost: reservation time and fees
	numBuckets
)

var bucketNames = [numBuckets]string{"fixed", "energy", "time", "parking", "reservation"}

func (b Bucket) String() string {
	if b < numBuckets {
		return bucketNames[b]
	}
	return "unknown"
}

// Amount is a money amount before and after tax.
type Amount struct {
	Excl decimal.Decimal
	Incl decimal.Decimal
}

// Add returns a + b.
func (a Amount) Add(b Amount) Amount { return Amount{a.Excl.Add(b.Excl), a.Incl.Add(b.Incl)} }

// Line is one priced dimension of one charging period.
//
// Quantity and Billed are in the dimension's base unit (see Unit): kWh for
// ENERGY, whole seconds for TIME, PARKING_TIME and RESERVATION_TIME, 1 for
// FLAT. UnitPrice stays in the tariff's unit (per kWh, per hour, per session).
type Line struct {
	Period    int    // index into the CDR's charging periods (sorted by start)
	Phase     string // "charging" or "reservation" (a period may have both)
	Dimension string // FLAT, ENERGY, TIME, PARKING_TIME or RESERVATION_TIME
	Bucket    Bucket
	TariffID  string
	Element   int // index of the tariff element that priced the dimension
	Component int // index of the component within that element
	Unit      string
	Quantity  decimal.Decimal
	Billed    decimal.Decimal // Quantity plus the step-size extra
	Extra     decimal.Decimal // Billed - Quantity, non-zero only in the last billable period
	StepSize  int64           // the step that produced Extra, 0 when none
	UnitPrice decimal.Decimal
	VAT       decimal.NullDecimal // percentage; null: no VAT applicable
	Amount    Amount
}

// Totals are the recomputed CDR totals under their OCPI 2.2.1 names.
type Totals struct {
	TotalCost            Amount          // total_cost (after clamp, negated for a credit CDR)
	TotalEnergy          decimal.Decimal // total_energy, kWh (Σ ENERGY volumes)
	TotalEnergyCost      Amount          // total_energy_cost
	TotalTime            decimal.Decimal // total_time, hours (end - start)
	TotalTimeCost        Amount          // total_time_cost
	TotalParkingTime     decimal.Decimal // total_parking_time, hours (Σ PARKING_TIME volumes)
	TotalParkingCost     Amount          // total_parking_cost
	TotalFixedCost       Amount          // total_fixed_cost
	TotalReservationCost Amount          // total_reservation_cost
	// Adjustment is TotalCost (before any credit negation) minus the sum of
	// the five cost sub-totals: the min/max clamp and, with RoundTotal, the
	// rounding residue. OCPI does not say where a clamp is booked.
	Adjustment Amount
}

// Code is a stable, machine-readable warning code.
type Code string

const (
	WarnZoneUnresolved      Code = "tz_unresolved"            // priced in UTC
	WarnZoneFromCoordinates Code = "tz_from_coordinates"      // zone looked up from the coordinates
	WarnZoneFromCountry     Code = "tz_from_country"          // zone from a single-zone country
	WarnZoneInvalid         Code = "tz_invalid"               // a location time_zone is not an IANA name: the zone is the chain's fallback
	WarnTariffIDAssumed     Code = "tariff_id_assumed"        // no tariff_id on the period: the single tariff was used
	WarnAdHocLeftOut        Code = "ad_hoc_tariff_left_out"   // a connector's AD_HOC_PAYMENT tariff was not a candidate beside its other tariff
	WarnUnverifiable        Code = "restriction_unverifiable" // power/current restriction without the dimension, and the element so chosen bills a quantity
	WarnFlatChanged         Code = "flat_changed"             // a different FLAT became active later in the phase: not charged
	WarnDuplicateComponent  Code = "duplicate_component"      // two components of one type in an element: the first wins
	WarnVolumeExceedsPeriod Code = "volume_exceeds_period"    // TIME+PARKING_TIME+RESERVATION_TIME longer than the period
	WarnNegativeVolume      Code = "negative_volume"          // negative volume priced as zero (V2G pricing is undefined)
	WarnLimitInclDerived    Code = "limit_incl_derived"       // min/max price without incl: the incl bound follows the excl one
	WarnTaxesUnknown        Code = "taxes_unknown"            // a line's tariff states no tax rate: one side of the amounts is not computable (Result.NotComputable)
	WarnPeriodsSynthesized  Code = "periods_synthesized"      // no charging periods: one built from the totals
	WarnUnknownCurrency     Code = "unknown_currency"         // not an ISO 4217 code: 2 minor units assumed
	WarnMinPriceApplied     Code = "min_price_applied"
	WarnMaxPriceApplied     Code = "max_price_applied"
	WarnPeriodsUnsorted     Code = "periods_unsorted"         // periods were sorted by start
	WarnBoundaryInPeriod    Code = "boundary_inside_period"   // a time, date, weekday, kWh or duration boundary falls strictly inside a period
	WarnTimeWindowAllDay    Code = "time_window_all_day"      // start_time == end_time: read as the whole day
	WarnExpiredReservation  Code = "reservation_expired"      // reservation CDR without a charging session
	WarnMixedPeriod         Code = "reservation_and_charging" // a period has RESERVATION_TIME and ENERGY, TIME or PARKING_TIME
	WarnUnknownDimension    Code = "unknown_dimension"        // a dimension type roamsettle does not price
)

// Warning is one thing the pricing noticed.
type Warning struct {
	Code    Code
	Period  int // -1 when not about one period
	Message string
}

// Sides names the sides of an amount (before and after taxes) as bits.
type Sides uint8

const (
	SideExcl Sides = 1 << iota // before taxes (excl_vat, before_taxes)
	SideIncl                   // after taxes (incl_vat, before_taxes + taxes)
)

// Result is a recomputed CDR.
type Result struct {
	CDRID      string
	Currency   string
	Policy     Policy
	Zone       ResolvedZone
	Expired    bool // a reservation that expired without a session
	Credit     bool
	Lines      []Line
	Totals     Totals
	Warnings   []Warning
	MinorUnits int
	// NotComputable has the sides the tariffs do not let the engine compute
	// (digest §5.8), because a priced line's tariff states no tax rate:
	//
	//   - SideIncl: taxes apply at an unknown rate (2.3.0 tax_included NO or
	//     absent, without vat; 2.1.1, whose VAT is outside OCPI). Excl amounts
	//     are exact; Incl amounts hold Excl plus the taxes that are known, a
	//     lower bound.
	//   - SideExcl: prices include taxes at an unknown rate (2.3.0
	//     tax_included YES without vat). Incl amounts are exact; Excl amounts
	//     hold the gross amounts, an upper bound.
	//
	// A comparison with the CPO's amounts compares only the computable side;
	// the partner's amounts on the other side are not verifiable, never a
	// difference.
	NotComputable Sides
	// trace is what Explain tells.
	trace    []periodTrace
	readings uint64 // bits of the readings catalogue
}

// Flags are the kernel's Output flags for this result (FlagExpired,
// FlagUnverifiable, FlagInclUnknown, ...), so that a CDR priced by the
// reference is recorded like one priced by the kernel.
func (r *Result) Flags() uint16 {
	var f uint16
	set := func(cond bool, flag uint16) {
		if cond {
			f |= flag
		}
	}
	set(r.Expired, FlagExpired)
	set(r.HasWarning(WarnMinPriceApplied), FlagMinApplied)
	set(r.HasWarning(WarnMaxPriceApplied), FlagMaxApplied)
	set(r.HasWarning(WarnUnverifiable), FlagUnverifiable)
	set(r.HasWarning(WarnFlatChanged), FlagFlatChanged)
	set(!r.InclComputable(), FlagInclUnknown)
	set(!r.ExclComputable(), FlagExclUnknown)
	return f
}

// InclComputable reports whether the amounts after taxes are exact.
func (r *Result) InclComputable() bool { return r.NotComputable&SideIncl == 0 }

// ExclComputable reports whether the amounts before taxes are exact.
func (r *Result) ExclComputable() bool { return r.NotComputable&SideExcl == 0 }

// HasWarning reports whether a warning with the code was raised.
func (r *Result) HasWarning(c Code) bool {
	for _, w := range r.Warnings {
		if w.Code == c {
			return true
		}
	}
	return false
}

// periodTrace records, per period, what Explain needs.
type periodTrace struct {
	start, end time.Time
	local      time.Time
	phase      string
	tariffID   string
	volumes    periodVolumes
	dims       []dimTrace
}

type dimTrace struct {
	dim      string
	phase    string
	element  int // -1: no element
	rejected []rejection
	at       *evalPoint // where the elements' restrictions were evaluated
}
