package pricing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The seven defects of issue 10, each with the amounts. Before the
// fixes: 5.00 / 6.00 with "reservation without a charging session" (1),
// total_fixed_cost 0.00 (2), USD prices a EUR CDR (3), a period flagged
// unverifiable that bills nothing (5), 0.00 (6), taxes compared as if
// computed (7). Defect 4 is the price command's (cmd/roamsettle).

// kernelOne prices one CDR with the kernel (after BatchBuilder) and returns
// the output, or BatchBuilder's error.
func kernelOne(t *testing.T, cdr *ocpi.CDR, tariff *ocpi.Tariff, pol Policy) (*Output, error) {
	t.Helper()
	c, err := Compile(tariff, pol)
	if err != nil {
		t.Fatal(err)
	}
	var bb BatchBuilder
	if err := bb.Add(cdr, 0, berlin); err != nil {
		return nil, err
	}
	out := NewOutput(1, len(bb.PeriodStart), true)
	if err := RunParallel(&bb.Batch, []*Compiled{c}, out, 1); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func wantAmount(t *testing.T, what string, got Amount, excl, incl string) {
	t.Helper()
	if !got.Excl.Equal(dec(excl)) || !got.Incl.Equal(dec(incl)) {
		t.Errorf("%s = %s / %s, want %s / %s", what, got.Excl, got.Incl, excl, incl)
	}
}

func dims(kv ...string) []ocpi.CDRDimension {
	var out []ocpi.CDRDimension
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ocpi.CDRDimension{Type: kv[i], Volume: dec(kv[i+1])})
	}
	return out
}

// Defect 1: tariff_17 and digest 5.12 row 19a, with the reservation time in
// the first charging period (RESERVATION_TIME 0.3667 h, ENERGY 20 kWh, TIME
// 1 h in one period): each dimension priced in its phase, 6.50 / 7.30 as
// with separate periods, flagged, and never an expired reservation.
func TestDefect1ReservationInChargingPeriod(t *testing.T) {
	tariff := specTariff(t, "spec221", "tariff_17_reservation_with_expire_fee.json")
	start := at(t, "2026-06-01", "10:00", time.Monday)
	cdr := &ocpi.CDR{ID: "D1", Currency: "EUR", Version: ocpi.V221, StartDateTime: start, EndDateTime: start.Add(82 * time.Minute),
		ChargingPeriods: []ocpi.ChargingPeriod{{StartDateTime: start,
			Dimensions: dims(ocpi.DimReservationTime, "0.3667", ocpi.DimEnergy, "20", ocpi.DimTime, "1")}}}
	res, err := Price(cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "total_cost", res.Totals.TotalCost, "6.50", "7.30")
	wantAmount(t, "total_reservation_cost", res.Totals.TotalReservationCost, "1.00", "1.20")
	wantAmount(t, "total_fixed_cost", res.Totals.TotalFixedCost, "0.50", "0.60")
	wantAmount(t, "total_energy_cost", res.Totals.TotalEnergyCost, "5.00", "5.50")
	if res.Expired || res.HasWarning(WarnExpiredReservation) {
		t.Errorf("a session with 20 kWh priced as an expired reservation: %+v", res.Warnings)
	}
	if !res.HasWarning(WarnMixedPeriod) || !res.TookReading(ReadMixedPeriod) {
		t.Errorf("the irregular period is not flagged: %+v", res.Warnings)
	}
	for _, ln := range res.Lines {
		if ln.Period != 0 {
			t.Errorf("line of period %d, the CDR has one: %+v", ln.Period, ln)
		}
	}
	if len(res.Lines) != 3 {
		t.Errorf("%d lines, want reservation time, start fee and energy: %+v", len(res.Lines), res.Lines)
	}

	// The same volumes in separate periods: the spec's 6.50 / 7.30.
	split := mkCDR(start, seg{min: 22, resv: true}, seg{min: 60, energy: "20", charging: true})
	split.Currency = "EUR"
	sres, err := Price(split, []ocpi.Tariff{tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "separate periods", sres.Totals.TotalCost, "6.50", "7.30")

	// The kernel's builders refuse the irregular period (it goes to the
	// reference); a batch built by hand gets StatusMixedPeriod, never an amount.
	if _, err := kernelOne(t, cdr, &tariff, ExactPolicy()); !errors.Is(err, ErrMixedPeriod) {
		t.Errorf("BatchBuilder.Add: %v, want ErrMixedPeriod", err)
	}
	c, _ := Compile(&tariff, ExactPolicy())
	b := &Batch{CDRStart: []int64{start.Unix()}, Tariff: []int32{0}, Zone: []int32{0}, Credit: []bool{false}, PeriodOffsets: []int32{0, 1},
		PeriodStart: []int64{start.Unix()}, EnergyMilliWh: []int64{20_000_000}, TimeS: []int64{3600}, ParkingS: []int64{0}, ReservationS: []int64{1320},
		MinCurrent: []int64{0}, MaxCurrent: []int64{0}, MinPower: []int64{0}, MaxPower: []int64{0}, Has: []uint8{HasReservation}, Zones: []*time.Location{berlin}}
	out := NewOutput(1, 1, true)
	if err := RunParallel(b, []*Compiled{c}, out, 1); err != nil {
		t.Fatal(err)
	}
	if out.Status[0] != StatusMixedPeriod {
		t.Errorf("kernel status %s, want %s", out.Status[0], StatusMixedPeriod)
	}
}

// Defect 2: tariff_10's FLAT shares its element with ENERGY: it is the start
// fee, total_fixed_cost 0.50 / 0.60, not parking (digest 3.6, decided).
func TestDefect2StartFeeIsFixedCost(t *testing.T) {
	tariff := specTariff(t, "spec221", "tariff_10_025kwh_parking_start.json")
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, energy: "20", charging: true}, seg{min: 40, parking: true})
	res, err := Price(cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "total_cost", res.Totals.TotalCost, "7.00", "7.90")
	wantAmount(t, "total_fixed_cost", res.Totals.TotalFixedCost, "0.50", "0.60")
	wantAmount(t, "total_parking_cost", res.Totals.TotalParkingCost, "1.50", "1.80")
	wantAmount(t, "total_energy_cost", res.Totals.TotalEnergyCost, "5.00", "5.50")
	out, err := kernelOne(t, cdr, &tariff, ExactPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := Money(out.BucketExcl[BucketFixed]); !got.Equal(dec("0.50")) {
		t.Errorf("kernel fixed %s, want 0.50", got)
	}
	if got := Money(out.BucketExcl[BucketParking]); !got.Equal(dec("1.50")) {
		t.Errorf("kernel parking %s, want 1.50", got)
	}

	// A FLAT whose element prices only PARKING_TIME besides it stays parking.
	park := &ocpi.Tariff{ID: "P", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.25")}}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimFlat, Price: dec("1.00")}, {Type: ocpi.TariffDimParkingTime, Price: dec("2.00"), StepSize: 900}}},
	}}
	pres, err := Price(cdr, []ocpi.Tariff{*park}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "parking element's FLAT: total_parking_cost", pres.Totals.TotalParkingCost, "2.50", "2.50")
	wantAmount(t, "parking element's FLAT: total_fixed_cost", pres.Totals.TotalFixedCost, "0", "0")
	if out, err = kernelOne(t, cdr, park, ExactPolicy()); err != nil || !Money(out.BucketExcl[BucketParking]).Equal(dec("2.50")) {
		t.Errorf("kernel parking %v, err %v, want 2.50", out.BucketExcl, err)
	}
}

// Defect 3: a USD tariff against a EUR CDR is not priceable, with a stable
// reason and one line naming both currencies and the tariff.
func TestDefect3CurrencyMismatchBlocks(t *testing.T) {
	tariff := specTariff(t, "spec221", "tariff_8_simple_025kwh.json")
	tariff.Currency = "USD"
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, energy: "20", charging: true})
	cdr.Currency = "EUR"
	res, err := Price(cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin})
	var np *NotPriceable
	if !errors.As(err, &np) || np.Reason != ReasonCurrencyMismatch {
		t.Fatalf("Price = %v, %v; want a NotPriceable currency_mismatch", res, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "EUR") || !strings.Contains(msg, "USD") || !strings.Contains(msg, "tariff "+tariff.ID) {
		t.Errorf("message %q does not name both currencies and the tariff on one line", msg)
	}
	// The batch path's rule is the same function.
	c, err := Compile(&tariff, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCurrency(cdr.ID, cdr.Currency, c.ID, c.Currency); !errors.As(err, &np) || np.Reason != ReasonCurrencyMismatch {
		t.Errorf("CheckCurrency = %v", err)
	}
	if err := CheckCurrency(cdr.ID, "eur", "8", "EUR"); err != nil {
		t.Errorf("same currency in another case: %v", err)
	}
	if a := testing.AllocsPerRun(100, func() { _ = CheckCurrency("x", "EUR", "8", "eur") }); a != 0 {
		t.Errorf("CheckCurrency allocates %.0f times when the currencies match", a)
	}
}

// Defect 5: a period without power readings whose guessed element choice
// prices nothing is not unverifiable. The reproduction: ENERGY 0.49
// under max_power 50, else 0.59; PARKING_TIME 9/h, step 60 s. Period 0: 40
// kWh, 1 h, 60-70 kW; period 1: 0.5 h parking only. Total 28.10.
func TestDefect5UnverifiableOnlyWhereItBills(t *testing.T) {
	tariff := &ocpi.Tariff{ID: "D5", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.49")}}, Restrictions: &ocpi.TariffRestrictions{MaxPower: nullDec("50")}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.59")}}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimParkingTime, Price: dec("9"), StepSize: 60}}},
	}}
	start := at(t, "2026-06-01", "10:00", time.Monday)
	cdr := mkCDR(start, seg{min: 60, energy: "40", charging: true, minPow: "60", maxPow: "70"}, seg{min: 30, parking: true})
	res, err := Price(cdr, []ocpi.Tariff{*tariff}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "total_cost", res.Totals.TotalCost, "28.10", "28.10")
	if res.HasWarning(WarnUnverifiable) {
		t.Errorf("unverifiable raised where nothing depended on it: %+v", res.Warnings)
	}
	out, err := kernelOne(t, cdr, tariff, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if out.Flags[0]&FlagUnverifiable != 0 || !Money(out.TotalExcl[0]).Equal(dec("28.10")) {
		t.Errorf("kernel %s, flags %b", Money(out.TotalExcl[0]), out.Flags[0])
	}

	// Where the guessed choice bills energy, it is flagged.
	billed := mkCDR(start, seg{min: 60, energy: "40", charging: true, minPow: "60", maxPow: "70"}, seg{min: 30, energy: "5", charging: true})
	res, err = Price(billed, []ocpi.Tariff{*tariff}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	if !res.HasWarning(WarnUnverifiable) {
		t.Errorf("energy priced by a guessed element is not flagged: %+v", res.Warnings)
	}
	if out, _ := kernelOne(t, billed, tariff, DefaultPolicy()); out.Flags[0]&FlagUnverifiable == 0 {
		t.Errorf("kernel does not flag energy priced by a guessed element")
	}
}

// Defect 5, FLAT: it has no volume but is charged once per phase, so a
// guessed FLAT matters only in the period where the phase's FLAT is charged.
func TestDefect5FlatChargedOncePerPhase(t *testing.T) {
	tariff := &ocpi.Tariff{ID: "F", Currency: "EUR", Elements: []ocpi.TariffElement{
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimFlat, Price: dec("1.00")}}, Restrictions: &ocpi.TariffRestrictions{MaxPower: nullDec("50")}},
		{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimFlat, Price: dec("0.50")}, {Type: ocpi.TariffDimEnergy, Price: dec("0.25")}}},
	}}
	start := at(t, "2026-06-01", "10:00", time.Monday)
	for _, c := range []struct {
		name    string
		cdr     *ocpi.CDR
		flagged bool
		total   string
	}{
		// Period 0's power rejects element 0: the 0.50 start fee is charged
		// there; period 1's guess is not charged (only flat_changed).
		{"guess after the charged FLAT", mkCDR(start, seg{min: 30, energy: "10", charging: true, maxPow: "70"}, seg{min: 30, energy: "10", charging: true}), false, "5.50"},
		// Period 0 has no power: the guessed 1.00 is the FLAT charged.
		{"guess is the charged FLAT", mkCDR(start, seg{min: 30, energy: "10", charging: true}, seg{min: 30, energy: "10", charging: true, maxPow: "70"}), true, "6.00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Price(c.cdr, []ocpi.Tariff{*tariff}, Options{TimeZone: berlin, Policy: ExactPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			wantAmount(t, "total_cost", res.Totals.TotalCost, c.total, c.total)
			if got := res.HasWarning(WarnUnverifiable); got != c.flagged {
				t.Errorf("unverifiable %v, want %v: %+v", got, c.flagged, res.Warnings)
			}
			out, err := kernelOne(t, c.cdr, tariff, ExactPolicy())
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Flags[0]&FlagUnverifiable != 0; got != c.flagged {
				t.Errorf("kernel unverifiable %v, want %v", got, c.flagged)
			}
		})
	}
}

// Defect 6: a 2.1.1 CDR that embeds its tariff (id "12") twice prices 4.00
// as with one copy; two different copies under one id are not priceable.
func TestDefect6EmbeddedCopies(t *testing.T) {
	tariff := ocpi.Tariff{Version: ocpi.V211, ID: "12", Currency: "EUR", LastUpdated: time.Date(2015, 6, 29, 20, 39, 9, 0, time.UTC),
		Elements: []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "TIME", Price: dec("2.00"), StepSize: 300}}}}}
	cdr := mkCDR(at(t, "2026-06-01", "17:39", time.Monday), seg{secs: 7103, timeHours: "1.973", energy: "15.342"})
	cdr.Version = ocpi.V211
	copy2 := tariff
	copy2.Elements = []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "time", Price: dec("2.0"), StepSize: 300}}}}
	copy2.LastUpdated = tariff.LastUpdated.Add(time.Hour)
	if !SamePricing(&tariff, &copy2) {
		t.Fatalf("copies that price the same (2.0 = 2.00, case of the type) compared as different")
	}
	res, err := Price(cdr, []ocpi.Tariff{tariff, copy2}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Totals.TotalCost.Excl.Equal(dec("4.00")) {
		t.Errorf("two identical copies: %s, warnings %+v", res.Totals.TotalCost.Excl, res.Warnings)
	}
	if !res.TookReading(ReadIdenticalCopies) {
		t.Errorf("the reading is not named")
	}
	differ := tariff
	differ.Elements = []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "TIME", Price: dec("2.50"), StepSize: 300}}}}
	_, err = Price(cdr, []ocpi.Tariff{tariff, differ}, Options{TimeZone: berlin})
	var np *NotPriceable
	if !errors.As(err, &np) || np.Reason != ReasonAmbiguousTariff || !strings.Contains(err.Error(), "12") {
		t.Errorf("two different copies: %v, want not priceable (ambiguous_tariff) naming the id", err)
	}
}

// Defect 7: a 2.3.0 tariff with tax_included NO and no vat states no rate:
// taxes are not computable (the amount before taxes is), and the kernel says
// so too. tax_included YES without vat leaves the amount before taxes unknown.
func TestDefect7TaxesNotComputable(t *testing.T) {
	tariff := specTariff(t, "spec230", "tariff_19_simple_north_american_exclusive.json")
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, charging: true})
	cdr.Currency, cdr.Version = "CAD", ocpi.V230
	res, err := Price(cdr, []ocpi.Tariff{tariff}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Totals.TotalCost.Excl.Equal(dec("2.00")) || res.InclComputable() || !res.ExclComputable() || !res.HasWarning(WarnTaxesUnknown) {
		t.Errorf("excl %s, not computable %b, warnings %+v", res.Totals.TotalCost.Excl, res.NotComputable, res.Warnings)
	}
	out, err := kernelOne(t, cdr, &tariff, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if out.Flags[0]&FlagInclUnknown == 0 || out.Flags[0]&FlagExclUnknown != 0 {
		t.Errorf("kernel flags %b", out.Flags[0])
	}

	gross := specTariff(t, "spec230", "tariff_20_simple_north_american_inclusive.json")
	res, err = Price(cdr, []ocpi.Tariff{gross}, Options{TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExclComputable() || !res.InclComputable() {
		t.Errorf("tax_included YES without vat: not computable %b", res.NotComputable)
	}
	if out, _ := kernelOne(t, cdr, &gross, DefaultPolicy()); out.Flags[0]&FlagExclUnknown == 0 {
		t.Errorf("kernel flags %b", out.Flags[0])
	}

	// A 2.2.1 component without vat has no VAT: both sides are computed.
	plain := specTariff(t, "spec221", "tariff_14_step_size.json")
	cdr.Currency = plain.Currency
	if res, err = Price(cdr, []ocpi.Tariff{plain}, Options{TimeZone: berlin}); err != nil || res.NotComputable != 0 {
		t.Errorf("2.2.1 without vat: %v, not computable %b", err, res.NotComputable)
	}
}

// The embedded tariffs are evidence: when they cannot price the CDR (here
// in another currency), the versions in effect still do.
func TestPriceBothEmbeddedErrorIsEvidence(t *testing.T) {
	stored := specTariff(t, "spec221", "tariff_8_simple_025kwh.json")
	cdr := mkCDR(at(t, "2026-06-01", "10:00", time.Monday), seg{min: 60, energy: "20", charging: true, tariffID: stored.ID})
	embedded := stored
	embedded.Currency = "USD"
	cdr.Tariffs = []ocpi.Tariff{embedded}
	history := func(cc, pid, id string) []ocpi.Tariff { return []ocpi.Tariff{stored} }
	p, err := PriceBoth(cdr, history, nil, Options{TimeZone: berlin})
	var np *NotPriceable
	if err != nil || p.InEffect == nil || p.Embedded != nil || !errors.As(p.EmbeddedErr, &np) || np.Reason != ReasonCurrencyMismatch {
		t.Fatalf("PriceBoth = %+v, %v", p, err)
	}
	if !p.InEffect.TookReading(ReadVersionInEffect) {
		t.Error("the version-in-effect reading is not named")
	}
}

// A period no tariff given applies to (no tariff_id among several tariffs,
// as with a connector that lists two; or a tariff_id not among several
// given) makes the CDR not priceable, naming the period and the tariffs: it
// was priced 0.00 for that period, so a connector with two tariffs gave
// 0.00 against the whole billed amount. With one tariff given, the period
// is priced by it (the decided reading, flagged).
func TestNoTariffAppliesNotPriceable(t *testing.T) {
	a := specTariff(t, "spec221", "tariff_1_simple_2hour.json")
	a.ID = "A"
	b := a
	b.ID = "B"
	b.Elements = []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "TIME", Price: dec("3.00"), StepSize: 60}}}}
	start := at(t, "2026-06-01", "10:00", time.Monday)
	noID := mkCDR(start, seg{min: 60, charging: true})
	named := mkCDR(start, seg{min: 60, charging: true, tariffID: "A"}, seg{min: 30, charging: true, tariffID: "C"}, seg{min: 30, charging: true, tariffID: "C"})
	noPeriods := mkCDR(start, seg{min: 60, charging: true})
	noPeriods.ChargingPeriods, noPeriods.TotalTime = nil, dec("1")
	for _, tc := range []struct {
		name string
		cdr  *ocpi.CDR
		want string
	}{
		{"no tariff_id, two tariffs", noID, "a period starting 2026-06-01T08:00:00Z has no tariff_id and 2 tariffs were given (A, B): which one applies cannot be told"},
		{"a tariff_id not given", named, `a period starting 2026-06-01T09:00:00Z names tariff "C", not among the tariffs given (A, B) (2 periods in all)`},
		{"no periods, two tariffs", noPeriods, "a period starting 2026-06-01T08:00:00Z has no tariff_id and 2 tariffs were given (A, B)"},
	} {
		res, err := Price(tc.cdr, []ocpi.Tariff{a, b}, Options{TimeZone: berlin})
		var np *NotPriceable
		if !errors.As(err, &np) || np.Reason != ReasonNoTariffApplies || !strings.Contains(np.Message, tc.want) {
			t.Errorf("%s: %v (result %v), want not priceable (no_tariff_applies): %s", tc.name, err, res != nil, tc.want)
		}
	}
	res, err := Price(named, []ocpi.Tariff{a}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil || !res.Totals.TotalCost.Excl.Equal(dec("4")) || !res.HasWarning(WarnTariffIDAssumed) {
		t.Errorf("one tariff given: %v, %+v; want 4.00 (2 h at 2.00), the C periods priced by A and flagged", err, res)
	}
}

// A connector that lists a REGULAR and an AD_HOC_PAYMENT tariff prices an
// eMSP's CDR whose periods name no tariff with the REGULAR one (digest
// §5.1: no eMSP CDR is a session paid ad hoc), flagged; two tariffs that
// are not ad hoc still leave it not priceable, and a period that names
// the ad hoc tariff is priced by it.
func TestConnectorAdHocTariffLeftOut(t *testing.T) {
	reg := specTariff(t, "spec221", "tariff_1_simple_2hour.json")
	reg.ID, reg.Type = "REG", ocpi.TariffRegular
	adHoc := reg
	adHoc.ID, adHoc.Type = "ADHOC", ocpi.TariffAdHocPayment
	adHoc.Elements = []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "TIME", Price: dec("3.00"), StepSize: 60}}}}
	adHoc2, cheap := adHoc, adHoc
	adHoc2.ID = "ADHOC2"
	cheap.ID, cheap.Type = "CHEAP", "PROFILE_CHEAP"
	byID := map[string]ocpi.Tariff{"REG": reg, "ADHOC": adHoc, "ADHOC2": adHoc2, "CHEAP": cheap}
	history := func(_, _, id string) []ocpi.Tariff { return []ocpi.Tariff{byID[id]} }
	start := at(t, "2026-06-01", "10:00", time.Monday)
	noID := mkCDR(start, seg{min: 60, charging: true})
	for _, tc := range []struct {
		conn  []string
		total string // "" not priceable
	}{
		{[]string{"ADHOC", "REG"}, "2"},
		{[]string{"REG", "ADHOC", "ADHOC2"}, "2"},
		{[]string{"ADHOC", "CHEAP", "REG"}, ""},
		{[]string{"ADHOC", "ADHOC2"}, ""},
	} {
		p, err := PriceBoth(noID, history, tc.conn, Options{TimeZone: berlin, Policy: ExactPolicy()})
		if tc.total == "" {
			var np *NotPriceable
			if !errors.As(err, &np) || np.Reason != ReasonNoTariffApplies {
				t.Errorf("connector %v: %v, want not priceable (no_tariff_applies)", tc.conn, err)
			}
			continue
		}
		if err != nil || p.InEffect == nil {
			t.Fatalf("connector %v: %v", tc.conn, err)
		}
		r := p.InEffect
		if !r.Totals.TotalCost.Excl.Equal(dec(tc.total)) || !r.HasWarning(WarnAdHocLeftOut) || !r.HasWarning(WarnTariffIDAssumed) ||
			!r.TookReading(ReadConnectorAdHoc) {
			t.Errorf("connector %v: total %s, warnings %v; want %s by REG, the ad hoc tariff left out and flagged", tc.conn, r.Totals.TotalCost.Excl, r.Warnings, tc.total)
		}
	}
	named := mkCDR(start, seg{min: 60, charging: true, tariffID: "ADHOC"})
	p, err := PriceBoth(named, history, []string{"ADHOC", "REG"}, Options{TimeZone: berlin, Policy: ExactPolicy()})
	if err != nil || !p.InEffect.Totals.TotalCost.Excl.Equal(dec("3")) || p.InEffect.HasWarning(WarnAdHocLeftOut) {
		t.Errorf("a period naming the ad hoc tariff: %v, %+v; want 3.00 by ADHOC", err, p.InEffect)
	}
}
