package invoicing

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func issue(t *testing.T, l Ledger, cfg Config, cdrs []CDR, date Date) *Result {
	t.Helper()
	res, err := Issue(context.Background(), l, Request{Config: cfg, Period: samplePeriod(), CDRs: cdrs, IssueDate: date})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func numbers(docs []Issued) string {
	var s []string
	for _, d := range docs {
		s = append(s, d.Number)
	}
	return strings.Join(s, " ")
}

func mustDoc(t *testing.T, is Issued) *Document {
	t.Helper()
	d, err := UnmarshalDocument(is.Document)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIssueTwiceSameNumbersAndBytes: a second issuance on the same inputs
// issues nothing and returns the same documents; a fresh ledger given the
// same inputs issues the same bytes.
func TestIssueTwiceSameNumbersAndBytes(t *testing.T) {
	cfg, cdrs := sampleConfig(), sampleCDRs(40)
	l := &memLedger{}
	first := issue(t, l, cfg, cdrs, sampleIssueDate)
	if numbers(first.New) != "INV-000001" {
		t.Fatalf("first issuance: %s", numbers(first.New))
	}
	again := issue(t, l, cfg, cdrs, Date{2026, 11, 7})
	if len(again.New) != 0 || numbers(again.All) != "INV-000001" || !bytes.Equal(again.All[0].Document, first.New[0].Document) {
		t.Fatalf("second issuance issued %s", numbers(again.New))
	}
	other := issue(t, &memLedger{}, cfg, cdrs, sampleIssueDate)
	if !bytes.Equal(other.New[0].Document, first.New[0].Document) || other.New[0].SHA256 != first.New[0].SHA256 {
		t.Fatal("the same inputs in a fresh ledger gave different bytes")
	}
	doc := mustDoc(t, first.New[0])
	if doc.PreviousSHA256 != strings.Repeat("0", 64) || doc.Number != "INV-000001" || doc.DueDate.String() != "2026-12-06" {
		t.Fatalf("first document: prev %s number %s due %v", doc.PreviousSHA256, doc.Number, doc.DueDate)
	}
	// One snapshot row per CDR and line (38 charged, 6 of them on two
	// lines for their untaxed parking) and one per disputed CDR left out.
	if n := len(l.inputs[[2]any{"PL*LLD", int64(1)}]); n != 46 {
		t.Fatalf("snapshot rows: %d, want 46", n)
	}
}

// TestLateCDRCreditsAndReissues: a CDR arriving after the invoice changes
// its location line: the line is credited by a credit note that names the
// invoice and line, and a new invoice charges the corrected line; the old
// invoice's bytes are untouched and the documents net to the new state.
func TestLateCDRCreditsAndReissues(t *testing.T) {
	cfg := sampleConfig()
	l := &memLedger{}
	cdrs := sampleCDRs(40)
	first := issue(t, l, cfg, cdrs, sampleIssueDate)
	original := bytes.Clone(first.New[0].Document)

	late := sampleCDR(40) // same location and tariff group as an existing line
	late.ID = "CDR-LATE"
	cdrs = append(cdrs, late)
	res := issue(t, l, cfg, cdrs, Date{2026, 11, 20})
	if numbers(res.New) != "CN-000001 INV-000002" || numbers(res.All) != "INV-000001 CN-000001 INV-000002" {
		t.Fatalf("after a late CDR: new %s, all %s", numbers(res.New), numbers(res.All))
	}
	if !bytes.Equal(l.docs[0].Document, original) {
		t.Fatal("the first invoice changed")
	}
	cn, inv2 := mustDoc(t, res.New[0]), mustDoc(t, res.New[1])
	if len(cn.Lines) != 1 || cn.Lines[0].Corrects == nil || cn.Lines[0].Corrects.Number != "INV-000001" ||
		len(cn.Corrects) != 1 || cn.Corrects[0].IssueDate != sampleIssueDate || cn.DueDate != nil {
		t.Fatalf("credit note lines %+v corrects %+v", cn.Lines, cn.Corrects)
	}
	if len(inv2.Lines) != 1 || inv2.Lines[0].Key != cn.Lines[0].Key || inv2.Lines[0].Sessions != cn.Lines[0].Sessions+1 {
		t.Fatalf("new invoice lines %+v", inv2.Lines)
	}
	st, err := Statements(cfg, samplePeriod(), cdrs, sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	inv1 := mustDoc(t, first.New[0])
	net := inv1.Totals.Net.Add(cn.Totals.Net.Neg()).Add(inv2.Totals.Net)
	if net != st[0].Totals.Net {
		t.Fatalf("invoice - credit note + invoice = %s, statement of the period %s", net, st[0].Totals.Net)
	}
	// The chain: each document names its predecessor's hash.
	if cn.PreviousSHA256 != hexHash(first.New[0].SHA256) || inv2.PreviousSHA256 != hexHash(res.New[0].SHA256) {
		t.Fatal("documents do not chain")
	}
	// A late CDR at a new location adds an invoice and credits nothing.
	fresh := sampleCDR(41)
	fresh.ID, fresh.Location = "CDR-NEWLOC", &Location{ID: "LOC-NEW", Name: "Nowa", City: "Kraków", Country: "POL"}
	res = issue(t, l, cfg, append(cdrs, fresh), Date{2026, 11, 21})
	if numbers(res.New) != "INV-000003" {
		t.Fatalf("a new location: %s", numbers(res.New))
	}
}

// TestDisputeAfterInvoiceCredits: a CDR that becomes disputed after it was
// invoiced is credited; when it was its line's only CDR nothing is
// re-invoiced for that line.
func TestDisputeAfterInvoiceCredits(t *testing.T) {
	cfg := sampleConfig()
	cfg.Grouping = PerCDR
	l := &memLedger{}
	cdrs := sampleCDRs(12)
	issue(t, l, cfg, cdrs, sampleIssueDate)
	cdrs[6].Dispute = &Dispute{Verdict: "MISMATCH", Reasons: []string{"PRICE"}}
	res := issue(t, l, cfg, cdrs, Date{2026, 11, 20})
	if numbers(res.New) != "CN-000001" {
		t.Fatalf("issued %s, want a credit note only", numbers(res.New))
	}
	cn := mustDoc(t, res.New[0])
	for _, line := range cn.Lines {
		if line.CDR == nil || line.CDR.ID != "PL*LLD*CDR-00006" {
			t.Fatalf("credited %+v", line)
		}
	}
	// Accepted again (written off): invoiced anew, never by editing.
	cdrs[6].Dispute = nil
	res = issue(t, l, cfg, cdrs, Date{2026, 11, 21})
	if numbers(res.New) != "INV-000002" {
		t.Fatalf("issued %s", numbers(res.New))
	}
}

// TestChainDetectsTampering: a changed document, a removed one and a
// reordered one each stop the next issuance with ErrChain.
func TestChainDetectsTampering(t *testing.T) {
	cfg := sampleConfig()
	build := func() *memLedger {
		l := &memLedger{}
		cdrs := sampleCDRs(20)
		issue(t, l, cfg, cdrs, sampleIssueDate)
		cdrs[0].Charges[0].Excl += MustAmount("1")
		issue(t, l, cfg, cdrs, Date{2026, 11, 20})
		return l
	}
	if l := build(); len(l.docs) != 3 {
		t.Fatalf("%d documents", len(l.docs))
	}
	for _, tc := range []struct {
		name   string
		tamper func(l *memLedger)
		want   string
	}{
		{"changed bytes", func(l *memLedger) {
			l.docs[0].Document = bytes.Replace(l.docs[0].Document, []byte("Łódź"), []byte("Lodz"), 1)
		}, "was changed"},
		{"changed bytes and hash", func(l *memLedger) {
			l.docs[1].Document = bytes.Replace(l.docs[1].Document, []byte("Łódź"), []byte("Lodz"), 1)
			l.docs[1].SHA256 = DocumentHash(l.docs[1].Document)
		}, "does not follow"},
		{"removed", func(l *memLedger) { l.docs = append(l.docs[:1], l.docs[2:]...) }, "missing"},
	} {
		l := build()
		tc.tamper(l)
		_, err := Issue(context.Background(), l, Request{Config: cfg, Period: samplePeriod(), CDRs: sampleCDRs(21), IssueDate: Date{2026, 12, 1}})
		if !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := VerifyChain([]Link{{Position: 1, Series: "INV-", Sequence: 2}}); !errors.Is(err, ErrChain) {
		t.Errorf("a number gap: %v", err)
	}
}

// TestFailedPutLeavesNoGap: when the store refuses the transaction nothing
// is numbered; the next issuance takes number 1.
func TestFailedPutLeavesNoGap(t *testing.T) {
	l := &failingLedger{memLedger: memLedger{}, fail: true}
	_, err := Issue(context.Background(), l, Request{Config: sampleConfig(), Period: samplePeriod(), CDRs: sampleCDRs(5), IssueDate: sampleIssueDate})
	if err == nil {
		t.Fatal("issued through a failing store")
	}
	l.fail = false
	res, err := Issue(context.Background(), l, Request{Config: sampleConfig(), Period: samplePeriod(), CDRs: sampleCDRs(5), IssueDate: sampleIssueDate})
	if err != nil || numbers(res.New) != "INV-000001" {
		t.Fatalf("%v %s", err, numbers(res.New))
	}
}

type failingLedger struct {
	memLedger
	fail bool
}

func (f *failingLedger) Transact(ctx context.Context, fn func(LedgerTx) error) error {
	return f.memLedger.Transact(ctx, func(tx LedgerTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if f.fail {
			return errors.New("disk full")
		}
		return nil
	})
}

// TestSelfBilling: the buyer issues and numbers; the seller stays the
// supplier; the titles say so.
func TestSelfBilling(t *testing.T) {
	cfg := sampleConfig()
	cfg.Billing = SelfBilling
	cfg.InvoiceSeries = "SB-PLLLD-"
	l := &memLedger{}
	res := issue(t, l, cfg, sampleCDRs(10), sampleIssueDate)
	if res.New[0].Issuer != "DE*SFA" || res.New[0].Partner != "PL*LLD" || res.New[0].Number != "SB-PLLLD-000001" {
		t.Fatalf("self-billed: %+v", res.New[0].Scope)
	}
	doc := mustDoc(t, res.New[0])
	if doc.Title() != "Self-billed invoice" || doc.Seller.PartyID != "LLD" || !strings.Contains(strings.Join(doc.Notes, " "), "on behalf of") {
		t.Fatalf("self-billed document: %s %+v", doc.Title(), doc.Notes)
	}
}

// TestDocumentJSONRoundTrip: a stored document reads back to the same
// bytes (renderings are made from what is read back).
func TestDocumentJSONRoundTrip(t *testing.T) {
	cfg := sampleConfig()
	cfg.Disputes = ListDisputes
	res := issue(t, &memLedger{}, cfg, sampleCDRs(40), sampleIssueDate)
	doc := mustDoc(t, res.New[0])
	again, err := MarshalDocument(doc)
	if err != nil || !bytes.Equal(again, res.New[0].Document) {
		t.Fatalf("round trip differs (%v)", err)
	}
	if len(doc.Disputes) != 2 || doc.Disputes[0].Evidence == "" {
		t.Fatalf("listed disputes: %+v", doc.Disputes)
	}
	if _, err := UnmarshalDocument(bytes.Replace(again, []byte(FormatVersion), []byte("other/9"), 1)); err == nil {
		t.Fatal("unknown format read")
	}
}
