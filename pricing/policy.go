package pricing

import (
	"fmt"
	"strings"
)

// RoundingMode says how a half is rounded to the currency's minor unit.
type RoundingMode string

const (
	// HalfUp rounds halves away from zero (5.125 -> 5.13). The spec's examples
	// are consistent with it.
	HalfUp RoundingMode = "half_up"
	// HalfEven rounds halves to the even neighbour (banker's rounding).
	HalfEven RoundingMode = "half_even"
)

// RoundingLevel says where amounts are rounded to minor units.
type RoundingLevel string

const (
	// RoundTotal computes every line exactly (at the internal scale), clamps,
	// and rounds each total and sub-total once.
	RoundTotal RoundingLevel = "total"
	// RoundLine rounds every line (before and after tax) to minor units and
	// sums the rounded lines; the clamp then works on those sums.
	RoundLine RoundingLevel = "line"
	// RoundNone keeps the internal scale (10 decimals): what the tests of the
	// spec's worked examples compare, since the spec states 12.375 and 0.383.
	RoundNone RoundingLevel = "none"
)

// StepReading selects how step_size is applied to TIME and PARKING_TIME.
type StepReading string

const (
	// StepLastTimeDimension is the 2.2.1-d2 / 2.3.0 reading (digest §5.6, the
	// default): only the time dimension of the last billable period is rounded
	// (parking when the session ends parked), with that component's step, on the
	// session total of that dimension; the extra goes into that last period.
	StepLastTimeDimension StepReading = "2.2.1-d2"
	// StepCombinedTime is the 2.2.1-tag reading of the Tariffs-module examples:
	// the billable TIME and PARKING_TIME seconds are summed and that combined
	// total is rounded with the last component's step, the extra going into the
	// last billable period (tariff_14 example 1 = 0.383, free parking = 0.78).
	StepCombinedTime StepReading = "2.2.1-tag"
)

// Policy is the per-partner pricing policy: everything real partners differ
// on, as data. The zero Policy is not valid; start from DefaultPolicy.
type Policy struct {
	Mode  RoundingMode
	Level RoundingLevel
	Step  StepReading
	// MinorUnits overrides the currency's ISO 4217 minor units when >= 0
	// (use -1 to take them from the currency).
	MinorUnits int
}

// DefaultPolicy follows the digest: exact lines, one half-up rounding of each
// total to the currency's minor units, and the 2.2.1-d2/2.3.0 step reading.
func DefaultPolicy() Policy {
	return Policy{Mode: HalfUp, Level: RoundTotal, Step: StepLastTimeDimension, MinorUnits: -1}
}

// ExactPolicy keeps the internal scale: no rounding to minor units.
func ExactPolicy() Policy {
	p := DefaultPolicy()
	p.Level = RoundNone
	return p
}

// Validate reports an unknown mode, level or reading.
func (p Policy) Validate() error {
	switch p.Mode {
	case HalfUp, HalfEven:
	default:
		return fmt.Errorf("pricing: unknown rounding mode %q", p.Mode)
	}
	switch p.Level {
	case RoundTotal, RoundLine, RoundNone:
	default:
		return fmt.Errorf("pricing: unknown rounding level %q", p.Level)
	}
	switch p.Step {
	case StepLastTimeDimension, StepCombinedTime:
	default:
		return fmt.Errorf("pricing: unknown step reading %q", p.Step)
	}
	if p.MinorUnits > 4 {
		return fmt.Errorf("pricing: minor units %d above 4", p.MinorUnits)
	}
	return nil
}

// minorUnits returns the digits after the decimal point for the currency:
// the policy's override, else ISO 4217, else 2 (with ok=false).
func (p Policy) minorUnits(currency string) (digits int, ok bool) {
	if p.MinorUnits >= 0 {
		return p.MinorUnits, true
	}
	return CurrencyMinorUnits(currency)
}

// iso4217Exceptions lists the active ISO 4217 currencies whose minor unit is
// not 2. ocpi.CurrencyMinorUnits did not exist when this was written: this
// small table stands in for it.
var iso4217Exceptions = map[string]int{
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
	"KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
	"XAF": 0, "XOF": 0, "XPF": 0,
	"CLF": 4, "UYW": 4,
}

// CurrencyMinorUnits returns the ISO 4217 minor units of a currency code. A
// code that is not three letters returns (2, false).
func CurrencyMinorUnits(currency string) (int, bool) {
	c := strings.ToUpper(strings.TrimSpace(currency))
	if len(c) != 3 {
		return 2, false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return 2, false
		}
	}
	if d, ok := iso4217Exceptions[c]; ok {
		return d, true
	}
	return 2, true
}
