package invoicing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genCDR draws a CDR of the sample period with amounts of up to 10
// decimals (credit CDRs negative), one of several tax sets and, now and
// then, a dispute.
func genCDR(t *rapid.T, id int, currency string) CDR {
	loc := sampleLocations[rapid.IntRange(0, len(sampleLocations)-1).Draw(t, "loc")]
	tariff := sampleTariffs[rapid.IntRange(0, len(sampleTariffs)-1).Draw(t, "tariff")]
	start := samplePeriod().From.Add(time.Duration(rapid.Int64Range(0, 29*24*3600).Draw(t, "start")) * time.Second)
	end := start.Add(time.Duration(rapid.Int64Range(60, 6*3600).Draw(t, "dur")) * time.Second)
	sign := Amount(1)
	credit := rapid.IntRange(0, 9).Draw(t, "credit") == 0
	if credit {
		sign = -1
	}
	taxSets := [][]Tax{
		nil,
		{{Name: "VAT", Rate: MustPercent("19"), HasRate: true}},
		{{Name: "VAT", Rate: MustPercent("23"), HasRate: true}},
		{{Name: "VAT", Rate: MustPercent("5.5"), HasRate: true}},
		{{Name: "VAT", Rate: 0, HasRate: true}},
		{{Name: "GST", Rate: MustPercent("5"), HasRate: true}, {Name: "QST", Rate: MustPercent("9.975"), HasRate: true}},
		{{Name: "Sales tax", HasRate: false}},
	}
	var charges []Charge
	for _, comp := range Components {
		if !rapid.Bool().Draw(t, "has "+string(comp)) {
			continue
		}
		excl := sign * Amount(rapid.Int64Range(0, 500*1e10).Draw(t, "excl"))
		set := taxSets[rapid.IntRange(0, len(taxSets)-1).Draw(t, "taxes")]
		taxes := make([]Tax, len(set))
		for i, tx := range set {
			tx.Amount = sign * Amount(rapid.Int64Range(0, 100*1e10).Draw(t, "tax"))
			if tx.HasRate {
				tx.Amount = excl * Amount(tx.Rate/1e4) / Amount(1e4) / 100
			}
			taxes[i] = tx
		}
		charges = append(charges, Charge{Component: comp, Excl: excl, Taxes: taxes})
	}
	if len(charges) == 0 {
		charges = []Charge{{Component: Energy, Excl: sign * MustAmount("1.5")}}
	}
	c := CDR{CountryCode: "PL", PartyID: "LLD", ID: fmt.Sprintf("R%04d", id),
		BodySHA256: sha256.Sum256([]byte{byte(id), byte(id >> 8)}), Start: start, End: end, Location: &loc, Tariff: &tariff,
		Currency: currency, Energy: Quantity(rapid.Int64Range(0, 80e6).Draw(t, "kwh")), Credit: credit, Charges: charges}
	if rapid.IntRange(0, 7).Draw(t, "disputed") == 0 {
		c.Dispute = &Dispute{Verdict: "MISMATCH", Reasons: []string{"PRICE"}, Billed: &Price{Excl: 100, Incl: 119}}
	}
	return c
}

func genConfig(t *rapid.T) Config {
	cfg := sampleConfig()
	cfg.Grouping = rapid.SampledFrom([]Grouping{PerCDR, ByLocationTariff}).Draw(t, "grouping")
	cfg.Rounding = rapid.SampledFrom([]Rounding{HalfUp, HalfEven}).Draw(t, "rounding")
	cfg.TaxMethod = rapid.SampledFrom([]TaxMethod{TaxFromBase, TaxFromLines}).Draw(t, "tax method")
	cfg.Disputes = rapid.SampledFrom([]DisputePolicy{ExcludeDisputes, ListDisputes}).Draw(t, "disputes")
	return cfg
}

func genCDRs(t *rapid.T, n int) []CDR {
	out := make([]CDR, n)
	for i := range out {
		out[i] = genCDR(t, i, rapid.SampledFrom([]string{"EUR", "EUR", "JPY", "KWD"}).Draw(t, "currency"))
	}
	return out
}

// checkSums asserts the document's arithmetic: lines sum to the net total
// exactly, components to each line, the breakdown's taxes to the tax
// total, gross = net + tax; and, for lines with one tax each, the bases
// to the net total.
func checkSums(t *rapid.T, doc *Document) {
	zero := Money{Digits: doc.MinorUnits}
	net, tax, bases := zero, zero, zero
	single := true
	for _, l := range doc.Lines {
		net = net.Add(l.Net)
		parts := zero
		for _, c := range l.Components {
			parts = parts.Add(c.Net)
		}
		if parts != l.Net && !(parts.IsZero() && l.Net.IsZero()) {
			t.Fatalf("line %d: components sum to %s, line %s", l.No, parts, l.Net)
		}
		if len(l.Taxes) != 1 {
			single = false
		}
	}
	for _, r := range doc.TaxBreakdown {
		tax = tax.Add(r.Tax)
		bases = bases.Add(r.Base)
	}
	if net != doc.Totals.Net && !(net.IsZero() && doc.Totals.Net.IsZero()) {
		t.Fatalf("lines sum to %s, net total %s", net, doc.Totals.Net)
	}
	if tax != doc.Totals.Tax && !(tax.IsZero() && doc.Totals.Tax.IsZero()) {
		t.Fatalf("tax breakdown sums to %s, tax total %s", tax, doc.Totals.Tax)
	}
	if doc.Totals.Net.Add(doc.Totals.Tax) != doc.Totals.Gross && !doc.Totals.Gross.IsZero() {
		t.Fatalf("gross %s != net %s + tax %s", doc.Totals.Gross, doc.Totals.Net, doc.Totals.Tax)
	}
	if single && bases.Units != net.Units {
		t.Fatalf("bases sum to %s, net %s", bases, net)
	}
}

// TestPropertyDocumentSums: for any inputs, the statement's sums hold
// exactly and its bytes do not depend on the order of the inputs.
func TestPropertyDocumentSums(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		cdrs := genCDRs(t, rapid.IntRange(1, 40).Draw(t, "n"))
		docs, err := Statements(cfg, samplePeriod(), cdrs, sampleIssueDate)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			checkSums(t, d)
		}
		shuffled := slices.Clone(cdrs)
		perm := rapid.Permutation(shuffled).Draw(t, "order")
		again, err := Statements(cfg, samplePeriod(), perm, sampleIssueDate)
		if err != nil {
			t.Fatal(err)
		}
		for i := range docs {
			a, _ := MarshalDocument(docs[i])
			b, _ := MarshalDocument(again[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("the order of the inputs changed document %d", i)
			}
		}
	})
}

// TestPropertyCorrectionsNetToDifference: issue a period, change it (late
// CDRs, changed amounts, new disputes, CDRs gone), issue again. The credit
// note and the new invoice net to the difference between the two states,
// every document's sums hold, every credited line is a line invoiced before
// and not yet credited, and a third issuance on the same inputs issues
// nothing.
func TestPropertyCorrectionsNetToDifference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		before := genCDRs(t, rapid.IntRange(1, 25).Draw(t, "n"))
		after := slices.Clone(before)
		for i := range after {
			switch rapid.IntRange(0, 9).Draw(t, "change") {
			case 0:
				after[i].Charges = slices.Clone(after[i].Charges)
				after[i].Charges[0].Excl += Amount(rapid.Int64Range(1, 3e10).Draw(t, "delta"))
			case 1:
				after[i].Dispute = &Dispute{Verdict: "NOT_VERIFIABLE", Reasons: []string{"MISSING_TARIFF"}}
			case 2:
				after[i].Dispute = nil
			}
		}
		if rapid.Bool().Draw(t, "drop one") && len(after) > 1 {
			after = after[1:]
		}
		for i := range rapid.IntRange(0, 5).Draw(t, "late") {
			after = append(after, genCDR(t, 1000+i, rapid.SampledFrom([]string{"EUR", "JPY"}).Draw(t, "currency")))
		}
		ctx := context.Background()
		l := &memLedger{}
		first, err := Issue(ctx, l, Request{Config: cfg, Period: samplePeriod(), CDRs: before, IssueDate: sampleIssueDate})
		if err != nil {
			t.Fatal(err)
		}
		second, err := Issue(ctx, l, Request{Config: cfg, Period: samplePeriod(), CDRs: after, IssueDate: Date{2026, 11, 20}})
		if err != nil {
			t.Fatal(err)
		}
		stBefore := statementNets(t, cfg, before)
		stAfter := statementNets(t, cfg, after)
		effects := func(docs []Issued) map[string]Money {
			out := map[string]Money{}
			for _, is := range docs {
				d, err := UnmarshalDocument(is.Document)
				if err != nil {
					t.Fatal(err)
				}
				checkSums(t, d)
				net := d.Totals.Net
				if d.Kind == CreditNote {
					net = net.Neg()
				}
				out[d.Currency] = out[d.Currency].Add(net)
			}
			return out
		}
		for cur, net := range effects(first.New) {
			if net != stBefore[cur] && !(net.IsZero() && stBefore[cur].IsZero()) {
				t.Fatalf("%s first issuance nets %s, statement %s", cur, net, stBefore[cur])
			}
		}
		delta := effects(second.New)
		for _, cur := range []string{"EUR", "JPY", "KWD"} {
			want := stAfter[cur].Add(stBefore[cur].Neg())
			if delta[cur].Units != want.Units {
				t.Fatalf("%s: credit note and new invoice net %s, difference of the states %s", cur, delta[cur], want)
			}
		}
		checkCreditsReferenceOpenLines(t, l.docs)
		third, err := Issue(ctx, l, Request{Config: cfg, Period: samplePeriod(), CDRs: after, IssueDate: Date{2026, 12, 1}})
		if err != nil {
			t.Fatal(err)
		}
		if len(third.New) != 0 {
			t.Fatalf("the same inputs again issued %s", numbers(third.New))
		}
	})
}

func statementNets(t *rapid.T, cfg Config, cdrs []CDR) map[string]Money {
	docs, err := Statements(cfg, samplePeriod(), cdrs, sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Money{}
	for _, d := range docs {
		out[d.Currency] = d.Totals.Net
	}
	return out
}

func checkCreditsReferenceOpenLines(t *rapid.T, docs []Issued) {
	open := map[LineRef]string{}
	for _, is := range docs {
		d, _ := UnmarshalDocument(is.Document)
		for _, l := range d.Lines {
			switch d.Kind {
			case Invoice:
				open[LineRef{Number: d.Number, Line: l.No}] = l.Digest
			case CreditNote:
				digest, ok := open[*l.Corrects]
				if !ok || digest != l.Digest {
					t.Fatalf("%s line %d credits %+v, which is not an open invoice line", d.Number, l.No, l.Corrects)
				}
				delete(open, *l.Corrects)
			}
		}
	}
}

// TestPropertyIssueIsDeterministic: two ledgers given the same inputs in
// different orders issue the same numbers and bytes.
func TestPropertyIssueIsDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		cdrs := genCDRs(t, rapid.IntRange(1, 20).Draw(t, "n"))
		a, err := Issue(context.Background(), &memLedger{}, Request{Config: cfg, Period: samplePeriod(), CDRs: cdrs, IssueDate: sampleIssueDate})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Issue(context.Background(), &memLedger{}, Request{Config: cfg, Period: samplePeriod(),
			CDRs: rapid.Permutation(cdrs).Draw(t, "order"), IssueDate: sampleIssueDate})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.New) != len(b.New) {
			t.Fatalf("%d vs %d documents", len(a.New), len(b.New))
		}
		for i := range a.New {
			if a.New[i].Number != b.New[i].Number || !bytes.Equal(a.New[i].Document, b.New[i].Document) {
				t.Fatalf("document %d differs", i)
			}
		}
	})
}
