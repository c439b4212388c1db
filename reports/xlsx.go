package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/invoicing"
)

// The XLSX plumbing shared by the workbooks: invoicing's canonical
// workbook (NewWorkbook), fixed properties, one style per number format,
// small sheets written cell by cell with exact decimal text, and long
// lists streamed.

type book struct {
	f      *excelize.File
	styles map[string]int
	err    error
}

func newBook(s *Scope, title, subject string) *book {
	b := &book{f: invoicing.NewWorkbook(), styles: map[string]int{}}
	at := s.AsOf.UTC().Format(time.RFC3339)
	b.err = b.f.SetDocProps(&excelize.DocProperties{Created: at, Modified: at, Creator: "roamsettle", LastModifiedBy: "roamsettle",
		Title: title, Subject: subject, Category: "report", Identifier: s.Partner + "/" + s.Period, Language: "en", Version: FormatVersion})
	return b
}

// style returns the id of a style, made once per key.
func (b *book) style(key string, st *excelize.Style) int {
	if id, ok := b.styles[key]; ok {
		return id
	}
	id, err := b.f.NewStyle(st)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.styles[key] = id
	return id
}

func (b *book) title() int {
	return b.style("title", &excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
}

func (b *book) head() int {
	return b.style("head", &excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E3E8EF"}},
		Border: []excelize.Border{{Type: "bottom", Color: "7F8C9A", Style: 1}}})
}

func (b *book) bold() int { return b.style("bold", &excelize.Style{Font: &excelize.Font{Bold: true}}) }

// money is the style of amounts at a currency's minor units.
func (b *book) money(minor int) int {
	f := invoicing.AmountFormat(minor)
	return b.style("money"+strconv.Itoa(minor), &excelize.Style{CustomNumFmt: &f})
}

// exact shows every decimal an exact line amount has beyond the minor
// units (up to 10).
func (b *book) exact(minor int) int {
	f := invoicing.AmountFormat(max(minor, 1)) + strings.Repeat("#", 10-max(minor, 1))
	return b.style("exact"+strconv.Itoa(minor), &excelize.Style{CustomNumFmt: &f})
}

func (b *book) quantity() int {
	f := "#,##0.000###"
	return b.style("quantity", &excelize.Style{CustomNumFmt: &f})
}

func (b *book) percent() int {
	f := "0.00%"
	return b.style("percent", &excelize.Style{CustomNumFmt: &f})
}

func (b *book) date() int {
	f := "yyyy-mm-dd"
	return b.style("date", &excelize.Style{CustomNumFmt: &f})
}

func (b *book) wrap() int {
	return b.style("wrap", &excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
}

// cell is a value and its style. Values: string, int, int64, decimal
// (written as its exact text), a Date, or nil (left empty).
type cell struct {
	v     any
	style int
}

// Date is a calendar day (midnight UTC), written as a date serial.
type Date time.Time

// serial is the 1900 date system's serial of a day.
func (d Date) serial() int64 {
	return int64(time.Time(d).Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// sheet writes a small sheet cell by cell, row after row.
type sheet struct {
	b    *book
	name string
	row  int
}

func (b *book) sheet(name string, first bool) *sheet {
	if b.err == nil {
		if first {
			b.err = b.f.SetSheetName("Sheet1", name)
		} else {
			_, b.err = b.f.NewSheet(name)
		}
	}
	return &sheet{b: b, name: name}
}

func (s *sheet) put(cells ...cell) {
	s.row++
	b := s.b
	for i, c := range cells {
		if b.err != nil || c.v == nil {
			continue
		}
		ref, err := excelize.CoordinatesToCellName(i+1, s.row)
		if err != nil {
			b.err = err
			return
		}
		f := b.f
		switch v := c.v.(type) {
		case string:
			b.err = f.SetCellStr(s.name, ref, v)
		case int:
			b.err = f.SetCellInt(s.name, ref, int64(v))
		case int64:
			b.err = f.SetCellInt(s.name, ref, v)
		case decimal.Decimal:
			// The exact decimal text: excelize writes it as the number.
			b.err = f.SetCellDefault(s.name, ref, v.String())
		case Date:
			b.err = f.SetCellInt(s.name, ref, v.serial())
		default:
			b.err = fmt.Errorf("cell %s: unsupported %T", ref, v)
		}
		if b.err == nil && c.style != 0 {
			b.err = f.SetCellStyle(s.name, ref, ref, c.style)
		}
	}
}

func (s *sheet) skip() { s.row++ }

func (s *sheet) widths(ws ...float64) {
	for i, w := range ws {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if s.b.err == nil {
			s.b.err = s.b.f.SetColWidth(s.name, col, col, w)
		}
	}
}

// table writes a header row, the rows, then freezes the header and puts a
// filter on the columns.
func (s *sheet) table(header []string, rows func()) {
	var cells []cell
	for _, h := range header {
		cells = append(cells, cell{h, s.b.head()})
	}
	top := s.row + 1
	s.put(cells...)
	rows()
	if s.b.err != nil {
		return
	}
	last, _ := excelize.ColumnNumberToName(len(header))
	f := s.b.f
	if top == 1 {
		s.b.err = f.SetPanes(s.name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	}
	if s.b.err == nil {
		s.b.err = f.AutoFilter(s.name, fmt.Sprintf("A%d:%s%d", top, last, max(s.row, top+1)), nil)
	}
}

// stream writes a long list through invoicing's ListWriter: a header row
// frozen at the top, the rows, an Excel table over them, and the next
// sheet when one is full.
type stream struct {
	b    *book
	l    *invoicing.ListWriter
	name string
}

func (b *book) stream(name, table string, header []string, widths []float64) *stream {
	s := &stream{b: b, name: name}
	if b.err != nil {
		return s
	}
	head := make([]excelize.Cell, len(header))
	for i, h := range header {
		head[i] = excelize.Cell{StyleID: b.head(), Value: h}
	}
	s.l = invoicing.NewListWriter(b.f, name, table, head, widths, nil)
	return s
}

// put writes one row. Decimals go through number: the stream writer takes
// numbers only as float64.
func (s *stream) put(cells ...cell) {
	b := s.b
	if b.err != nil {
		return
	}
	row := make([]any, len(cells))
	for i, c := range cells {
		var v any
		switch x := c.v.(type) {
		case nil:
			if c.style == 0 {
				continue
			}
		case string:
			if x == "" && c.style == 0 {
				continue
			}
			v = x
		case int, int64:
			v = x
		case decimal.Decimal:
			f, err := number(x)
			if err != nil {
				b.err = fmt.Errorf("%s, row %d of the list: %w", s.name, s.l.Rows()+1, err)
				return
			}
			v = f
		case Date:
			v = x.serial()
		default:
			b.err = fmt.Errorf("%s, row %d of the list: unsupported %T", s.name, s.l.Rows()+1, x)
			return
		}
		row[i] = excelize.Cell{StyleID: c.style, Value: v}
	}
	b.err = s.l.Row(row)
}

// end puts the table over the rows and flushes the list's last sheet.
func (s *stream) end() {
	if s.b.err == nil {
		s.b.err = s.l.Close()
	}
}

// number is the float64 carrier of d's exact decimal text
// (invoicing.XLSXNumber); an amount that has none (more than 15
// significant digits) is refused rather than rounded, so the XML always
// holds the exact decimal.
func number(d decimal.Decimal) (float64, error) {
	f, ok := invoicing.XLSXNumber(d.String())
	if !ok {
		return 0, fmt.Errorf("%s has more digits than an XLSX number holds exactly", d.String())
	}
	return f, nil
}

// localTime is t in the zone as "2006-01-02 15:04:05" (empty when zero).
func localTime(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(zone).Format("2006-01-02 15:04:05")
}
