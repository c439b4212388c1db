package invoicing

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// The XLSX rendering (excelize). Amounts are written as the exact decimal
// text of the number: in the summary and the days (SetCellDefault) as the
// text itself, in the streamed lists (lines, disputes) as the float whose
// text it is (XLSXNumber), or as text when no float has it. The number
// format shows the currency's minor units. Times are written as text in
// the period's zone, days as whole date serials. The lists are Excel
// tables with a frozen header row.

// Sheet names of the workbook.
const (
	SheetSummary  = "Summary"
	SheetLines    = "Lines"
	SheetDisputes = "Disputes"
	SheetDays     = "Days"
)

// RenderXLSX writes the document as a workbook: a summary sheet (parties,
// dates, totals, tax breakdown, the chart of amounts by day), the lines,
// the disputes with their evidence and the days, each list with a frozen
// header row and a filter. The bytes depend only on the document.
func RenderXLSX(w io.Writer, d *Document) error {
	x := &xlsxWriter{f: NewWorkbook(), doc: d}
	defer x.f.Close()
	// The summary is made the active sheet before the streamed sheets
	// exist: SetActiveSheet reads every sheet back from its XML.
	active := func() error { x.f.SetActiveSheet(0); return nil }
	steps := []func() error{x.styles, x.props, x.summary, active, x.lines, x.disputes, x.days, x.chart}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("invoicing: xlsx %s: %w", d.Number, err)
		}
	}
	if _, err := x.f.WriteTo(w); err != nil {
		return fmt.Errorf("invoicing: xlsx %s: %w", d.Number, err)
	}
	return nil
}

type xlsxWriter struct {
	f   *excelize.File
	doc *Document
	// style ids
	title, head, bold, money, boldMoney, exact, date, kwh, percent int
}

func amountFormat(digits int) string {
	if digits == 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", digits)
}

func (x *xlsxWriter) styles() error {
	digits := x.doc.MinorUnits
	specs := []struct {
		id    *int
		style *excelize.Style
	}{
		{&x.title, &excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}},
		{&x.head, &excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E3E8EF"}},
			Border: []excelize.Border{{Type: "bottom", Color: "7F8C9A", Style: 1}}}},
		{&x.bold, &excelize.Style{Font: &excelize.Font{Bold: true}}},
		{&x.money, &excelize.Style{CustomNumFmt: ptrTo(amountFormat(digits))}},
		{&x.boldMoney, &excelize.Style{Font: &excelize.Font{Bold: true}, CustomNumFmt: ptrTo(amountFormat(digits))}},
		// Exact amounts keep every decimal they have beyond the minor units.
		{&x.exact, &excelize.Style{CustomNumFmt: ptrTo(amountFormat(max(digits, 1)) + "########")}},
		{&x.date, &excelize.Style{CustomNumFmt: ptrTo("yyyy-mm-dd")}},
		{&x.kwh, &excelize.Style{CustomNumFmt: ptrTo("#,##0.000###")}},
		{&x.percent, &excelize.Style{CustomNumFmt: ptrTo("0.0####")}},
	}
	for _, s := range specs {
		id, err := x.f.NewStyle(s.style)
		if err != nil {
			return err
		}
		*s.id = id
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

func (x *xlsxWriter) props() error {
	d := x.doc
	at := d.IssueDate.Time().Format(time.RFC3339)
	return x.f.SetDocProps(&excelize.DocProperties{
		Created: at, Modified: at, Creator: "roamsettle", LastModifiedBy: "roamsettle",
		Title: strings.TrimSpace(d.Title() + " " + d.Number), Subject: d.Seller.Name + " / " + d.Buyer.Name + " / " + d.Period.Name,
		Category: string(d.Kind), Identifier: d.Number, Language: "en", Version: FormatVersion,
	})
}

// sheet writes rows of cells from row 1; it keeps the next row.
type sheet struct {
	x    *xlsxWriter
	name string
	row  int
	err  error
}

// cell is one value with its style: string, int, Money, Amount, Quantity,
// Percent, Date or nil.
type cell struct {
	v     any
	style int
}

func (s *sheet) put(cells ...cell) {
	s.row++
	for i, c := range cells {
		if s.err != nil || c.v == nil {
			continue
		}
		ref, err := excelize.CoordinatesToCellName(i+1, s.row)
		if err != nil {
			s.err = err
			return
		}
		f := s.x.f
		switch v := c.v.(type) {
		case string:
			s.err = f.SetCellStr(s.name, ref, v)
		case int:
			s.err = f.SetCellInt(s.name, ref, int64(v))
		case Money:
			s.err = f.SetCellDefault(s.name, ref, v.String())
		case Amount:
			s.err = f.SetCellDefault(s.name, ref, v.String())
		case Quantity:
			s.err = f.SetCellDefault(s.name, ref, v.String())
		case Percent:
			s.err = f.SetCellDefault(s.name, ref, v.String())
		case Date:
			s.err = f.SetCellDefault(s.name, ref, strconv.Itoa(excelSerial(v)))
		default:
			s.err = fmt.Errorf("cell %s: unsupported %T", ref, v)
		}
		if s.err == nil && c.style != 0 {
			s.err = f.SetCellStyle(s.name, ref, ref, c.style)
		}
	}
}

func (s *sheet) skip() { s.row++ }

// excelSerial is the 1900 date system's serial of a date (days since
// 1899-12-30).
func excelSerial(d Date) int {
	return int(d.Time().Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// col is one column of a table: its width and the style of its cells
// (set once on the column: a style per cell costs more than the value).
type col struct {
	width, style int
}

// table writes a header row, freezes it and puts a filter on the rows.
func (s *sheet) table(header []string, cols []col, rows func()) {
	f := s.x.f
	for i, c := range cols {
		name, _ := excelize.ColumnNumberToName(i + 1)
		if s.err = f.SetColWidth(s.name, name, name, float64(c.width)); s.err != nil {
			return
		}
		if c.style != 0 {
			if s.err = f.SetColStyle(s.name, name, c.style); s.err != nil {
				return
			}
		}
	}
	var cells []cell
	for _, h := range header {
		cells = append(cells, cell{h, s.x.head})
	}
	s.put(cells...)
	rows()
	if s.err != nil {
		return
	}
	last, _ := excelize.ColumnNumberToName(len(header))
	if s.err = f.SetPanes(s.name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); s.err != nil {
		return
	}
	s.err = f.AutoFilter(s.name, fmt.Sprintf("A1:%s%d", last, max(s.row, 2)), nil)
}

// stream writes a long list (the lines, the disputes) through a
// ListWriter (a statement's 65,000 disputes took 7 s through excelize's
// cell maps, 1.5 s streamed). A cell without its own style takes its
// column's, as the cell maps would give it.
type stream struct {
	l    *ListWriter
	cols []col
	buf  []any
	err  error
}

func (x *xlsxWriter) stream(name, table string, header []string, cols []col) *stream {
	head := make([]excelize.Cell, len(header))
	for i, h := range header {
		head[i] = excelize.Cell{StyleID: x.head, Value: h}
	}
	widths, styles := make([]float64, len(cols)), make([]int, len(cols))
	for i, c := range cols {
		widths[i], styles[i] = float64(c.width), c.style
	}
	l := NewListWriter(x.f, name, table, head, widths, styles)
	return &stream{l: l, cols: cols}
}

// put writes the next row. Numbers are written as the float64 whose
// shortest text is the amount's exact decimal (XLSXNumber), the one way the
// stream writer takes a number; one that has no such float is written as
// its text.
func (s *stream) put(cells ...cell) {
	if s.err != nil {
		return
	}
	s.buf = s.buf[:0]
	for i, c := range cells {
		style := c.style
		if style == 0 && i < len(s.cols) {
			style = s.cols[i].style
		}
		var v any
		switch x := c.v.(type) {
		case nil:
			s.buf = append(s.buf, nil)
			continue
		case string:
			v = x
		case int:
			v = x
		case Money:
			v = numberOrText(x.String())
		case Amount:
			v = numberOrText(x.String())
		case Quantity:
			v = numberOrText(x.String())
		case Percent:
			v = numberOrText(x.String())
		case Date:
			v = excelSerial(x)
		default:
			s.err = fmt.Errorf("row %d column %d: unsupported %T", s.l.Rows()+1, i+1, x)
			return
		}
		s.buf = append(s.buf, excelize.Cell{StyleID: style, Value: v})
	}
	s.err = s.l.Row(s.buf)
}

// end puts the table over the rows and flushes the list's last sheet.
func (s *stream) end() error {
	if s.err != nil {
		return s.err
	}
	return s.l.Close()
}

func numberOrText(text string) any {
	if f, ok := XLSXNumber(text); ok {
		return f
	}
	return text
}

// XLSXNumber is the float64 that carries the exact decimal text into a
// worksheet: a spreadsheet number is a double, and excelize's stream
// writer writes a float64 as its shortest text cut to Excel's 15
// significant digits. ok is true only when that text is the decimal's own
// (trailing zeros aside), so the sheet holds exactly the amount; it is a
// carrier, never arithmetic.
func XLSXNumber(text string) (f float64, ok bool) {
	norm := text
	if strings.IndexByte(norm, '.') >= 0 {
		norm = strings.TrimRight(strings.TrimRight(norm, "0"), ".")
	}
	if norm == "-0" {
		norm = "0"
	}
	significant := 0
	for i := 0; i < len(norm); i++ {
		if c := norm[i]; c >= '1' && c <= '9' || c == '0' && significant > 0 {
			significant++
		}
	}
	f, err := strconv.ParseFloat(norm, 64)
	if err != nil || significant > 15 || strconv.FormatFloat(f, 'f', -1, 64) != norm {
		return 0, false
	}
	return f, true
}

func (x *xlsxWriter) summary() error {
	d := x.doc
	if err := x.f.SetSheetName("Sheet1", SheetSummary); err != nil {
		return err
	}
	s := &sheet{x: x, name: SheetSummary}
	s.put(cell{d.Title(), x.title})
	s.skip()
	kv := func(k string, v any, style int) { s.put(cell{k, x.bold}, cell{v, style}) }
	if d.Number != "" {
		kv("Number", d.Number, 0)
	}
	kv("Issue date", d.IssueDate, x.date)
	if d.DueDate != nil {
		kv("Due date", *d.DueDate, x.date)
	}
	kv("Period", d.Period.Name, 0)
	kv("From", d.Period.Start, x.date)
	kv("To", d.Period.End, x.date)
	kv("Time zone", d.Period.TimeZone, 0)
	kv("Currency", d.Currency, 0)
	kv("Billing", string(d.Billing), 0)
	for _, p := range []struct {
		role  string
		party Party
	}{{"Supplier", d.Seller}, {"Customer", d.Buyer}} {
		kv(p.role, p.party.Name, 0)
		kv(p.role+" address", addressLine(p.party.Address), 0)
		kv(p.role+" VAT ID", p.party.VATID, 0)
		kv(p.role+" registration", p.party.RegistrationID, 0)
		kv(p.role+" OCPI party", p.party.Key(), 0)
	}
	for _, r := range d.Corrects {
		kv("Corrects invoice", r.Number+" of "+r.IssueDate.String(), 0)
	}
	s.skip()
	s.put(cell{"Totals", x.head}, cell{d.Currency, x.head})
	kv("Net total", d.Totals.Net, x.money)
	kv("Tax total", d.Totals.Tax, x.money)
	kv("Total", d.Totals.Gross, x.boldMoney)
	due := "Amount due"
	switch d.Kind {
	case CreditNote:
		due = "Amount credited"
	case Statement:
		due = "Amount (provisional)"
	}
	kv(due, d.Totals.Payable, x.boldMoney)
	s.skip()
	s.put(cell{"Tax", x.head}, cell{"Category", x.head}, cell{"Rate %", x.head}, cell{"Taxable amount", x.head},
		cell{"Tax amount", x.head}, cell{"Exemption reason", x.head})
	for _, r := range d.TaxBreakdown {
		var rate any
		if r.Rate != nil {
			rate = *r.Rate
		}
		s.put(cell{r.Name, 0}, cell{r.Category, 0}, cell{rate, x.percent}, cell{r.Base, x.money}, cell{r.Tax, x.money}, cell{r.Reason, 0})
	}
	if sm := d.Summary; sm != nil {
		s.skip()
		s.put(cell{"Period summary", x.head}, cell{"", x.head})
		kv("CDRs in the period", sm.CDRs, 0)
		kv("Accepted and charged", sm.Accepted, 0)
		kv("Disputed, not charged", sm.Disputed, 0)
		kv("Disputed: billed (excl. tax)", sm.DisputedBilled, x.money)
		kv("Disputed: recomputed (excl. tax)", sm.DisputedRecomputed, x.money)
	}
	if d.Kind == Invoice {
		s.skip()
		kv("Payment terms", d.Payment.Note, 0)
		kv("IBAN", d.Payment.IBAN, 0)
		kv("BIC", d.Payment.BIC, 0)
	}
	for _, n := range d.Notes {
		kv("Note", n, 0)
	}
	kv("Inputs SHA-256", d.InputsSHA256, 0)
	if s.err != nil {
		return s.err
	}
	if err := x.f.SetColWidth(SheetSummary, "A", "A", 30); err != nil {
		return err
	}
	return x.f.SetColWidth(SheetSummary, "B", "F", 22)
}

func addressLine(a Address) string {
	var parts []string
	for _, s := range []string{a.Street, a.Additional, strings.TrimSpace(a.PostalCode + " " + a.City), a.Region, a.Country} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func (x *xlsxWriter) lines() error {
	d := x.doc
	header := []string{"No", "Description", "Location", "Location name", "City", "Country", "Tariff", "CDR", "From", "To",
		"Sessions", "Energy kWh", "Tax"}
	for _, c := range Components {
		header = append(header, string(c))
	}
	header = append(header, "Net "+d.Currency, "Corrects invoice", "Corrects line", "Digest")
	m := x.money
	cols := []col{{6, 0}, {40, 0}, {24, 0}, {30, 0}, {16, 0}, {8, 0}, {34, 0}, {26, 0}, {17, 0}, {17, 0}, {9, 0}, {12, x.kwh},
		{14, 0}, {11, m}, {11, m}, {11, m}, {11, m}, {11, m}, {11, m}, {14, m}, {16, 0}, {8, 0}, {20, 0}}
	zone := d.zone()
	s := x.stream(SheetLines, "Lines", header, cols)
	row := make([]cell, 0, len(cols))
	for _, l := range d.Lines {
		cdr := ""
		if l.CDR != nil {
			cdr = l.CDR.ID
		}
		row = append(row[:0], cell{l.No, 0}, cell{l.Description, 0}, cell{l.Location.ID, 0}, cell{l.Location.Name, 0},
			cell{l.Location.City, 0}, cell{l.Location.Country, 0}, cell{l.Tariff, 0}, cell{cdr, 0},
			cell{localTime(l.From, zone), 0}, cell{localTime(l.To, zone), 0}, cell{l.Sessions, 0}, cell{l.Energy, 0},
			cell{taxLabel(l.Taxes), 0})
		for _, c := range Components {
			var v any
			for _, ca := range l.Components {
				if ca.Component == c {
					v = ca.Net
				}
			}
			row = append(row, cell{v, 0})
		}
		row = append(row, cell{l.Net, 0})
		if l.Corrects != nil {
			row = append(row, cell{l.Corrects.Number, 0}, cell{l.Corrects.Line, 0})
		} else {
			row = append(row, cell{}, cell{})
		}
		row = append(row, cell{l.Digest, 0})
		s.put(row...)
	}
	return s.end()
}

func localTime(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(zone).Format("2006-01-02 15:04:05")
}

func (x *xlsxWriter) disputes() error {
	d := x.doc
	header := []string{"CDR", "Start", "End", "Location", "Location name", "City", "Verdict", "Status", "Reasons",
		"Billed excl. tax", "Billed incl. tax", "Recomputed excl. tax", "Recomputed incl. tax",
		"Difference excl. tax", "Difference incl. tax", "Periods", "Evidence"}
	e := x.exact
	cols := []col{{26, 0}, {19, 0}, {19, 0}, {24, 0}, {30, 0}, {16, 0}, {16, 0}, {12, 0}, {24, 0},
		{14, e}, {14, e}, {14, e}, {14, e}, {14, e}, {14, e}, {10, 0}, {90, 0}}
	zone := d.zone()
	price := func(p *Price) (any, any) {
		if p == nil {
			return nil, nil
		}
		return p.Excl, p.Incl
	}
	s := x.stream(SheetDisputes, "Disputes", header, cols)
	var periods []string
	for _, r := range d.Disputes {
		be, bi := price(r.Billed)
		re, ri := price(r.Recomputed)
		de, di := price(r.Difference)
		periods = periods[:0]
		for _, p := range r.Periods {
			periods = append(periods, strconv.Itoa(p))
		}
		s.put(cell{r.CDR.ID, 0}, cell{localTime(r.CDR.Start, zone), 0}, cell{localTime(r.CDR.End, zone), 0},
			cell{r.Location.ID, 0}, cell{r.Location.Name, 0}, cell{r.Location.City, 0}, cell{r.Verdict, 0},
			cell{r.Status, 0}, cell{strings.Join(r.Reasons, ", "), 0},
			cell{be, 0}, cell{bi, 0}, cell{re, 0}, cell{ri, 0}, cell{de, 0}, cell{di, 0},
			cell{strings.Join(periods, ", "), 0}, cell{r.Evidence, 0})
	}
	return s.end()
}

func (x *xlsxWriter) days() error {
	d := x.doc
	if _, err := x.f.NewSheet(SheetDays); err != nil {
		return err
	}
	s := &sheet{x: x, name: SheetDays}
	s.table([]string{"Date", "Sessions", "Net " + d.Currency}, []col{{12, x.date}, {10, 0}, {16, x.money}}, func() {
		for _, day := range d.Days {
			s.put(cell{day.Date, 0}, cell{day.Sessions, 0}, cell{day.Net, 0})
		}
	})
	return s.err
}

// chart puts a column chart of the net amount by day on the summary sheet.
func (x *xlsxWriter) chart() error {
	n := len(x.doc.Days)
	if n == 0 {
		return nil
	}
	last := strconv.Itoa(n + 1)
	return x.f.AddChart(SheetSummary, "H2", &excelize.Chart{
		Type: excelize.Col,
		Series: []excelize.ChartSeries{{
			Name:       "'" + SheetDays + "'!$C$1",
			Categories: "'" + SheetDays + "'!$A$2:$A$" + last,
			Values:     "'" + SheetDays + "'!$C$2:$C$" + last,
		}},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Net amount by day (" + x.doc.Currency + ")"}}},
		Legend:    excelize.ChartLegend{Position: "none"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 320},
		XAxis:     excelize.ChartAxis{NumFmt: excelize.ChartNumFmt{CustomNumFmt: "mm-dd"}},
		YAxis:     excelize.ChartAxis{MajorGridLines: true, NumFmt: excelize.ChartNumFmt{CustomNumFmt: amountFormat(x.doc.MinorUnits)}},
	})
}

// canonicalZip is the workbook's zip writer. excelize adds the image
// content types of a drawing from a map, in random order; this writer
// sorts the <Default> entries of [Content_Types].xml so that the same
// document always gives the same bytes. Entries carry no modification
// time (archive/zip's Create).
type canonicalZip struct {
	zw      *zip.Writer
	pending *bytes.Buffer // [Content_Types].xml, written at the next entry
}

const contentTypesPart = "[Content_Types].xml"

var contentTypeDefault = regexp.MustCompile(`<Default Extension="[^"]*" ContentType="[^"]*"></Default>`)

func (c *canonicalZip) flush() error {
	if c.pending == nil {
		return nil
	}
	b := c.pending.Bytes()
	c.pending = nil
	locs := contentTypeDefault.FindAllIndex(b, -1)
	if len(locs) > 1 && string(b[locs[0][0]:locs[len(locs)-1][1]]) == joinMatches(b, locs) {
		defaults := make([]string, len(locs))
		for i, l := range locs {
			defaults[i] = string(b[l[0]:l[1]])
		}
		slices.Sort(defaults)
		b = slices.Concat(b[:locs[0][0]], []byte(strings.Join(defaults, "")), b[locs[len(locs)-1][1]:])
	}
	w, err := c.zw.Create(contentTypesPart)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// joinMatches is the matches concatenated: equal to their span only when
// they are contiguous, the one layout that is safe to reorder.
func joinMatches(b []byte, locs [][]int) string {
	var s strings.Builder
	for _, l := range locs {
		s.Write(b[l[0]:l[1]])
	}
	return s.String()
}

func (c *canonicalZip) Create(name string) (io.Writer, error) {
	if err := c.flush(); err != nil {
		return nil, err
	}
	if name == contentTypesPart {
		c.pending = &bytes.Buffer{}
		return c.pending, nil
	}
	return c.zw.Create(name)
}

func (c *canonicalZip) AddFS(fsys fs.FS) error {
	if err := c.flush(); err != nil {
		return err
	}
	return c.zw.AddFS(fsys)
}

func (c *canonicalZip) Close() error {
	if err := c.flush(); err != nil {
		return err
	}
	return c.zw.Close()
}
