package pricing

import (
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at returns a local Berlin time on a date whose weekday the test asserts.
func at(tb testing.TB, date, clock string, wd time.Weekday) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", date+" "+clock, berlin)
	if err != nil {
		tb.Fatal(err)
	}
	if t.Weekday() != wd {
		tb.Fatalf("%s is a %s, not a %s", date, t.Weekday(), wd)
	}
	return t.UTC()
}

// Table 5.12 of the digest, every worked example, with the corrected amounts.
// Amounts are compared exactly (ExactPolicy) unless the row names a policy.
func TestWorkedExamples(t *testing.T) {
	mon := func(clock string) time.Time { return at(t, "2026-06-01", clock, time.Monday) }
	sat := func(clock string) time.Time { return at(t, "2026-06-06", clock, time.Saturday) }
	tag := ExactPolicy()
	tag.Step = StepCombinedTime
	type row struct {
		name       string
		dir, file  string
		tariff     *ocpi.Tariff
		policy     *Policy
		cdr        *ocpi.CDR
		excl, incl string
		warn       Code
	}
	rows := []row{
		{name: "1 simple 0.25/kWh", file: "tariff_8_simple_025kwh.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20", charging: true}), excl: "5.00", incl: "5.50"},
		{name: "2 start fee", file: "tariff_9_025kwh_start.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20", charging: true}), excl: "5.50", incl: "6.10"},
		{name: "3 min price not reached", file: "tariff_12_025kwh_min_price.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20", charging: true}), excl: "5.00", incl: "5.50"},
		{name: "3 min price applied", file: "tariff_12_025kwh_min_price.json",
			cdr: mkCDR(mon("10:00"), seg{min: 10, energy: "1.5", charging: true}), excl: "0.50", incl: "0.55", warn: WarnMinPriceApplied},
		{name: "3 min price 2.3.0 before/after_taxes", dir: "spec230", file: "tariff_12_025kwh_min_price.json",
			cdr: mkCDR(mon("10:00"), seg{min: 10, energy: "1.5", charging: true}), excl: "0.50", incl: "0.55"},
		{name: "4 parking and start fee", file: "tariff_10_025kwh_parking_start.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20", charging: true}, seg{min: 40, parking: true}), excl: "7.00", incl: "7.90"},
		{name: "5 max price applied", file: "tariff_6_025kwh_start_max_price.json",
			cdr: mkCDR(mon("10:00"), seg{min: 120, energy: "50", charging: true}), excl: "10.00", incl: "11.00", warn: WarnMaxPriceApplied},
		{name: "5 max price not reached", file: "tariff_6_025kwh_start_max_price.json",
			cdr: mkCDR(mon("10:00"), seg{min: 90, energy: "30", charging: true}), excl: "8.00", incl: "8.85"},
		{name: "6 simple 2/hour, parking not billed", file: "tariff_1_simple_2hour.json",
			cdr: mkCDR(mon("10:00"), seg{min: 150, energy: "10", charging: true}, seg{min: 30, parking: true}), excl: "5.00", incl: "5.50"},
		{name: "7 north american exclusive", dir: "spec230", file: "tariff_19_simple_north_american_exclusive.json",
			cdr: mkCDR(mon("10:00"), seg{min: 150, charging: true}), excl: "5.00", incl: "5.00", warn: WarnTaxesUnknown},
		{name: "8 north american inclusive", dir: "spec230", file: "tariff_20_simple_north_american_inclusive.json",
			cdr: mkCDR(mon("10:00"), seg{min: 150, charging: true}), excl: "5.25", incl: "5.25", warn: WarnTaxesUnknown},
		{name: "9 3/h charging + 5/h parking", file: "tariff_13_simple_3hour_5parking.json",
			cdr: mkCDR(mon("10:00"), seg{min: 150, charging: true}, seg{min: 42, parking: true}), excl: "11.25", incl: "12.75"},
		{name: "10 ad hoc exact", file: "tariff_2_alt_text.json",
			cdr: mkCDR(mon("10:00"), seg{min: 150, charging: true}), excl: "4.75", incl: "4.997"},
		{name: "10 ad hoc rounded", file: "tariff_2_alt_text.json", policy: ptr(DefaultPolicy()),
			cdr: mkCDR(mon("10:00"), seg{min: 150, charging: true}), excl: "4.75", incl: "5.00"},
		{name: "12 alt url step 100 Wh exact", file: "tariff_3_alt_url.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20.45", charging: true}), excl: "5.625", incl: "6.2375"},
		{name: "12 alt url per line", file: "tariff_3_alt_url.json", policy: &Policy{Mode: HalfUp, Level: RoundLine, Step: StepLastTimeDimension, MinorUnits: -1},
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20.45", charging: true}), excl: "5.63", incl: "6.24"},
		{name: "12 alt url per total", file: "tariff_3_alt_url.json", policy: ptr(DefaultPolicy()),
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20.45", charging: true}), excl: "5.63", incl: "6.24"},
		{name: "13 complex Monday", file: "tariff_4_complex.json",
			cdr:  mkCDR(mon("09:30"), seg{min: 165, energy: "20", charging: true, maxCur: "16", minCur: "6"}, seg{min: 42, parking: true}),
			excl: "9.00", incl: "10.30"},
		{name: "14 complex Saturday (2.2.1 prose, not the 2.3.0 table)", file: "tariff_4_complex.json",
			cdr:  mkCDR(sat("13:30"), seg{min: 114, energy: "60", charging: true, maxCur: "48", minCur: "43"}, seg{min: 71, parking: true}),
			excl: "12.375", incl: "13.975"},
		{name: "15 free of charge, step 0", file: "tariff_5_free_of_charge.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, energy: "20", charging: true}), excl: "0", incl: "0"},
		{name: "17 reservation 5/h", file: "tariff_15_reservation_5_euro_per_hour.json",
			cdr: mkCDR(mon("10:00"), seg{min: 15, resv: true}, seg{min: 60, energy: "20", charging: true}), excl: "6.75", incl: "7.60"},
		{name: "18 reservation fee + 5/h", file: "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
			cdr: mkCDR(mon("10:00"), seg{min: 13, resv: true}, seg{min: 60, energy: "20", charging: true}), excl: "8.75", incl: "10.00"},
		{name: "19a expiry fee, reservation used", file: "tariff_17_reservation_with_expire_fee.json",
			cdr: mkCDR(mon("10:00"), seg{min: 22, resv: true}, seg{min: 60, energy: "20", charging: true}), excl: "6.50", incl: "7.30"},
		{name: "19b expiry fee, expired", file: "tariff_17_reservation_with_expire_fee.json",
			cdr: mkCDR(mon("10:00"), seg{min: 60, resv: true}), excl: "6.00", incl: "7.20", warn: WarnExpiredReservation},
		{name: "20a expiry rate, reservation used", file: "tariff_18_reservation_with_expire_time.json",
			cdr: mkCDR(mon("10:00"), seg{min: 22, resv: true}, seg{min: 60, energy: "20", charging: true}), excl: "7.00", incl: "7.90"},
		{name: "20b expiry rate, expired", file: "tariff_18_reservation_with_expire_time.json",
			cdr: mkCDR(mon("10:00"), seg{min: 90, resv: true}), excl: "9.00", incl: "10.80"},
		{name: "21 max_power", file: "tariffrestriction_example_max_power.json",
			cdr: mkCDR(mon("10:00"), seg{min: 10, energy: "1", charging: true, maxPow: "6"}, seg{min: 50, energy: "40", charging: true, maxPow: "48"},
				seg{min: 8, energy: "0.5", charging: true, maxPow: "4"}), excl: "20.30", incl: "24.36"},
		{name: "22 max_duration", file: "tariffrestriction_example_max_duration.json",
			cdr: mkCDR(mon("10:00"), seg{min: 30, energy: "5", charging: true}, seg{min: 10, energy: "1.2", charging: true}), excl: "0.30", incl: "0.36"},
		{name: "23 step switching #1 (2.2.1-d2)", file: "tariff_14_step_size.json",
			cdr: mkCDR(mon("16:55"), seg{min: 5, charging: true}, seg{min: 5, charging: true}, seg{min: 2, parking: true}), excl: "0.55", incl: "0.55"},
		{name: "23 step switching #1 (2.2.1 tag)", file: "tariff_14_step_size.json", policy: &tag,
			cdr: mkCDR(mon("16:55"), seg{min: 5, charging: true}, seg{min: 5, charging: true}, seg{min: 2, parking: true}), excl: "0.3833333333", incl: "0.3833333333"},
		{name: "24 step switching #2", file: "tariff_14_step_size.json",
			cdr: mkCDR(mon("16:35"), seg{min: 25, charging: true}, seg{min: 10, charging: true}), excl: "1.30", incl: "1.30"},
		{name: "24 step switching #2 (2.2.1 tag)", file: "tariff_14_step_size.json", policy: &tag,
			cdr: mkCDR(mon("16:35"), seg{min: 25, charging: true}, seg{min: 10, charging: true}), excl: "1.30", incl: "1.30"},
		{name: "25 switching to free parking (2.2.1-bugfixes)", file: "tariff_14_step_size.json",
			cdr: mkCDR(mon("19:40"), seg{min: 12, charging: true}, seg{min: 8, parking: true}, seg{min: 12, parking: true}), excl: "0.73", incl: "0.73"},
		{name: "25 switching to free parking (2.2.1 tag)", file: "tariff_14_step_size.json", policy: &tag,
			cdr: mkCDR(mon("19:40"), seg{min: 12, charging: true}, seg{min: 8, parking: true}, seg{min: 12, parking: true}), excl: "0.78", incl: "0.78"},
		{name: "26 energy step 500 Wh across 17:00", tariff: twoRate(ocpi.TariffDimEnergy, "0.20", "0.27", 500),
			cdr: mkCDR(mon("16:00"), seg{min: 60, energy: "4.3", charging: true}, seg{min: 30, energy: "1.1", charging: true}), excl: "1.184", incl: "1.184"},
		{name: "27 time step 10 min across 17:00", tariff: twoRate(ocpi.TariffDimTime, "5", "7", 600),
			cdr: mkCDR(mon("16:54"), seg{min: 6, charging: true}, seg{min: 22, charging: true}), excl: "3.30", incl: "3.30"},
		{name: "28 charging then parking, parking rounded", tariff: chargeAndPark("1", "2", 600, 600),
			cdr: mkCDR(mon("10:00"), seg{min: 21, charging: true}, seg{min: 16, parking: true}), excl: "1.0166666667", incl: "1.0166666667"},
		{name: "30 115.2 Wh step 1", tariff: energyOnly("0.25", 1),
			cdr: mkCDR(mon("10:00"), seg{min: 5, energy: "0.1152", charging: true}), excl: "0.029", incl: "0.029"},
		{name: "30 115.2 Wh step 25", tariff: energyOnly("0.25", 25),
			cdr: mkCDR(mon("10:00"), seg{min: 5, energy: "0.1152", charging: true}), excl: "0.03125", incl: "0.03125"},
		{name: "30 115.2 Wh step 500", tariff: energyOnly("0.25", 500),
			cdr: mkCDR(mon("10:00"), seg{min: 5, energy: "0.1152", charging: true}), excl: "0.125", incl: "0.125"},
		{name: "31 cdr_example 1.973 h at step 300", file: "tariff_put_example.json",
			cdr: mkCDR(mon("17:39"), seg{secs: 7103, timeHours: "1.973", energy: "15.342"}), excl: "4.00", incl: "4.40"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var tariff ocpi.Tariff
			if r.tariff != nil {
				tariff = *r.tariff
			} else {
				dir := r.dir
				if dir == "" {
					dir = "spec221"
				}
				tariff = specTariff(t, dir, r.file)
			}
			pol := ExactPolicy()
			if r.policy != nil {
				pol = *r.policy
			}
			r.cdr.Currency = tariff.Currency // the spec's CDRs are in the tariff's currency
			res, err := Price(r.cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin, Policy: pol})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Totals.TotalCost
			if !got.Excl.Equal(dec(r.excl)) || !got.Incl.Equal(dec(r.incl)) {
				t.Errorf("total %s / %s, want %s / %s\nlines: %+v", got.Excl, got.Incl, r.excl, r.incl, res.Lines)
			}
			kx, ki := kernelTotal(t, r.cdr, &tariff, pol, berlin)
			if !kx.Equal(got.Excl) || !ki.Equal(got.Incl) {
				t.Errorf("kernel %s / %s, reference %s / %s", kx, ki, got.Excl, got.Incl)
			}
			// The spec's CDRs split their periods where the tariff changes.
			if res.HasWarning(WarnBoundaryInPeriod) {
				t.Errorf("boundary warning on a spec example: %+v", res.Warnings)
			}
			if r.warn != "" && !res.HasWarning(r.warn) {
				t.Errorf("warning %s missing: %+v", r.warn, res.Warnings)
			}
		})
	}
}

// kernelTotal prices one CDR with the compiled kernel.
func kernelTotal(tb fataler, cdr *ocpi.CDR, tariff *ocpi.Tariff, pol Policy, loc *time.Location) (decimal.Decimal, decimal.Decimal) {
	tb.Helper()
	c, err := Compile(tariff, pol)
	if err != nil {
		tb.Fatal(err)
	}
	var bb BatchBuilder
	if err := bb.Add(cdr, 0, loc); err != nil {
		tb.Fatal(err)
	}
	out := NewOutput(1, len(bb.PeriodStart), true)
	if err := RunParallel(&bb.Batch, []*Compiled{c}, out, 1); err != nil {
		tb.Fatal(err)
	}
	if out.Status[0] != StatusOK {
		tb.Fatalf("kernel status %d", out.Status[0])
	}
	return Money(out.TotalExcl[0]), Money(out.TotalIncl[0])
}

func ptr[T any](v T) *T { return &v }

// fataler is what test helpers need of testing.TB and rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Row 29: steps of 5 min on both, 21 min charging + 7 min parking: charging
// stays 21 min, parking becomes 10 min.
func TestStepRow29(t *testing.T) {
	tariff := chargeAndPark("1", "2", 300, 300)
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 21, charging: true}, seg{min: 7, parking: true})
	res, err := Price(cdr, []ocpi.Tariff{*tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{ocpi.DimTime: 21 * 60, ocpi.DimParkingTime: 10 * 60}
	for _, ln := range res.Lines {
		if w, ok := want[ln.Dimension]; ok && ln.Billed.IntPart() != w {
			t.Errorf("%s billed %s s, want %d", ln.Dimension, ln.Billed, w)
		}
		delete(want, ln.Dimension)
	}
	if len(want) != 0 {
		t.Errorf("lines missing: %v", want)
	}
}

// Rows 26 and 27 say where the extra goes: 1.2 kWh after 17:00 (not 1.5),
// 24 min after 17:00 (not 30).
func TestStepExtraInLastPeriod(t *testing.T) {
	res, err := Price(mkCDR(at(t, "2026-06-01", "16:00", time.Monday), seg{min: 60, energy: "4.3", charging: true}, seg{min: 30, energy: "1.1", charging: true}),
		[]ocpi.Tariff{*twoRate(ocpi.TariffDimEnergy, "0.20", "0.27", 500)}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	last := res.Lines[len(res.Lines)-1]
	if last.Period != 1 || !last.Billed.Equal(dec("1.2")) || !last.Extra.Equal(dec("0.1")) || last.Element != 1 {
		t.Errorf("last line %+v", last)
	}
}

func twoRate(dim, before, after string, step int64) *ocpi.Tariff {
	return &ocpi.Tariff{ID: "two", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: dim, Price: dec(before), StepSize: step}}, Restrictions: &ocpi.TariffRestrictions{EndTime: "17:00"}},
		{PriceComponents: []ocpi.PriceComponent{{Type: dim, Price: dec(after), StepSize: step}}, Restrictions: &ocpi.TariffRestrictions{StartTime: "17:00"}},
	}}
}

func chargeAndPark(charge, park string, stepT, stepP int64) *ocpi.Tariff {
	return &ocpi.Tariff{ID: "cp", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec(charge), StepSize: stepT}, {Type: ocpi.TariffDimParkingTime, Price: dec(park), StepSize: stepP}}},
	}}
}

func energyOnly(price string, step int64) *ocpi.Tariff {
	return &ocpi.Tariff{ID: "e", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec(price), StepSize: step}}},
	}}
}
