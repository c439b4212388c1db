package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/invoicing"
)

func invoiceConfig() invoicing.Config {
	c := invoicing.DefaultConfig()
	c.Seller = invoicing.Party{Name: "Ładowarki Łódź Sp. z o.o.", CountryCode: "PL", PartyID: "LLD", VATID: "PL7251234567",
		Address: invoicing.Address{Street: "ul. Piotrkowska 104", PostalCode: "90-926", City: "Łódź", Country: "PL"}}
	c.Buyer = invoicing.Party{Name: "Stromfahrt GmbH", CountryCode: "DE", PartyID: "SFA", VATID: "DE298765432",
		Address: invoicing.Address{Street: "Müllerstraße 12", PostalCode: "13353", City: "Berlin", Country: "DE"}}
	c.Payment = invoicing.Payment{TermsDays: 30, IBAN: "PL61109010140000071219812874"}
	return c
}

var invoicePeriod = invoicing.Period{Name: "2026-10", From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}

func invoiceCDR(i int) invoicing.CDR {
	end := time.Date(2026, 10, 1+i%30, 12, i%60, 0, 0, time.UTC)
	excl := invoicing.Amount(int64(1_000+i*37) * 1e8) // 10.00 + 0.37 i, exactly
	return invoicing.CDR{CountryCode: "PL", PartyID: "LLD", ID: fmt.Sprintf("CDR%04d", i),
		BodySHA256: sha256.Sum256([]byte{byte(i), byte(i >> 8)}), Start: end.Add(-time.Hour), End: end,
		Location:      &invoicing.Location{ID: fmt.Sprintf("LOC%d", i%3), Name: "Stacja " + fmt.Sprint(i%3), City: "Łódź", Country: "POL"},
		Tariff:        &invoicing.TariffVersion{CountryCode: "PL", PartyID: "LLD", ID: "AC", LastUpdated: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
		PricingPolicy: "half_up/total/2.2.1-d2", Currency: "EUR", Energy: invoicing.MustQuantity("12.5"),
		Charges: []invoicing.Charge{{Component: invoicing.Energy, Excl: excl,
			Taxes: []invoicing.Tax{{Name: "VAT", Rate: invoicing.MustPercent("23"), HasRate: true, Amount: excl * 23 / 100}}}}}
}

func invoiceCDRs(n int) []invoicing.CDR {
	out := make([]invoicing.CDR, n)
	for i := range out {
		out[i] = invoiceCDR(i)
	}
	out[2].Dispute = &invoicing.Dispute{Verdict: "MISMATCH", Reasons: []string{"PRICE"}}
	return out
}

func openInvoiceFile(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issueWith(t *testing.T, s *Store, cdrs []invoicing.CDR, date invoicing.Date) *invoicing.Result {
	t.Helper()
	res, err := invoicing.Issue(context.Background(), s.Invoices(), invoicing.Request{Config: invoiceConfig(),
		Period: invoicePeriod, CDRs: cdrs, IssueDate: date})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func docNumbers(docs []invoicing.Issued) string {
	var s []string
	for _, d := range docs {
		s = append(s, d.Number)
	}
	return strings.Join(s, " ")
}

// TestInvoiceLedgerFile issues against a real DuckDB file: the invoice
// and its snapshot survive a reopen, the same inputs issue nothing, a late
// CDR gives a credit note and a new invoice, and the first invoice's row
// keeps its bytes.
func TestInvoiceLedgerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invoices.duckdb")
	s := openInvoiceFile(t, path)
	cdrs := invoiceCDRs(12)
	first := issueWith(t, s, cdrs, invoicing.Date{Year: 2026, Month: 11, Day: 6})
	if docNumbers(first.New) != "INV-000001" {
		t.Fatalf("issued %s", docNumbers(first.New))
	}
	inputs, err := s.Invoices().InvoiceInputs(context.Background(), "PL*LLD", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) != 12 || inputs[0].BodySHA256 != cdrs[0].BodySHA256 || inputs[0].Net != cdrs[0].Charges[0].Excl ||
		inputs[0].Tariff.LastUpdated != cdrs[0].Tariff.LastUpdated || inputs[0].PricingPolicy != "half_up/total/2.2.1-d2" {
		t.Fatalf("snapshot: %d rows, first %+v", len(inputs), inputs[0])
	}
	if last := inputs[len(inputs)-1]; !last.Disputed || last.Line != 0 || last.ID != "CDR0002" {
		t.Fatalf("the disputed CDR is not in the snapshot: %+v", last)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openInvoiceFile(t, path)
	defer s.Close()
	again := issueWith(t, s, cdrs, invoicing.Date{Year: 2026, Month: 11, Day: 7})
	if len(again.New) != 0 || !bytes.Equal(again.All[0].Document, first.New[0].Document) || again.All[0].SHA256 != first.New[0].SHA256 {
		t.Fatalf("the same inputs after a reopen issued %s", docNumbers(again.New))
	}
	late := invoiceCDR(12)
	res := issueWith(t, s, append(cdrs, late), invoicing.Date{Year: 2026, Month: 11, Day: 20})
	if docNumbers(res.New) != "CN-000001 INV-000002" || docNumbers(res.All) != "INV-000001 CN-000001 INV-000002" {
		t.Fatalf("after a late CDR: %s / %s", docNumbers(res.New), docNumbers(res.All))
	}
	var stored string
	if err := s.db.QueryRow(`SELECT document FROM invoice_documents WHERE number = 'INV-000001'`).Scan(&stored); err != nil || stored != string(first.New[0].Document) {
		t.Fatalf("the first invoice's row changed (%v)", err)
	}
	var dates []string
	rows, _ := s.db.Query(`SELECT strftime(issue_date, '%Y-%m-%d') FROM invoice_documents ORDER BY position`)
	for rows.Next() {
		var d string
		rows.Scan(&d)
		dates = append(dates, d)
	}
	rows.Close()
	if strings.Join(dates, " ") != "2026-11-06 2026-11-20 2026-11-20" {
		t.Fatalf("issue dates %v", dates)
	}
}

// TestInvoiceLedgerDetectsTampering: a document changed, or removed, in
// the database stops the next issuance.
func TestInvoiceLedgerDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"changed", `UPDATE invoice_documents SET document = replace(document, 'Łódź', 'Lodz') WHERE position = 1`, "was changed"},
		{"removed", `DELETE FROM invoice_documents WHERE position = 2`, "missing"},
	} {
		s := openInvoiceFile(t, filepath.Join(t.TempDir(), "tamper.duckdb"))
		cdrs := invoiceCDRs(6)
		issueWith(t, s, cdrs, invoicing.Date{Year: 2026, Month: 11, Day: 6})
		issueWith(t, s, append(cdrs, invoiceCDR(7)), invoicing.Date{Year: 2026, Month: 11, Day: 20})
		issueWith(t, s, append(cdrs, invoiceCDR(7), invoiceCDR(8)), invoicing.Date{Year: 2026, Month: 11, Day: 21})
		if _, err := s.db.Exec(tc.sql); err != nil {
			t.Fatal(err)
		}
		_, err := invoicing.Issue(context.Background(), s.Invoices(), invoicing.Request{Config: invoiceConfig(),
			Period: invoicePeriod, CDRs: cdrs, IssueDate: invoicing.Date{Year: 2026, Month: 12, Day: 1}})
		if !errors.Is(err, invoicing.ErrChain) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
		s.Close()
	}
}

// TestInvoiceLedgerRefusesOutOfSequence: the store checks positions and
// numbers itself, and a failed transaction leaves nothing behind.
func TestInvoiceLedgerRefusesOutOfSequence(t *testing.T) {
	s := openInvoiceFile(t, filepath.Join(t.TempDir(), "seq.duckdb"))
	defer s.Close()
	ctx := context.Background()
	issueWith(t, s, invoiceCDRs(4), invoicing.Date{Year: 2026, Month: 11, Day: 6})
	var head invoicing.Link
	err := s.Invoices().Transact(ctx, func(tx invoicing.LedgerTx) error {
		links, err := tx.Links("PL*LLD")
		head = links[0]
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := invoicing.Issued{Scope: invoicing.Scope{Issuer: "PL*LLD", Partner: "DE*SFA", Period: "2026-10", Currency: "EUR"},
		Kind: invoicing.Invoice, Series: "INV-", Number: "INV-000002", Document: []byte("{}"),
		IssueDate: invoicing.Date{Year: 2026, Month: 11, Day: 7}}
	for _, tc := range []struct {
		name         string
		position     int64
		previous     [32]byte
		sequence     int64
		wantSentinel error
	}{
		{"position taken", 1, [32]byte{}, 2, ErrOutOfSequence},
		{"position gap", 3, head.SHA256, 2, ErrOutOfSequence},
		{"not chained", 2, [32]byte{1}, 2, ErrOutOfSequence},
		{"number taken", 2, head.SHA256, 1, ErrOutOfSequence},
		{"number gap", 2, head.SHA256, 3, ErrOutOfSequence},
	} {
		d := doc
		d.Position, d.Previous, d.Sequence = tc.position, tc.previous, tc.sequence
		err := s.Invoices().Transact(ctx, func(tx invoicing.LedgerTx) error { return tx.Put(d, nil) })
		if !errors.Is(err, tc.wantSentinel) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A put that succeeds inside a transaction that then fails is gone.
	d := doc
	d.Position, d.Previous, d.Sequence = 2, head.SHA256, 2
	boom := errors.New("boom")
	err = s.Invoices().Transact(ctx, func(tx invoicing.LedgerTx) error {
		if err := tx.Put(d, []invoicing.InputRef{{Line: 1, CountryCode: "PL", PartyID: "LLD", ID: "X"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var docs, inputs int
	s.db.QueryRow(`SELECT count(*) FROM invoice_documents`).Scan(&docs)
	s.db.QueryRow(`SELECT count(*) FROM invoice_inputs`).Scan(&inputs)
	if docs != 1 || inputs != 4 {
		t.Fatalf("after a rolled-back put: %d documents, %d snapshot rows", docs, inputs)
	}
}

// keyIndex finds every key it was given, at its position, and no other,
// whether its keys are dense (the slice) or sparse (the map).
func TestKeyIndex(t *testing.T) {
	for _, keys := range [][]int64{
		{7, 3, 12, 5, 4},                  // dense: a slice over 3..12
		{-5, -3, -4},                      // dense below zero
		{1, 1 << 40, 99, -5},              // sparse: a map
		{math.MaxInt64, math.MinInt64, 0}, // a span that overflows
		{},
	} {
		x := newKeyIndex(keys)
		for i, k := range keys {
			x.put(k, i)
		}
		for i, k := range keys {
			if got, ok := x.get(k); !ok || got != i {
				t.Errorf("%v: get(%d) = %d, %v, want %d", keys, k, got, ok, i)
			}
		}
		for _, k := range []int64{2, 6, 13, 100, -6, 1<<40 + 1, math.MaxInt64, math.MinInt64} {
			if slices.Contains(keys, k) {
				continue
			}
			if got, ok := x.get(k); ok {
				t.Errorf("%v: get(%d) = %d, want absent", keys, k, got)
			}
		}
	}
}
