package reports

import (
	"fmt"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/reconcile"
)

// Sheet names of the KPI workbook.
const (
	SheetKPIs = "KPIs"
	SheetDays = "Days"
)

// RenderKPIXLSX writes the KPI workbook: the KPIs sheet (the rates with
// the counts they come from, the money per currency, the CDRs by reason,
// finding, zone source and dispute state, the latencies) with two charts
// (CDRs per day by verdict, disputes by reason), and the Days sheet the
// first chart reads. The bytes depend only on the report.
func RenderKPIXLSX(w io.Writer, r *KPIReport) error {
	s, f := &r.Scope, &r.Figures
	b := newBook(s, "KPI report "+s.Partner+" "+s.Period, "KPIs of "+s.Partner+" for "+s.Period)
	defer b.f.Close()
	zone := s.zone()
	sh := b.sheet(SheetKPIs, true)
	sh.put(cell{"KPI report", b.title()})
	sh.skip()
	kv := func(k string, v any, style int) { sh.put(cell{k, b.bold()}, cell{v, style}) }
	kv("Partner", s.Partner, 0)
	kv("Period", s.Period, 0)
	kv("From", localTime(s.From, zone), 0)
	kv("To (excluded)", localTime(s.To, zone), 0)
	kv("Time zone", zone.String(), 0)
	kv("Data as of", s.AsOf.UTC().Format("2006-01-02T15:04:05Z"), 0)
	kv("CDRs", f.CDRs, 0)
	kv("Accepted", f.CDRs-f.Disputed, 0)
	kv("Disputed", f.Disputed, 0)
	sh.skip()
	heads := func(hs ...string) {
		cells := make([]cell, len(hs))
		for i, h := range hs {
			cells[i] = cell{h, b.head()}
		}
		sh.put(cells...)
	}
	heads("KPI", "Rate", "CDRs", "Of", "Definition")
	for _, k := range f.KPIs() {
		var rate any
		if v, ok := k.Rate(); ok {
			rate = v
		}
		sh.put(cell{k.Name, 0}, cell{rate, b.percent()}, cell{k.N, 0}, cell{k.Of, 0}, cell{k.Help, 0})
	}
	sh.skip()
	heads("Currency", "CDRs", "Billed excl. VAT", "Recomputed excl. VAT", "Disputes", "In dispute excl. VAT")
	for _, c := range f.Currencies {
		m := b.money(c.MinorUnits)
		var billed, recomputed any
		if c.BilledCDRs > 0 {
			billed = c.Billed
		}
		if c.RecomputedCDRs > 0 {
			recomputed = c.Recomputed
		}
		sh.put(cell{currencyLabel(c.Currency), 0}, cell{c.CDRs, 0}, cell{billed, m}, cell{recomputed, m}, cell{c.Disputes, 0}, cell{c.InDispute, m})
	}
	sh.skip()
	heads("Reason", "CDRs")
	reasonsFrom := sh.row + 1
	reasons := reasonCounts(f.ByReason)
	for _, rc := range reasons {
		sh.put(cell{rc.Key, 0}, cell{rc.N, 0})
	}
	reasonsTo := sh.row
	sh.skip()
	heads("Finding", "Severity", "CDRs")
	for _, fc := range f.Findings {
		sh.put(cell{fc.Code, 0}, cell{fc.Severity, 0}, cell{fc.CDRs, 0})
	}
	sh.skip()
	heads("Time zone source", "Priced CDRs")
	for _, z := range sortedCounts(f.ZoneSources) {
		sh.put(cell{z.Key, 0}, cell{z.N, 0})
	}
	sh.skip()
	heads("Dispute state", "Disputes")
	for _, st := range reconcile.DisputeStates {
		if n := f.States[string(st)]; n > 0 {
			sh.put(cell{string(st), 0}, cell{n, 0})
		}
	}
	sh.skip()
	heads("Latency", "CDRs", "Unknown", "Median (s)", "90th percentile (s)", "99th percentile (s)", "Maximum (s)")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"Issue delay (last_updated − end)", f.IssueDelay}, {"Delivery (first OCPI receipt − end)", f.Delivery}} {
		if l.l.CDRs == 0 {
			sh.put(cell{l.name, 0}, cell{l.l.CDRs, 0}, cell{l.l.Unknown, 0})
			continue
		}
		sh.put(cell{l.name, 0}, cell{l.l.CDRs, 0}, cell{l.l.Unknown, 0}, cell{l.l.P50, 0}, cell{l.l.P90, 0}, cell{l.l.P99, 0}, cell{l.l.Max, 0})
	}
	sh.skip()
	heads("Latency bucket", "Issue delay", "Delivery")
	for i, name := range LatencyBuckets {
		sh.put(cell{name, 0}, cell{f.IssueDelay.Buckets[i], 0}, cell{f.Delivery.Buckets[i], 0})
	}
	sh.widths(36, 12, 20, 20, 20, 20, 14)

	days := b.sheet(SheetDays, false)
	days.table([]string{"Date", "CDRs", "OK", "MISMATCH", "NOT_VERIFIABLE", "Disputed", "Acceptance"}, func() {
		for _, d := range f.Days {
			var acc any
			if v, ok := (KPI{N: d.CDRs - d.Disputed, Of: d.CDRs}).Rate(); ok {
				acc = v
			}
			days.put(cell{Date(d.Date), b.date()}, cell{d.CDRs, 0}, cell{d.OK, 0}, cell{d.Mismatch, 0}, cell{d.NotVerifiable, 0},
				cell{d.Disputed, 0}, cell{acc, b.percent()})
		}
	})
	days.widths(12, 10, 10, 12, 16, 10, 12)
	if b.err == nil && len(f.Days) > 0 {
		b.err = b.f.AddChart(SheetKPIs, "I2", verdictChart(len(f.Days)))
	}
	if b.err == nil && len(reasons) > 0 {
		b.err = b.f.AddChart(SheetKPIs, "I22", reasonChart(reasonsFrom, reasonsTo))
	}
	if b.err != nil {
		return b.err
	}
	b.f.SetActiveSheet(0)
	_, err := b.f.WriteTo(w)
	return err
}

// reasonCounts lists the reasons by descending count (then code).
func reasonCounts(m map[string]int64) []struct {
	Key string
	N   int64
} {
	return sortedCounts(m)
}

// Verdict colours, shared by the workbook's charts and the PDF.
var verdictColours = [3]string{"4C9A6A", "C8553D", "E0A526"}

func verdictChart(days int) *excelize.Chart {
	last := strconv.Itoa(days + 1)
	var series []excelize.ChartSeries
	for i, col := range []string{"C", "D", "E"} {
		series = append(series, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$1", SheetDays, col),
			Categories: fmt.Sprintf("'%s'!$A$2:$A$%s", SheetDays, last),
			Values:     fmt.Sprintf("'%s'!$%s$2:$%s$%s", SheetDays, col, col, last),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{verdictColours[i]}},
		})
	}
	return &excelize.Chart{
		Type:      excelize.ColStacked,
		Series:    series,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "CDRs per day by verdict"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 320},
		XAxis:     excelize.ChartAxis{NumFmt: excelize.ChartNumFmt{CustomNumFmt: "mm-dd"}},
		YAxis:     excelize.ChartAxis{MajorGridLines: true},
	}
}

func reasonChart(from, to int) *excelize.Chart {
	return &excelize.Chart{
		Type: excelize.Bar,
		Series: []excelize.ChartSeries{{
			Name:       fmt.Sprintf("'%s'!$B$%d", SheetKPIs, from-1),
			Categories: fmt.Sprintf("'%s'!$A$%d:$A$%d", SheetKPIs, from, to),
			Values:     fmt.Sprintf("'%s'!$B$%d:$B$%d", SheetKPIs, from, to),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{verdictColours[1]}},
		}},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "CDRs by reason"}}},
		Legend:    excelize.ChartLegend{Position: "none"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 280},
		YAxis:     excelize.ChartAxis{MajorGridLines: true},
	}
}
