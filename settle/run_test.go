package settle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ndec(s string) decimal.NullDecimal { return decimal.NewNullDecimal(dec(s)) }

var oct = Month(2026, time.October)

// energyTariff is 0.25 per kWh plus 21 % VAT, published before October.
func energyTariff(cc, pid, id, currency string) StoredTariff {
	lu := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	return StoredTariff{CountryCode: cc, PartyID: pid, ID: id, LastUpdated: lu, Tariff: ocpi.Tariff{
		CountryCode: cc, PartyID: pid, ID: id, Currency: currency, LastUpdated: lu,
		Elements: []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{{Type: "ENERGY", Price: dec("0.25"), VAT: ndec("21"), StepSize: 1}}}}}}
}

// session is a one-period CDR of kWh energy from start to end.
func session(cc, pid, id string, start, end time.Time, kWh, billedExcl, billedIncl string) *ocpi.CDR {
	c := &ocpi.CDR{Version: ocpi.V221, CountryCode: cc, PartyID: pid, ID: id, StartDateTime: start, EndDateTime: end, Currency: "EUR",
		Location: ocpi.CDRLocation{ID: "LOC1", Country: "NLD", EVSEUID: "E1", ConnectorID: "1"},
		ChargingPeriods: []ocpi.ChargingPeriod{{StartDateTime: start, TariffID: "T1",
			Dimensions: []ocpi.CDRDimension{{Type: "ENERGY", Volume: dec(kWh)}}}}}
	if billedExcl != "" {
		c.TotalCost = &ocpi.Price{ExclVAT: dec(billedExcl)}
		if billedIncl != "" {
			c.TotalCost.InclVAT = ndec(billedIncl)
		}
	}
	return c
}

func at(day, hour int) time.Time { return time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC) }

// fixture is a month of one owner: CDRs that the kernel prices, that have
// no billed amount or a billed 0, that cannot be priced, and that belong to
// another period.
func fixture() *fakeStore {
	f := &fakeStore{tariffs: []StoredTariff{energyTariff("NL", "ABC", "T1", "EUR")}, bodies: map[int64]ocpi.Tariff{}}
	add := func(c *ocpi.CDR, blocking bool) {
		f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), cdr: c, received: at(28, 0), blocking: blocking})
	}
	add(session("NL", "ABC", "EQUAL", at(10, 10), at(10, 11), "10", "2.50", "3.03"), false)
	add(session("NL", "ABC", "DIFF", at(11, 10), at(11, 11), "10", "2.40", "2.90"), false)
	add(session("NL", "ABC", "NOBILLED", at(12, 10), at(12, 11), "10", "", ""), false)
	add(session("NL", "ABC", "ZERO", at(13, 10), at(13, 11), "10", "0", ""), false)
	add(session("NL", "ABC", "BLOCKED", at(14, 10), at(14, 11), "10", "2.50", ""), true)
	nt := session("NL", "ABC", "NOTARIFF", at(15, 10), at(15, 11), "10", "2.50", "")
	nt.ChargingPeriods[0].TariffID = "T9"
	add(nt, false)
	// Started in September, ended in October: October's (the period rule).
	add(session("NL", "ABC", "LATESEP", time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC), at(1, 0).Add(30*time.Minute), "10", "2.50", "3.03"), false)
	// Started in October, ended in November: not October's.
	add(session("NL", "ABC", "LATEOCT", time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 30, 0, 0, time.UTC), "10", "2.50", "3.03"), false)
	return f
}

func execute(t *testing.T, f *fakeStore, opts Options) (*Summary, *fakeRun) {
	t.Helper()
	if opts.Run.Scope.Period.IsZero() {
		opts.Run.Scope.Period = oct
	}
	sum, err := Execute(context.Background(), f, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.committed) == 0 {
		t.Fatal("nothing committed")
	}
	return sum, f.committed[len(f.committed)-1]
}

func TestExecuteOutcomes(t *testing.T) {
	f := fixture()
	sum, run := execute(t, f, Options{Lines: true})
	rows := run.rowsByID(f)
	if sum.CDRs != 7 || len(rows) != 7 {
		t.Fatalf("%d CDRs, %d rows; want the 7 that end in October", sum.CDRs, len(rows))
	}
	if _, ok := rows["LATEOCT"]; ok {
		t.Error("a CDR that ended in November is in October's run")
	}
	if _, ok := rows["LATESEP"]; !ok {
		t.Error("a CDR that started in September and ended in October is not in October's run")
	}
	for id, want := range map[string]struct{ status, reason, outcome string }{
		"EQUAL":    {"priced", "", "equal"},
		"LATESEP":  {"priced", "", "equal"},
		"DIFF":     {"priced", "", "different"},
		"NOBILLED": {"priced", "", "no_billed_amount"},
		"ZERO":     {"priced", "", "different"},
		"BLOCKED":  {"not_priceable", WhyBlocking, "not_priced"},
		"NOTARIFF": {"not_priceable", WhyNoTariff, "not_priced"},
	} {
		r := rows[id]
		if r.status != want.status || r.reason != want.reason || r.outcome != want.outcome {
			t.Errorf("%s: %s %q %s, want %s %q %s", id, r.status, r.reason, r.outcome, want.status, want.reason, want.outcome)
		}
	}
	if r := rows["EQUAL"]; r.totals[0] != 2_500_000 || r.totals[1] != 3_030_000 || r.by != ByKernel || r.tariff != "T1" {
		t.Errorf("EQUAL priced %d / %d by %d with %q, want 2.50 / 3.03 by the kernel with T1", r.totals[0], r.totals[1], r.by, r.tariff)
	}
	if z := rows["EQUAL"].zone; z.TimeZone != "Europe/Amsterdam" || z.Source != string(pricing.ZoneCountry) {
		t.Errorf("zone %+v, want Europe/Amsterdam from the country", z)
	}
	if sum.Count(reconcile.Equal) != 2 || sum.Count(reconcile.Different) != 2 || sum.Count(reconcile.NoBilled) != 1 || sum.Count(reconcile.NotPriced) != 2 {
		t.Errorf("outcomes %v", sum.Outcomes)
	}
	// The differences are DIFF's +0.10 and ZERO's +2.50; NOBILLED adds
	// nothing (missing is not zero).
	if len(sum.Differences) != 1 || sum.Differences[0].Currency != "EUR" || sum.Differences[0].CDRs != 2 ||
		!sum.Differences[0].Sum.Equal(dec("2.60")) || !sum.Differences[0].AbsSum.Equal(dec("2.60")) {
		t.Errorf("differences %+v, want EUR 2 CDRs +2.60", sum.Differences)
	}
	if len(run.lines.CDRKey) != 5 || run.lines.Dimension[0] != DimEnergy {
		t.Errorf("%d lines (%v), want one ENERGY line per priced CDR", len(run.lines.CDRKey), run.lines.Dimension)
	}
	if run.record.Run.ID() != "reprice:2026-10/*" || run.record.CDRs != 7 {
		t.Errorf("run record %+v", run.record)
	}
}

// The same inputs give the same rows, whatever the batch size, worker
// count, scan batch size, and whether contexts are resolved per hash or
// per CDR (as for a hash two contexts share).
func TestExecuteDeterministic(t *testing.T) {
	base := fixture()
	_, first := execute(t, base, Options{Lines: true})
	want := fmt.Sprint(first.rowsByID(base), first.lines)
	for _, tc := range []struct {
		name string
		rows int
		opts Options
	}{
		{"batch of 1", 0, Options{Lines: true, BatchCDRs: 1}},
		{"one worker", 0, Options{Lines: true, Workers: 1}},
		{"scan batches of 1 row", 1, Options{Lines: true}},
		{"contexts per CDR", 0, Options{Lines: true, perCDRContexts: true}},
	} {
		f := fixture()
		f.batchRows = tc.rows
		_, run := execute(t, f, tc.opts)
		if got := fmt.Sprint(run.rowsByID(f), run.lines); got != want {
			t.Errorf("%s: rows differ:\n%s\nwant\n%s", tc.name, got, want)
		}
	}
}

// A scope that holds few of its key range's CDRs (October's CDRs stored
// among many of November's) keeps one entry per CDR (not per key), asks
// the source for its own CDRs' headers and periods only, and prices them
// as from the whole range and as the same CDRs stored densely; a dense
// scope reads the range.
func TestExecuteSparseScope(t *testing.T) {
	base := func() *fakeStore {
		f := fixture()
		// One that goes to the reference (no periods; the fake source
		// gives it no tariff), one with an embedded tariff.
		noPeriods := session("NL", "ABC", "NOPERIODS", at(16, 10), at(16, 11), "10", "2.50", "3.03")
		noPeriods.ChargingPeriods = nil
		noPeriods.TotalEnergy = dec("10")
		f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), cdr: noPeriods, received: at(28, 0)})
		f.bodies[77] = energyTariff("NL", "ABC", "EMB", "EUR").Tariff
		f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), cdr: session("NL", "ABC", "EMBEDDED", at(17, 10), at(17, 11), "10", "2.50", "3.03"),
			received: at(28, 0), embedded: []int64{77}})
		return f
	}
	dense := base()
	_, denseRun := execute(t, dense, Options{Lines: true})
	if dense.selectiveScans != 0 || dense.sparseHeaderScans != 0 {
		t.Error("a dense scope joined its periods with its keys")
	}
	interleaved := func() *fakeStore {
		f := base()
		var cdrs []fakeCDR
		for i, c := range f.cdrs {
			cdrs = append(cdrs, c)
			for j := 0; j < 3; j++ {
				id := fmt.Sprintf("NOV%d-%d", i, j)
				cdrs = append(cdrs, fakeCDR{cdr: session("NL", "ABC", id, time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC),
					time.Date(2026, 11, 2, 11, 0, 0, 0, time.UTC), "10", "2.50", "3.03"), received: at(28, 0)})
			}
		}
		for i := range cdrs {
			cdrs[i].key = int64(i + 1)
		}
		f.cdrs = cdrs
		return f
	}
	whole := interleaved()
	whole.wholeRange = true
	_, want := execute(t, whole, Options{Lines: true})
	f := interleaved()
	sum, got := execute(t, f, Options{Lines: true})
	if f.selectiveScans == 0 || f.sparseHeaderScans == 0 {
		t.Error("a sparse scope read its whole key range")
	}
	if sum.CDRs != 9 || sum.NotPriceable[WhyNoVersion] != 1 || sum.EmbeddedPriced != 1 ||
		fmt.Sprint(got.rowsByID(f), got.lines) != fmt.Sprint(want.rowsByID(whole), want.lines) {
		t.Errorf("%d CDRs, %v not priceable, %d with the embedded tariff; rows from the selective scan differ from the whole range's:\n%v\nwant\n%v",
			sum.CDRs, sum.NotPriceable, sum.EmbeddedPriced, got.rowsByID(f), want.rowsByID(whole))
	}
	if g, w := fmt.Sprint(got.rowsByID(f)), fmt.Sprint(denseRun.rowsByID(dense)); g != w {
		t.Errorf("rows of the sparse scope differ from the same CDRs stored densely:\n%s\nwant\n%s", g, w)
	}
	if len(got.lines.CDRKey) != len(denseRun.lines.CDRKey) {
		t.Errorf("%d lines, densely stored %d", len(got.lines.CDRKey), len(denseRun.lines.CDRKey))
	}
}

func TestKeyRanges(t *testing.T) {
	// A gap wider than 10 begins a range.
	got := fmt.Sprint(keyRanges([]int64{1, 2, 10, 30, 31, 100, 101, 102, 103}, 10, 50))
	if want := "[{1 10 3} {30 31 2} {100 103 4}]"; got != want {
		t.Errorf("keyRanges = %s, want %s", got, want)
	}
	// A range spans fewer than 3 keys.
	got = fmt.Sprint(keyRanges([]int64{1, 2, 3, 4, 5, 6, 7}, 10, 3))
	if want := "[{1 3 3} {4 6 3} {7 7 1}]"; got != want {
		t.Errorf("keyRanges = %s, want %s", got, want)
	}
}

// A partner whose policy names a zone has its periods read there; the
// others in UTC.
func TestExecutePartnerZone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	f := fixture()
	// Ends 2026-10-31 16:30 UTC = 2026-11-01 01:30 in Tokyo: November's there.
	f.cdrs = append(f.cdrs, fakeCDR{key: 100, cdr: session("JP", "TKY", "TOKYO", at(31, 15), at(31, 16).Add(30*time.Minute), "1", "0.25", ""), received: at(31, 17)})
	f.tariffs = append(f.tariffs, energyTariff("JP", "TKY", "T1", "EUR"))
	sum, run := execute(t, f, Options{})
	if _, ok := run.rowsByID(f)["TOKYO"]; !ok || sum.CDRs != 8 {
		t.Fatalf("in UTC the Tokyo CDR is October's: %d CDRs", sum.CDRs)
	}
	sum, run = execute(t, f, Options{Policies: map[Party]Policy{NewParty("jp", "tky"): {Zone: tokyo}}})
	if _, ok := run.rowsByID(f)["TOKYO"]; ok || sum.CDRs != 7 {
		t.Errorf("in Tokyo the CDR is November's: %d CDRs", sum.CDRs)
	}
	nov := Options{Run: Run{Scope: Scope{Period: Month(2026, time.November), Partner: NewParty("JP", "TKY")}},
		Policies: map[Party]Policy{NewParty("jp", "tky"): {Zone: tokyo}}}
	sum, _ = execute(t, f, nov)
	if sum.CDRs != 1 || sum.Run.ID() != "reprice:2026-11/JP-TKY" {
		t.Errorf("November of JP-TKY in Tokyo: %d CDRs, run %s", sum.CDRs, sum.Run.ID())
	}
}

// Every cause keeps its message beside the reason code: a tariff that does
// not compile (and a reference that then fails), and a currency that is
// not ISO 4217.
func TestExecuteKeepsCauses(t *testing.T) {
	f := fixture()
	bad := energyTariff("NL", "ABC", "T1", "EUR")
	bad.Tariff.Elements[0].PriceComponents[0].Price = dec("-1") // the kernel refuses negative prices
	f.tariffs = []StoredTariff{bad}
	_, run := execute(t, f, Options{})
	r := run.rowsByID(f)["EQUAL"]
	if r.reason != WhyRefError && r.reason != RefCompile {
		t.Fatalf("reason %q, want the reference's or the compile's", r.reason)
	}
	if !strings.Contains(r.message, "does not compile") || !strings.Contains(r.message, "negative price") {
		t.Errorf("message %q does not say why", r.message)
	}

	f = fixture()
	f.tariffs = []StoredTariff{energyTariff("NL", "ABC", "T1", "XEU")}
	for _, c := range f.cdrs {
		c.cdr.Currency = "XEU" // the CDRs in the tariff's currency: the currency rule holds
	}
	_, run = execute(t, f, Options{})
	if r := run.rowsByID(f)["EQUAL"]; r.status != "priced" || !strings.Contains(r.message, `currency "XEU" is not ISO 4217`) {
		t.Errorf("unknown currency: %s, message %q", r.status, r.message)
	}
}

// A zone that cannot be resolved says why.
func TestExecuteUnresolvedZoneNote(t *testing.T) {
	f := fixture()
	for _, c := range f.cdrs {
		c.cdr.Location.Country = "USA" // several zones
		c.cdr.Location.Coordinates = ocpi.GeoLocation{Latitude: "north", Longitude: "west"}
	}
	_, run := execute(t, f, Options{})
	z := run.rowsByID(f)["EQUAL"].zone
	if z.Source != string(pricing.ZoneUnresolved) || !strings.Contains(z.Note, `country "USA" has no single zone`) ||
		!strings.Contains(z.Note, "coordinates north, west unreadable") {
		t.Errorf("zone %+v", z)
	}
}

// A time_zone that is not an IANA name, stored or embedded (2.1.1), is
// passed over to the next source and named in the zone's note, with the
// zone used (the embedded one was silent before).
func TestExecuteInvalidZoneNamed(t *testing.T) {
	f := fixture()
	for _, c := range f.cdrs {
		c.cdr.Location.TimeZone = "Amsterdam Time"
	}
	f.locations = []LocationVersion{{CountryCode: "NL", PartyID: "ABC", ID: "LOC1", LastUpdated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TimeZone: "CET+1"}}
	_, run := execute(t, f, Options{})
	z := run.rowsByID(f)["EQUAL"].zone
	want := `stored location time_zone "CET+1" is not an IANA zone name; CDR location time_zone "Amsterdam Time" is not an IANA zone name`
	if z.TimeZone != "Europe/Amsterdam" || z.Source != string(pricing.ZoneCountry) || z.Note != want {
		t.Errorf("zone %+v, want Europe/Amsterdam from the country, note %q", z, want)
	}
}

// A published version with a finding that blocks pricing (its ENERGY price
// was missing: the body holds 0 for it) prices nothing: the CDRs it is in
// effect for are not priceable, on the kernel's path and on the
// reference's (a period with reservation and charging), with the finding in
// the message. They were priced 0.00 before.
func TestExecuteTariffWithBlockingFinding(t *testing.T) {
	f := fixture()
	f.tariffs[0].Tariff.Elements[0].PriceComponents[0].Price = decimal.Zero
	f.tariffs[0].Blocking = "elements[0].price_components[0].price: required field is missing"
	mixed := session("NL", "ABC", "MIXED", at(16, 10), at(16, 11), "10", "2.50", "3.03")
	mixed.ChargingPeriods[0].Dimensions = append(mixed.ChargingPeriods[0].Dimensions, ocpi.CDRDimension{Type: "RESERVATION_TIME", Volume: dec("0.25")})
	f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), cdr: mixed, received: at(28, 0)})
	sum, run := execute(t, f, Options{})
	rows := run.rowsByID(f)
	for _, id := range []string{"EQUAL", "DIFF", "NOBILLED", "ZERO", "MIXED"} {
		r := rows[id]
		if r.status != "not_priceable" || r.reason != WhyTariffBlocking || r.outcome != "not_priced" ||
			!strings.Contains(r.message, "tariff NL-ABC*T1 of 2026-09-01T00:00:00Z has a finding that blocks pricing (elements[0].price_components[0].price: required field is missing)") {
			t.Errorf("%s: %s %q %s, message %q; want not_priceable %s", id, r.status, r.reason, r.outcome, r.message, WhyTariffBlocking)
		}
	}
	if r := rows["BLOCKED"]; r.reason != WhyBlocking {
		t.Errorf("a CDR with its own blocking finding: reason %q, want %s", r.reason, WhyBlocking)
	}
	if n := sum.NotPriceable[WhyTariffBlocking]; n != 6 {
		t.Errorf("%d CDRs not priceable for the tariff's finding, want 6 (%v)", n, sum.NotPriceable)
	}
}

// countingStep is a step after pricing: it sees the run's summary and its
// open writer.
type countingStep struct {
	saw  int64
	fail error
}

func (s *countingStep) Name() string { return "count" }

func (s *countingStep) Run(_ context.Context, r *Running) error {
	if r.Writer == nil || r.Run.ID() != "reprice:2026-10/*" {
		return errors.New("no writer or wrong run")
	}
	s.saw = r.Summary.Count(reconcile.Different)
	return s.fail
}

func TestExecuteSteps(t *testing.T) {
	f := fixture()
	st := &countingStep{}
	sum, _ := execute(t, f, Options{Steps: []Step{st}})
	if st.saw != 2 || sum.Phases[len(sum.Phases)-2].Name != "count" {
		t.Errorf("the step saw %d different, phases %v", st.saw, sum.Phases)
	}
	// A failing step rolls the run back.
	f = fixture()
	_, err := Execute(context.Background(), f, f, Options{Run: Run{Scope: Scope{Period: oct}}, Steps: []Step{&countingStep{fail: errors.New("boom")}}})
	if !errors.Is(err, ErrStep) || len(f.committed) != 0 || !strings.Contains(err.Error(), "step count") {
		t.Errorf("err %v, %d committed", err, len(f.committed))
	}
}

func TestExecuteWriteError(t *testing.T) {
	f := fixture()
	f.failWrite = errors.New("disk full")
	_, err := Execute(context.Background(), f, f, Options{Run: Run{Scope: Scope{Period: oct}}})
	if !errors.Is(err, ErrWrite) || len(f.committed) != 0 {
		t.Fatalf("err %v, %d committed", err, len(f.committed))
	}
	if got := err.Error(); strings.Count(got, "settle:") != 1 || !strings.Contains(got, "reprice:2026-10/*") || !strings.Contains(got, "disk full") {
		t.Errorf("error %q: want one prefix, the run and the cause", got)
	}
}

func TestExecuteRefusesLinelessPolicy(t *testing.T) {
	f := fixture()
	_, err := Execute(context.Background(), f, f, Options{Run: Run{Scope: Scope{Period: oct}},
		Policies: map[Party]Policy{NewParty("NL", "ABC"): {Pricing: pricing.ExactPolicy()}}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("err %v, want invalid", err)
	}
}

func TestEmptyScope(t *testing.T) {
	f := fixture()
	sum, run := execute(t, f, Options{Run: Run{Scope: Scope{Period: Month(2026, time.August)}}})
	if sum.CDRs != 0 || len(run.rows.CDRKey) != 0 || !run.done {
		t.Errorf("an empty period: %d CDRs, %d rows", sum.CDRs, len(run.rows.CDRKey))
	}
}

// TestLocationVersionAtStart: the stored location version a CDR is priced
// with is the latest whose last_updated is not after the session start,
// else the oldest (also when the start is unknown).
func TestLocationVersionAtStart(t *testing.T) {
	v := &locVersions{at: []int64{100, 200, 200, 300}}
	for _, tc := range []struct {
		start int64
		known bool
		want  int
	}{
		{50, true, 0},   // before every version: the oldest
		{100, true, 0},  // at a version's last_updated: that version
		{199, true, 0},  //
		{200, true, 2},  // equal last_updated: the later stored one
		{1000, true, 3}, // after the last
		{1000, false, 0},
	} {
		if got := v.version(tc.start, tc.known); got != tc.want {
			t.Errorf("version(%d, %v) = %d, want %d", tc.start, tc.known, got, tc.want)
		}
	}
}

// Issue 10, defects 3 and 7 through the kernel path: a tariff in another
// currency than the CDR makes it not priceable (pricing.CheckCurrency), never
// a match; a tariff that states no tax rate leaves the billed taxes not
// verifiable, so only the amount before taxes is compared.
func TestExecuteCurrencyAndTaxes(t *testing.T) {
	f := fixture()
	f.tariffs = []StoredTariff{energyTariff("NL", "ABC", "T1", "USD")}
	_, run := execute(t, f, Options{})
	r := run.rowsByID(f)["EQUAL"]
	if r.status != "not_priceable" || r.reason != string(pricing.ReasonCurrencyMismatch) || r.outcome != "not_priced" ||
		!strings.Contains(r.message, "EUR") || !strings.Contains(r.message, "USD") || !strings.Contains(r.message, "T1") {
		t.Errorf("EUR CDR, USD tariff: %s %q %s, message %q", r.status, r.reason, r.outcome, r.message)
	}

	f = fixture()
	noRate := energyTariff("NL", "ABC", "T1", "EUR")
	noRate.Tariff.Version, noRate.Tariff.TaxIncluded = ocpi.V230, ocpi.TaxIncludedNo
	noRate.Tariff.Elements[0].PriceComponents[0].VAT = decimal.NullDecimal{}
	f.tariffs = []StoredTariff{noRate}
	_, run = execute(t, f, Options{})
	// EQUAL bills 2.50 / 3.03: before taxes equal, the taxes not verifiable.
	if r := run.rowsByID(f)["EQUAL"]; r.status != "priced" || r.outcome != "equal" {
		t.Errorf("tariff without a tax rate: %s %s, want priced and equal before taxes", r.status, r.outcome)
	}
}

// A CDR whose periods name no tariff at a connector that lists two is not
// priceable (no_tariff_applies, naming both): the reference priced it 0.00,
// a difference of the whole billed amount.
func TestExecuteSeveralConnectorTariffs(t *testing.T) {
	f := fixture()
	t2 := energyTariff("NL", "ABC", "T2", "EUR")
	t2.Tariff.Elements[0].PriceComponents[0].Price = dec("0.30")
	f.tariffs = append(f.tariffs, t2)
	f.locations = []LocationVersion{{CountryCode: "NL", PartyID: "ABC", ID: "LOC1", LastUpdated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Connectors: map[[2]string][]string{{"E1", "1"}: {"T1", "T2"}}}}
	for _, c := range f.cdrs {
		c.cdr.ChargingPeriods[0].TariffID = ""
	}
	_, run := execute(t, f, Options{})
	r := run.rowsByID(f)["EQUAL"]
	if r.status != "not_priceable" || r.reason != string(pricing.ReasonNoTariffApplies) || r.outcome != "not_priced" ||
		!strings.Contains(r.message, "has no tariff_id and 2 tariffs were given (T1, T2)") {
		t.Errorf("EQUAL: %s %q %s totals %v, message %q; want not_priceable no_tariff_applies", r.status, r.reason, r.outcome, r.totals[:2], r.message)
	}
}
