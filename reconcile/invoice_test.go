package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

func eur(excl, incl int64) Amount {
	return Amount{Excl: excl, Incl: incl, HasExcl: true, HasIncl: true}
}

func heldCDRs() map[string]*Held {
	h := func(id string, billed, recomputed Amount, v Verdict, in bool) *Held {
		return &Held{ID: id, Currency: "EUR", MinorUnits: 2, Billed: billed, Recomputed: recomputed, Verdict: v, InPeriod: in}
	}
	return map[string]*Held{
		"C1": h("C1", eur(10_000_000, 12_100_000), eur(10_000_000, 12_100_000), VerdictOK, true),
		"C2": h("C2", eur(5_500_000, 6_655_000), eur(5_000_000, 6_050_000), VerdictMismatch, true),
		"C3": h("C3", eur(2_000_000, 2_420_000), eur(2_000_000, 2_420_000), VerdictOK, true),
		"C4": h("C4", eur(1_000_000, 1_210_000), eur(1_000_000, 1_210_000), VerdictOK, true),             // never invoiced
		"C9": h("C9", eur(3_000_000, 3_630_000), eur(3_000_000, 3_630_000), VerdictOK, false),            // another period
		"C5": h("C5", eur(4_000_000, 4_840_000), eur(9_000_000, 10_890_000), VerdictNotVerifiable, true), // compared with what it billed
	}
}

const invoiceCSV = `cdr_id,amount_excl_vat,amount_incl_vat,currency
C1,10.00,12.10,EUR
c2,5.50,6.655,EUR
C3,2.01,2.43,EUR
X7,8.00,9.68,EUR
C1,10.00,12.10,EUR

C9,3.00,3.63,EUR
C5,4.00,4.84,EUR
`

func TestMatchClassesEachLine(t *testing.T) {
	inv, err := ReadInvoiceCSV(strings.NewReader(invoiceCSV), "nov.csv", DefaultColumns())
	if err != nil {
		t.Fatal(err)
	}
	tol := func(string) Tolerance { return Tolerance{Minor: 1} }
	res := Match(&MatchInput{Invoices: []*Invoice{inv}, CDRs: heldCDRs(), Tolerance: tol})
	want := []struct {
		line  int
		id    string
		class LineClass
	}{
		{2, "C1", ClassExact}, {3, "c2", ClassMismatch}, {4, "C3", ClassWithinTolerance}, {5, "X7", ClassPartnerOnly},
		{6, "C1", ClassDuplicate}, {8, "C9", ClassExact}, {9, "C5", ClassExact},
	}
	if len(res.Lines) != len(want) {
		t.Fatalf("%d lines: %+v", len(res.Lines), res.Lines)
	}
	for i, w := range want {
		l := res.Lines[i]
		if l.Line != w.line || l.CDRID != w.id || l.Class != w.class {
			t.Errorf("line %d: %+v, want %d %s %s", i, l, w.line, w.id, w.class)
		}
	}
	if res.Lines[1].Difference.Excl != -500_000 {
		t.Errorf("C2 difference %+v", res.Lines[1].Difference)
	}
	if res.Lines[6].Note == "" {
		t.Error("a not verifiable CDR's line says nothing")
	}
	if len(res.OursOnly) != 1 || res.OursOnly[0] != "C4" {
		t.Errorf("ours_only %v", res.OursOnly)
	}
	// Stated: every line (the duplicate and the partner-only one too);
	// recomputed: each CDR we hold once, as we accept it.
	tot := res.Total
	if tot.Currency != "EUR" || tot.Stated.Excl != 42_510_000 || tot.Recomputed.Excl != 24_000_000 ||
		tot.Difference.Excl != -18_510_000 || !tot.Stated.HasIncl {
		t.Errorf("total %+v", tot)
	}
	// Without tolerance the one-cent line is a mismatch.
	res = Match(&MatchInput{Invoices: []*Invoice{inv}, CDRs: heldCDRs()})
	if res.Lines[2].Class != ClassMismatch {
		t.Errorf("exact default: %s", res.Lines[2].Class)
	}
}

func TestInvoiceColumnsAndErrors(t *testing.T) {
	cols := Columns{CDRID: "Session", Excl: "Net", Incl: "", DecimalComma: true}
	inv, err := ReadInvoiceCSV(strings.NewReader("\ufeffNr;Session;Net\n"), "x.csv", cols)
	if err == nil {
		t.Fatal("a ';' layout read with ','")
	}
	rows := [][]string{{"Nr", "Session", "Net"}, {"1", "C1", "1.234,5"}, {"2", "C2", "-0,50"}}
	inv, err = InvoiceFromRows(rows, "x.xlsx", cols)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Lines[0].Amount.Excl != 1_234_500_000 || inv.Lines[1].Amount.Excl != -500_000 || inv.Lines[0].Amount.HasIncl {
		t.Fatalf("%+v", inv.Lines)
	}
	for _, tc := range []struct{ csv, want string }{
		{"id,amount\n", `no column "cdr_id"`},
		{"cdr_id,amount_excl_vat\nC1,12.3.4\n", "row 2: column amount_excl_vat"},
		{"cdr_id,amount_excl_vat\nC1,EUR 12\n", `"EUR 12" is not an amount`},
		{"cdr_id,amount_excl_vat\n,12\n", "row 2: column cdr_id: no CDR id"},
		{"", "empty"},
	} {
		_, err := ReadInvoiceCSV(strings.NewReader(tc.csv), "f.csv", DefaultColumns())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.csv, err, tc.want)
		}
	}
}

// A 2.3.0 invoice reconciliation record lists ids only: each line claims
// the CDR's billed amount, and the total comes from --invoice-total.
func TestMatchIRR(t *testing.T) {
	irr := &ocpi.InvoiceReconciliationRecord{Version: ocpi.V230, CountryCode: "NL", PartyID: "EVB", ID: "3",
		InvoiceID: "INV202610", CDRs: []string{"C1", "C2", "C2", "X7"}, LastUpdated: time.Now()}
	inv := InvoiceFromIRR(irr, "irr.json")
	total := dec("20.50")
	res := Match(&MatchInput{Invoices: []*Invoice{inv}, CDRs: heldCDRs(), StatedTotal: &total})
	classes := []LineClass{ClassExact, ClassMismatch, ClassDuplicate, ClassPartnerOnly}
	for i, c := range classes {
		if res.Lines[i].Class != c {
			t.Errorf("line %d: %s, want %s", i+1, res.Lines[i].Class, c)
		}
	}
	if tot := res.Total; tot.Stated.Excl != 20_500_000 || tot.Stated.HasIncl || tot.Recomputed.Excl != 15_000_000 || tot.Difference.Excl != -5_500_000 {
		t.Errorf("total %+v", tot)
	}
	if res.Count(ClassDuplicate) != 1 || len(res.OursOnly) != 3 {
		t.Errorf("duplicates %d, ours_only %v", res.Count(ClassDuplicate), res.OursOnly)
	}
}

// Two invoice files are one invoicing: a CDR in both is a duplicate.
func TestMatchAcrossFiles(t *testing.T) {
	a, _ := ReadInvoiceCSV(strings.NewReader("cdr_id,amount_excl_vat\nC1,10.00\n"), "a.csv", DefaultColumns())
	b, _ := ReadInvoiceCSV(strings.NewReader("cdr_id,amount_excl_vat\nC1,10.00\nC3,2.00\n"), "b.csv", DefaultColumns())
	res := Match(&MatchInput{Invoices: []*Invoice{a, b}, CDRs: heldCDRs()})
	if res.Lines[1].Class != ClassDuplicate || !strings.Contains(res.Lines[1].Note, "a.csv:2") || res.Lines[2].Class != ClassExact {
		t.Errorf("%+v", res.Lines)
	}
	if res.Total.Stated.HasIncl {
		t.Error("an incl total from lines that state none")
	}
}

// A record's line whose CDR names another invoice (invoice_reference_id)
// is a MISMATCH, whatever the amounts; one naming the record's invoice, or
// none, is classified by its amounts.
func TestMatchIRRInvoiceReference(t *testing.T) {
	irr := &ocpi.InvoiceReconciliationRecord{Version: ocpi.V230, CountryCode: "NL", PartyID: "EVB", ID: "3",
		InvoiceID: "INV202610", CDRs: []string{"C1"}, LastUpdated: time.Now()}
	for ref, want := range map[string]LineClass{"": ClassExact, "inv202610": ClassExact, "INV202609": ClassMismatch} {
		held := heldCDRs()
		held["C1"].InvoiceReferenceID = ref
		res := Match(&MatchInput{Invoices: []*Invoice{InvoiceFromIRR(irr, "irr.json")}, CDRs: held})
		if l := res.Lines[0]; l.Class != want || (want == ClassMismatch) != strings.Contains(l.Note, "INV202609") {
			t.Errorf("invoice_reference_id %q: %s %q, want %s", ref, l.Class, l.Note, want)
		}
	}
}
