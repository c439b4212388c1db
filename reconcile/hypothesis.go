package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// A hypothesis is one way the partner may have priced the CDR differently.
// Each is tried by re-pricing the CDR under it (the compiled kernel where
// it can price it, kernel.go, else the decimal reference) and
// comparing with what was billed; only a hypothesis that reproduces every
// differing billed amount gives its reason (issue 13). They are tried only
// for CDRs that differ, and each only where it can change the amount:
//
//   - TARIFF_VERSION: every other stored version of each tariff, newest
//     first, and the tariffs embedded in the CDR when it carries any;
//   - TIME_ZONE: restrictions evaluated in UTC instead of the local zone,
//     when the zone is not UTC;
//   - STEP_SIZE: no step size (every step 1), when a step is larger, and
//     the other step reading (2.2.1-tag / 2.2.1-d2);
//   - TAX: every taxed component at another VAT rate, the candidates solved
//     from the billed amounts (the rate that would give them, rounded down
//     and up to whole percent and to tenths);
//   - ROUNDING: the exact amounts rounded half-even (or half-up when the
//     policy is half-even) and truncated to minor units, each amount that
//     differs on its own (the others as the policy rounds them), and every
//     line rounded before summing; only for differences of at most one
//     minor unit per line.
//
// Among hypotheses that explain a CDR, the one that also reproduces more
// of its other amounts comes first; on a tie, the smallest change does:
// ROUNDING, TAX, TARIFF_VERSION, TIME_ZONE, STEP_SIZE.
type hypothesis struct {
	reason   Reason
	name     string
	tariffs  []ocpi.Tariff
	opts     pricing.Options
	versions []TariffVersion
	// variant names the change made to the stored versions' elements
	// (the kernel cache's key): "" none, "-" tariffs not stored.
	variant string
	// elems identifies the stored version the tariff is (or is a variant
	// of): its elements' first, which the store's versions share across
	// CDRs.
	elems *ocpi.TariffElement
}

func tryHypotheses(cs *Case, ev *Evaluation) []Trial {
	c, res := cs.CDR, cs.Result
	base := cs.Options
	if base.Policy.Mode == "" {
		base.Policy = pricing.DefaultPolicy()
	}
	var hs []hypothesis
	variant := ""
	add := func(r Reason, name string, ts []ocpi.Tariff, opts pricing.Options, vs []TariffVersion) {
		h := hypothesis{reason: r, name: name, tariffs: ts, opts: opts, versions: vs, variant: variant}
		if from := ts; len(from) == 1 {
			if variant != "" {
				from = cs.Tariffs
			}
			h.elems = firstElement(&from[0])
		}
		hs = append(hs, h)
	}

	// TARIFF_VERSION.
	for i := range cs.Tariffs {
		vs := cs.Versions[ocpi.Key(cs.Tariffs[i].ID)]
		for j := len(vs) - 1; j >= 0; j-- {
			if vs[j].LastUpdated.Equal(cs.Tariffs[i].LastUpdated) {
				continue
			}
			ts := append([]ocpi.Tariff(nil), cs.Tariffs...)
			ts[i] = vs[j]
			v := TariffVersion{ID: vs[j].ID, LastUpdated: vs[j].LastUpdated}
			add(ReasonTariffVersion, "tariff "+v.String()+" instead of the version in effect", ts, base, versionsOf(ts, false))
		}
	}
	if len(c.Tariffs) > 0 && !sameVersions(c.Tariffs, cs.Tariffs) {
		variant = "-"
		add(ReasonTariffVersion, "the tariffs embedded in the CDR", c.Tariffs, base, versionsOf(c.Tariffs, true))
		variant = ""
	}

	// TIME_ZONE.
	if clockRestricted(cs.Tariffs) && res.Zone.Loc != nil && (zoneOffsetAt(res.Zone.Loc, c.StartDateTime) != 0 || zoneOffsetAt(res.Zone.Loc, c.EndDateTime) != 0) {
		o := base
		o.TimeZone = time.UTC
		add(ReasonTimeZone, "restrictions evaluated in UTC instead of "+res.Zone.Name, cs.Tariffs, o, ev.Versions)
	}

	// STEP_SIZE.
	if stepped(cs.Tariffs) {
		variant = "step 1"
		add(ReasonStepSize, "no step size (every step 1)", mapComponents(cs.Tariffs, func(pc *ocpi.PriceComponent) { pc.StepSize = 1 }), base, ev.Versions)
		variant = ""
	}
	if timeAndParking(res) {
		o := base
		o.Policy.Step = pricing.StepCombinedTime
		if base.Policy.Step == pricing.StepCombinedTime {
			o.Policy.Step = pricing.StepLastTimeDimension
		}
		add(ReasonStepSize, "step size read as "+string(o.Policy.Step), cs.Tariffs, o, ev.Versions)
	}

	// TAX.
	for _, r := range vatCandidates(cs, ev) {
		rate := r
		ts := mapComponents(cs.Tariffs, func(pc *ocpi.PriceComponent) {
			if pc.VAT.Valid {
				pc.VAT.Decimal = rate
			}
		})
		variant = "VAT " + rate.String()
		add(ReasonTax, "VAT "+rate.String()+" % on every taxed component", ts, base, ev.Versions)
		variant = ""
	}

	// ROUNDING: per line, and the exact amounts rounded otherwise (below),
	// only for differences of at most one minor unit per line.
	rounding := smallDifference(ev, len(res.Lines))
	if rounding && base.Policy.Level != pricing.RoundLine {
		o := base
		o.Policy.Level = pricing.RoundLine
		add(ReasonRounding, "every line rounded to minor units before summing", cs.Tariffs, o, ev.Versions)
	}

	kt := newKernelTrials(cs, hs, base, rounding)
	trials := make([]Trial, 0, len(hs)+2)
	for i, h := range hs {
		t := Trial{Reason: h.reason, Name: h.name, Versions: h.versions}
		if kt != nil && kt.ok(kt.row[i]) {
			cs.kernel.used.Add(1)
			t.Totals, t.Priced = kt.totals(kt.row[i]), true
			t.Explains, t.Agree = judge(ev, &t.Totals)
			t.Periods = kt.periods(kt.row[i])
			trials = append(trials, t)
			continue
		}
		r, err := pricing.Price(c, h.tariffs, h.opts)
		if err != nil {
			t.Error = err.Error()
			trials = append(trials, t)
			continue
		}
		t.Totals, t.Priced = ComputedTotals(r), true
		t.Explains, t.Agree = judge(ev, &t.Totals)
		t.Periods = periodsDiffering(res, r)
		trials = append(trials, t)
	}
	if rounding {
		trials = append(trials, roundingTrials(cs, ev, base, kt)...)
	}
	return trials
}

func firstElement(t *ocpi.Tariff) *ocpi.TariffElement {
	if len(t.Elements) == 0 {
		return nil
	}
	return &t.Elements[0]
}

// clockRestricted reports whether a tariff has a time-of-day, date or
// weekday restriction: only those read the local time.
func clockRestricted(ts []ocpi.Tariff) bool {
	for i := range ts {
		for _, el := range ts[i].Elements {
			if r := el.Restrictions; r != nil && (r.StartTime != "" || r.EndTime != "" || r.StartDate != "" ||
				r.EndDate != "" || len(r.DayOfWeek) > 0) {
				return true
			}
		}
	}
	return false
}

// timeAndParking reports whether the recomputation priced both charging
// and parking time: only then do the two step readings differ.
func timeAndParking(r *pricing.Result) bool {
	var t, p bool
	for _, l := range r.Lines {
		t = t || l.Dimension == ocpi.TariffDimTime
		p = p || l.Dimension == ocpi.TariffDimParkingTime
	}
	return t && p
}

// smallDifference reports whether every difference beyond tolerance is at
// most n minor units (n lines each rounded otherwise).
func smallDifference(ev *Evaluation, n int) bool {
	unit := pow10[Scale-min(max(ev.MinorUnits, 0), Scale)]
	limit := int64(max(n, 1)) * unit
	for f := range ev.Comparison {
		d := &ev.Comparison[f]
		if (ev.Beyond[f][0] && abs64(d.Excl) > limit) || (ev.Beyond[f][1] && abs64(d.Incl) > limit) {
			return false
		}
	}
	return true
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func sameVersions(a, b []ocpi.Tariff) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i].ID, b[i].ID) || !a[i].LastUpdated.Equal(b[i].LastUpdated) {
			return false
		}
	}
	return true
}

func zoneOffsetAt(loc *time.Location, t time.Time) int {
	if loc == nil {
		return 0
	}
	_, off := t.In(loc).Zone()
	return off
}

func stepped(ts []ocpi.Tariff) bool {
	for i := range ts {
		for _, el := range ts[i].Elements {
			for _, pc := range el.PriceComponents {
				if pc.StepSize > 1 {
					return true
				}
			}
		}
	}
	return false
}

// mapComponents returns deep copies of the tariffs' elements with fn
// applied to every price component.
func mapComponents(ts []ocpi.Tariff, fn func(*ocpi.PriceComponent)) []ocpi.Tariff {
	out := make([]ocpi.Tariff, len(ts))
	for i := range ts {
		out[i] = ts[i]
		out[i].Elements = make([]ocpi.TariffElement, len(ts[i].Elements))
		for j, el := range ts[i].Elements {
			el.PriceComponents = append([]ocpi.PriceComponent(nil), el.PriceComponents...)
			for k := range el.PriceComponents {
				fn(&el.PriceComponents[k])
			}
			out[i].Elements[j] = el
		}
	}
	return out
}

// vatCandidates solves for the VAT rate that would turn the recomputed
// lines into the billed total_cost: with taxed lines T (before tax, or
// after tax for a tax_included YES tariff) and untaxed ones U,
// incl = T·(1 + r/100) + U, or for YES excl = T·100/(100 + r) + U. The
// rate is rounded down and up to whole percent and to tenths; the
// tariff's own rates are left out (they are the recomputation).
func vatCandidates(cs *Case, ev *Evaluation) []decimal.Decimal {
	b := ev.Billed[TotalCost]
	res := cs.Result
	yes := false
	own := map[string]bool{}
	for i := range cs.Tariffs {
		yes = yes || strings.EqualFold(cs.Tariffs[i].TaxIncluded, ocpi.TaxIncludedYes)
	}
	// Another rate moves only the amounts after tax (before tax, for a
	// tariff whose prices include it).
	moved, kept := 1, 0
	if yes {
		moved, kept = 0, 1
	}
	if !b.HasExcl || !ev.Beyond[TotalCost][moved] || ev.Beyond[TotalCost][kept] {
		return nil
	}
	for i := range cs.Tariffs {
		for _, el := range cs.Tariffs[i].Elements {
			for _, pc := range el.PriceComponents {
				if pc.VAT.Valid {
					own[pc.VAT.Decimal.String()] = true
				}
			}
		}
	}
	var taxed, untaxed decimal.Decimal
	for _, l := range res.Lines {
		base := l.Amount.Excl
		if yes {
			base = l.Amount.Incl
		}
		if l.VAT.Valid {
			taxed = taxed.Add(base)
		} else {
			untaxed = untaxed.Add(base)
		}
	}
	if taxed.IsZero() {
		return nil
	}
	hundred := decimal.NewFromInt(100)
	excl, incl := FromMicro(b.Excl).Abs(), FromMicro(b.Incl).Abs()
	var r decimal.Decimal
	switch {
	case yes:
		net := excl.Sub(untaxed)
		if !net.IsPositive() {
			return nil
		}
		r = taxed.Mul(hundred).DivRound(net, 6).Sub(hundred)
	case b.HasIncl:
		r = incl.Sub(untaxed).Sub(taxed).Mul(hundred).DivRound(taxed, 6)
	default:
		return nil
	}
	if r.IsNegative() || r.GreaterThan(hundred) {
		return nil
	}
	var out []decimal.Decimal
	seen := map[string]bool{}
	for _, c := range []decimal.Decimal{r.Floor(), r.Ceil(), r.RoundFloor(1), r.RoundCeil(1)} {
		k := c.String()
		if seen[k] || own[k] {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	return out
}

// roundingTrials round the exact recomputation otherwise: half-even (or
// half-up) and truncation, each total on its own as the policy does.
func roundingTrials(cs *Case, ev *Evaluation, base pricing.Options, kt *kernelTrials) []Trial {
	var exact [NumFields]pricing.Amount
	if kt != nil && kt.ok(kt.exact) {
		exact = kt.amounts(kt.exact)
	} else {
		o := base
		o.Policy.Level = pricing.RoundNone
		r, err := pricing.Price(cs.CDR, cs.Tariffs, o)
		if err != nil {
			return []Trial{{Reason: ReasonRounding, Name: "exact amounts", Error: err.Error()}}
		}
		tt := &r.Totals
		exact = [NumFields]pricing.Amount{tt.TotalCost, tt.TotalFixedCost, tt.TotalEnergyCost, tt.TotalTimeCost, tt.TotalParkingCost, tt.TotalReservationCost}
	}
	other := pricing.HalfEven
	if base.Policy.Mode == pricing.HalfEven {
		other = pricing.HalfUp
	}
	var out []Trial
	for _, m := range []struct {
		name  string
		round func(decimal.Decimal, int32) decimal.Decimal
	}{
		{"totals rounded " + string(other) + " instead of " + string(base.Policy.Mode), func(d decimal.Decimal, n int32) decimal.Decimal {
			if other == pricing.HalfEven {
				return d.RoundBank(n)
			}
			return d.Round(n)
		}},
		{"totals truncated to minor units", func(d decimal.Decimal, n int32) decimal.Decimal { return d.Truncate(n) }},
	} {
		t := Trial{Reason: ReasonRounding, Name: m.name, Versions: ev.Versions, Priced: true}
		n := int32(ev.MinorUnits)
		// Rounded otherwise where the billed amount differs, as the policy
		// elsewhere: a partner that truncates its total may round its
		// sub-totals as we do.
		for f, a := range exact {
			t.Totals[f] = ev.Recomputed[f]
			if ev.Beyond[f][0] {
				t.Totals[f].Excl = Micro(m.round(a.Excl, n))
			}
			if ev.Beyond[f][1] {
				t.Totals[f].Incl = Micro(m.round(a.Incl, n))
			}
		}
		t.Explains, t.Agree = judge(ev, &t.Totals)
		out = append(out, t)
	}
	return out
}

// periodsDiffering lists the periods whose lines the two results price
// differently (amount, billed quantity or element).
func periodsDiffering(a, b *pricing.Result) []int {
	type key struct {
		p int
		d string
	}
	idx := map[key]pricing.Line{}
	for _, l := range a.Lines {
		idx[key{l.Period, l.Dimension}] = l
	}
	seen := map[int]bool{}
	var out []int
	mark := func(p int) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, l := range b.Lines {
		k := key{l.Period, l.Dimension}
		x, ok := idx[k]
		delete(idx, k)
		if !ok || !x.Amount.Excl.Equal(l.Amount.Excl) || !x.Amount.Incl.Equal(l.Amount.Incl) || !x.Billed.Equal(l.Billed) || x.Element != l.Element {
			mark(l.Period)
		}
	}
	for k := range idx {
		mark(k.p)
	}
	sortInts(out)
	return out
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// Describe is a one-line account of a trial.
func (t *Trial) Describe(minor int) string {
	switch {
	case t.Error != "":
		return fmt.Sprintf("%s: %s: could not re-price: %s", t.Reason, t.Name, t.Error)
	case !t.Priced:
		return fmt.Sprintf("%s: %s: not tried", t.Reason, t.Name)
	}
	verdict := "does not explain the billed amount"
	if t.Explains {
		verdict = "EXPLAINS the billed amount"
	}
	tc := t.Totals[TotalCost]
	return string(t.Reason) + ": " + t.Name + ": total_cost " + FixedMicro(tc.Excl, minor) + " / " + FixedMicro(tc.Incl, minor) + ": " + verdict
}
