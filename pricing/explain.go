package pricing

import (
	"fmt"
	"io"
	"strings"

	"github.com/shopspring/decimal"
)

// Explain writes a human-readable account of the price: the zone, per period
// the local time and which element priced each dimension and why earlier ones
// did not, the step size and where its extra went, taxes, rounding, clamps
// and warnings.
func (r *Result) Explain(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CDR %s priced in %s (%d minor units)\n", r.CDRID, r.Currency, r.MinorUnits)
	fmt.Fprintf(&b, "local time zone: %s (%s)\n", r.Zone.Name, r.Zone.Source)
	fmt.Fprintf(&b, "policy: rounding %s per %s, step reading %s\n", r.Policy.Mode, r.Policy.Level, r.Policy.Step)
	if r.Expired {
		b.WriteString("reservation expired without a session: reservation elements only, RESERVATION_EXPIRES first\n")
	}
	for i, pt := range r.trace {
		fmt.Fprintf(&b, "\nperiod %d (%s): %s -> %s UTC, local %s, tariff %s\n", i, pt.phase,
			pt.start.UTC().Format("2006-01-02 15:04:05"), pt.end.UTC().Format("15:04:05"),
			pt.local.Format("Mon 2006-01-02 15:04:05 MST"), orDash(pt.tariffID))
		v := &pt.volumes
		fmt.Fprintf(&b, "  volumes: energy %s kWh, time %d s, parking %d s, reservation %d s\n", v.energy, v.timeS, v.parkS, v.resvS)
		for _, d := range pt.dims {
			label := d.dim
			if pt.phase == phaseMixed {
				label += " (" + d.phase + ")"
			}
			for _, x := range d.rejected {
				fmt.Fprintf(&b, "  %s: skipped %s\n", label, x.why(d.at))
			}
			if d.element >= 0 {
				fmt.Fprintf(&b, "  %s: priced by element %d\n", label, d.element)
			} else {
				fmt.Fprintf(&b, "  %s: no element matches: not charged\n", label)
			}
		}
		for _, ln := range r.Lines {
			if ln.Period != i {
				continue
			}
			vat := "no VAT"
			if ln.VAT.Valid {
				vat = "VAT " + ln.VAT.Decimal.String() + " %"
			}
			fmt.Fprintf(&b, "  line %s: %s %s", ln.Dimension, ln.Quantity, ln.Unit)
			if !ln.Extra.IsZero() {
				fmt.Fprintf(&b, " + %s %s step extra (step %d, session total rounded up, billed here in the last billable period)", ln.Extra, ln.Unit, ln.StepSize)
			}
			fmt.Fprintf(&b, " at %s = %s excl, %s incl (%s) [%s]\n", ln.UnitPrice, ln.Amount.Excl, ln.Amount.Incl, vat, ln.Bucket)
		}
	}
	t := r.Totals
	b.WriteString("\ntotals (excl / incl):\n")
	for _, x := range []struct {
		name string
		a    Amount
	}{{"total_fixed_cost", t.TotalFixedCost}, {"total_energy_cost", t.TotalEnergyCost}, {"total_time_cost", t.TotalTimeCost},
		{"total_parking_cost", t.TotalParkingCost}, {"total_reservation_cost", t.TotalReservationCost},
		{"adjustment (clamp, rounding)", t.Adjustment}, {"total_cost", t.TotalCost}} {
		fmt.Fprintf(&b, "  %-30s %s / %s\n", x.name, FormatMoney(x.a.Excl, r.MinorUnits), FormatMoney(x.a.Incl, r.MinorUnits))
	}
	switch r.Policy.Level {
	case RoundTotal:
		fmt.Fprintf(&b, "rounding: lines exact at 10 decimals, totals rounded %s to %d decimals\n", r.Policy.Mode, r.MinorUnits)
	case RoundLine:
		fmt.Fprintf(&b, "rounding: every line rounded %s to %d decimals, then summed\n", r.Policy.Mode, r.MinorUnits)
	default:
		b.WriteString("rounding: none (10 decimals kept)\n")
	}
	if r.Credit {
		b.WriteString("credit CDR: total_cost negated, sub-totals keep their sign (OCPI negates total_cost only)\n")
	}
	if !r.InclComputable() {
		b.WriteString("taxes: not computable (a tariff states no rate): amounts after taxes are a lower bound; compare before taxes only\n")
	}
	if !r.ExclComputable() {
		b.WriteString("taxes: prices include taxes at a rate the tariff does not state: amounts before taxes are an upper bound; compare after taxes only\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("warnings:\n")
		for _, wn := range r.Warnings {
			p := ""
			if wn.Period >= 0 {
				p = fmt.Sprintf(" (period %d)", wn.Period)
			}
			fmt.Fprintf(&b, "  [%s]%s %s\n", wn.Code, p, wn.Message)
		}
	}
	if rs := r.Readings(); len(rs) > 0 {
		b.WriteString("readings of open points of the spec (digest section):\n")
		for _, rd := range rs {
			fmt.Fprintf(&b, "  §%s %s: %s\n", rd.Section, rd.Code, rd.Text)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatMoney writes an amount with the currency's minor units when that is
// exact (4.00), else with every digit it has (0.3833333333): never rounded.
func FormatMoney(d decimal.Decimal, minor int) string {
	if d.Truncate(int32(minor)).Equal(d) {
		return d.StringFixed(int32(minor))
	}
	return d.String()
}
