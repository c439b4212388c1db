package settle

import (
	"strconv"
	"testing"

	"github.com/roamsettle/roamsettle/invoicing"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// The flags the store keeps are pricing's.
func TestInvoiceFlagsArePricings(t *testing.T) {
	if flagInclUnknown != int32(pricing.FlagInclUnknown) || flagExclUnknown != int32(pricing.FlagExclUnknown) {
		t.Fatalf("flags %d %d, pricing's %d %d", flagInclUnknown, flagExclUnknown, pricing.FlagInclUnknown, pricing.FlagExclUnknown)
	}
}

// micro6 is an amount in millionths.
func micro6(units, cents int64) int64 { return units*1_000_000 + cents*10_000 }

// pricedRow is a priced CDR: energy 10.00 + 21 % VAT, parking 1.00
// without VAT (lines state none), total 11.01 (a rounding residue of 0.01
// on top of the components).
func pricedRow(id string) InvoiceRow {
	r := InvoiceRow{CountryCode: "NL", PartyID: "ABC", ID: id, Place: &InvoicePlace{Currency: "EUR"}, Priced: true,
		Pricing: &InvoicePricing{Tariff: invoicing.TariffVersion{CountryCode: "NL", PartyID: "ABC", ID: "T1"},
			Policy: "half_up/total/2.2.1-d2"}}
	set := func(f int, excl, incl int64) { r.Computed[2*f], r.Computed[2*f+1] = excl, incl }
	set(0, micro6(11, 1), micro6(13, 12)) // total_cost
	set(2, micro6(10, 0), micro6(12, 10)) // energy
	set(4, micro6(1, 0), micro6(1, 0))    // parking
	r.Rates[1] = LineRate{Lines: 2, Valid: true, Rate: 21_000_000}
	r.Rates[3] = LineRate{Lines: 1}
	return r
}

func TestInvoiceCDRsComputed(t *testing.T) {
	cdrs, skipped, err := InvoiceCDRs([]InvoiceRow{pricedRow("A")})
	if err != nil || skipped != 0 || len(cdrs) != 1 {
		t.Fatalf("%v %d %d", err, skipped, len(cdrs))
	}
	if c := cdrs[0]; c.Currency != "EUR" || c.Tariff.ID != "T1" || c.PricingPolicy != "half_up/total/2.2.1-d2" {
		t.Errorf("the shared place and pricing are not the CDR's: %q %+v %q", c.Currency, c.Tariff, c.PricingPolicy)
	}
	ch := cdrs[0].Charges
	if len(ch) != 3 {
		t.Fatalf("charges %+v: want energy, parking and the adjustment", ch)
	}
	energy, parking, adj := ch[0], ch[1], ch[2]
	if energy.Component != invoicing.Energy || energy.Excl != amount10(micro6(10, 0)) || len(energy.Taxes) != 1 ||
		!energy.Taxes[0].HasRate || energy.Taxes[0].Rate != 21_000_000 || energy.Taxes[0].Amount != amount10(micro6(2, 10)) {
		t.Errorf("energy %+v", energy)
	}
	if parking.Component != invoicing.Parking || len(parking.Taxes) != 0 {
		t.Errorf("parking %+v: priced without VAT, so untaxed", parking)
	}
	// The residue: 0.01 excl, 0.02 tax, at the largest component's rate.
	if adj.Component != invoicing.Adjustment || adj.Excl != amount10(micro6(0, 1)) || len(adj.Taxes) != 1 ||
		adj.Taxes[0].Rate != 21_000_000 || adj.Taxes[0].Amount != amount10(micro6(0, 1)) {
		t.Errorf("adjustment %+v", adj)
	}
	var sum invoicing.Amount
	for _, c := range ch {
		sum += c.Excl
	}
	if sum != amount10(micro6(11, 1)) {
		t.Errorf("charges sum to %v, total_cost is 11.01", sum)
	}
}

func TestInvoiceCDRsDisputesAndSkips(t *testing.T) {
	open := pricedRow("OPEN")
	open.Dispute = &StoredDispute{Verdict: "MISMATCH", State: "sent", Reasons: []string{"PRICE"}, Evidence: "why",
		BilledExcl: micro6(12, 0), HasBilledExcl: true, RecomputedExcl: micro6(11, 1), HasRecomputedExcl: true}
	withdrawn := pricedRow("WITHDRAWN")
	withdrawn.Dispute = &StoredDispute{Verdict: "MISMATCH", State: "withdrawn"}
	writtenOff := pricedRow("WRITTENOFF")
	writtenOff.Dispute = &StoredDispute{Verdict: "MISMATCH", State: "written_off"}
	writtenOff.Billed[0], writtenOff.BilledValid[0] = micro6(12, 0), true
	writtenOff.Billed[4], writtenOff.BilledValid[4] = micro6(11, 0), true
	writtenOff.Billed[5], writtenOff.BilledValid[5] = micro6(13, 31), true
	noCurrency := pricedRow("NOCUR")
	noCurrency.Place = &InvoicePlace{}
	noPlace := pricedRow("NOPLACE")
	noPlace.Place = nil
	notPriced := pricedRow("NOTPRICED")
	notPriced.Priced = false
	exclUnknown := pricedRow("EXCLUNKNOWN")
	exclUnknown.Flags = flagExclUnknown
	cdrs, skipped, err := InvoiceCDRs([]InvoiceRow{open, withdrawn, writtenOff, noCurrency, noPlace, notPriced, exclUnknown})
	if err != nil || skipped != 4 || len(cdrs) != 3 {
		t.Fatalf("%v: %d skipped, %d CDRs; want 4 and 3", err, skipped, len(cdrs))
	}
	if d := cdrs[0].Dispute; d == nil || d.Status != "sent" || d.Billed == nil || d.Billed.Excl != amount10(micro6(12, 0)) ||
		d.Billed.Incl != d.Billed.Excl || len(cdrs[0].Charges) != 0 {
		t.Errorf("an open dispute: %+v %+v", d, cdrs[0].Charges)
	}
	if cdrs[1].Dispute != nil || len(cdrs[1].Charges) != 3 {
		t.Errorf("a withdrawn dispute is charged as recomputed: %+v", cdrs[1])
	}
	ch := cdrs[2].Charges
	if cdrs[2].Dispute != nil || len(ch) != 2 || ch[0].Component != invoicing.Energy || ch[0].Excl != amount10(micro6(11, 0)) ||
		ch[0].Taxes[0].Amount != amount10(micro6(2, 31)) || ch[1].Component != invoicing.Adjustment || ch[1].Excl != amount10(micro6(1, 0)) {
		t.Errorf("a written-off dispute is charged as billed: %+v", ch)
	}
}

// A tariff without a tax rate: the amounts after taxes are unknown, so no
// charge states a tax.
func TestInvoiceCDRsInclUnknown(t *testing.T) {
	r := pricedRow("X")
	r.Flags = flagInclUnknown
	cdrs, _, _ := InvoiceCDRs([]InvoiceRow{r})
	for _, c := range cdrs[0].Charges {
		if len(c.Taxes) != 0 {
			t.Errorf("%s has taxes %+v", c.Component, c.Taxes)
		}
	}
}

// BenchmarkInvoiceCDRs turns a partner's month of invoice rows (1 M,
// priced, one in twenty billed and disputed) into invoicing's CDRs.
func BenchmarkInvoiceCDRs(b *testing.B) {
	rows := make([]InvoiceRow, 1_000_000)
	for i := range rows {
		rows[i] = pricedRow("CDR" + strconv.Itoa(i))
		if i%20 == 0 {
			rows[i].Dispute = &StoredDispute{Verdict: "MISMATCH", State: string(reconcile.DisputeWithdrawn)}
			rows[i].Billed, rows[i].BilledValid = rows[i].Computed, [NumTotals]bool{true, true, false, false, true, true}
		}
	}
	for b.Loop() {
		if _, _, err := InvoiceCDRs(rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}
