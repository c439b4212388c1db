package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

func runPrice(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "price", "--cdr C.json [--tariff T.json]",
		"Prices one CDR (OCPI 2.1.1, 2.2.1 or 2.3.0) against a tariff and explains the amount. --tariff takes a\n"+
			"tariff object, a JSON list of tariffs or an OCPI response envelope; without it the tariffs embedded in\n"+
			"the CDR are used. Missing fields that pricing does not need are warnings on stderr; a problem that\n"+
			"blocks pricing is an error naming the field. Restrictions are evaluated in the location's local time:\n"+
			"--tz, else the 2.1.1 location's time_zone, else a single-zone country, else the coordinates,\nelse UTC (flagged).")
	cdrPath := fs.String("cdr", "", "the CDR: a CDR object, a one-element list or an OCPI response envelope (required)")
	tariffPath := fs.String("tariff", "", "tariff file: a tariff object, a list of tariffs or an OCPI response envelope\n(default: the tariffs embedded in the CDR)")
	tzName := fs.String("tz", "", "IANA time zone of the location, e.g. Europe/Berlin (default: from the country or the coordinates)")
	asJSON := fs.Bool("json", false, "print one JSON object: totals under OCPI 2.2.1 CDR names, periods, warnings, billed vs computed")
	explain := fs.Bool("explain", false, "print the full account: per period the local time, the element of each dimension and why\nearlier ones did not apply, step size, taxes, rounding, clamps")
	policySpec := fs.String("policy", "default", "pricing policy: default, exact, or key=value pairs separated by commas:\n"+
		"rounding=half_up|half_even, level=total|line|none, step=2.2.1-d2|2.2.1-tag, minor=0..4")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cdrPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	pol, err := parsePolicy(*policySpec)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	// A single-zone country answers exactly and for free; the coordinates
	// (a polygon lookup whose finder takes a second to build) only decide
	// for countries with several zones or none known.
	opts := pricing.Options{Policy: pol, Zones: pricing.ZoneChain{pricing.EmbeddedZone{}, pricing.CountryZones{}, pricing.DefaultCoordinateZones()}}
	if *tzName != "" {
		loc, err := time.LoadLocation(*tzName)
		if err != nil {
			return fmt.Errorf("--tz %q: %w", *tzName, err)
		}
		opts.TimeZone = loc
	}

	cdr, cdrWarnings, err := readPriceCDR(*cdrPath, *tariffPath != "")
	if err != nil {
		return err
	}
	tariffs := cdr.Tariffs
	var tariffWarnings []string
	if *tariffPath != "" {
		if tariffs, tariffWarnings, err = readPriceTariffs(*tariffPath, cdr); err != nil {
			return err
		}
	} else if len(tariffs) == 0 {
		return fmt.Errorf("%s: CDR %s embeds no tariff: give one with --tariff", *cdrPath, cdr.ID)
	}
	for _, w := range append(cdrWarnings, tariffWarnings...) {
		fmt.Fprintf(env.Stderr, "roamsettle price: warning: %s\n", w)
	}
	res, err := pricing.Price(cdr, tariffs, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", *cdrPath, err)
	}
	cmp := compareBilled(cdr, res)
	switch {
	case *asJSON:
		return writePriceJSON(env.Stdout, res, cmp, *explain)
	case *explain:
		if err := res.Explain(env.Stdout); err != nil {
			return err
		}
		if len(cmp) > 0 {
			fmt.Fprintln(env.Stdout, "billed by the CPO:")
		}
		writeBilled(env.Stdout, res, cmp)
		return nil
	}
	writePriceSummary(env.Stdout, res, cmp)
	return nil
}

// parsePolicy reads --policy: "default", "exact" or key=value pairs on top
// of the default policy.
func parsePolicy(spec string) (pricing.Policy, error) {
	pol := pricing.DefaultPolicy()
	spec = strings.TrimSpace(spec)
	switch spec {
	case "", "default":
		return pol, nil
	case "exact":
		return pricing.ExactPolicy(), nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return pol, fmt.Errorf("%q is not key=value", kv)
		}
		switch strings.TrimSpace(k) {
		case "rounding", "mode":
			pol.Mode = pricing.RoundingMode(v)
		case "level":
			pol.Level = pricing.RoundingLevel(v)
		case "step":
			pol.Step = pricing.StepReading(v)
		case "minor":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return pol, fmt.Errorf("minor=%q is not a number of decimals", v)
			}
			pol.MinorUnits = n
		default:
			return pol, fmt.Errorf("unknown key %q (want rounding, level, step or minor)", k)
		}
	}
	return pol, pol.Validate()
}

// splitOCPI returns the objects of a file: one object, a JSON list, or the
// data of an OCPI response envelope (which holds either).
func splitOCPI(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("\xef\xbb\xbf")))
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	switch data[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, err
		}
		return list, nil
	case '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, err
		}
		inner := top["data"]
		_, hasStatus := top["status_code"]
		_, hasTimestamp := top["timestamp"]
		if !hasStatus || (inner == nil && !hasTimestamp) {
			return []json.RawMessage{json.RawMessage(data)}, nil
		}
		var code int
		_ = json.Unmarshal(top["status_code"], &code)
		if code != 0 && (code < 1000 || code > 1999) {
			var msg string
			_ = json.Unmarshal(top["status_message"], &msg)
			return nil, fmt.Errorf("OCPI response with status %d %q", code, msg)
		}
		if t := bytes.TrimSpace(inner); len(t) == 0 || string(t) == "null" {
			return nil, errors.New("OCPI response without data")
		}
		return splitOCPI(inner)
	}
	return nil, errors.New("not a JSON object or list")
}

// decodeOwned decodes one object; an object without owner fields (2.1.1) is
// decoded again under the fallback owner.
func decodeOwned(raw []byte, kind ocpi.Kind, fallbackCC, fallbackPID string) ocpi.Decoded {
	out := ocpi.Decode(raw, ocpi.Hint{Kind: kind})
	if !out.Rejected || !out.Problems.Has(ocpi.RuleOwner) || out.Problems.Has(ocpi.RuleKind) {
		return out
	}
	return ocpi.Decode(raw, ocpi.Hint{Kind: kind, CountryCode: fallbackCC, PartyID: fallbackPID})
}

// readPriceCDR reads the one CDR of a file. Problems that block pricing are
// an error naming the file and the field paths; the others are returned as
// warnings. With an explicit tariff, problems of the embedded tariffs do not
// block (they are not used).
func readPriceCDR(path string, tariffGiven bool) (*ocpi.CDR, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	objs, err := splitOCPI(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(objs) != 1 {
		return nil, nil, fmt.Errorf("%s: holds %d objects; price takes one CDR", path, len(objs))
	}
	// 2.1.1 CDRs carry no owner: the owner does not matter for pricing.
	d := decodeOwned(objs[0], ocpi.KindCDR, "ZZ", "ZZZ")
	if d.Rejected {
		return nil, nil, fmt.Errorf("%s: not a CDR that can be priced: %s", path, joinProblems(d.Problems))
	}
	var blocking ocpi.Problems
	var warnings []string
	for _, p := range d.Problems {
		if p.Blocking && !(tariffGiven && strings.HasPrefix(p.Path, "tariffs[")) {
			blocking = append(blocking, p)
			continue
		}
		warnings = append(warnings, path+": "+p.String())
	}
	if len(blocking) > 0 {
		return nil, nil, fmt.Errorf("%s: CDR %s cannot be priced: %s", path, d.CDR.ID, joinProblems(blocking))
	}
	return d.CDR, warnings, nil
}

// readPriceTariffs reads the tariffs of a file. When several versions of one
// tariff are given, the one in effect at the session start is used.
func readPriceTariffs(path string, cdr *ocpi.CDR) ([]ocpi.Tariff, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	objs, err := splitOCPI(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(objs) == 0 {
		return nil, nil, fmt.Errorf("%s: no tariff in the file", path)
	}
	var warnings []string
	versions := map[string][]ocpi.Tariff{}
	var order []string
	for i, raw := range objs {
		where := path
		if len(objs) > 1 {
			where = fmt.Sprintf("%s[%d]", path, i)
		}
		d := decodeOwned(raw, ocpi.KindTariff, cdr.CountryCode, cdr.PartyID)
		if d.Rejected {
			return nil, nil, fmt.Errorf("%s: not a tariff that can be used: %s", where, joinProblems(d.Problems))
		}
		if d.Problems.Blocking() {
			var blocking ocpi.Problems
			for _, p := range d.Problems {
				if p.Blocking {
					blocking = append(blocking, p)
				}
			}
			return nil, nil, fmt.Errorf("%s: tariff %s cannot price: %s", where, d.Tariff.ID, joinProblems(blocking))
		}
		for _, p := range d.Problems {
			warnings = append(warnings, where+": "+p.String())
		}
		k := ocpi.PartyKey(d.Tariff.CountryCode, d.Tariff.PartyID) + "*" + ocpi.Key(d.Tariff.ID)
		if _, seen := versions[k]; !seen {
			order = append(order, k)
		}
		versions[k] = append(versions[k], *d.Tariff)
	}
	var tariffs []ocpi.Tariff
	for _, k := range order {
		vs := versions[k]
		if len(vs) == 1 {
			tariffs = append(tariffs, vs[0])
			continue
		}
		if t, ok := pricing.InEffect(vs, cdr.StartDateTime); ok {
			tariffs = append(tariffs, *t)
			continue
		}
		latest := 0
		for i := range vs {
			if vs[i].LastUpdated.After(vs[latest].LastUpdated) {
				latest = i
			}
		}
		warnings = append(warnings, fmt.Sprintf("%s: no version of tariff %s was in effect at %s: the latest (%s) is used",
			path, vs[latest].ID, ocpi.FormatDateTime(cdr.StartDateTime), ocpi.FormatDateTime(vs[latest].LastUpdated)))
		tariffs = append(tariffs, vs[latest])
	}
	return tariffs, warnings, nil
}

func joinProblems(ps ocpi.Problems) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// billedRow compares one total the CDR states with the recomputed one.
type billedRow struct {
	Field      string
	Billed     pricing.Amount // as stated
	HasIncl    bool           // the CDR states the amount incl. VAT
	Computed   pricing.Amount
	Difference pricing.Amount // computed - billed at the currency's minor units
	Outcome    reconcile.Outcome
}

func (r billedRow) matches() bool { return r.Outcome != reconcile.Different }

// compareBilled lists the cost totals the CDR states next to the computed
// ones (reconcile's one comparison); a total the CDR does not state is no
// billed amount and has no row.
func compareBilled(cdr *ocpi.CDR, res *pricing.Result) []billedRow {
	cmp := reconcile.CompareCDR(cdr, res)
	t := &res.Totals
	stated := [reconcile.NumFields]*ocpi.Price{cdr.TotalCost, cdr.TotalFixedCost, cdr.TotalEnergyCost, cdr.TotalTimeCost,
		cdr.TotalParkingCost, cdr.TotalReservationCost}
	computed := [reconcile.NumFields]pricing.Amount{t.TotalCost, t.TotalFixedCost, t.TotalEnergyCost, t.TotalTimeCost,
		t.TotalParkingCost, t.TotalReservationCost}
	var rows []billedRow
	for f, d := range cmp {
		p := stated[f]
		if p == nil || d.Outcome == reconcile.NoBilled || d.Outcome == reconcile.NotPriced {
			continue
		}
		rows = append(rows, billedRow{Field: reconcile.Field(f).String(), Billed: pricing.Amount{Excl: p.ExclVAT, Incl: p.InclVAT.Decimal},
			HasIncl: p.InclVAT.Valid, Computed: computed[f], Outcome: d.Outcome,
			Difference: pricing.Amount{Excl: reconcile.FromMicro(d.Excl), Incl: reconcile.FromMicro(d.Incl)}})
	}
	return rows
}

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

type amountJSON struct {
	ExclVAT jsonNumber  `json:"excl_vat"`
	InclVAT *jsonNumber `json:"incl_vat,omitempty"`
}

func amountOf(a pricing.Amount, minor int, withIncl bool) amountJSON {
	out := amountJSON{ExclVAT: money(a.Excl, minor)}
	if withIncl {
		in := money(a.Incl, minor)
		out.InclVAT = &in
	}
	return out
}

type priceJSON struct {
	CDRID                string          `json:"cdr_id"`
	Currency             string          `json:"currency"`
	MinorUnits           int             `json:"minor_units"`
	TimeZone             zoneJSON        `json:"time_zone"`
	Policy               policyJSON      `json:"policy"`
	Credit               bool            `json:"credit,omitempty"`
	ExpiredReservation   bool            `json:"expired_reservation,omitempty"`
	TotalCost            amountJSON      `json:"total_cost"`
	TotalEnergy          jsonNumber      `json:"total_energy"`
	TotalEnergyCost      amountJSON      `json:"total_energy_cost"`
	TotalTime            jsonNumber      `json:"total_time"`
	TotalTimeCost        amountJSON      `json:"total_time_cost"`
	TotalParkingTime     jsonNumber      `json:"total_parking_time"`
	TotalParkingCost     amountJSON      `json:"total_parking_cost"`
	TotalFixedCost       amountJSON      `json:"total_fixed_cost"`
	TotalReservationCost amountJSON      `json:"total_reservation_cost"`
	Adjustment           amountJSON      `json:"adjustment"`
	Periods              []periodJSON    `json:"periods"`
	Warnings             []warningJSON   `json:"warnings"`
	Billed               []billedRowJSON `json:"billed_vs_computed,omitempty"`
	BilledOutcome        string          `json:"billed_outcome"` // of total_cost: equal, different, no_billed_amount
	BilledMatches        *bool           `json:"billed_matches,omitempty"`
	Explanation          []string        `json:"explanation,omitempty"`
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
	Element   *int        `json:"element"` // null: no element matched, not charged
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
}

func ptrTo[T any](v T) *T { return &v }

func writePriceJSON(w io.Writer, res *pricing.Result, cmp []billedRow, explain bool) error {
	m := res.MinorUnits
	t := res.Totals
	out := priceJSON{
		BilledOutcome: totalOutcome(cmp).String(),
		CDRID:         res.CDRID, Currency: res.Currency, MinorUnits: m,
		TimeZone:           zoneJSON{Name: res.Zone.Name, Source: string(res.Zone.Source)},
		Policy:             policyJSON{Rounding: string(res.Policy.Mode), Level: string(res.Policy.Level), Step: string(res.Policy.Step)},
		Credit:             res.Credit,
		ExpiredReservation: res.Expired,
		TotalCost:          amountOf(t.TotalCost, m, true),
		TotalEnergy:        quantity(t.TotalEnergy), TotalEnergyCost: amountOf(t.TotalEnergyCost, m, true),
		TotalTime: quantity(t.TotalTime), TotalTimeCost: amountOf(t.TotalTimeCost, m, true),
		TotalParkingTime: quantity(t.TotalParkingTime), TotalParkingCost: amountOf(t.TotalParkingCost, m, true),
		TotalFixedCost: amountOf(t.TotalFixedCost, m, true), TotalReservationCost: amountOf(t.TotalReservationCost, m, true),
		Adjustment: amountOf(t.Adjustment, m, true),
		Periods:    []periodJSON{},
		Warnings:   []warningJSON{},
	}
	for _, pd := range res.Periods() {
		pj := periodJSON{Index: pd.Index, StartDateTime: ocpi.FormatDateTime(pd.Start), EndDateTime: ocpi.FormatDateTime(pd.End),
			LocalStart: pd.Local.Format(time.RFC3339), Phase: pd.Phase, Dimensions: []dimensionJSON{}}
		if pd.TariffID != "" {
			pj.TariffID = ptrTo(pd.TariffID)
		}
		for _, ch := range pd.Choices {
			dj := dimensionJSON{Type: ch.Dimension, Skipped: ch.Skipped}
			if ch.Element >= 0 {
				dj.Element = ptrTo(ch.Element)
			}
			for _, ln := range res.Lines {
				if ln.Period != pd.Index || ln.Dimension != ch.Dimension {
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
				dj.Cost = ptrTo(amountOf(ln.Amount, m, true))
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
	if len(cmp) > 0 {
		all := true
		for _, r := range cmp {
			out.Billed = append(out.Billed, billedRowJSON{Field: r.Field, Billed: amountOf(r.Billed, m, r.HasIncl),
				Computed: amountOf(r.Computed, m, r.HasIncl), Difference: amountOf(r.Difference, m, r.HasIncl)})
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
	fmt.Fprintf(w, "CDR %s: %s / %s %s (excl / incl VAT)\n", res.CDRID, money(t.TotalCost.Excl, m), money(t.TotalCost.Incl, m), res.Currency)
	fmt.Fprintf(w, "  fixed %s / %s, energy %s / %s, time %s / %s, parking %s / %s, reservation %s / %s\n",
		money(t.TotalFixedCost.Excl, m), money(t.TotalFixedCost.Incl, m), money(t.TotalEnergyCost.Excl, m), money(t.TotalEnergyCost.Incl, m),
		money(t.TotalTimeCost.Excl, m), money(t.TotalTimeCost.Incl, m), money(t.TotalParkingCost.Excl, m), money(t.TotalParkingCost.Incl, m),
		money(t.TotalReservationCost.Excl, m), money(t.TotalReservationCost.Incl, m))
	if !t.Adjustment.Excl.IsZero() || !t.Adjustment.Incl.IsZero() {
		fmt.Fprintf(w, "  adjustment (min/max price, rounding) %s / %s\n", money(t.Adjustment.Excl, m), money(t.Adjustment.Incl, m))
	}
	var ids []string
	seen := map[string]bool{}
	for _, pd := range res.Periods() {
		if pd.TariffID != "" && !seen[pd.TariffID] {
			seen[pd.TariffID] = true
			ids = append(ids, pd.TariffID)
		}
	}
	fmt.Fprintf(w, "  tariff %s, local time %s (%s), rounding %s per %s, step reading %s\n", strings.Join(ids, ", "),
		res.Zone.Name, res.Zone.Source, res.Policy.Mode, res.Policy.Level, res.Policy.Step)
	writeBilled(w, res, cmp)
	for _, wn := range res.Warnings {
		fmt.Fprintf(w, "  warning [%s] %s\n", wn.Code, wn.Message)
	}
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
			diff += " / " + signed(r.Difference.Incl, m)
		}
		verdict := "matches"
		if !r.matches() {
			verdict = "computed - billed = " + diff
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
