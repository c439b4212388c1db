package reports

import (
	"time"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func amt(excl, incl string) Amount {
	a := Amount{}
	if excl != "" {
		a.Excl, a.HasExcl = dec(excl), true
	}
	if incl != "" {
		a.Incl, a.HasIncl = dec(incl), true
	}
	return a
}

func sampleScope() Scope {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return Scope{Partner: "NL-ABC", Period: "2026-10",
		From: time.Date(2026, 10, 1, 0, 0, 0, 0, ams).UTC(), To: time.Date(2026, 11, 1, 0, 0, 0, 0, ams).UTC(),
		Zone: ams, AsOf: time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)}
}

// sampleDisputes cover each kind of row: a tariff-version mismatch with
// the periods where it arises and their lines, a CDR that cannot be
// verified (nothing recomputed), a yen CDR (no minor units), a dinar CDR
// (three), a duplicate accepted on its amount but disputed on a finding,
// and a name outside Latin-1.
func sampleDisputes() []Dispute {
	start := time.Date(2026, 10, 3, 12, 5, 0, 0, time.UTC)
	vat := dec("21")
	return []Dispute{
		{CDRID: "CDR-0001", Start: start, End: start.Add(95 * time.Minute), LocationID: "LOC1", EVSEUID: "NL*ABC*E1", Currency: "EUR", MinorUnits: 2,
			Verdict: "MISMATCH", Reasons: []string{"TARIFF_VERSION"}, State: "sent",
			Billed: amt("12.28", "14.86"), Recomputed: amt("11.10", "13.43"), Difference: amt("-1.18", "-1.43"), InDispute: amt("1.18", "1.43"),
			Periods: []Period{{Index: 1, Start: start.Add(40 * time.Minute), Lines: []Line{
				{Dimension: "ENERGY", Quantity: dec("12.5"), BilledQuantity: dec("12.5"), UnitPrice: dec("0.3"), VAT: &vat, Excl: dec("3.75"), Incl: dec("4.5375")},
				{Dimension: "TIME", Quantity: dec("3300"), BilledQuantity: dec("3600"), UnitPrice: dec("2"), VAT: &vat, Excl: dec("2"), Incl: dec("2.42")},
			}}},
			Evidence: "NL-ABC CDR-0001 MISMATCH (TARIFF_VERSION)\nbilled total_cost 12.28 / 14.86 EUR (excl / incl VAT), recomputed 11.10 / 13.43 EUR\nhypothesis TARIFF_VERSION: tariff T1 of 2026-09-01T00:00:00Z gives 12.28 / 14.86 EUR: explains (differs in periods [1])"},
		{CDRID: "CDR-0002", Start: start.Add(24 * time.Hour), End: start.Add(25 * time.Hour), LocationID: "LOC2", Currency: "EUR", MinorUnits: 2,
			Verdict: "NOT_VERIFIABLE", Reasons: []string{"MISSING_TARIFF"}, State: "raised",
			Billed: amt("8.00", ""), InDispute: amt("8.00", ""), Evidence: "NL-ABC CDR-0002 NOT_VERIFIABLE (MISSING_TARIFF): no tariff"},
		{CDRID: "CDR-0003", Start: start.Add(48 * time.Hour), End: start.Add(49 * time.Hour), LocationID: "Łódź-7", Currency: "JPY", MinorUnits: 0,
			Verdict: "MISMATCH", Reasons: []string{"ROUNDING", "PRICE"}, State: "raised",
			Billed: amt("1235", "1359"), Recomputed: amt("1234", "1357"), Difference: amt("-1", "-2"), InDispute: amt("1", "2"),
			Evidence: "NL-ABC CDR-0003 MISMATCH (ROUNDING)"},
		{CDRID: "CDR-0004", Start: start.Add(72 * time.Hour), End: start.Add(73 * time.Hour), LocationID: "LOC3", Currency: "KWD", MinorUnits: 3,
			Verdict: "MISMATCH", Reasons: []string{"PRICE"}, State: "declined",
			Billed: amt("1.234", "1.234"), Recomputed: amt("1.111", "1.111"), Difference: amt("-0.123", "-0.123"), InDispute: amt("0.123", "0.123"),
			Periods: []Period{{Index: 0, Start: start.Add(72 * time.Hour)}}, Evidence: "NL-ABC CDR-0004 MISMATCH (PRICE)"},
		{CDRID: "CDR-0005", Start: start.Add(96 * time.Hour), End: start.Add(97 * time.Hour), LocationID: "LOC1", Currency: "EUR", MinorUnits: 2,
			Verdict: "OK", Codes: []string{"DUPLICATE"}, State: "raised",
			Billed: amt("5.00", "6.05"), Recomputed: amt("5.00", "6.05"), Difference: amt("0.00", "0.00"),
			Evidence: "NL-ABC CDR-0005 OK\nfinding DUPLICATE: received 2 times"},
	}
}

// sampleFigures is a month of one partner: 31 days, most CDRs OK.
func sampleFigures() Figures {
	f := Figures{CDRs: 0, ByReason: map[string]int64{"TARIFF_VERSION": 41, "PRICE": 17, "ROUNDING": 9, "MISSING_TARIFF": 6, "DUPLICATE": 3},
		ZoneSources: map[string]int64{"location": 2900, "country": 140, "coordinates": 25, "unresolved": 6},
		States:      map[string]int64{"raised": 60, "sent": 12, "declined": 4},
		Findings:    []FindingCount{{"DUPLICATE", "error", 3}, {"PERIOD_NOT_SPLIT", "warning", 11}, {"UNKNOWN_TOKEN", "error", 2}},
		IssueDelay:  Latency{CDRs: 3100, Unknown: 4, P50: 3660, P90: 6900, P99: 7180, Max: 864000, Buckets: [5]int64{1500, 1580, 10, 6, 4}},
		Delivery:    Latency{Unknown: 3104},
	}
	for d := 0; d < 31; d++ {
		n := int64(90 + (d*37)%41)
		mm, nv := int64(d%4), int64(d%3)
		day := Day{Date: time.Date(2026, 10, 1+d, 0, 0, 0, 0, time.UTC), CDRs: n, OK: n - mm - nv, Mismatch: mm, NotVerifiable: nv, Disputed: mm + nv}
		if d == 6 {
			day.Disputed++ // an OK CDR with an error finding
		}
		f.Days = append(f.Days, day)
		f.CDRs += day.CDRs
		f.OK += day.OK
		f.Mismatch += day.Mismatch
		f.NotVerifiable += day.NotVerifiable
		f.Disputed += day.Disputed
	}
	f.Reconciled = f.CDRs
	f.Priced = f.CDRs - 6
	f.InEffect = f.Priced - 41
	f.Embedded = 12
	f.SpanPriceChange = 11
	f.Currencies = []CurrencyFigures{
		{Currency: "", MinorUnits: 2, CDRs: 2, Billed: dec("12.30"), BilledCDRs: 2, Disputes: 2, InDispute: dec("12.30")},
		{Currency: "EUR", MinorUnits: 2, CDRs: f.CDRs - 5, Billed: dec("41234.56"), BilledCDRs: f.CDRs - 5, Recomputed: dec("41101.02"),
			RecomputedCDRs: f.CDRs - 7, Disputes: 70, InDispute: dec("133.54")},
		{Currency: "JPY", MinorUnits: 0, CDRs: 2, Billed: dec("2470"), BilledCDRs: 2, Recomputed: dec("2468"), RecomputedCDRs: 2, Disputes: 1, InDispute: dec("1")},
		{Currency: "KWD", MinorUnits: 3, CDRs: 1, Billed: dec("1.234"), BilledCDRs: 1, Recomputed: dec("1.111"), RecomputedCDRs: 1, Disputes: 1, InDispute: dec("0.123")},
	}
	return f
}

func sampleReport() *Report {
	return &Report{Scope: sampleScope(), Figures: sampleFigures(), Disputes: sampleDisputes()}
}
