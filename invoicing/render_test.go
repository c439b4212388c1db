package invoicing

import (
	"archive/zip"
	"bytes"
	"codeberg.org/go-pdf/fpdf"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// TestRenderingsAreByteIdentical: every format rendered again gives the
// same bytes (fpdf and excelize hold maps; the loop gives their random
// iteration a chance to show), including after the document went through
// its stored JSON, and nothing carries today's date.
func TestRenderingsAreByteIdentical(t *testing.T) {
	today := []byte(time.Now().UTC().Format("20060102"))
	todayISO := []byte(time.Now().UTC().Format("2006-01-02"))
	for name, d := range goldenDocs(t) {
		stored, err := MarshalDocument(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range FormatsOf(d) {
			var first bytes.Buffer
			if err := Render(&first, d, f, PDFOptions{}); err != nil {
				t.Fatalf("%s %s: %v", name, f, err)
			}
			for i := range 6 {
				doc := d
				if i%2 == 1 {
					if doc, err = UnmarshalDocument(stored); err != nil {
						t.Fatal(err)
					}
				}
				var again bytes.Buffer
				if err := Render(&again, doc, f, PDFOptions{}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Bytes(), again.Bytes()) {
					t.Fatalf("%s %s: rendering %d differs", name, f, i+2)
				}
			}
			// (A document may state today's date itself, a due date say.)
			if !bytes.Contains(stored, todayISO) && (bytes.Contains(first.Bytes(), today) || bytes.Contains(first.Bytes(), todayISO)) {
				t.Errorf("%s %s carries today's date", name, f)
			}
		}
	}
}

// TestPDFMetadataFixed: the PDF's dates are the issue date.
func TestPDFMetadataFixed(t *testing.T) {
	d := goldenDocs(t)["invoice"]
	var b bytes.Buffer
	if err := renderPDF(&b, d, PDFOptions{}, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/CreationDate (D:20261106000000)", "/ModDate (D:20261106000000)", "/Producer (roamsettle)"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("PDF lacks %s", want)
		}
	}
}

// TestXLSXPackageFixed: the zip entries carry no time and the core
// properties the issue date.
func TestXLSXPackageFixed(t *testing.T) {
	var b bytes.Buffer
	if err := RenderXLSX(&b, goldenDocs(t)["invoice"]); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range z.File {
		if f.ModifiedDate != 0 || f.ModifiedTime != 0 || len(f.Extra) != 0 {
			t.Errorf("%s carries a time: %d %d %x", f.Name, f.ModifiedDate, f.ModifiedTime, f.Extra)
		}
		if f.Name == "docProps/core.xml" {
			r, _ := f.Open()
			var core bytes.Buffer
			core.ReadFrom(r)
			if strings.Count(core.String(), "2026-11-06T00:00:00Z") != 2 {
				t.Errorf("core properties: %s", core.String())
			}
		}
	}
}

// TestXLSXFormatsPerCurrency: amount cells show the currency's minor
// units; headers are frozen and filtered.
func TestXLSXFormatsPerCurrency(t *testing.T) {
	for _, tc := range []struct {
		currency, format, net string
	}{{"EUR", "#,##0.00", "1.50"}, {"JPY", "#,##0", "2"}, {"KWD", "#,##0.000", "1.500"}} {
		c := hand("A", "L1", time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC), ch(Energy, "1.5"))
		c.Currency = tc.currency
		docs, err := Statements(handConfig(), utcPeriod(), []CDR{c}, sampleIssueDate)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := RenderXLSX(&b, docs[0]); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(&b)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := f.GetRows(SheetLines, excelize.Options{RawCellValue: true})
		net := indexOf(rows[0], "Net "+tc.currency)
		cellName, _ := excelize.CoordinatesToCellName(net+1, 2)
		styleID, _ := f.GetCellStyle(SheetLines, cellName)
		style, _ := f.GetStyle(styleID)
		if style.CustomNumFmt == nil || *style.CustomNumFmt != tc.format || rows[1][net] != strings.TrimRight(strings.TrimRight(tc.net, "0"), ".") && rows[1][net] != tc.net {
			t.Errorf("%s: net %q with format %v, want %s in %s", tc.currency, rows[1][net], style.CustomNumFmt, tc.net, tc.format)
		}
		for _, sheet := range []string{SheetLines, SheetDisputes, SheetDays} {
			panes, err := f.GetPanes(sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("%s: header not frozen: %+v %v", sheet, panes, err)
			}
		}
		f.Close()
	}
}

func indexOf(row []string, s string) int {
	for i, c := range row {
		if c == s {
			return i
		}
	}
	return -1
}

func cjkDoc(t *testing.T) *Document {
	cfg := sampleConfig()
	cfg.Buyer.Name = "東京充電株式会社"
	docs, err := Statements(cfg, samplePeriod(), sampleCDRs(3), sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	return docs[0]
}

// TestPDFCJKWarnsWithoutFont: CJK text without a CJK font is rendered
// all the same, with a warning that names the fix.
func TestPDFCJKWarnsWithoutFont(t *testing.T) {
	saved := CJKFontPaths
	CJKFontPaths = []string{filepath.Join(t.TempDir(), "none.ttf")}
	t.Cleanup(func() { CJKFontPaths = saved })
	var warnings []string
	var b bytes.Buffer
	if err := renderPDF(&b, cjkDoc(t), PDFOptions{Warn: func(m string) { warnings = append(warnings, m) }}, false); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no CJK TrueType font") {
		t.Fatalf("warnings: %q", warnings)
	}
	// An unreadable font file is a warning too, not a failure.
	warnings = nil
	bad := filepath.Join(t.TempDir(), "bad.ttf")
	os.WriteFile(bad, []byte("not a font"), 0o644)
	if err := renderPDF(&b, cjkDoc(t), PDFOptions{CJKFont: bad, Warn: func(m string) { warnings = append(warnings, m) }}, false); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "cannot be embedded") {
		t.Fatalf("warnings: %q", warnings)
	}
	// A document without CJK text never looks for the font.
	warnings = nil
	if err := renderPDF(&b, goldenDocs(t)["invoice"], PDFOptions{Warn: func(m string) { warnings = append(warnings, m) }}, false); err != nil || warnings != nil {
		t.Fatalf("%v %q", err, warnings)
	}
}

// TestPDFCJKFallbackFont: with a CJK font, the text that needs it is set
// in that font and the rest stays in DejaVu Sans. (The font here is
// DejaVu itself written to a file: what is tested is the switch; `make
// check-docs` prints real CJK text with Debian's Droid Sans Fallback.)
func TestPDFCJKFallbackFont(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cjk.ttf")
	if err := os.WriteFile(path, dejaVuSans, 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := renderPDF(&b, cjkDoc(t), PDFOptions{CJKFont: path, Warn: func(m string) { t.Errorf("warning: %s", m) }}, false); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte("/FontName /utf8cjk")) || !bytes.Contains(b.Bytes(), []byte("/FontName /utf8dejavu")) {
		t.Fatal("the CJK font is not embedded beside DejaVu")
	}
	pages, err := pdfText(b.Bytes())
	if err != nil || !strings.Contains(pages[0], "東京充電株式会社") {
		t.Fatalf("CJK text not in the page: %v", err)
	}
}

// TestUBLRefusals: what EN 16931 cannot express is refused, not bent.
func TestUBLRefusals(t *testing.T) {
	day := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cdr  CDR
		want string
	}{
		{"non-VAT tax", hand("A", "L1", day, ch(Energy, "1.00", Tax{Name: "GST", Rate: MustPercent("5"), HasRate: true, Amount: MustAmount("0.05")})), "not VAT"},
		{"three minor units", func() CDR { c := hand("A", "L1", day, ch(Energy, "1.000")); c.Currency = "KWD"; return c }(), "minor units"},
		{"VAT without a rate", hand("A", "L1", day, ch(Energy, "1.00", Tax{Name: "VAT", Amount: MustAmount("0.19")})), "category"},
	} {
		res := issueHand(t, tc.cdr)
		err := RenderUBL(&bytes.Buffer{}, res)
		if !errors.Is(err, ErrUBL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func issueHand(t *testing.T, c CDR) *Document {
	t.Helper()
	l := &memLedger{}
	res, err := Issue(t.Context(), l, Request{Config: handConfig(), Period: utcPeriod(), CDRs: []CDR{c}, IssueDate: sampleIssueDate})
	if err != nil {
		t.Fatal(err)
	}
	return mustDoc(t, res.New[0])
}

func TestFileName(t *testing.T) {
	docs := goldenDocs(t)
	if got := FileName(docs["invoice"], FormatPDF); got != "INV-000001.pdf" {
		t.Error(got)
	}
	if got := FileName(docs["statement"], FormatXLSX); got != "statement-DE-SFA-2026-10-EUR.xlsx" {
		t.Error(got)
	}
}

// XLSXNumber carries a decimal into a worksheet only when the float's
// text, as excelize writes it, is the decimal itself: trailing zeros may
// go, digits may not.
func TestXLSXNumber(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string // the float's shortest text; "" refused
	}{
		{"0", "0"}, {"2.50", "2.5"}, {"-0.50", "-0.5"}, {"-0.00", "0"}, {"12345", "12345"}, {"100.", "100"},
		{"0.1", "0.1"}, {"1176583.3636", "1176583.3636"}, {"16040003.16", "16040003.16"},
		{"123456789012345", "123456789012345"}, {"0.000001", "0.000001"}, {"1461990175", "1461990175"},
		{"1234567890123456", ""},  // 16 significant digits: Excel keeps 15
		{"1234567.123456789", ""}, // the same after the point
		{"0.30000000000000004", ""}, {"abc", ""}, {"", ""}, {"1e5", ""},
	} {
		f, ok := XLSXNumber(tc.text)
		got := ""
		if ok {
			got = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if got != tc.want {
			t.Errorf("XLSXNumber(%q) = %q, %v; want %q", tc.text, got, ok, tc.want)
		}
	}
}

// TestCutMatchesShorteningOneRuneAtATime: the binary search in cut gives
// the prefix the one-rune-at-a-time loop it replaced gave, for every
// width, in a real font's metrics.
func TestCutMatchesShorteningOneRuneAtATime(t *testing.T) {
	p := &pdfWriter{f: fpdf.New("P", "mm", "A4", "")}
	p.f.AddUTF8FontFromBytes("dejavu", "", dejaVuSans)
	p.setFont("dejavu", "", 8)
	for _, s := range []string{"Manufaktura Łódź, ul. Drewnowska 58", "Φόρτιση Σύνταγμα", "W", "", "iiiiiiiiiiWWWWWWWWWW"} {
		for w := 0.0; w < 80; w += 0.5 {
			fits := func(t string) bool { return p.f.GetStringWidth(t) <= w-1 }
			r := []rune(s)
			for len(r) > 0 && !fits(string(r)+"…") {
				r = r[:len(r)-1]
			}
			if got, want := cut(s, fits), string(r)+"…"; got != want {
				t.Errorf("cut(%q) at width %v = %q, want %q", s, w, got, want)
			}
		}
	}
}
