package invoicing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func hand(id, loc string, end time.Time, charges ...Charge) CDR {
	return CDR{CountryCode: "NL", PartyID: "ABC", ID: id, Start: end.Add(-time.Hour), End: end,
		Location: &Location{ID: loc, Name: "Station " + loc, City: "Utrecht", Country: "NLD"},
		Tariff:   &TariffVersion{CountryCode: "NL", PartyID: "ABC", ID: "T1", LastUpdated: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
		Currency: "EUR", Energy: MustQuantity("10"), Charges: charges}
}

func ch(c Component, excl string, taxes ...Tax) Charge {
	return Charge{Component: c, Excl: MustAmount(excl), Taxes: taxes}
}

func vat19(amount string) Tax {
	return Tax{Name: "VAT", Rate: MustPercent("19"), HasRate: true, Amount: MustAmount(amount)}
}

func handConfig() Config {
	c := sampleConfig()
	c.Seller.CountryCode, c.Seller.PartyID = "NL", "ABC"
	return c
}

func utcPeriod() Period {
	return Period{Name: "2026-10", From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// TestStatementByLocationTariff works one small month out by hand: lines
// grouped per location, tariff and tax set, each rounded once half up, the
// components split to add up to the rounded line, VAT computed from the
// taxable base, untaxed parking under category E, the dispute listed and
// never charged.
func TestStatementByLocationTariff(t *testing.T) {
	d := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	cdrs := []CDR{
		hand("C", "L2", d.Add(48*time.Hour), ch(Energy, "3.333", vat19("0.63327"))),
		hand("A", "L1", d, ch(Energy, "10.005", vat19("1.90095")), ch(Time, "2.00", vat19("0.38"))),
		hand("B", "L1", d.Add(time.Hour), ch(Energy, "5.0025", vat19("0.950475")), ch(Parking, "1.00")),
		hand("D", "L2", d, ch(Energy, "9.99", vat19("1.8981"))),
	}
	cdrs[3].Dispute = &Dispute{Verdict: "MISMATCH", Reasons: []string{"PRICE"},
		Billed: &Price{Excl: MustAmount("9.99"), Incl: MustAmount("11.89")}, Recomputed: &Price{Excl: MustAmount("8.99"), Incl: MustAmount("10.70")}}
	docs, err := Statements(handConfig(), utcPeriod(), cdrs, sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1 (one currency)", len(docs))
	}
	doc := docs[0]
	type line struct {
		key, net string
		comps    string
		sessions int
	}
	var got []line
	for _, l := range doc.Lines {
		var comps []string
		for _, c := range l.Components {
			comps = append(comps, string(c.Component)+"="+c.Net.String())
		}
		got = append(got, line{l.Key, l.Net.String(), strings.Join(comps, " "), l.Sessions})
	}
	want := []line{
		{"location NL*ABC*L1 tariff NL*ABC*T1@2026-09-01T00:00:00Z tax VAT/E", "1.00", "parking=1.00", 1},
		{"location NL*ABC*L1 tariff NL*ABC*T1@2026-09-01T00:00:00Z tax VAT/S/19", "17.01", "energy=15.01 time=2.00", 2},
		{"location NL*ABC*L2 tariff NL*ABC*T1@2026-09-01T00:00:00Z tax VAT/S/19", "3.33", "energy=3.33", 1},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(line{})); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	var rows []string
	for _, r := range doc.TaxBreakdown {
		rows = append(rows, r.key()+" base "+r.Base.String()+" tax "+r.Tax.String())
	}
	if diff := cmp.Diff([]string{"VAT/E base 1.00 tax 0.00", "VAT/S/19 base 20.34 tax 3.86"}, rows); diff != "" {
		t.Fatalf("tax breakdown (-want +got):\n%s", diff)
	}
	if tt := doc.Totals; tt.Net.String() != "21.34" || tt.Tax.String() != "3.86" || tt.Gross.String() != "25.20" || tt.Payable != tt.Gross {
		t.Fatalf("totals %+v", tt)
	}
	if len(doc.Disputes) != 1 || doc.Disputes[0].CDR.ID != "NL*ABC*D" || doc.Disputes[0].Difference.Excl.String() != "-1.00" {
		t.Fatalf("disputes %+v", doc.Disputes)
	}
	if s := doc.Summary; s.CDRs != 4 || s.Accepted != 3 || s.Disputed != 1 || s.DisputedBilled.String() != "9.99" || s.DisputedRecomputed.String() != "8.99" {
		t.Fatalf("summary %+v", s)
	}
	wantDays := []Day{{Date{2026, 10, 3}, 2, Money{1801, 2}}, {Date{2026, 10, 5}, 1, Money{333, 2}}}
	if diff := cmp.Diff(wantDays, doc.Days); diff != "" {
		t.Fatalf("days (-want +got):\n%s", diff)
	}
	if doc.Period != (DocPeriod{Name: "2026-10", Start: Date{2026, 10, 1}, End: Date{2026, 10, 31}, TimeZone: "UTC"}) {
		t.Fatalf("period %+v", doc.Period)
	}
	if doc.Number != "" || doc.DueDate != nil || doc.Kind != Statement {
		t.Fatalf("a statement has no number and no due date: %q %v %s", doc.Number, doc.DueDate, doc.Kind)
	}
}

// TestTaxMethods: three CDRs of 0.03 at 19 %. From the base, 0.09 × 19 % =
// 0.0171 → 0.02; from the lines, the CPO's own per-CDR VAT of 0.01 each
// sums to 0.03. The methods differ by design; each is exact to its rule.
func TestTaxMethods(t *testing.T) {
	d := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	var cdrs []CDR
	for _, id := range []string{"A", "B", "C"} {
		cdrs = append(cdrs, hand(id, "L1", d, ch(Energy, "0.03", vat19("0.01"))))
	}
	for _, tc := range []struct {
		method TaxMethod
		want   string
	}{{TaxFromBase, "0.02"}, {TaxFromLines, "0.03"}} {
		cfg := handConfig()
		cfg.TaxMethod, cfg.Grouping = tc.method, PerCDR
		docs, err := Statements(cfg, utcPeriod(), cdrs, sampleIssueDate)
		if err != nil {
			t.Fatal(err)
		}
		if got := docs[0].Totals.Tax.String(); got != tc.want {
			t.Errorf("%s: tax %s, want %s", tc.method, got, tc.want)
		}
	}
}

// TestRoundingModes: a line of 0.125 rounds to 0.13 half up and 0.12 half
// even; JPY has no minor units and KWD three.
func TestRoundingModes(t *testing.T) {
	d := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		mode     Rounding
		currency string
		excl     string
		want     string
	}{
		{HalfUp, "EUR", "0.125", "0.13"}, {HalfEven, "EUR", "0.125", "0.12"}, {HalfEven, "EUR", "0.135", "0.14"},
		{HalfUp, "EUR", "-0.125", "-0.13"}, {HalfEven, "EUR", "-0.125", "-0.12"},
		{HalfUp, "JPY", "1234.5", "1235"}, {HalfUp, "KWD", "1.2345", "1.235"}, {HalfEven, "KWD", "1.2345", "1.234"},
	} {
		cfg := handConfig()
		cfg.Rounding = tc.mode
		c := hand("A", "L1", d, ch(Energy, tc.excl))
		c.Currency = tc.currency
		docs, err := Statements(cfg, utcPeriod(), []CDR{c}, sampleIssueDate)
		if err != nil {
			t.Fatal(err)
		}
		if got := docs[0].Lines[0].Net.String(); got != tc.want {
			t.Errorf("%s %s %s: %s, want %s", tc.mode, tc.currency, tc.excl, got, tc.want)
		}
	}
}

// TestPerCDRLinesAndCurrencies: per-CDR lines in order of session start,
// a CDR whose charges carry two tax sets on two lines, and one statement
// per currency.
func TestPerCDRLinesAndCurrencies(t *testing.T) {
	d := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	cfg := handConfig()
	cfg.Grouping = PerCDR
	chf := hand("Z", "L9", d, ch(Energy, "4.00", Tax{Name: "VAT", Rate: MustPercent("8.1"), HasRate: true, Amount: MustAmount("0.324")}))
	chf.Currency = "CHF"
	cdrs := []CDR{
		hand("B", "L1", d.Add(2*time.Hour), ch(Energy, "2.00", vat19("0.38"))),
		hand("A", "L1", d, ch(Energy, "1.00", vat19("0.19")), ch(Parking, "0.50")),
		chf,
	}
	docs, err := Statements(cfg, utcPeriod(), cdrs, sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Currency != "CHF" || docs[1].Currency != "EUR" {
		t.Fatalf("documents by currency: %d", len(docs))
	}
	var keys []string
	for _, l := range docs[1].Lines {
		keys = append(keys, l.Key)
	}
	want := []string{"cdr NL*ABC*A tax VAT/E", "cdr NL*ABC*A tax VAT/S/19", "cdr NL*ABC*B tax VAT/S/19"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Fatalf("per-CDR lines (-want +got):\n%s", diff)
	}
	if docs[1].Lines[0].CDR == nil || docs[1].Lines[0].CDR.ID != "NL*ABC*A" {
		t.Fatalf("per-CDR line without its CDR: %+v", docs[1].Lines[0])
	}
	// The energy volume is on the line that charges energy, once.
	if docs[1].Lines[0].Energy != 0 || docs[1].Lines[1].Energy != MustQuantity("10") {
		t.Fatalf("energy split: %s %s", docs[1].Lines[0].Energy, docs[1].Lines[1].Energy)
	}
	if docs[1].Days[0].Sessions != 2 {
		t.Fatalf("a CDR on two lines counts once a day: %+v", docs[1].Days)
	}
	if got := docs[0].TaxBreakdown[0]; got.Rate.String() != "8.1" || got.Tax.String() != "0.32" {
		t.Fatalf("CHF breakdown %+v", got)
	}
}

// TestInputErrors: each bad input names the CDR, the field and the rule,
// and nothing is assembled.
func TestInputErrors(t *testing.T) {
	d := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	good := hand("A", "L1", d, ch(Energy, "1.00", vat19("0.19")))
	for _, tc := range []struct {
		name  string
		edit  func(c *CDR)
		field string
	}{
		{"unknown currency", func(c *CDR) { c.Currency = "EURO" }, "currency"},
		{"outside the period", func(c *CDR) { c.End = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }, "end_date_time"},
		{"no charges", func(c *CDR) { c.Charges = nil }, "charges"},
		{"unknown component", func(c *CDR) { c.Charges[0].Component = "tip" }, "charges[0].component"},
		{"tax without name", func(c *CDR) { c.Charges[0].Taxes[0].Name = " " }, "charges[0].taxes[0].name"},
		{"no identity", func(c *CDR) { c.ID = "" }, "id"},
		{"dispute without verdict", func(c *CDR) { c.Dispute = &Dispute{} }, "dispute.verdict"},
	} {
		c := good
		c.Charges = []Charge{{Component: Energy, Excl: MustAmount("1.00"), Taxes: []Tax{vat19("0.19")}}}
		tc.edit(&c)
		_, err := Statements(handConfig(), utcPeriod(), []CDR{c}, sampleIssueDate)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field || ie.CDR != c.Key() || !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v, want an InputError on %s", tc.name, err, tc.field)
		}
	}
	_, err := Statements(handConfig(), utcPeriod(), []CDR{good, good}, sampleIssueDate)
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate CDR: %v", err)
	}
	bad := handConfig()
	bad.Buyer.Address.Country = "DEU"
	bad.Rounding = "up"
	_, err = Statements(bad, utcPeriod(), []CDR{good}, sampleIssueDate)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "rounding") || !strings.Contains(err.Error(), "alpha-2") {
		t.Errorf("config errors: %v", err)
	}
}

// TestAmountConversions: exact in, exact out, and nothing rounded silently.
func TestAmountConversions(t *testing.T) {
	for _, s := range []string{"0", "12.28", "-0.0000000001", "922337203.6854775807", "-3.5"} {
		a, err := ParseAmount(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !a.Decimal().Equal(MustAmount(s).Decimal()) || a.Decimal().String() != MustAmount(s).Decimal().String() {
			t.Errorf("%s round trip", s)
		}
	}
	for _, s := range []string{"0.00000000001", "922337204", "1e3", " 1", "abc"} {
		if _, err := ParseAmount(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if got := MustAmount("12.3000").String(); got != "12.30" {
		t.Errorf("String %s", got)
	}
	if got := MustAmount("12.123456").String(); got != "12.123456" {
		t.Errorf("String %s", got)
	}
	var m Money
	if err := m.UnmarshalText([]byte("-0.05")); err != nil || m != (Money{-5, 2}) || m.String() != "-0.05" {
		t.Errorf("money %+v %v", m, err)
	}
	if (Money{1234, 0}).String() != "1234" || (Money{5, 3}).String() != "0.005" {
		t.Error("money digits")
	}
	// A sum beyond int64 still rounds exactly.
	var s sum128
	for range 3 {
		s.add(Amount(9_000_000_000_000_000_000))
	}
	s.add(MustAmount("0.005"))
	if got := s.round(2, HalfUp).String(); got != "2700000000.01" {
		t.Errorf("128-bit sum rounded %s", got)
	}
	if got := percentOf(Money{2034, 2}, MustPercent("19"), HalfUp); got.String() != "3.86" {
		t.Errorf("percentOf %s", got)
	}
	if got := percentOf(Money{-1000, 2}, MustPercent("9.975"), HalfEven); got.String() != "-1.00" {
		t.Errorf("percentOf negative %s", got)
	}
}

// A CDR without a location or a tariff version (nil, as the store gives
// one that states neither) is documented as one with empty ones.
func TestStatementWithoutLocationOrTariff(t *testing.T) {
	end := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	for _, g := range []Grouping{ByLocationTariff, PerCDR} {
		cfg := handConfig()
		cfg.Grouping = g
		nilled := hand("A1", "", end, ch(Energy, "4.00", vat19("0.76")))
		nilled.Location, nilled.Tariff = nil, nil
		empty := hand("A1", "", end, ch(Energy, "4.00", vat19("0.76")))
		empty.Location, empty.Tariff = &Location{}, &TariffVersion{}
		var got [2][]byte
		for i, c := range []CDR{nilled, empty} {
			docs, err := Statements(cfg, utcPeriod(), []CDR{c}, sampleIssueDate)
			if err != nil || len(docs) != 1 {
				t.Fatalf("%s: %d documents, %v", g, len(docs), err)
			}
			var b bytes.Buffer
			if err := WriteDocument(&b, docs[0]); err != nil {
				t.Fatal(err)
			}
			got[i] = b.Bytes()
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%s: nil and empty differ\n%s\n%s", g, got[0], got[1])
		}
	}
}
