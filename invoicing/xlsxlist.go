package invoicing

import (
	"fmt"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// sheetRows is how many rows one worksheet holds, its header included
// (Excel's limit, excelize.TotalRows); tests lower it.
var sheetRows = excelize.TotalRows

// ListWriter streams a long list (an invoice's lines, its disputes, a
// dispute workbook's periods) into a workbook through excelize's stream
// writer, row by row into the sheet's XML rather than through its cell
// maps: column widths and styles first, a header row frozen at the top,
// the rows, and an Excel table over them (the header's filter buttons). A
// list longer than a worksheet holds (1,048,576 rows with the header)
// continues on the next sheet, "Name (2)", "Name (3)", ..., with the same
// header and its own table, so that a partner's month of per-CDR lines is
// written whole instead of failing for its size.
type ListWriter struct {
	f      *excelize.File
	name   string
	table  string
	header []any
	widths []float64
	styles []int
	sw     *excelize.StreamWriter
	part   int // the sheet being written, from 1
	row    int // its last row written
	rows   int // the list's rows written, the headers not counted
	err    error
}

// NewListWriter starts the list's first sheet, name, whose table is
// called table. widths and styles are per column (a style of 0 leaves the
// column unstyled); header cells are excelize.Cell values.
func NewListWriter(f *excelize.File, name, table string, header []excelize.Cell, widths []float64, styles []int) *ListWriter {
	l := &ListWriter{f: f, name: name, table: table, widths: widths, styles: styles}
	for _, h := range header {
		l.header = append(l.header, h)
	}
	l.start()
	return l
}

// SheetName is the name of a list's part-th sheet (from 1).
func SheetName(name string, part int) string {
	if part == 1 {
		return name
	}
	return name + " (" + strconv.Itoa(part) + ")"
}

func (l *ListWriter) start() {
	l.part++
	l.row = 0
	name := SheetName(l.name, l.part)
	if _, l.err = l.f.NewSheet(name); l.err != nil {
		return
	}
	if l.sw, l.err = l.f.NewStreamWriter(name); l.err != nil {
		return
	}
	for i, w := range l.widths {
		if l.err == nil {
			l.err = l.sw.SetColWidth(i+1, i+1, w)
		}
		if l.err == nil && i < len(l.styles) && l.styles[i] != 0 {
			l.err = l.sw.SetColStyle(i+1, i+1, l.styles[i])
		}
	}
	if l.err == nil {
		l.err = l.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	}
	l.put(l.header)
}

func (l *ListWriter) put(cells []any) {
	if l.err != nil {
		return
	}
	l.row++
	l.err = l.sw.SetRow("A"+strconv.Itoa(l.row), cells)
}

// Row writes the list's next row: excelize.Cell values, or nil for an
// empty cell. The slice may be reused once Row returns.
func (l *ListWriter) Row(cells []any) error {
	if l.err == nil && l.row >= sheetRows {
		l.finish()
		if l.err == nil {
			l.start()
		}
	}
	l.put(cells)
	if l.err == nil {
		l.rows++
	}
	return l.err
}

// Rows is how many rows the list holds so far, the headers not counted.
func (l *ListWriter) Rows() int { return l.rows }

// finish puts the table over the sheet's rows (the header and an empty
// row when there are none) and flushes the sheet.
func (l *ListWriter) finish() {
	if l.err != nil {
		return
	}
	last, _ := excelize.ColumnNumberToName(len(l.header))
	table := l.table
	if l.part > 1 {
		table += strconv.Itoa(l.part)
	}
	off := false
	l.err = l.sw.AddTable(&excelize.Table{Range: fmt.Sprintf("A1:%s%d", last, max(l.row, 2)), Name: table, ShowRowStripes: &off})
	if l.err == nil {
		l.err = l.sw.Flush()
	}
}

// Close finishes the last sheet. The first error the list met is
// returned, by Close as by every Row after it.
func (l *ListWriter) Close() error {
	l.finish()
	return l.err
}
