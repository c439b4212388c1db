package invoicing

import (
	"bytes"
	"slices"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestXLSXListContinuesOnNextSheet: a list longer than a worksheet holds
// goes on in "Lines (2)", "Lines (3)", each with the header, frozen, under
// its own table, and the rows read back whole and in order. (The limit is
// lowered from Excel's 1,048,576 rows to 4 for the test.)
func TestXLSXListContinuesOnNextSheet(t *testing.T) {
	defer func(n int) { sheetRows = n }(sheetRows)
	sheetRows = 4 // the header and 3 rows
	cfg := sampleConfig()
	cfg.Grouping = PerCDR
	cfg.Disputes = ListDisputes
	docs, err := Statements(cfg, samplePeriod(), sampleCDRs(10), sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	d := docs[0]
	if len(d.Lines) < 7 {
		t.Fatalf("%d lines, want at least 7 for three sheets", len(d.Lines))
	}
	var b bytes.Buffer
	if err := RenderXLSX(&b, d); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parts := (len(d.Lines) + 2) / 3
	var header []string
	var numbers []string
	for p := 1; p <= parts; p++ {
		name := SheetName(SheetLines, p)
		if idx, err := f.GetSheetIndex(name); err != nil || idx < 0 {
			t.Fatalf("no sheet %q: %v (sheets %v)", name, err, f.GetSheetList())
		}
		rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := min(3, len(d.Lines)-3*(p-1)) + 1; len(rows) != want {
			t.Errorf("%s: %d rows, want %d", name, len(rows), want)
		}
		if p == 1 {
			header = rows[0]
		} else if !slices.Equal(rows[0], header) {
			t.Errorf("%s: header %v, want %v", name, rows[0], header)
		}
		for _, r := range rows[1:] {
			numbers = append(numbers, r[0])
		}
		panes, err := f.GetPanes(name)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: header not frozen: %+v %v", name, panes, err)
		}
		tables, err := f.GetTables(name)
		if err != nil || len(tables) != 1 {
			t.Errorf("%s: tables %+v %v, want one", name, tables, err)
		}
	}
	if idx, _ := f.GetSheetIndex(SheetName(SheetLines, parts+1)); idx >= 0 {
		t.Errorf("a sheet %q after the last line", SheetName(SheetLines, parts+1))
	}
	var want []string
	for _, l := range d.Lines {
		want = append(want, strconv.Itoa(l.No))
	}
	if !slices.Equal(numbers, want) {
		t.Errorf("line numbers over the sheets %v, want %v", numbers, want)
	}
	// The two disputes fit one sheet: no second one.
	if idx, _ := f.GetSheetIndex(SheetName(SheetDisputes, 2)); idx >= 0 {
		t.Errorf("a second disputes sheet for two disputes")
	}
}

// TestXLSXListExactlyFull: a list that fills its sheet exactly opens no
// empty next sheet.
func TestXLSXListExactlyFull(t *testing.T) {
	defer func(n int) { sheetRows = n }(sheetRows)
	sheetRows = 3
	f := NewWorkbook()
	defer f.Close()
	l := NewListWriter(f, "List", "List", []excelize.Cell{{Value: "n"}}, []float64{8}, nil)
	for i := range 4 {
		if err := l.Row([]any{excelize.Cell{Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.GetSheetList(); !slices.Equal(got, []string{"Sheet1", "List", "List (2)"}) {
		t.Errorf("sheets %v, want Sheet1, List, List (2)", got)
	}
	if l.Rows() != 4 {
		t.Errorf("Rows() = %d, want 4", l.Rows())
	}
}
