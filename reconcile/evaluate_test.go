package reconcile

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

var amsterdam = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

func comp(typ, p, vat string, step int64) ocpi.PriceComponent {
	pc := ocpi.PriceComponent{Type: typ, Price: dec(p), StepSize: step}
	if vat != "" {
		pc.VAT = decimal.NewNullDecimal(dec(vat))
	}
	return pc
}

// tariffV builds version n of tariff T1: energy at the given price, TIME
// at 1.20/h with a 15-minute step, 21 % VAT; an evening element (18:00 to
// 22:00 local) prices energy 0.10 higher.
func tariffV(energy string, updated time.Time) ocpi.Tariff {
	evening := dec(energy).Add(dec("0.10")).String()
	return ocpi.Tariff{Version: ocpi.V221, CountryCode: "NL", PartyID: "EVB", ID: "T1", Currency: "EUR", LastUpdated: updated,
		Elements: []ocpi.TariffElement{
			{PriceComponents: []ocpi.PriceComponent{comp(ocpi.TariffDimEnergy, evening, "21", 1)},
				Restrictions: &ocpi.TariffRestrictions{StartTime: "18:00", EndTime: "22:00"}},
			{PriceComponents: []ocpi.PriceComponent{comp(ocpi.TariffDimEnergy, energy, "21", 1), comp(ocpi.TariffDimTime, "1.20", "21", 900)}},
		}}
}

var (
	v1 = tariffV("0.2000", t0.Add(-60*24*time.Hour))
	v2 = tariffV("0.2345", t0.Add(-10*24*time.Hour)) // in effect
)

// sessionCDR: 17:30 UTC (19:30 in Amsterdam), 10 kWh over 50 minutes of
// charging; its billed totals are set by billAs.
func sessionCDR() *ocpi.CDR {
	start := time.Date(2026, 10, 12, 17, 30, 0, 0, time.UTC)
	c := cleanCDR()
	c.StartDateTime, c.EndDateTime = start, start.Add(50*time.Minute)
	c.ChargingPeriods = []ocpi.ChargingPeriod{{StartDateTime: start, TariffID: "T1", Dimensions: []ocpi.CDRDimension{
		{Type: ocpi.DimEnergy, Volume: dec("10")}, {Type: ocpi.DimTime, Volume: dec("0.8333")}}}}
	c.TotalEnergy, c.TotalTime = dec("10"), dec("0.8333")
	return c
}

var baseOpts = pricing.Options{Zones: pricing.FixedZone{Loc: amsterdam}, Policy: pricing.DefaultPolicy()}

// billAs sets the CDR's billed totals to what pricing under (tariffs,
// opts) gives, the way a partner's system would have billed.
func billAs(t *testing.T, c *ocpi.CDR, tariffs []ocpi.Tariff, opts pricing.Options) {
	t.Helper()
	r, err := pricing.Price(c, tariffs, opts)
	if err != nil {
		t.Fatal(err)
	}
	setBilled(c, r, 2)
}

func setBilled(c *ocpi.CDR, r *pricing.Result, minor int32) {
	p := func(a pricing.Amount) *ocpi.Price {
		return &ocpi.Price{ExclVAT: a.Excl.Round(minor), InclVAT: decimal.NewNullDecimal(a.Incl.Round(minor))}
	}
	tt := &r.Totals
	c.TotalCost, c.TotalFixedCost, c.TotalEnergyCost = p(tt.TotalCost), p(tt.TotalFixedCost), p(tt.TotalEnergyCost)
	c.TotalTimeCost, c.TotalParkingCost = p(tt.TotalTimeCost), p(tt.TotalParkingCost)
}

// evaluate re-prices the CDR as roamsettle does (v2 in effect, the zone
// of the location, default policy) and evaluates it.
func evaluate(t *testing.T, c *ocpi.CDR, fs Findings) *Evaluation {
	t.Helper()
	cs := &Case{CDR: c, Tariffs: []ocpi.Tariff{v2}, Versions: map[string][]ocpi.Tariff{"T1": {v1, v2}}, Options: baseOpts, Findings: fs}
	cs.Result, cs.PriceError = pricing.Price(c, cs.Tariffs, baseOpts)
	if cs.PriceError != nil {
		t.Fatal(cs.PriceError)
	}
	return Evaluate(cs)
}

func TestEvaluateOK(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	ev := evaluate(t, c, nil)
	if ev.Verdict != VerdictOK || len(ev.Reasons) != 0 || len(ev.Trials) != 0 || ev.Disputed() {
		t.Fatalf("%v, trials %d", ev, len(ev.Trials))
	}
}

// Each hypothesis reason with a CDR billed the way the hypothesis says
// (it must come first among the reasons), and the same CDR billed right
// (OK, no hypothesis tried).
func TestEachReasonHypothesis(t *testing.T) {
	utc := baseOpts
	utc.TimeZone = time.UTC
	noStep := []ocpi.Tariff{mapComponents([]ocpi.Tariff{v2}, func(pc *ocpi.PriceComponent) { pc.StepSize = 1 })[0]}
	vat19 := []ocpi.Tariff{mapComponents([]ocpi.Tariff{v2}, func(pc *ocpi.PriceComponent) { pc.VAT.Decimal = dec("19") })[0]}
	for _, tc := range []struct {
		want Reason
		bill func(t *testing.T, c *ocpi.CDR)
	}{
		{ReasonTariffVersion, func(t *testing.T, c *ocpi.CDR) { billAs(t, c, []ocpi.Tariff{v1}, baseOpts) }},
		{ReasonTimeZone, func(t *testing.T, c *ocpi.CDR) { billAs(t, c, []ocpi.Tariff{v2}, utc) }},
		{ReasonStepSize, func(t *testing.T, c *ocpi.CDR) { billAs(t, c, noStep, baseOpts) }},
		{ReasonTax, func(t *testing.T, c *ocpi.CDR) { billAs(t, c, vat19, baseOpts) }},
		{ReasonRounding, func(t *testing.T, c *ocpi.CDR) {
			// 10 kWh at 0.3345 (evening) = 3.345 + 1.20 for 1 h: 4.545 exact, 4.55 half up; truncated 4.54.
			billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
			c.TotalCost.ExclVAT = dec("4.54")
		}},
		{ReasonPrice, func(t *testing.T, c *ocpi.CDR) {
			billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
			c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec("0.37"))
		}},
	} {
		c := sessionCDR()
		tc.bill(t, c)
		ev := evaluate(t, c, nil)
		if ev.Verdict != VerdictMismatch || len(ev.Reasons) == 0 || ev.Reasons[0] != tc.want {
			t.Errorf("%s: %v", tc.want, ev)
			for _, tr := range ev.Trials {
				t.Logf("  %s", tr.Describe(2))
			}
			continue
		}
		if tc.want != ReasonPrice && tc.want != ReasonRounding {
			// The evidence says where the difference arises, and so does
			// the dispute (the one period of the session).
			for _, tr := range ev.Trials {
				if tr.Explains && tr.Reason == tc.want && len(tr.Periods) == 0 {
					t.Errorf("%s: explaining trial names no period", tc.want)
				}
			}
			if d := NewDispute(ev, "2026-10", t0, "test"); d == nil || len(d.Periods) != 1 || d.Periods[0] != 0 {
				t.Errorf("%s: dispute periods %v", tc.want, d.Periods)
			}
		} else if d := NewDispute(ev, "2026-10", t0, "test"); len(d.Periods) != 0 {
			t.Errorf("%s: dispute periods %v, want none (no hypothesis prices a period differently)", tc.want, d.Periods)
		}
		if !ev.Disputed() {
			t.Errorf("%s: not disputed", tc.want)
		}
	}
}

func TestReasonTariffVersionFromEmbedded(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v1}, baseOpts)
	c.Tariffs = []ocpi.Tariff{v1}
	cs := &Case{CDR: c, Tariffs: []ocpi.Tariff{v2}, Options: baseOpts} // no other stored version
	cs.Result, _ = pricing.Price(c, cs.Tariffs, baseOpts)
	ev := Evaluate(cs)
	if ev.Verdict != VerdictMismatch || ev.Reasons[0] != ReasonTariffVersion {
		t.Fatalf("%v", ev)
	}
	for _, tr := range ev.Trials {
		if tr.Explains && (len(tr.Versions) != 1 || !tr.Versions[0].Embedded) {
			t.Errorf("evidence names %v", tr.Versions)
		}
	}
}

func TestNotVerifiable(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	c.TotalCost = nil
	ev := evaluate(t, c, nil)
	if ev.Verdict != VerdictNotVerifiable || ev.Reasons[0] != ReasonMissingData || ev.Note == "" {
		t.Errorf("no billed amount: %v", ev)
	}
	c = sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	ev = Evaluate(&Case{CDR: c, PriceError: nil})
	if ev.Verdict != VerdictNotVerifiable || ev.Reasons[0] != ReasonMissingTariff {
		t.Errorf("no tariff: %v", ev)
	}
	// A blocking finding (no periods) is MISSING_DATA whatever the amounts.
	fs := Findings{{Code: CodeMissingField, Field: "charging_periods", Blocking: true, Severity: SeverityError, Message: "missing"}}
	ev = evaluate(t, c, fs)
	if ev.Verdict != VerdictNotVerifiable || ev.Reasons[0] != ReasonMissingData {
		t.Errorf("blocking finding: %v", ev)
	}
	fs = Findings{{Code: CodeCurrencyMismatch, Field: "currency", Blocking: true, Severity: SeverityError, Message: "USD"}}
	if ev = evaluate(t, c, fs); ev.Reasons[0] != ReasonMissingTariff {
		t.Errorf("currency mismatch: %v", ev)
	}
	// A restriction the CDR cannot verify, when it could change the amount:
	// a difference no hypothesis explains proves nothing; a match is OK.
	unverifiable := func(c *ocpi.CDR) *Evaluation {
		cs := &Case{CDR: c, Tariffs: []ocpi.Tariff{v2}, Options: baseOpts}
		cs.Result, _ = pricing.Price(c, cs.Tariffs, baseOpts)
		cs.Result.Warnings = append(cs.Result.Warnings, pricing.Warning{Code: pricing.WarnUnverifiable, Period: 0})
		return Evaluate(cs)
	}
	c = sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	if ev = unverifiable(c); ev.Verdict != VerdictOK {
		t.Errorf("unverifiable restriction, amounts equal: %v", ev)
	}
	c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec("0.37"))
	if ev = unverifiable(c); ev.Verdict != VerdictNotVerifiable || ev.Reasons[0] != ReasonMissingData {
		t.Errorf("unverifiable restriction, amounts differ: %v", ev)
	}
}

func TestDataReasons(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	dup := Findings{{Code: CodeDuplicate, Severity: SeverityError}, {Code: CodeConflict, Severity: SeverityError}}
	ev := evaluate(t, c, dup)
	if ev.Verdict != VerdictOK || len(ev.Reasons) != 2 || ev.Reasons[0] != ReasonDuplicate || ev.Reasons[1] != ReasonConflict || !ev.Disputed() {
		t.Errorf("duplicate and conflict: %v", ev)
	}
	if ev := evaluate(t, c, nil); len(ev.Reasons) != 0 {
		t.Errorf("clean: %v", ev)
	}
	// Sub-totals that do not add up: a reason when the amounts differ.
	c.TotalEnergyCost.ExclVAT = c.TotalEnergyCost.ExclVAT.Add(dec("1"))
	tot := Findings{{Code: CodeTotalsInconsistent, Severity: SeverityError}}
	ev = evaluate(t, c, tot)
	if ev.Verdict != VerdictMismatch || !hasReason(ev.Reasons, ReasonTotalsInconsistent) {
		t.Errorf("totals: %v", ev)
	}
	c = sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	if ev := evaluate(t, c, tot); hasReason(ev.Reasons, ReasonTotalsInconsistent) {
		t.Errorf("totals on a matching CDR: %v", ev)
	}
}

func TestTolerance(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec("0.01"))
	cs := &Case{CDR: c, Tariffs: []ocpi.Tariff{v2}, Options: baseOpts, Tolerance: Tolerance{Minor: 1}}
	cs.Result, _ = pricing.Price(c, cs.Tariffs, baseOpts)
	if ev := Evaluate(cs); ev.Verdict != VerdictOK {
		t.Errorf("1 cent within 1 minor unit: %v", ev)
	}
	cs.Tolerance = Tolerance{}
	if ev := Evaluate(cs); ev.Verdict != VerdictMismatch {
		t.Errorf("1 cent at the exact default: %v", ev)
	}
	for _, tc := range []struct {
		tol       Tolerance
		diff, ref int64
		minor     int
		want      bool
	}{
		{Tolerance{}, 0, 100, 2, true},
		{Tolerance{}, 10_000, 100, 2, false},
		{Tolerance{Minor: 2}, 20_000, 0, 2, true},
		{Tolerance{Minor: 2}, 30_000, 0, 2, false},
		{Tolerance{Minor: 1}, 1_000_000, 0, 0, true},        // one yen
		{Tolerance{PPM: 1000}, 10_000, 10_000_000, 2, true}, // 0.01 of 10.00 is 0.1 %
		{Tolerance{PPM: 999}, 10_000, 10_000_000, 2, false},
		{Tolerance{PPM: 1000}, -10_000, -10_000_000, 2, true}, // credits
	} {
		if got := tc.tol.Allows(tc.diff, tc.ref, tc.minor); got != tc.want {
			t.Errorf("%v allows %d of %d: %v", tc.tol, tc.diff, tc.ref, got)
		}
	}
	var ts Tolerances
	ts.Set("", "", Tolerance{Minor: 1})
	ts.Set("", "jpy", Tolerance{Minor: 5})
	ts.Set("nl-evb", "", Tolerance{PPM: 10})
	ts.Set("NL-EVB", "USD", Tolerance{Minor: 3})
	if ts.For("NL", "EVB", "USD").Minor != 3 || ts.For("nl", "evb", "EUR").PPM != 10 || ts.For("DE", "X", "JPY").Minor != 5 ||
		ts.For("DE", "X", "EUR").Minor != 1 {
		t.Error("tolerance precedence")
	}
}

// A version in effect with a finding that blocks pricing (Input.Blocked)
// prices nothing: the CDR is not verifiable, the note names the finding,
// and no amount is recomputed (it was priced with what was left of the
// version before). An older version without the finding changes nothing.
func TestEvaluateBlockedVersionNotPriced(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec("1.00")) // would be a MISMATCH if priced
	in := &Input{Zones: baseOpts.Zones, Policy: baseOpts.Policy, Versions: map[string][]ocpi.Tariff{"T1": {v1, v2}},
		Blocked: func(t *ocpi.Tariff) string {
			if t.LastUpdated.Equal(v2.LastUpdated) {
				return "elements[1].price_components[0].price: required field is missing"
			}
			return ""
		}}
	ev := in.Evaluate(c)
	want := "not priced: tariff T1 of " + ocpi.FormatDateTime(v2.LastUpdated) + " has a finding that blocks pricing (elements[1].price_components[0].price: required field is missing)"
	if ev.Verdict != VerdictNotVerifiable || ev.Note != want || ev.Result != nil || ev.Recomputed[TotalCost].HasExcl {
		t.Errorf("verdict %s, note %q, recomputed %+v; want %s, %q, none", ev.Verdict, ev.Note, ev.Recomputed[TotalCost], VerdictNotVerifiable, want)
	}
	in.Blocked = func(t *ocpi.Tariff) string {
		if t.LastUpdated.Equal(v1.LastUpdated) {
			return "elements[0].price_components[0].price: required field is missing"
		}
		return ""
	}
	if ev := in.Evaluate(c); ev.Verdict != VerdictMismatch {
		t.Errorf("only an older version blocked: verdict %s, want %s", ev.Verdict, VerdictMismatch)
	}
}
