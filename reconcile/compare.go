package reconcile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// Scale is the number of decimals of an Amount's integers: millionths of
// the currency unit, the store's DECIMAL(18,6) and OCPI's 4 decimals with
// room to spare.
const Scale = 6

// Outcome is the verdict of comparing one billed amount with the computed
// one. The values are stored (priced_cdrs.billed_outcome): never renumber.
type Outcome uint8

const (
	NotPriced Outcome = iota // no computed amount: the CDR could not be priced
	NoBilled                 // the CDR states no amount (missing is not zero)
	Equal                    // the same at the currency's minor units
	Different                // computed - billed is not zero at the minor units
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"not_priced", "no_billed_amount", "equal", "different"}

// String is the outcome's stable name, as the store's views spell it.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Outcomes lists every outcome in code order (for the store's views and
// tests that tie them).
func Outcomes() []Outcome { return []Outcome{NotPriced, NoBilled, Equal, Different} }

// Field is one of the CDR's cost totals, in the order of Totals.
type Field uint8

const (
	TotalCost Field = iota
	TotalFixedCost
	TotalEnergyCost
	TotalTimeCost
	TotalParkingCost
	TotalReservationCost
	NumFields
)

var fieldNames = [NumFields]string{"total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost",
	"total_parking_cost", "total_reservation_cost"}

// String is the field's OCPI 2.2.1 name.
func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// Amount is a stated or computed amount in millionths (Scale). HasExcl
// false is "no amount at all"; HasIncl false is "no amount incl. VAT
// stated".
type Amount struct {
	Excl, Incl       int64
	HasExcl, HasIncl bool
}

// Totals are a CDR's six cost totals, indexed by Field.
type Totals [NumFields]Amount

// Difference is the comparison of one total.
type Difference struct {
	Outcome Outcome
	// Billed and Computed are the two amounts rounded to the minor units
	// the comparison was made at; Excl and Incl are computed - billed there
	// (zero unless Outcome is Different; Incl only when HasIncl).
	Billed, Computed Amount
	Excl, Incl       int64
	HasIncl          bool
	MinorUnits       int
	// TaxesNotVerifiable: the CDR states an amount incl. VAT that the
	// computed side cannot check (its tariff states no tax rate:
	// pricing.Result.NotComputable): not compared, neither equal nor a
	// difference.
	TaxesNotVerifiable bool
}

// Compare compares one billed amount with the computed one at minor units
// (0..Scale): see the package's invariants.
func Compare(billed, computed Amount, minor int) Difference {
	d := Difference{MinorUnits: minor}
	switch {
	case !computed.HasExcl:
		d.Outcome = NotPriced
		return d
	case !billed.HasExcl:
		d.Outcome = NoBilled
		return d
	}
	d.Billed, d.Computed = roundAmount(billed, minor), roundAmount(computed, minor)
	d.Excl = d.Computed.Excl - d.Billed.Excl
	d.HasIncl = d.Billed.HasIncl && d.Computed.HasIncl
	d.TaxesNotVerifiable = d.Billed.HasIncl && !d.Computed.HasIncl
	if d.HasIncl {
		d.Incl = d.Computed.Incl - d.Billed.Incl
	}
	d.Outcome = Equal
	if d.Excl != 0 || d.Incl != 0 {
		d.Outcome = Different
	}
	return d
}

// Comparison is the comparison of every cost total of a CDR.
type Comparison [NumFields]Difference

// CompareTotals compares each billed total with the computed one at minor
// units. The CDR's outcome is the total_cost's (Comparison[TotalCost]).
func CompareTotals(billed, computed *Totals, minor int) Comparison {
	var c Comparison
	for f := range c {
		c[f] = Compare(billed[f], computed[f], minor)
	}
	return c
}

// Matches reports whether no stated total differs.
func (c *Comparison) Matches() bool {
	for _, d := range c {
		if d.Outcome == Different {
			return false
		}
	}
	return true
}

// roundAmount rounds both sides of an amount to minor units, half away from
// zero, keeping the Scale.
func roundAmount(a Amount, minor int) Amount {
	a.Excl = RoundMicro(a.Excl, minor)
	if a.HasIncl {
		a.Incl = RoundMicro(a.Incl, minor)
	}
	return a
}

var pow10 = [Scale + 1]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// RoundMicro rounds an amount in millionths to minor units (0..Scale; out
// of range is clamped), half away from zero.
func RoundMicro(v int64, minor int) int64 {
	minor = min(max(minor, 0), Scale)
	unit := pow10[Scale-minor]
	if unit == 1 {
		return v
	}
	q, r := v/unit, v%unit
	switch {
	case 2*r >= unit:
		q++
	case -2*r >= unit:
		q--
	}
	return q * unit
}

// Micro is a decimal in millionths, rounded half away from zero when it
// has more decimals (only computed amounts under an exact policy do: round
// them to minor units first with MicroAt, so that nothing rounds twice).
func Micro(d decimal.Decimal) int64 { return d.Shift(Scale).Round(0).IntPart() }

// MicroAt is a decimal rounded to minor units (half away from zero), in
// millionths.
func MicroAt(d decimal.Decimal, minor int) int64 {
	minor = min(max(minor, 0), Scale)
	return d.Round(int32(minor)).Shift(Scale).IntPart()
}

// FromMicro is an amount in millionths as a decimal.
func FromMicro(v int64) decimal.Decimal { return decimal.New(v, -Scale) }

// Stated is the amount a CDR states for one total: nil (not stated) is no
// amount. Amounts with more than Scale decimals are rounded to minor units.
func Stated(p *ocpi.Price, minor int) Amount {
	if p == nil {
		return Amount{}
	}
	a := Amount{Excl: MicroAt(p.ExclVAT, minor), HasExcl: true}
	if p.InclVAT.Valid {
		a.Incl, a.HasIncl = MicroAt(p.InclVAT.Decimal, minor), true
	}
	return a
}

// Recomputed is a computed amount; inclKnown is false when its tariff
// states no tax rate (pricing.Result.InclComputable), and then only excl is
// compared.
func Recomputed(a pricing.Amount, minor int, inclKnown bool) Amount {
	out := Amount{Excl: MicroAt(a.Excl, minor), HasExcl: true, HasIncl: inclKnown}
	if inclKnown {
		out.Incl = MicroAt(a.Incl, minor)
	}
	return out
}

// BilledTotals are the totals a CDR states.
func BilledTotals(c *ocpi.CDR, minor int) Totals {
	return Totals{Stated(c.TotalCost, minor), Stated(c.TotalFixedCost, minor), Stated(c.TotalEnergyCost, minor),
		Stated(c.TotalTimeCost, minor), Stated(c.TotalParkingCost, minor), Stated(c.TotalReservationCost, minor)}
}

// ComputedTotals are a priced result's totals (nil: not priced).
func ComputedTotals(r *pricing.Result) Totals {
	if r == nil {
		return Totals{}
	}
	t, m, in := &r.Totals, r.MinorUnits, r.InclComputable()
	return Totals{Recomputed(t.TotalCost, m, in), Recomputed(t.TotalFixedCost, m, in), Recomputed(t.TotalEnergyCost, m, in),
		Recomputed(t.TotalTimeCost, m, in), Recomputed(t.TotalParkingCost, m, in), Recomputed(t.TotalReservationCost, m, in)}
}

// CompareCDR compares a CDR's stated totals with a priced result (nil: the
// CDR could not be priced), at the result's minor units.
func CompareCDR(c *ocpi.CDR, r *pricing.Result) Comparison {
	minor := 2
	if r != nil {
		minor = r.MinorUnits
	} else if m, ok := pricing.CurrencyMinorUnits(c.Currency); ok {
		minor = m
	}
	billed, computed := BilledTotals(c, minor), ComputedTotals(r)
	return CompareTotals(&billed, &computed, minor)
}

// FixedMicro is FromMicro(v).StringFixed(minor) without a decimal: v in
// millionths rounded half away from zero to minor decimals and written
// with exactly that many (the evidence writes thousands of amounts).
func FixedMicro(v int64, minor int) string {
	minor = max(minor, 0)
	r := RoundMicro(v, minor) // minor above Scale: v itself
	unit := pow10[Scale-min(minor, Scale)]
	q := r / unit
	neg := q < 0
	if neg {
		q = -q
	}
	digits := strconv.FormatInt(q, 10)
	shown := min(minor, Scale)
	if len(digits) <= shown {
		digits = strings.Repeat("0", shown-len(digits)+1) + digits
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(digits[:len(digits)-shown])
	if minor > 0 {
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-shown:])
		b.WriteString(strings.Repeat("0", minor-shown))
	}
	return b.String()
}
