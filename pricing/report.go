package pricing

import "time"

// PeriodDetail is one charging period as it was priced: what Explain tells,
// as data for machine-readable output.
type PeriodDetail struct {
	Index    int // position after sorting by start, as Line.Period
	Start    time.Time
	End      time.Time
	Local    time.Time // Start in the resolved zone
	Phase    string    // "charging", "reservation", or "reservation and charging" (an irregular period)
	TariffID string    // empty when the period has no tariff
	Choices  []Choice  // one per dimension the phase can price
}

// Choice says which element priced one dimension of a period, and why the
// earlier elements with that dimension did not.
type Choice struct {
	Phase     string // "charging" or "reservation": a mixed period has a FLAT of each
	Dimension string // FLAT, ENERGY, TIME, PARKING_TIME or RESERVATION_TIME
	Element   int    // -1: no element matched, the dimension costs nothing
	Skipped   []string
}

// Periods returns the priced periods in time order.
func (r *Result) Periods() []PeriodDetail {
	out := make([]PeriodDetail, len(r.trace))
	for i, pt := range r.trace {
		d := PeriodDetail{Index: i, Start: pt.start, End: pt.end, Local: pt.local, Phase: pt.phase, TariffID: pt.tariffID}
		for _, dt := range pt.dims {
			var skipped []string
			for _, x := range dt.rejected {
				skipped = append(skipped, x.why(dt.at))
			}
			d.Choices = append(d.Choices, Choice{Phase: dt.phase, Dimension: dt.dim, Element: dt.element, Skipped: skipped})
		}
		out[i] = d
	}
	return out
}
