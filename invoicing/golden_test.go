package invoicing

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenDocs is the golden scenario: the provisional statement of the
// sample month, its invoice (disputes listed), the credit note and new
// invoice after a late CDR, and a small self-billed invoice with per-CDR
// lines.
func goldenDocs(t *testing.T) map[string]*Document {
	t.Helper()
	out := map[string]*Document{}
	cfg := sampleConfig()
	cfg.Disputes = ListDisputes
	cdrs := sampleCDRs(40)
	st, err := Statements(cfg, samplePeriod(), cdrs, sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	out["statement"] = st[0]
	l := &memLedger{}
	first := issue(t, l, cfg, cdrs, sampleIssueDate)
	out["invoice"] = mustDoc(t, first.New[0])
	late := sampleCDR(40)
	late.ID = "CDR-LATE"
	second := issue(t, l, cfg, append(cdrs, late), Date{2026, 11, 20})
	out["credit_note"] = mustDoc(t, second.New[0])
	out["invoice_after_late_cdr"] = mustDoc(t, second.New[1])

	sb := sampleConfig()
	sb.Billing, sb.Grouping, sb.InvoiceSeries = SelfBilling, PerCDR, "SB-PLLLD-"
	res, err := Issue(context.Background(), &memLedger{}, Request{Config: sb, Period: samplePeriod(), CDRs: sampleCDRs(6), IssueDate: sampleIssueDate})
	if err != nil {
		t.Fatal(err)
	}
	out["self_billed_per_cdr"] = mustDoc(t, res.New[0])
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(same lines, different bytes)"
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestGoldenJSON: the canonical JSON of each golden document.
func TestGoldenJSON(t *testing.T) {
	for name, d := range goldenDocs(t) {
		var b bytes.Buffer
		if err := RenderJSON(&b, d); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".json", b.Bytes())
	}
}

// TestGoldenUBL: the UBL of each issued golden document (make check-docs
// runs the EN 16931 rules on the same files).
func TestGoldenUBL(t *testing.T) {
	for name, d := range goldenDocs(t) {
		var b bytes.Buffer
		err := RenderUBL(&b, d)
		if d.Kind == Statement {
			if err == nil {
				t.Errorf("%s: a statement rendered as UBL", name)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".ubl.xml", b.Bytes())
	}
}

// TestGoldenPDFText: the text of each page, extracted from fpdf's
// uncompressed content streams.
func TestGoldenPDFText(t *testing.T) {
	for name, d := range goldenDocs(t) {
		var b bytes.Buffer
		if err := renderPDF(&b, d, PDFOptions{}, false); err != nil {
			t.Fatal(err)
		}
		pages, err := pdfText(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for i, p := range pages {
			out.WriteString("=== page " + itoa(i+1) + "\n" + p + "\n")
		}
		golden(t, name+".pdf.txt", []byte(out.String()))
	}
}

// TestGoldenXLSXCells: every cell of every sheet, read back with
// excelize (raw values, so amounts show their exact decimals).
func TestGoldenXLSXCells(t *testing.T) {
	for name, d := range goldenDocs(t) {
		var b bytes.Buffer
		if err := RenderXLSX(&b, d); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".xlsx.txt", []byte(xlsxCells(t, b.Bytes())))
	}
}

func xlsxCells(t *testing.T, data []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	for _, sheet := range f.GetSheetList() {
		out.WriteString("=== " + sheet + "\n")
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out.WriteString(strings.Join(r, " | ") + "\n")
		}
	}
	return out.String()
}
