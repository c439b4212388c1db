package invoicing

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// The benchmarks of assembly and rendering. The issue's aim for the whole
// path is 10 M CDRs across 20 partners in under 30 s for invoices and
// reports; one partner's share is 500 k CDRs. `make bench-invoicing` runs
// them (BENCH_PARTNER_CDRS changes the size).

func benchPartnerCDRs() int {
	if s := os.Getenv("BENCH_PARTNER_CDRS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 500_000
}

// benchCDRs builds n CDRs of one partner's month: 2,000 locations, four
// tariff versions, VAT 19 % on energy, time and a fixed fee, untaxed
// parking on one CDR in ten, one in twenty disputed.
func benchCDRs(n int) []CDR {
	period := samplePeriod()
	tariffs := []TariffVersion{
		{CountryCode: "DE", PartyID: "CPO", ID: "AC", LastUpdated: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
		{CountryCode: "DE", PartyID: "CPO", ID: "AC", LastUpdated: time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)},
		{CountryCode: "DE", PartyID: "CPO", ID: "DC", LastUpdated: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)},
		{CountryCode: "DE", PartyID: "CPO", ID: "HPC", LastUpdated: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
	}
	const locations = 2000
	locs := make([]Location, locations)
	for i := range locs {
		locs[i] = Location{ID: fmt.Sprintf("LOC%05d", i), Name: fmt.Sprintf("Ladepark %d", i), City: "Berlin", Country: "DEU",
			EVSEID: fmt.Sprintf("DE*CPO*E%05d", i)}
	}
	vat := func(a Amount) []Tax {
		return []Tax{{Name: "VAT", Rate: 19_000_000, HasRate: true, Amount: a * 19 / 100}}
	}
	span := period.To.Sub(period.From) - 6*time.Hour
	out := make([]CDR, n)
	var seed [8]byte
	for i := range out {
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		h := sha256.Sum256(seed[:])
		r := binary.LittleEndian.Uint64(h[:8])
		start := period.From.Add(time.Duration(r % uint64(span)))
		energy := Amount(int64(r>>20%4000+100) * 1e8) // 1.00 .. 40.99
		timeCost := Amount(int64(r>>32%300) * 1e8)
		c := CDR{CountryCode: "DE", PartyID: "CPO", ID: "CDR" + strconv.Itoa(i), BodySHA256: h,
			Start: start, End: start.Add(time.Duration(r>>40%(5*3600)+60) * time.Second),
			Location: &locs[r%locations], Tariff: &tariffs[r>>8%4], PricingPolicy: "half_up/total/2.2.1-d2",
			Currency: "EUR", Energy: Quantity(int64(r >> 12 % 80_000_000)),
			Charges: []Charge{{Component: Energy, Excl: energy, Taxes: vat(energy)}, {Component: Time, Excl: timeCost, Taxes: vat(timeCost)}}}
		if r>>50%10 == 0 {
			c.Charges = append(c.Charges, Charge{Component: Parking, Excl: 2 * 1e10})
		}
		if r>>54%20 == 0 {
			c.Dispute = &Dispute{Verdict: "MISMATCH", Status: "raised", Reasons: []string{"TARIFF_VERSION"},
				Billed: &Price{Excl: energy + 1e9, Incl: (energy + 1e9) * 119 / 100}, Recomputed: &Price{Excl: energy, Incl: energy * 119 / 100},
				Evidence: "Billed with the tariff version of 2026-09-01; the version of 2026-10-15 was in effect."}
		}
		out[i] = c
	}
	return out
}

func benchConfig(g Grouping) Config {
	c := sampleConfig()
	c.Grouping = g
	return c
}

// BenchmarkAssemble: a partner's month of CDRs into its statement.
func BenchmarkAssemble(b *testing.B) {
	for _, g := range []Grouping{ByLocationTariff, PerCDR} {
		n := benchPartnerCDRs()
		cdrs := benchCDRs(n)
		b.Run(fmt.Sprintf("%s/cdrs=%d", g, n), func(b *testing.B) {
			var lines int
			for b.Loop() {
				docs, err := Statements(benchConfig(g), samplePeriod(), cdrs, sampleIssueDate)
				if err != nil {
					b.Fatal(err)
				}
				lines = len(docs[0].Lines)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
			b.ReportMetric(float64(lines), "lines")
		})
	}
}

// BenchmarkRender: one document per format. The partner's month as an
// invoice grouped by location and tariff (disputes left out, the default),
// as its statement (every dispute listed with its evidence), and a slice
// of it as a per-CDR invoice (a per-CDR PDF of 500 k lines would be
// ~11,000 pages: the rate is what matters).
func BenchmarkRender(b *testing.B) {
	n := benchPartnerCDRs()
	cases := []struct {
		name string
		g    Grouping
		cdrs int
		kind Kind
	}{
		{"invoice", ByLocationTariff, n, Invoice},
		{"statement", ByLocationTariff, n, Statement},
		{"invoice", PerCDR, min(n, 20_000), Invoice},
	}
	for _, tc := range cases {
		docs, err := Statements(benchConfig(tc.g), samplePeriod(), benchCDRs(tc.cdrs), sampleIssueDate)
		if err != nil {
			b.Fatal(err)
		}
		doc := docs[0]
		if tc.kind == Invoice {
			doc.Kind, doc.Number, doc.Summary, doc.Disputes = Invoice, "INV-000001", nil, nil
			due := doc.IssueDate.AddDays(30)
			doc.DueDate = &due
		}
		for _, f := range FormatsOf(doc) {
			b.Run(fmt.Sprintf("%s/%s/%s/lines=%d/disputes=%d", tc.name, tc.g, f, len(doc.Lines), len(doc.Disputes)), func(b *testing.B) {
				var size int64
				for b.Loop() {
					w := &countingWriter{}
					if err := Render(w, doc, f, PDFOptions{}); err != nil {
						b.Fatal(err)
					}
					size = w.n
				}
				b.ReportMetric(float64(len(doc.Lines)+len(doc.Disputes))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(size), "bytes")
			})
		}
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)
