package reports

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/reconcile"
)

// The dispute workbook a partner receives: every disputed CDR of the
// period with its reason codes, what was billed and recomputed, the
// difference, the charging periods where it arises with their priced
// lines, and the evidence; and its CSV companion for systems that import
// disputes.

// Sheet names of the dispute workbook.
const (
	SheetSummary  = "Summary"
	SheetDisputes = "Disputes"
	SheetPeriods  = "Periods"
)

// disputeHeader are the columns of the Disputes sheet (the CSV has its own
// machine names, csvHeader).
func disputeHeader(zone string) []string {
	return []string{"CDR", "Start (" + zone + ")", "End (" + zone + ")", "Location", "EVSE", "Verdict", "Reasons", "Findings", "State",
		"Currency", "Billed excl. VAT", "Billed incl. VAT", "Recomputed excl. VAT", "Recomputed incl. VAT",
		"Difference excl. VAT", "Difference incl. VAT", "In dispute excl. VAT", "In dispute incl. VAT",
		"Periods where it arises", "Evidence"}
}

// RenderDisputesXLSX writes the dispute workbook: a summary (counts and
// amounts per currency, by most likely reason and by state), the disputes
// and the periods where each arises with its priced lines. Amounts carry
// the number format of their currency's minor units; each list has a
// frozen header row and filters. The bytes depend only on the inputs.
func RenderDisputesXLSX(w io.Writer, s *Scope, ds []Dispute) error {
	b := newBook(s, "Disputed CDRs "+s.Partner+" "+s.Period, "Disputed CDRs of "+s.Partner+" for "+s.Period)
	defer b.f.Close()
	zone := s.zone()
	b.disputeSummary(s, ds)
	// Active before the streamed sheets exist: SetActiveSheet reads every
	// sheet back from its XML.
	b.f.SetActiveSheet(0)
	widths := []float64{26, 19, 19, 16, 20, 16, 24, 22, 11, 9, 14, 14, 14, 14, 14, 14, 14, 14, 24, 100}
	st := b.stream(SheetDisputes, "Disputes", disputeHeader(zone.String()), widths)
	for i := range ds {
		d := &ds[i]
		m := b.money(d.MinorUnits)
		cells := []cell{{d.CDRID, 0}, {localTime(d.Start, zone), 0}, {localTime(d.End, zone), 0}, {d.LocationID, 0}, {d.EVSEUID, 0},
			{d.Verdict, 0}, {strings.Join(d.Reasons, ", "), 0}, {strings.Join(d.Codes, ", "), 0}, {d.State, 0}, {d.Currency, 0}}
		for _, a := range []Amount{d.Billed, d.Recomputed, d.Difference, d.InDispute} {
			cells = append(cells, amountCells(a, m)...)
		}
		cells = append(cells, cell{periodList(d.Periods, zone), 0}, cell{d.Evidence, 0})
		st.put(cells...)
	}
	st.end()

	pw := b.stream(SheetPeriods, "Periods", []string{"CDR", "Period", "Period start (" + zone.String() + ")", "Dimension", "Unit", "Quantity",
		"Billed quantity", "Unit price", "VAT %", "Currency", "Amount excl. VAT", "Amount incl. VAT"},
		[]float64{26, 8, 19, 18, 8, 14, 14, 12, 8, 9, 18, 18})
	for i := range ds {
		d := &ds[i]
		x := b.exact(d.MinorUnits)
		for _, p := range d.Periods {
			if len(p.Lines) == 0 {
				pw.put(cell{d.CDRID, 0}, cell{p.Index, 0}, cell{localTime(p.Start, zone), 0})
				continue
			}
			for _, l := range p.Lines {
				var vat any
				if l.VAT != nil {
					vat = *l.VAT
				}
				pw.put(cell{d.CDRID, 0}, cell{p.Index, 0}, cell{localTime(p.Start, zone), 0}, cell{l.Dimension, 0}, cell{unitOf(l.Dimension), 0},
					cell{l.Quantity, b.quantity()}, cell{l.BilledQuantity, b.quantity()}, cell{l.UnitPrice, 0}, cell{vat, 0}, cell{d.Currency, 0},
					cell{l.Excl, x}, cell{l.Incl, x})
			}
		}
	}
	pw.end()
	if b.err != nil {
		return b.err
	}
	_, err := b.f.WriteTo(w)
	return err
}

func amountCells(a Amount, style int) []cell {
	out := []cell{{nil, style}, {nil, style}}
	if a.HasExcl {
		out[0].v = a.Excl
	}
	if a.HasIncl {
		out[1].v = a.Incl
	}
	return out
}

// periodList names the periods where a difference arises by index and
// local start: "1 (2026-10-03 14:05)".
func periodList(ps []Period, zone *time.Location) string {
	var out []string
	for _, p := range ps {
		s := strconv.Itoa(p.Index)
		if !p.Start.IsZero() {
			s += " (" + p.Start.In(zone).Format("2006-01-02 15:04") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// unitOf is the unit of a priced line's quantity (store: kWh for ENERGY,
// seconds for the times, one for FLAT).
func unitOf(dim string) string {
	switch dim {
	case "ENERGY":
		return "kWh"
	case "FLAT":
		return "session"
	case "":
		return ""
	}
	return "s"
}

// disputeTotals sums the disputes per currency and per most likely reason.
type disputeTotals struct {
	currency, reason  string
	minor             int
	n                 int64
	billed, recomp    decimal.Decimal
	inDispute, inIncl decimal.Decimal
	// inclAll: every dispute states its amount in dispute incl. VAT (a
	// partial sum is not shown).
	inclAll bool
}

func sumDisputes(ds []Dispute, byReason bool) []disputeTotals {
	idx := map[[2]string]*disputeTotals{}
	for i := range ds {
		d := &ds[i]
		k := [2]string{d.Currency, ""}
		if byReason {
			k[1] = "(none)"
			if len(d.Reasons) > 0 {
				k[1] = d.Reasons[0]
			} else if len(d.Codes) > 0 {
				k[1] = d.Codes[0]
			}
		}
		t := idx[k]
		if t == nil {
			t = &disputeTotals{currency: k[0], reason: k[1], minor: d.MinorUnits, inclAll: true}
			idx[k] = t
		}
		t.n++
		if d.Billed.HasExcl {
			t.billed = t.billed.Add(d.Billed.Excl)
		}
		if d.Recomputed.HasExcl {
			t.recomp = t.recomp.Add(d.Recomputed.Excl)
		}
		if d.InDispute.HasExcl {
			t.inDispute = t.inDispute.Add(d.InDispute.Excl)
		}
		if d.InDispute.HasIncl {
			t.inIncl = t.inIncl.Add(d.InDispute.Incl)
		} else if d.InDispute.HasExcl {
			t.inclAll = false
		}
	}
	out := make([]disputeTotals, 0, len(idx))
	for _, t := range idx {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.currency != b.currency {
			return a.currency < b.currency
		}
		if ra, rb := reasonRank(a.reason), reasonRank(b.reason); ra != rb {
			return ra < rb
		}
		return a.reason < b.reason
	})
	return out
}

// reasonRank orders reason codes as reconcile does (finding codes after).
func reasonRank(r string) int {
	for i, x := range reconcile.Reasons {
		if string(x) == r {
			return i
		}
	}
	return len(reconcile.Reasons)
}

func (b *book) disputeSummary(s *Scope, ds []Dispute) {
	sh := b.sheet(SheetSummary, true)
	zone := s.zone()
	sh.put(cell{"Disputed CDRs", b.title()})
	sh.skip()
	kv := func(k string, v any) { sh.put(cell{k, b.bold()}, cell{v, 0}) }
	kv("Partner", s.Partner)
	kv("Period", s.Period)
	kv("From", localTime(s.From, zone))
	kv("To (excluded)", localTime(s.To, zone))
	kv("Time zone", zone.String())
	kv("Data as of", s.AsOf.UTC().Format(time.RFC3339))
	kv("Disputed CDRs", int64(len(ds)))
	sh.skip()
	sh.put(cell{"Currency", b.head()}, cell{"Disputes", b.head()}, cell{"Billed excl. VAT", b.head()}, cell{"Recomputed excl. VAT", b.head()},
		cell{"In dispute excl. VAT", b.head()}, cell{"In dispute incl. VAT", b.head()})
	for _, t := range sumDisputes(ds, false) {
		m := b.money(t.minor)
		var incl any
		if t.inclAll {
			incl = t.inIncl
		}
		sh.put(cell{currencyLabel(t.currency), 0}, cell{t.n, 0}, cell{t.billed, m}, cell{t.recomp, m}, cell{t.inDispute, m}, cell{incl, m})
	}
	sh.skip()
	sh.put(cell{"Most likely reason", b.head()}, cell{"Currency", b.head()}, cell{"Disputes", b.head()}, cell{"In dispute excl. VAT", b.head()})
	for _, t := range sumDisputes(ds, true) {
		sh.put(cell{t.reason, 0}, cell{currencyLabel(t.currency), 0}, cell{t.n, 0}, cell{t.inDispute, b.money(t.minor)})
	}
	sh.skip()
	sh.put(cell{"State", b.head()}, cell{"Disputes", b.head()})
	states := map[string]int64{}
	for i := range ds {
		states[ds[i].State]++
	}
	for _, st := range reconcile.DisputeStates {
		if n := states[string(st)]; n > 0 {
			sh.put(cell{string(st), 0}, cell{n, 0})
		}
	}
	sh.skip()
	for _, n := range []string{
		"Difference = recomputed − billed. In dispute = what is not accepted: billed − recomputed for a mismatch, the whole billed amount for a CDR that cannot be verified or whose token was never issued.",
		"Periods are numbered from 0 in the order of their start, as the evidence names them; the Periods sheet lists what the tariff version in effect prices in each.",
	} {
		sh.put(cell{n, 0})
	}
	sh.widths(28, 14, 20, 20, 20, 20)
}

// csvHeader are the CSV companion's columns.
var csvHeader = []string{"country_code", "party_id", "cdr_id", "start_date_time", "end_date_time", "location_id", "evse_uid",
	"verdict", "reasons", "findings", "state", "currency",
	"billed_excl_vat", "billed_incl_vat", "recomputed_excl_vat", "recomputed_incl_vat",
	"difference_excl_vat", "difference_incl_vat", "in_dispute_excl_vat", "in_dispute_incl_vat", "periods", "evidence"}

// RenderDisputesCSV writes the CSV companion of the dispute workbook: one
// row per disputed CDR, times in RFC 3339 UTC, amounts as exact decimals
// at the currency's minor units (empty when not stated), lists joined
// with ";", the evidence as one quoted field.
func RenderDisputesCSV(w io.Writer, s *Scope, ds []Dispute) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	cc, pid, _ := strings.Cut(s.Partner, "-")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for i := range ds {
		d := &ds[i]
		rec := []string{cc, pid, d.CDRID, ts(d.Start), ts(d.End), d.LocationID, d.EVSEUID, d.Verdict, strings.Join(d.Reasons, ";"),
			strings.Join(d.Codes, ";"), d.State, d.Currency}
		for _, a := range []Amount{d.Billed, d.Recomputed, d.Difference, d.InDispute} {
			rec = append(rec, fixed(a.Excl, a.HasExcl, d.MinorUnits), fixed(a.Incl, a.HasIncl, d.MinorUnits))
		}
		var ps []string
		for _, p := range d.Periods {
			ps = append(ps, strconv.Itoa(p.Index))
		}
		rec = append(rec, strings.Join(ps, ";"), d.Evidence)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func fixed(d decimal.Decimal, ok bool, minor int) string {
	if !ok {
		return ""
	}
	return d.StringFixed(int32(minor))
}
