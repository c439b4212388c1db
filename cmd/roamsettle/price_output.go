package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// jsonNumber is a JSON number written from a decimal's exact digits.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func quantity(d decimal.Decimal) jsonNumber { return jsonNumber(d.String()) }

// money writes an amount with the currency's minor units when that is exact
// (4.00), else with every digit it has (0.0383333333).
func money(d decimal.Decimal, minor int) jsonNumber {
	if d.Truncate(int32(minor)).Equal(d) {
		return jsonNumber(d.StringFixed(int32(minor)))
	}
	return jsonNumber(d.String())
}

// amountJSON is an amount; a side that is not computed or compared is
// left out (OCPI's incl_vat is optional; excl_vat is left out only when the
// tariff does not let it be computed).
type amountJSON struct {
	ExclVAT *jsonNumber `json:"excl_vat,omitempty"`
	InclVAT *jsonNumber `json:"incl_vat,omitempty"`
}

// amountOf writes the sides of a; sides holds those to write.
func amountOf(a pricing.Amount, minor int, sides pricing.Sides) amountJSON {
	var out amountJSON
	if sides&pricing.SideExcl != 0 {
		out.ExclVAT = ptrTo(money(a.Excl, minor))
	}
	if sides&pricing.SideIncl != 0 {
		out.InclVAT = ptrTo(money(a.Incl, minor))
	}
	return out
}

const bothSides = pricing.SideExcl | pricing.SideIncl

// sideNames names the sides for JSON (the OCPI 2.2.1 field names).
func sideNames(s pricing.Sides) []string {
	var out []string
	if s&pricing.SideExcl != 0 {
		out = append(out, "excl_vat")
	}
	if s&pricing.SideIncl != 0 {
		out = append(out, "incl_vat")
	}
	return out
}

type priceJSON struct {
	CDRID                string     `json:"cdr_id"`
	Currency             string     `json:"currency"`
	MinorUnits           int        `json:"minor_units"`
	TimeZone             zoneJSON   `json:"time_zone"`
	Policy               policyJSON `json:"policy"`
	Credit               bool       `json:"credit,omitempty"`
	ExpiredReservation   bool       `json:"expired_reservation,omitempty"`
	TotalCost            amountJSON `json:"total_cost"`
	TotalEnergy          jsonNumber `json:"total_energy"`
	TotalEnergyCost      amountJSON `json:"total_energy_cost"`
	TotalTime            jsonNumber `json:"total_time"`
	TotalTimeCost        amountJSON `json:"total_time_cost"`
	TotalParkingTime     jsonNumber `json:"total_parking_time"`
	TotalParkingCost     amountJSON `json:"total_parking_cost"`
	TotalFixedCost       amountJSON `json:"total_fixed_cost"`
	TotalReservationCost amountJSON `json:"total_reservation_cost"`
	Adjustment           amountJSON `json:"adjustment"`
	// NotComputable lists the sides the tariffs do not let pricing compute
	// (no tax rate stated); those amounts are left out.
	NotComputable []string        `json:"not_computable,omitempty"`
	Periods       []periodJSON    `json:"periods"`
	Warnings      []warningJSON   `json:"warnings"`
	Readings      []readingJSON   `json:"readings"`
	Billed        []billedRowJSON `json:"billed_vs_computed,omitempty"`
	BilledOutcome string          `json:"billed_outcome"` // of total_cost: equal, different, no_billed_amount
	BilledMatches *bool           `json:"billed_matches,omitempty"`
	Explanation   []string        `json:"explanation,omitempty"`
}

// readingJSON is a reading of an open point of the spec the price took.
type readingJSON struct {
	Code    string `json:"code"`
	Section string `json:"digest_section"`
	Text    string `json:"text"`
}

type zoneJSON struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

type policyJSON struct {
	Rounding string `json:"rounding"`
	Level    string `json:"level"`
	Step     string `json:"step"`
}

type periodJSON struct {
	Index         int             `json:"index"`
	StartDateTime string          `json:"start_date_time"`
	EndDateTime   string          `json:"end_date_time"`
	LocalStart    string          `json:"local_start"`
	Phase         string          `json:"phase"`
	TariffID      *string         `json:"tariff_id"`
	Dimensions    []dimensionJSON `json:"dimensions"`
}

type dimensionJSON struct {
	Type      string      `json:"type"`
	Phase     string      `json:"phase,omitempty"` // in a period with reservation and charging: which one
	Element   *int        `json:"element"`         // null: no element matched, not charged
	Skipped   []string    `json:"skipped,omitempty"`
	Component *int        `json:"component,omitempty"`
	Unit      string      `json:"unit,omitempty"`
	Quantity  *jsonNumber `json:"quantity,omitempty"`
	Billed    *jsonNumber `json:"billed,omitempty"`
	StepExtra *jsonNumber `json:"step_extra,omitempty"`
	StepSize  *int64      `json:"step_size,omitempty"`
	Price     *jsonNumber `json:"price,omitempty"`
	VAT       *jsonNumber `json:"vat,omitempty"`
	Bucket    string      `json:"bucket,omitempty"`
	Cost      *amountJSON `json:"cost,omitempty"`
}

type warningJSON struct {
	Code    string `json:"code"`
	Period  *int   `json:"period,omitempty"`
	Message string `json:"message"`
}

type billedRowJSON struct {
	Field      string     `json:"field"`
	Billed     amountJSON `json:"billed"`
	Computed   amountJSON `json:"computed"`
	Difference amountJSON `json:"difference"`
	Outcome    string     `json:"outcome"` // reconcile's: equal or different
	// NotVerifiable lists the billed sides pricing could not check (the
	// tariff states no tax rate): neither a match nor a difference.
	NotVerifiable []string `json:"not_verifiable,omitempty"`
}

func ptrTo[T any](v T) *T { return &v }

func writePriceJSON(w io.Writer, res *pricing.Result, cmp []billedRow, explain bool) error {
	m := res.MinorUnits
	t := res.Totals
	known := bothSides &^ res.NotComputable
	out := priceJSON{
		CDRID: res.CDRID, Currency: res.Currency, MinorUnits: m,
		TimeZone:           zoneJSON{Name: res.Zone.Name, Source: string(res.Zone.Source)},
		Policy:             policyJSON{Rounding: string(res.Policy.Mode), Level: string(res.Policy.Level), Step: string(res.Policy.Step)},
		Credit:             res.Credit,
		ExpiredReservation: res.Expired,
		TotalCost:          amountOf(t.TotalCost, m, known),
		TotalEnergy:        quantity(t.TotalEnergy), TotalEnergyCost: amountOf(t.TotalEnergyCost, m, known),
		TotalTime: quantity(t.TotalTime), TotalTimeCost: amountOf(t.TotalTimeCost, m, known),
		TotalParkingTime: quantity(t.TotalParkingTime), TotalParkingCost: amountOf(t.TotalParkingCost, m, known),
		TotalFixedCost: amountOf(t.TotalFixedCost, m, known), TotalReservationCost: amountOf(t.TotalReservationCost, m, known),
		Adjustment:    amountOf(t.Adjustment, m, known),
		NotComputable: sideNames(res.NotComputable),
		Periods:       []periodJSON{},
		Warnings:      []warningJSON{},
		Readings:      []readingJSON{},
	}
	for _, pd := range res.Periods() {
		pj := periodJSON{Index: pd.Index, StartDateTime: ocpi.FormatDateTime(pd.Start), EndDateTime: ocpi.FormatDateTime(pd.End),
			LocalStart: pd.Local.Format(time.RFC3339), Phase: pd.Phase, Dimensions: []dimensionJSON{}}
		if pd.TariffID != "" {
			pj.TariffID = ptrTo(pd.TariffID)
		}
		for _, ch := range pd.Choices {
			dj := dimensionJSON{Type: ch.Dimension, Skipped: ch.Skipped}
			if pd.Phase != ch.Phase {
				dj.Phase = ch.Phase
			}
			if ch.Element >= 0 {
				dj.Element = ptrTo(ch.Element)
			}
			for _, ln := range res.Lines {
				if ln.Period != pd.Index || ln.Dimension != ch.Dimension || ln.Phase != ch.Phase {
					continue
				}
				dj.Component, dj.Unit, dj.Bucket = ptrTo(ln.Component), ln.Unit, ln.Bucket.String()
				dj.Quantity, dj.Billed, dj.Price = ptrTo(quantity(ln.Quantity)), ptrTo(quantity(ln.Billed)), ptrTo(quantity(ln.UnitPrice))
				if !ln.Extra.IsZero() {
					dj.StepExtra, dj.StepSize = ptrTo(quantity(ln.Extra)), ptrTo(ln.StepSize)
				}
				if ln.VAT.Valid {
					dj.VAT = ptrTo(quantity(ln.VAT.Decimal))
				}
				dj.Cost = ptrTo(amountOf(ln.Amount, m, known))
			}
			pj.Dimensions = append(pj.Dimensions, dj)
		}
		out.Periods = append(out.Periods, pj)
	}
	for _, wn := range res.Warnings {
		wj := warningJSON{Code: string(wn.Code), Message: wn.Message}
		if wn.Period >= 0 {
			wj.Period = ptrTo(wn.Period)
		}
		out.Warnings = append(out.Warnings, wj)
	}
	for _, rd := range res.Readings() {
		out.Readings = append(out.Readings, readingJSON{Code: string(rd.Code), Section: rd.Section, Text: rd.Text})
	}
	out.BilledOutcome = totalOutcome(cmp).String()
	if len(cmp) > 0 {
		all := true
		for _, r := range cmp {
			billed, compared := pricing.SideExcl, pricing.SideExcl
			if r.HasIncl {
				billed |= pricing.SideIncl
				if !r.TaxesNotVerifiable {
					compared |= pricing.SideIncl
				}
			}
			out.Billed = append(out.Billed, billedRowJSON{Field: r.Field, Billed: amountOf(r.Billed, m, billed),
				Computed: amountOf(r.Computed, m, known&billed), Difference: amountOf(r.Difference, m, compared),
				Outcome: r.Outcome.String(), NotVerifiable: sideNames(billed &^ compared)})
			all = all && r.matches()
		}
		out.BilledMatches = &all
	}
	if explain {
		var b strings.Builder
		if err := res.Explain(&b); err != nil {
			return err
		}
		out.Explanation = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// writePriceSummary is the short human answer: the total, the sub-totals,
// what the CPO billed, and the warnings.
func writePriceSummary(w io.Writer, res *pricing.Result, cmp []billedRow) {
	m := res.MinorUnits
	t := res.Totals
	pair := func(a pricing.Amount) string {
		ex, in := string(money(a.Excl, m)), string(money(a.Incl, m))
		if !res.ExclComputable() {
			ex = "?"
		}
		if !res.InclComputable() {
			in = "?"
		}
		return ex + " / " + in
	}
	fmt.Fprintf(w, "CDR %s: %s %s (excl / incl VAT)\n", orNone(res.CDRID), pair(t.TotalCost), res.Currency)
	fmt.Fprintf(w, "  fixed %s, energy %s, time %s, parking %s, reservation %s\n",
		pair(t.TotalFixedCost), pair(t.TotalEnergyCost), pair(t.TotalTimeCost), pair(t.TotalParkingCost), pair(t.TotalReservationCost))
	if !t.Adjustment.Excl.IsZero() || !t.Adjustment.Incl.IsZero() {
		fmt.Fprintf(w, "  adjustment (min/max price, rounding) %s\n", pair(t.Adjustment))
	}
	if !res.InclComputable() {
		fmt.Fprintln(w, "  taxes not computable: the tariff states no tax rate (? above); only amounts before taxes are compared")
	}
	if !res.ExclComputable() {
		fmt.Fprintln(w, "  amounts before taxes not computable: prices include taxes at a rate the tariff does not state (? above); only amounts after taxes are compared")
	}
	fmt.Fprintf(w, "  %s, local time %s (%s), rounding %s per %s, step reading %s\n", tariffsUsed(res),
		res.Zone.Name, res.Zone.Source, res.Policy.Mode, res.Policy.Level, res.Policy.Step)
	writeBilled(w, res, cmp)
	for _, wn := range res.Warnings {
		fmt.Fprintf(w, "  warning [%s] %s\n", wn.Code, wn.Message)
	}
}

// tariffsUsed lists the tariffs that priced the periods. Every period has
// one: a period no tariff given applies to makes the CDR not priceable
// (pricing.ReasonNoTariffApplies).
func tariffsUsed(res *pricing.Result) string {
	var ids []string
	seen := map[string]bool{}
	for _, pd := range res.Periods() {
		if !seen[pd.TariffID] {
			seen[pd.TariffID] = true
			ids = append(ids, pd.TariffID)
		}
	}
	return "tariff " + strings.Join(ids, ", ")
}

// totalOutcome is the comparison's outcome for total_cost.
func totalOutcome(cmp []billedRow) reconcile.Outcome {
	for _, r := range cmp {
		if r.Field == reconcile.TotalCost.String() {
			return r.Outcome
		}
	}
	return reconcile.NoBilled
}

func writeBilled(w io.Writer, res *pricing.Result, cmp []billedRow) {
	m := res.MinorUnits
	if totalOutcome(cmp) == reconcile.NoBilled {
		fmt.Fprintf(w, "  billed total_cost: not stated (no billed amount to compare)\n")
	}
	for _, r := range cmp {
		billed := string(money(r.Billed.Excl, m))
		diff := signed(r.Difference.Excl, m)
		if r.HasIncl {
			billed += " / " + string(money(r.Billed.Incl, m))
			if !r.TaxesNotVerifiable {
				diff += " / " + signed(r.Difference.Incl, m)
			}
		}
		verdict := "matches"
		if !r.matches() {
			verdict = "computed - billed = " + diff
		}
		if r.TaxesNotVerifiable {
			verdict = "before taxes " + verdict + "; taxes " + string(money(r.Billed.Incl.Sub(r.Billed.Excl), m)) +
				" not verifiable (the tariff states no tax rate)"
		}
		if !res.ExclComputable() {
			verdict += " (the amount before taxes is not computable: prices include taxes at a rate the tariff does not state)"
		}
		fmt.Fprintf(w, "  billed %s %s: %s\n", r.Field, billed, verdict)
	}
}

func signed(d decimal.Decimal, minor int) string {
	s := string(money(d, minor))
	if d.IsPositive() {
		return "+" + s
	}
	return s
}
