package invoicing

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/go-pdf/fpdf"
)

// The PDF rendering (go-pdf/fpdf). Layout values are float64 millimetres,
// as fpdf takes them; amounts reach this file only as formatted strings.

//go:embed fonts/DejaVuSans.ttf
var dejaVuSans []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var dejaVuSansBold []byte

// PDFOptions tune the PDF rendering.
type PDFOptions struct {
	// CJKFont is a TrueType (.ttf) font for Chinese, Japanese and Korean
	// text, which DejaVu Sans lacks. Empty: the first of CJKFontPaths that
	// exists. A document without CJK text never loads it, so its bytes do
	// not depend on the machine.
	CJKFont string
	// Warn receives what the rendering could not do as asked (no CJK font);
	// nil logs it with slog.
	Warn func(msg string)
}

// CJKFontPaths are the TrueType CJK fonts looked for on the system, in
// order (Debian packages fonts-droid-fallback, fonts-ipafont-gothic,
// fonts-unfonts-core, fonts-nanum, fonts-vlgothic). Collections (.ttc) and
// OpenType CFF fonts cannot be embedded by fpdf.
var CJKFontPaths = []string{
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
	"/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
	"/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf",
	"/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
	"/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf",
}

const (
	pdfMargin   = 15.0
	pdfPageW    = 210.0
	pdfPageH    = 297.0
	pdfBottom   = pdfPageH - 20 // content ends here; the footer is below
	pdfFontSize = 8.5
	// pdfTableFontSize is the size of table rows.
	pdfTableFontSize = 7.5
)

// RenderPDF writes the document as an A4 PDF: the parties, addresses, tax
// ids, period, number, lines, tax summary, totals, payment terms and, when
// the document has them, the disputes, with "page N of M" in the footer
// of every page. The bytes depend only on the document (and, for CJK text,
// on the font found).
func RenderPDF(w io.Writer, d *Document, opts PDFOptions) error {
	return renderPDF(w, d, opts, true)
}

func renderPDF(w io.Writer, d *Document, opts PDFOptions, compress bool) error {
	p := &pdfWriter{f: fpdf.New("P", "mm", "A4", ""), doc: d}
	f := p.f
	f.SetCompression(compress)
	f.SetCatalogSort(true)
	at := d.IssueDate.Time()
	f.SetCreationDate(at)
	f.SetModificationDate(at)
	f.SetProducer("roamsettle", false)
	f.SetCreator("roamsettle invoicing "+FormatVersion, true)
	f.SetTitle(strings.TrimSpace(d.Title()+" "+d.Number), true)
	f.SetAuthor(d.issuerParty().Name, true)
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(false, 0)
	f.AddUTF8FontFromBytes("dejavu", "", dejaVuSans)
	f.AddUTF8FontFromBytes("dejavu", "B", dejaVuSansBold)
	if needsCJK(d) {
		p.loadCJK(opts)
	}
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(p.footer)
	f.AddPage()
	p.header()
	p.notes()
	p.lines()
	p.taxes()
	p.totals()
	p.payment()
	p.summary()
	p.disputes()
	if err := f.Error(); err != nil {
		return fmt.Errorf("invoicing: pdf %s: %w", d.Number, err)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("invoicing: pdf %s: %w", d.Number, err)
	}
	return nil
}

type pdfWriter struct {
	f   *fpdf.Fpdf
	doc *Document
	cjk bool // a CJK font is loaded as family "cjk"
}

func (d *Document) issuerParty() Party {
	if d.Billing == SelfBilling {
		return d.Buyer
	}
	return d.Seller
}

// needsCJK reports whether any text of the document is in a CJK block.
func needsCJK(d *Document) bool {
	texts := []string{d.Seller.Name, d.Buyer.Name, d.Payment.Note, d.Payment.AccountName}
	for _, p := range []Party{d.Seller, d.Buyer} {
		a := p.Address
		texts = append(texts, a.Street, a.Additional, a.PostalCode, a.City, a.Region, p.RegistrationID, p.Email)
	}
	texts = append(texts, d.Notes...)
	for _, r := range d.TaxBreakdown {
		texts = append(texts, r.Name, r.Reason)
	}
	for _, t := range texts {
		if hasCJK(t) {
			return true
		}
	}
	for i := range d.Lines {
		l := &d.Lines[i]
		if hasCJK(l.Description) || hasCJK(l.Location.Name) || hasCJK(l.Location.City) {
			return true
		}
	}
	for i := range d.Disputes {
		x := &d.Disputes[i]
		if hasCJK(x.Evidence) || hasCJK(x.CDR.ID) || hasCJK(x.Location.Name) {
			return true
		}
	}
	return false
}

func hasCJK(s string) bool {
	for _, r := range s {
		if isCJK(r) {
			return true
		}
	}
	return false
}

// isCJK reports whether r is in a CJK block. Blocks, not scripts: the
// long-vowel mark ー and the ideographic punctuation are "Common" script
// yet only CJK fonts have them.
func isCJK(r rune) bool {
	switch {
	case r < 0x2E80:
		return false
	case r <= 0x33FF, // radicals, punctuation, kana, bopomofo, jamo, enclosed, compatibility
		r >= 0x3400 && r <= 0x4DBF, r >= 0x4E00 && r <= 0x9FFF, // ideographs
		r >= 0xA960 && r <= 0xA97F, r >= 0xAC00 && r <= 0xD7FF, // hangul
		r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F, r >= 0xFF00 && r <= 0xFFEF,
		r >= 0x20000 && r <= 0x3FFFF:
		return true
	}
	return false
}

// loadCJK embeds the CJK font, or warns that CJK text will print as blanks.
func (p *pdfWriter) loadCJK(opts PDFOptions) {
	warn := opts.Warn
	if warn == nil {
		warn = func(msg string) { slog.Warn(msg) }
	}
	path := opts.CJKFont
	if path == "" {
		for _, c := range CJKFontPaths {
			if _, err := os.Stat(c); err == nil {
				path = c
				break
			}
		}
	}
	name := p.doc.Number
	if name == "" {
		name = "the " + string(p.doc.Kind)
	}
	if path == "" {
		warn(fmt.Sprintf("invoicing: %s has CJK text but no CJK TrueType font was found (looked for %s); it prints without those characters. Install fonts-droid-fallback or set the CJK font.",
			name, strings.Join(CJKFontPaths, ", ")))
		return
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = probeTrueType(b)
	}
	if err != nil {
		warn(fmt.Sprintf("invoicing: %s has CJK text but the font %s cannot be embedded (%v); it prints without those characters.", name, filepath.Base(path), err))
		return
	}
	p.f.AddUTF8FontFromBytes("cjk", "", b)
	p.f.AddUTF8FontFromBytes("cjk", "B", b)
	p.cjk = true
}

// probeTrueType checks that fpdf can embed the font, in a scratch
// document: a font it cannot read would otherwise fail the rendering.
// Collections (ttcf) and CFF fonts (OTTO) are refused before fpdf sees
// them (it prints its parse errors).
func probeTrueType(b []byte) error {
	if len(b) < 12 || !(bytes.HasPrefix(b, []byte{0, 1, 0, 0}) || bytes.HasPrefix(b, []byte("true"))) {
		return errors.New("not a TrueType font (collections and CFF fonts cannot be embedded)")
	}
	probe := fpdf.New("P", "mm", "A4", "")
	probe.AddUTF8FontFromBytes("cjk", "", b)
	probe.SetFont("cjk", "", 10)
	return probe.Error()
}

// font sets DejaVu Sans in the style and size (what text measures and
// wraps with; text switches to the CJK font per run).
func (p *pdfWriter) font(_ string, style string, size float64) {
	p.setFont("dejavu", style, size)
}

// setFont selects a font unless it is the current one: fpdf writes a font
// operator into the page for every SetFont, and a statement of 300,000
// lines set the same font a million times.
func (p *pdfWriter) setFont(family, style string, size float64) {
	if pt, _ := p.f.GetFontSize(); pt == size && p.f.GetFontFamily() == family && p.f.GetFontStyle() == style {
		return
	}
	p.f.SetFont(family, style, size)
}

// cut is the longest prefix of s (whole runes) that, followed by an
// ellipsis, fits, with the ellipsis: a binary search, as widths grow with
// the prefix (measuring one rune shorter each time took 5 s over a
// per-CDR statement's lines).
func cut(s string, fits func(string) bool) string {
	r := []rune(s)
	lo, hi := 0, len(r) // r[:lo]+"…" fits (or lo is 0); r[:hi+1]+"…" does not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(string(r[:mid]) + "…") {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(r[:lo]) + "…"
}

// textRun is a piece of text in one font family.
type textRun struct {
	s      string
	family string
}

// runs splits s where it changes between CJK and other text, when a CJK
// font is loaded: the CJK font lacks Latin and Greek, DejaVu lacks CJK.
func (p *pdfWriter) runs(s string) []textRun {
	if !p.cjk || !hasCJK(s) {
		return []textRun{{s, "dejavu"}}
	}
	var out []textRun
	var cur strings.Builder
	family := ""
	for _, r := range s {
		f := "dejavu"
		if isCJK(r) {
			f = "cjk"
		}
		if f != family && cur.Len() > 0 {
			out = append(out, textRun{cur.String(), family})
			cur.Reset()
		}
		family = f
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, textRun{cur.String(), family})
	}
	return out
}

func (p *pdfWriter) width(runs []textRun, style string, size float64) float64 {
	var w float64
	for _, r := range runs {
		p.setFont(r.family, style, size)
		w += p.f.GetStringWidth(r.s)
	}
	return w
}

// text writes one cell of width w; the text is cut with an ellipsis to
// fit. Text with CJK runs is set run by run, each in its font.
func (p *pdfWriter) text(w, h float64, s, style string, size float64, align string) {
	if w == 0 { // to the right margin, as fpdf reads 0
		w = pdfPageW - pdfMargin - p.f.GetX()
	}
	if !p.cjk || !hasCJK(s) { // one font: measure once
		p.setFont("dejavu", style, size)
		if p.f.GetStringWidth(s) > w-1 {
			s = cut(s, func(t string) bool { return p.f.GetStringWidth(t) <= w-1 })
		}
		p.f.CellFormat(w, h, s, "", 0, align, false, 0, "")
		return
	}
	runs := p.runs(s)
	if p.width(runs, style, size) > w-1 {
		runs = p.runs(cut(s, func(t string) bool { return p.width(p.runs(t), style, size) <= w-1 }))
	}
	if len(runs) == 1 {
		p.setFont(runs[0].family, style, size)
		p.f.CellFormat(w, h, runs[0].s, "", 0, align, false, 0, "")
		return
	}
	x0, y := p.f.GetXY()
	m := p.f.GetCellMargin()
	total := p.width(runs, style, size)
	x := x0 + m
	switch align {
	case "R":
		x = x0 + w - m - total
	case "C":
		x = x0 + (w-total)/2
	}
	p.f.SetCellMargin(0)
	for _, r := range runs {
		p.setFont(r.family, style, size)
		rw := p.f.GetStringWidth(r.s)
		p.f.SetXY(x, y)
		p.f.CellFormat(rw, h, r.s, "", 0, "L", false, 0, "")
		x += rw
	}
	p.f.SetCellMargin(m)
	p.f.SetXY(x0+w, y)
}

// wrap splits s into lines no wider than w in the current font.
func (p *pdfWriter) wrap(s string, w float64) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		next := strings.TrimSpace(line + " " + word)
		if line != "" && p.f.GetStringWidth(next) > w {
			lines = append(lines, line)
			next = word
		}
		line = next
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// ensure starts a new page when h more millimetres do not fit; it reports
// whether it did.
func (p *pdfWriter) ensure(h float64) bool {
	if p.f.GetY()+h <= pdfBottom {
		return false
	}
	p.f.AddPage()
	p.font("", "B", pdfFontSize)
	p.f.SetX(pdfMargin)
	p.text(180, 6, strings.TrimSpace(p.doc.Title()+" "+p.doc.Number)+" (continued)", "B", 9, "L")
	p.f.Ln(8)
	return true
}

func (p *pdfWriter) footer() {
	p.f.SetY(pdfPageH - 12)
	p.f.SetTextColor(90, 90, 90)
	label := strings.TrimSpace(p.doc.Title() + " " + p.doc.Number)
	p.text(0, 5, label+" · page "+strconv.Itoa(p.f.PageNo())+" of {nb}", "", 7.5, "C")
	p.f.SetTextColor(0, 0, 0)
}

// header prints the title, then the supplier on the left beside the
// document's number, dates and period, then the customer.
func (p *pdfWriter) header() {
	d := p.doc
	f := p.f
	f.SetXY(pdfMargin, pdfMargin)
	p.text(180, 10, d.Title(), "B", 16, "L")
	rows := [][2]string{}
	if d.Number != "" {
		rows = append(rows, [2]string{"Number", d.Number})
	}
	rows = append(rows, [2]string{"Issue date", d.IssueDate.String()})
	if d.DueDate != nil {
		rows = append(rows, [2]string{"Due date", d.DueDate.String()})
	}
	rows = append(rows,
		[2]string{"Period", d.Period.Name},
		[2]string{"From", d.Period.Start.String()},
		[2]string{"To", d.Period.End.String() + " (" + d.Period.TimeZone + ")"},
		[2]string{"Currency", d.Currency})
	top := pdfMargin + 13
	y := top
	for _, r := range rows {
		f.SetXY(118, y)
		p.text(22, 4.4, r[0], "", pdfFontSize, "L")
		p.text(55, 4.4, r[1], "B", pdfFontSize, "L")
		y += 4.4
	}
	seller, buyer := "Supplier", "Customer"
	if d.Billing == SelfBilling {
		seller, buyer = "Supplier (self-billed)", "Customer, issuer of this document"
	}
	left := p.party(pdfMargin, top, seller, d.Seller)
	below := p.party(pdfMargin, max(left, y)+4, buyer, d.Buyer)
	f.SetY(below + 4)
}

// party prints one party block at x, y and returns the y below it.
func (p *pdfWriter) party(x, y float64, role string, pt Party) float64 {
	f := p.f
	lines := []struct{ s, style string }{{role, "B"}, {pt.Name, "B"}}
	a := pt.Address
	for _, s := range []string{a.Street, a.Additional, strings.TrimSpace(a.PostalCode + " " + a.City), a.Region, a.Country} {
		if s != "" {
			lines = append(lines, struct{ s, style string }{s, ""})
		}
	}
	for _, kv := range [][2]string{{"VAT ID", pt.VATID}, {"Registration", pt.RegistrationID}, {"OCPI party", pt.Key()}, {"E-mail", pt.Email}} {
		if kv[1] != "" {
			lines = append(lines, struct{ s, style string }{kv[0] + ": " + kv[1], ""})
		}
	}
	for i, l := range lines {
		f.SetXY(x, y)
		size := pdfFontSize
		if i == 0 {
			f.SetTextColor(90, 90, 90)
			size = 7.5
		}
		p.text(85, 4.4, l.s, l.style, size, "L")
		f.SetTextColor(0, 0, 0)
		y += 4.4
	}
	return y
}

func (p *pdfWriter) notes() {
	d := p.doc
	var notes []string
	if len(d.Corrects) > 0 {
		var refs []string
		for _, r := range d.Corrects {
			refs = append(refs, r.Number+" of "+r.IssueDate.String())
		}
		notes = append(notes, "Corrects invoice "+strings.Join(refs, ", ")+".")
	}
	notes = append(notes, d.Notes...)
	p.font("", "", pdfFontSize)
	for _, n := range notes {
		for _, l := range p.wrap(n, 180) {
			p.ensure(4.4)
			p.f.SetX(pdfMargin)
			p.text(180, 4.4, l, "", pdfFontSize, "L")
			p.f.Ln(4.4)
		}
	}
	p.f.Ln(2)
}

// column of a table.
type pdfCol struct {
	title string
	w     float64
	align string
}

func (p *pdfWriter) tableHeader(cols []pdfCol) {
	f := p.f
	f.SetFillColor(235, 238, 242)
	f.SetX(pdfMargin)
	x := pdfMargin
	y := f.GetY()
	f.Rect(pdfMargin, y, 180, 6, "F")
	for _, c := range cols {
		f.SetXY(x, y)
		p.text(c.w, 6, c.title, "B", 7.5, c.align)
		x += c.w
	}
	f.SetY(y + 6)
}

func (p *pdfWriter) row(cols []pdfCol, cells []string, style string, h float64) {
	f := p.f
	y := f.GetY()
	x := pdfMargin
	for i, c := range cols {
		f.SetXY(x, y)
		p.text(c.w, h, cells[i], style, pdfTableFontSize, c.align)
		x += c.w
	}
	f.SetY(y + h)
}

func (p *pdfWriter) section(title string) {
	p.ensure(16)
	p.f.Ln(3)
	p.f.SetX(pdfMargin)
	p.text(180, 6, title, "B", 10, "L")
	p.f.Ln(6.5)
}

func (p *pdfWriter) lines() {
	d := p.doc
	title := "Lines"
	if d.Kind == CreditNote {
		title = "Credited lines"
	}
	p.section(title)
	cols := []pdfCol{{"#", 7, "R"}, {"Description", 60, "L"}, {"Tariff", 31, "L"}, {"Sessions", 16, "R"}, {"kWh", 18, "R"}, {"Tax", 22, "L"}, {"Net " + d.Currency, 26, "R"}}
	p.tableHeader(cols)
	for _, l := range d.Lines {
		desc := l.Description
		if l.Corrects != nil {
			desc = fmt.Sprintf("%s/%d: %s", l.Corrects.Number, l.Corrects.Line, desc)
		}
		if p.ensure(5) {
			p.tableHeader(cols)
		}
		p.row(cols, []string{strconv.Itoa(l.No), desc, tariffLabel(l.Tariff), strconv.Itoa(l.Sessions), grouped(l.Energy.String(), 3),
			taxLabel(l.Taxes), grouped(l.Net.String(), d.MinorUnits)}, "", 5)
	}
	if len(d.Lines) == 0 {
		p.f.SetX(pdfMargin)
		p.text(180, 5, "No charged lines.", "", pdfFontSize, "L")
		p.f.Ln(5)
	}
	p.f.Line(pdfMargin, p.f.GetY(), pdfMargin+180, p.f.GetY())
}

// tariffLabel shortens a tariff version key "CC*PID*ID@2026-09-01T00:00:00Z"
// to "ID 2026-09-01".
func tariffLabel(key string) string {
	if key == "" {
		return ""
	}
	parts := strings.SplitN(key, "*", 3)
	id, at, _ := strings.Cut(parts[len(parts)-1], "@")
	if len(at) >= 10 {
		at = at[:10]
	}
	return strings.TrimSpace(id + " " + at)
}

// taxLabel is the short tax column of a line: "VAT 23 %", "E", "GST 5 % + QST 9.975 %".
func taxLabel(taxes []LineTax) string {
	var parts []string
	for _, t := range taxes {
		switch {
		case t.Rate != nil:
			parts = append(parts, t.Name+" "+t.Rate.String()+" %")
		case t.Category != "":
			parts = append(parts, t.Name+" "+t.Category)
		default:
			parts = append(parts, t.Name)
		}
	}
	return strings.Join(parts, " + ")
}

func (p *pdfWriter) taxes() {
	d := p.doc
	p.section("Tax summary")
	cols := []pdfCol{{"Tax", 20, "L"}, {"Category", 16, "L"}, {"Rate", 16, "R"}, {"Taxable amount", 30, "R"}, {"Tax amount", 30, "R"}, {"", 68, "L"}}
	p.tableHeader(cols)
	for _, r := range d.TaxBreakdown {
		rate := ""
		if r.Rate != nil {
			rate = r.Rate.String() + " %"
		}
		if p.ensure(5) {
			p.tableHeader(cols)
		}
		p.row(cols, []string{r.Name, r.Category, rate, grouped(r.Base.String(), d.MinorUnits), grouped(r.Tax.String(), d.MinorUnits), r.Reason}, "", 5)
	}
}

func (p *pdfWriter) totals() {
	d := p.doc
	p.ensure(28)
	p.f.Ln(3)
	due := "Amount due"
	if d.Kind == CreditNote {
		due = "Amount credited"
	} else if d.Kind == Statement {
		due = "Amount (provisional)"
	}
	rows := [][2]string{{"Net total", d.Totals.Net.String()}, {"Tax total", d.Totals.Tax.String()},
		{"Total", d.Totals.Gross.String()}, {due, d.Totals.Payable.String()}}
	for i, r := range rows {
		style := ""
		if i >= 2 {
			style = "B"
		}
		p.f.SetX(pdfMargin + 90)
		p.text(50, 5.5, r[0], style, 9, "L")
		p.text(40, 5.5, grouped(r[1], d.MinorUnits)+" "+d.Currency, style, 9, "R")
		p.f.Ln(5.5)
	}
}

func (p *pdfWriter) payment() {
	d := p.doc
	if d.Kind != Invoice {
		return
	}
	pay := d.Payment
	var lines []string
	if d.DueDate != nil {
		lines = append(lines, "Due date: "+d.DueDate.String())
	}
	if pay.Note != "" {
		lines = append(lines, pay.Note)
	}
	if pay.IBAN != "" {
		acct := "IBAN " + pay.IBAN
		if pay.BIC != "" {
			acct += ", BIC " + pay.BIC
		}
		if pay.AccountName != "" {
			acct += ", " + pay.AccountName
		}
		lines = append(lines, acct)
	}
	lines = append(lines, "Reference: "+d.Number)
	p.section("Payment terms")
	p.font("", "", pdfFontSize)
	for _, l := range lines {
		for _, w := range p.wrap(l, 180) {
			p.ensure(4.4)
			p.f.SetX(pdfMargin)
			p.text(180, 4.4, w, "", pdfFontSize, "L")
			p.f.Ln(4.4)
		}
	}
}

func (p *pdfWriter) summary() {
	d := p.doc
	if d.Summary == nil {
		return
	}
	s := d.Summary
	p.section("Period summary")
	for _, r := range [][2]string{
		{"CDRs in the period", strconv.Itoa(s.CDRs)},
		{"Accepted and charged", strconv.Itoa(s.Accepted)},
		{"Disputed, not charged", strconv.Itoa(s.Disputed)},
		{"Disputed: billed by the partner (excl. tax)", grouped(s.DisputedBilled.String(), d.MinorUnits) + " " + d.Currency},
		{"Disputed: recomputed (excl. tax)", grouped(s.DisputedRecomputed.String(), d.MinorUnits) + " " + d.Currency},
	} {
		p.ensure(5)
		p.f.SetX(pdfMargin)
		p.text(80, 5, r[0], "", pdfFontSize, "L")
		p.text(40, 5, r[1], "", pdfFontSize, "R")
		p.f.Ln(5)
	}
}

// PDFDisputeList is how many disputed CDRs a PDF lists one by one with
// their evidence; a document with more summarises them by most likely
// reason (a month of a large partner has tens of thousands: thousands of
// pages no one reads, and most of the rendering time). The XLSX and JSON
// list every disputed CDR with its evidence either way.
const PDFDisputeList = 100

func (p *pdfWriter) disputes() {
	d := p.doc
	if len(d.Disputes) == 0 {
		return
	}
	p.section("Disputed CDRs (not charged)")
	if len(d.Disputes) > PDFDisputeList {
		p.disputeReasons()
		return
	}
	cols := []pdfCol{{"CDR", 40, "L"}, {"End", 28, "L"}, {"Reasons", 36, "L"}, {"Billed", 25, "R"}, {"Recomputed", 25, "R"}, {"Difference", 26, "R"}}
	p.tableHeader(cols)
	zone := d.zone()
	for _, x := range d.Disputes {
		billed, recomputed, diff := "", "", ""
		if x.Billed != nil {
			billed = grouped(x.Billed.Excl.String(), d.MinorUnits)
		}
		if x.Recomputed != nil {
			recomputed = grouped(x.Recomputed.Excl.String(), d.MinorUnits)
		}
		if x.Difference != nil {
			diff = grouped(x.Difference.Excl.String(), d.MinorUnits)
		}
		p.font("", "", 7)
		evidence := p.wrap(x.Evidence, 170)
		if p.ensure(5 + 3.8*float64(len(evidence))) {
			p.tableHeader(cols)
		}
		p.row(cols, []string{x.CDR.ID, x.CDR.End.In(zone).Format("2006-01-02 15:04"), strings.Join(x.Reasons, ", "), billed, recomputed, diff}, "", 5)
		p.f.SetTextColor(70, 70, 70)
		for _, l := range evidence {
			p.f.SetX(pdfMargin + 6)
			p.text(174, 3.8, l, "", 7, "L")
			p.f.Ln(3.8)
		}
		p.f.SetTextColor(0, 0, 0)
	}
	p.font("", "", 7)
	p.f.SetX(pdfMargin)
	p.text(180, 5, "Amounts excluding tax.", "", 7, "L")
}

// disputeReasons summarises the disputed CDRs by most likely reason (the
// first of their reasons): how many, and their billed, recomputed and
// difference amounts excluding tax, each summed exactly and rounded once
// by the document's rounding.
func (p *pdfWriter) disputeReasons() {
	d := p.doc
	type group struct {
		reason                   string
		n                        int
		billed, recomputed, diff sum128
	}
	var groups []*group
	byReason := map[string]*group{}
	for i := range d.Disputes {
		x := &d.Disputes[i]
		reason := "no reason code, verdict " + x.Verdict
		if len(x.Reasons) > 0 {
			reason = x.Reasons[0]
		}
		g := byReason[reason]
		if g == nil {
			g = &group{reason: reason}
			byReason[reason] = g
			groups = append(groups, g)
		}
		g.n++
		if x.Billed != nil {
			g.billed.add(x.Billed.Excl)
		}
		if x.Recomputed != nil {
			g.recomputed.add(x.Recomputed.Excl)
		}
		if x.Difference != nil {
			g.diff.add(x.Difference.Excl)
		}
	}
	slices.SortFunc(groups, func(a, b *group) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.reason, b.reason)) })
	p.font("", "", pdfFontSize)
	for _, l := range p.wrap(fmt.Sprintf("%d disputed CDRs, by most likely reason. Each, with its evidence, is listed in this "+
		"document's XLSX (sheet %s) and JSON. Billed, recomputed and difference sum the CDRs that state them.",
		len(d.Disputes), SheetDisputes), 180) {
		p.f.SetX(pdfMargin)
		p.text(180, 4.5, l, "", pdfFontSize, "L")
		p.f.Ln(4.5)
	}
	p.f.Ln(1.5)
	cols := []pdfCol{{"Most likely reason", 64, "L"}, {"CDRs", 18, "R"}, {"Billed", 32, "R"}, {"Recomputed", 32, "R"}, {"Difference", 34, "R"}}
	p.tableHeader(cols)
	mode := d.rounding()
	money := func(s sum128) string { return grouped(s.round(d.MinorUnits, mode).String(), d.MinorUnits) }
	for _, g := range groups {
		if p.ensure(5) {
			p.tableHeader(cols)
		}
		p.row(cols, []string{g.reason, strconv.Itoa(g.n), money(g.billed), money(g.recomputed), money(g.diff)}, "", 5)
	}
	p.font("", "", 7)
	p.f.SetX(pdfMargin)
	p.text(180, 5, "Amounts excluding tax, in "+d.Currency+".", "", 7, "L")
}

// rounding is the document policy's rounding mode (half up when the
// policy does not say).
func (d *Document) rounding() Rounding {
	for _, f := range strings.Fields(d.Policy) {
		if v, ok := strings.CutPrefix(f, "rounding="); ok {
			return Rounding(v)
		}
	}
	return HalfUp
}

// grouped inserts thousands separators into a decimal string with at
// least minDigits decimals ("1234567.5" with 2 -> "1,234,567.50").
func grouped(s string, minDigits int) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	for len(frac) < minDigits {
		frac += "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}
