package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"codeberg.org/go-pdf/fpdf"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/invoicing"
)

// The KPI report's PDF page (go-pdf/fpdf, through invoicing's NewPDF:
// the same embedded DejaVu Sans and fixed metadata as the invoices). The
// charts are drawn with fpdf's rectangles and lines. Layout values are
// float64 millimetres; counts and amounts reach this file as integers
// and exact decimal text.

const (
	kpiMargin = 14.0
	kpiPageW  = 210.0
	kpiPageH  = 297.0
	kpiWidth  = kpiPageW - 2*kpiMargin
)

// RenderKPIPDF writes the KPI report as an A4 page: the key figures, the
// CDRs per day by verdict, the CDRs by reason, the issue delays, the KPI
// table and the money per currency, with "page N of M" in the footer.
func RenderKPIPDF(w io.Writer, r *KPIReport) error { return renderKPIPDF(w, r, true) }

func renderKPIPDF(w io.Writer, r *KPIReport, compress bool) error {
	s := &r.Scope
	title := "KPI report " + s.Partner + " " + s.Period
	f := invoicing.NewPDF(invoicing.PDFMeta{Title: title, Author: "roamsettle", Subject: "KPIs of " + s.Partner + " for " + s.Period,
		Creator: "roamsettle reports " + FormatVersion, At: s.AsOf}, compress)
	p := &kpiPDF{f: f, r: r}
	f.SetMargins(kpiMargin, kpiMargin, kpiMargin)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(p.footer)
	f.AddPage()
	p.header()
	p.tiles()
	p.verdictChart()
	p.bars()
	p.kpiTable()
	p.money()
	if err := f.Error(); err != nil {
		return fmt.Errorf("reports: pdf %s: %w", title, err)
	}
	return f.Output(w)
}

type kpiPDF struct {
	f *fpdf.Fpdf
	r *KPIReport
}

func (p *kpiPDF) font(style string, size float64) { p.f.SetFont(invoicing.PDFFont, style, size) }

// text writes one cell of width w at the current position, cut with an
// ellipsis to fit.
func (p *kpiPDF) text(w, h float64, s, style string, size float64, align string) {
	p.font(style, size)
	if w == 0 { // to the right margin, as fpdf reads 0
		w = kpiPageW - kpiMargin - p.f.GetX()
	}
	if p.f.GetStringWidth(s) > w-1 {
		r := []rune(s)
		for len(r) > 0 && p.f.GetStringWidth(string(r)+"…") > w-1 {
			r = r[:len(r)-1]
		}
		s = string(r) + "…"
	}
	p.f.CellFormat(w, h, s, "", 0, align, false, 0, "")
}

func (p *kpiPDF) at(x, y float64) { p.f.SetXY(x, y) }

func (p *kpiPDF) colour(hex string, fill bool) {
	v, _ := strconv.ParseUint(hex, 16, 32)
	r, g, b := int(v>>16), int(v>>8&0xff), int(v&0xff)
	if fill {
		p.f.SetFillColor(r, g, b)
	} else {
		p.f.SetDrawColor(r, g, b)
	}
}

func (p *kpiPDF) footer() {
	s := &p.r.Scope
	p.f.SetY(kpiPageH - 12)
	p.f.SetTextColor(90, 90, 90)
	p.text(0, 5, "roamsettle KPI report "+s.Partner+" "+s.Period+" · data as of "+s.AsOf.UTC().Format("2006-01-02 15:04")+" UTC · page "+
		strconv.Itoa(p.f.PageNo())+" of {nb}", "", 7.5, "C")
	p.f.SetTextColor(0, 0, 0)
}

func (p *kpiPDF) header() {
	s := &p.r.Scope
	zone := s.zone()
	p.at(kpiMargin, kpiMargin)
	p.text(kpiWidth, 9, "KPI report", "B", 17, "L")
	p.at(kpiMargin, kpiMargin+9)
	p.text(kpiWidth, 6, s.Partner+" · "+s.Period, "B", 11, "L")
	p.at(kpiMargin, kpiMargin+15)
	p.f.SetTextColor(80, 80, 80)
	p.text(kpiWidth, 4.5, "CDRs whose session ended from "+s.From.In(zone).Format("2006-01-02 15:04")+" to "+
		s.To.In(zone).Format("2006-01-02 15:04")+" ("+zone.String()+"),", "", 8, "L")
	p.at(kpiMargin, kpiMargin+19.5)
	p.text(kpiWidth, 4.5, "re-priced with the tariff version in effect and reconciled; data as of "+s.AsOf.UTC().Format("2006-01-02 15:04")+" UTC.", "", 8, "L")
	p.f.SetTextColor(0, 0, 0)
}

// tiles are the four key figures.
func (p *kpiPDF) tiles() {
	f := &p.r.Figures
	k := f.KPIs()
	inDispute := "–"
	if len(f.Currencies) > 0 {
		c := mainCurrency(f.Currencies)
		inDispute = invoicing.Grouped(c.InDispute.StringFixed(int32(c.MinorUnits)), c.MinorUnits) + " " + currencyLabel(c.Currency)
	}
	tiles := [][2]string{
		{"CDRs", invoicing.Grouped(strconv.FormatInt(f.CDRs, 10), 0)},
		{"Acceptance", k[0].Percent()},
		{"Dispute rate", k[1].Percent()},
		{"In dispute (excl. VAT)", inDispute},
	}
	y := kpiMargin + 26
	w := (kpiWidth - 3*4) / 4
	for i, t := range tiles {
		x := kpiMargin + float64(i)*(w+4)
		p.f.SetFillColor(240, 243, 247)
		p.f.Rect(x, y, w, 17, "F")
		p.f.SetTextColor(90, 90, 90)
		p.at(x+2, y+2)
		p.text(w-4, 4, t[0], "", 7.5, "L")
		p.f.SetTextColor(0, 0, 0)
		p.at(x+2, y+7.5)
		p.text(w-4, 8, t[1], "B", 13, "L")
	}
}

// mainCurrency is the currency with the most CDRs (the first on a tie:
// the list is sorted).
func mainCurrency(cs []CurrencyFigures) CurrencyFigures {
	best := cs[0]
	for _, c := range cs[1:] {
		if c.CDRs > best.CDRs {
			best = c
		}
	}
	return best
}

// niceStep is a step of 1, 2 or 5 times a power of ten that divides max
// into at most about five intervals.
func niceStep(max int64) int64 {
	if max <= 5 {
		return 1
	}
	step := int64(1)
	for {
		for _, m := range []int64{1, 2, 5} {
			if max/(step*m) <= 5 {
				return step * m
			}
		}
		step *= 10
	}
}

func (p *kpiPDF) section(y float64, title string) {
	p.at(kpiMargin, y)
	p.text(kpiWidth, 6, title, "B", 10, "L")
}

// verdictChart draws the CDRs of each day as a column stacked by verdict.
func (p *kpiPDF) verdictChart() {
	f := &p.r.Figures
	top := kpiMargin + 45
	p.section(top, "CDRs per day by verdict")
	x0, y0, w, h := kpiMargin+12, top+8, kpiWidth-14, 62.0
	var most int64
	for _, d := range f.Days {
		most = max(most, d.CDRs)
	}
	step := niceStep(most)
	ticks := (most + step - 1) / step
	if ticks == 0 {
		ticks = 1
	}
	scale := h / float64(ticks*step)
	p.f.SetLineWidth(0.1)
	for i := int64(0); i <= ticks; i++ {
		y := y0 + h - float64(i*step)*scale
		p.f.SetDrawColor(215, 215, 215)
		p.f.Line(x0, y, x0+w, y)
		p.at(kpiMargin-1, y-2)
		p.f.SetTextColor(90, 90, 90)
		p.text(12, 4, invoicing.Grouped(strconv.FormatInt(i*step, 10), 0), "", 6.5, "R")
	}
	n := len(f.Days)
	if n > 0 {
		slot := w / float64(n)
		bar := slot * 0.72
		every := int(math.Ceil(float64(n) / 16))
		for i, d := range f.Days {
			x := x0 + float64(i)*slot + (slot-bar)/2
			y := y0 + h
			for v, c := range []int64{d.OK, d.Mismatch, d.NotVerifiable} {
				if c == 0 {
					continue
				}
				bh := float64(c) * scale
				p.colour(verdictColours[v], true)
				p.f.Rect(x, y-bh, bar, bh, "F")
				y -= bh
			}
			if i%every == 0 {
				p.at(x0+float64(i)*slot-3, y0+h+0.5)
				p.text(slot+6, 4, d.Date.Format("01-02"), "", 6, "C")
			}
		}
	}
	p.f.SetDrawColor(120, 120, 120)
	p.f.Line(x0, y0+h, x0+w, y0+h)
	// Legend.
	lx := x0
	for i, name := range []string{"OK", "MISMATCH", "NOT_VERIFIABLE"} {
		p.colour(verdictColours[i], true)
		p.f.Rect(lx, y0+h+6, 3, 3, "F")
		p.at(lx+3.5, y0+h+5.5)
		p.f.SetTextColor(60, 60, 60)
		p.text(32, 4, name, "", 7, "L")
		lx += 36
	}
	p.f.SetTextColor(0, 0, 0)
	p.f.SetDrawColor(0, 0, 0)
}

// bars draws the CDRs by reason (left) and the issue delays (right) as
// horizontal bars.
func (p *kpiPDF) bars() {
	f := &p.r.Figures
	top := kpiMargin + 128
	half := (kpiWidth - 8) / 2
	var reasons []barRow
	for _, rc := range reasonCounts(f.ByReason) {
		reasons = append(reasons, barRow{rc.Key, rc.N})
	}
	p.barChart(kpiMargin, top, half, "CDRs by reason", reasons, verdictColours[1])
	lat, title := f.Delivery, "Delivery latency (first OCPI receipt − end)"
	if lat.CDRs == 0 {
		lat, title = f.IssueDelay, "CDR issue delay (last_updated − end)"
	}
	var rows []barRow
	for i, name := range LatencyBuckets {
		rows = append(rows, barRow{name, lat.Buckets[i]})
	}
	p.barChart(kpiMargin+half+8, top, half, title, rows, "4A6FA5")
	p.at(kpiMargin+half+8, top+45)
	p.f.SetTextColor(80, 80, 80)
	if lat.CDRs > 0 {
		p.text(half, 4, "median "+duration(lat.P50)+" · 90th percentile "+duration(lat.P90)+" · max "+duration(lat.Max), "", 7, "L")
	} else {
		p.text(half, 4, "no delay known", "", 7, "L")
	}
	p.f.SetTextColor(0, 0, 0)
}

type barRow struct {
	label string
	n     int64
}

func (p *kpiPDF) barChart(x, y, w float64, title string, rows []barRow, colour string) {
	p.at(x, y)
	p.text(w, 6, title, "B", 10, "L")
	if len(rows) == 0 {
		p.at(x, y+8)
		p.text(w, 5, "none", "", 8, "L")
		return
	}
	rows = rows[:min(len(rows), 7)]
	var most int64
	for _, r := range rows {
		most = max(most, r.n)
	}
	label, num := 34.0, 16.0
	bw := w - label - num
	for i, r := range rows {
		ry := y + 8 + float64(i)*5
		p.at(x, ry)
		p.text(label, 4, r.label, "", 7, "L")
		if most > 0 && r.n > 0 {
			p.colour(colour, true)
			p.f.Rect(x+label, ry+0.6, math.Max(0.4, bw*float64(r.n)/float64(most)), 2.8, "F")
		}
		p.at(x+label+bw, ry)
		p.text(num, 4, invoicing.Grouped(strconv.FormatInt(r.n, 10), 0), "", 7, "R")
	}
}

func (p *kpiPDF) kpiTable() {
	f := &p.r.Figures
	y := kpiMargin + 182
	p.section(y, "KPIs")
	y += 7
	cols := []struct {
		t     string
		w     float64
		align string
	}{{"KPI", 52, "L"}, {"Rate", 18, "R"}, {"CDRs", 18, "R"}, {"of", 18, "R"}, {"Definition", 76, "L"}}
	p.f.SetFillColor(235, 238, 242)
	p.f.Rect(kpiMargin, y, kpiWidth, 5.5, "F")
	x := kpiMargin
	for _, c := range cols {
		p.at(x, y)
		p.text(c.w, 5.5, c.t, "B", 7.5, c.align)
		x += c.w
	}
	y += 5.5
	for _, k := range f.KPIs() {
		x = kpiMargin
		cells := []string{k.Name, k.Percent(), invoicing.Grouped(strconv.FormatInt(k.N, 10), 0), invoicing.Grouped(strconv.FormatInt(k.Of, 10), 0), k.Help}
		for i, c := range cols {
			p.at(x, y)
			if i == 4 {
				p.f.SetTextColor(90, 90, 90)
			}
			p.text(c.w, 4.6, cells[i], "", 7, c.align)
			p.f.SetTextColor(0, 0, 0)
			x += c.w
		}
		y += 4.6
	}
}

func (p *kpiPDF) money() {
	f := &p.r.Figures
	y := kpiMargin + 232
	p.section(y, "Money per currency (excl. VAT)")
	y += 7
	cols := []struct {
		t string
		w float64
	}{{"Currency", 22}, {"CDRs", 24}, {"Billed", 36}, {"Recomputed", 36}, {"Disputes", 22}, {"In dispute", 42}}
	p.f.SetFillColor(235, 238, 242)
	p.f.Rect(kpiMargin, y, kpiWidth, 5.5, "F")
	x := kpiMargin
	for i, c := range cols {
		p.at(x, y)
		align := "R"
		if i == 0 {
			align = "L"
		}
		p.text(c.w, 5.5, c.t, "B", 7.5, align)
		x += c.w
	}
	y += 5.5
	rows := f.Currencies
	for i, c := range rows {
		if i == 6 {
			p.at(kpiMargin, y)
			p.text(kpiWidth, 4.6, strconv.Itoa(len(rows)-i)+" more currencies in the workbook", "", 7, "L")
			break
		}
		m := c.MinorUnits
		amt := func(d decimal.Decimal, n int64) string {
			if n == 0 {
				return "–"
			}
			return invoicing.Grouped(d.StringFixed(int32(m)), m)
		}
		cells := []string{currencyLabel(c.Currency), invoicing.Grouped(strconv.FormatInt(c.CDRs, 10), 0), amt(c.Billed, c.BilledCDRs),
			amt(c.Recomputed, c.RecomputedCDRs),
			invoicing.Grouped(strconv.FormatInt(c.Disputes, 10), 0), amt(c.InDispute, 1)}
		x = kpiMargin
		for j, col := range cols {
			p.at(x, y)
			align := "R"
			if j == 0 {
				align = "L"
			}
			p.text(col.w, 4.6, cells[j], "", 7.5, align)
			x += col.w
		}
		y += 4.6
	}
	if len(rows) == 0 {
		p.at(kpiMargin, y)
		p.text(kpiWidth, 4.6, "No CDRs.", "", 7.5, "L")
	}
}
