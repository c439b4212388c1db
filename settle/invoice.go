package settle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/roamsettle/roamsettle/invoicing"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// The invoice step of the whole job: a partner's priced and reconciled CDRs
// of the period, read from the stored rows of the job's price run, become
// invoicing's inputs; a provisional run renders the settlement statements
// (no numbers, nothing stored), a final run or a correction issues the
// numbered invoices and credit notes through invoicing.Issue (numbers and
// hashes assigned in the transaction that stores them) and renders every
// document of the period from its stored JSON.
//
// Which amounts are charged (the readings taken here):
//
//   - A CDR with an open dispute (raised, sent, accepted, declined) is never
//     charged: it goes to invoicing with its Dispute (verdict, state,
//     reasons, billed and recomputed totals, evidence).
//   - A CDR without a dispute, or whose dispute was withdrawn (reconcile no
//     longer finds anything wrong), is charged the recomputed amounts,
//     component by component, with the tax of each component (incl − excl)
//     at the rate its priced lines share.
//   - A CDR whose dispute ended with the partner's amount standing (written
//     off by the eMSP, or revised: a credit CDR that cancels it arrived and
//     is charged itself) is charged the billed amounts as the CDR states
//     them.
//   - What total_cost holds beyond the sum of the component costs (the
//     min/max price clamp, rounding) is the adjustment component.
//   - A CDR that cannot be on a document (no ISO 4217 currency) or cannot
//     be charged (not priced and not disputed, or priced by a tariff whose
//     prices include taxes at an unstated rate) is counted as not
//     invoiceable, never guessed.

// InvoiceRow is what the store holds of one CDR for invoicing: the CDR, its
// priced row in the job's price run and its dispute. Amounts are millionths
// (the store's DECIMAL(18,6)), in reconcile's Field order, excl then incl.
//
// A month holds millions of rows, and every pass over them waits on memory
// more than it computes: what many rows repeat (the place, the tariff) is
// shared through a pointer rather than copied into each (728 bytes a row
// before, 488 after).
type InvoiceRow struct {
	CountryCode, PartyID, ID string
	BodySHA256               [32]byte
	Start, End               time.Time
	// Place is where the session took place and its currency (nil: neither
	// is known).
	Place           *InvoicePlace
	Energy          int64 // total_energy in millionths of a kWh
	EnergyValid     bool
	Credit          bool
	CreditReference string

	Priced bool // priced in the run (status priced)
	// Pricing is the tariff version and policy of the priced row (nil:
	// none).
	Pricing     *InvoicePricing
	Flags       int32 // pricing.Flag bits
	Computed    [NumTotals]int64
	Billed      [NumTotals]int64
	BilledValid [NumTotals]bool
	// Rates are the VAT rates of each component's priced lines (invoicing's
	// Components order, without the adjustment).
	Rates [5]LineRate

	Dispute *StoredDispute
}

// InvoicePlace is a CDR's location and currency, shared by the rows of the
// sessions at one place.
type InvoicePlace struct {
	Location invoicing.Location
	Currency string
}

// InvoicePricing is a priced row's tariff version and pricing policy,
// shared by the rows priced with it.
type InvoicePricing struct {
	Tariff invoicing.TariffVersion
	Policy string
}

// LineRate is the VAT rate a component's priced lines state: Lines is how
// many lines there are, Mixed whether they disagree (then no one rate
// applies), Valid whether they state one.
type LineRate struct {
	Lines int32
	Valid bool
	Mixed bool
	Rate  int64 // percent, millionths
}

// StoredDispute is a CDR's dispute as the store holds it.
type StoredDispute struct {
	Verdict, State string
	Reasons        []string
	Evidence       string
	// Billed and Recomputed total_cost in millionths; HasX false: absent.
	BilledExcl, BilledIncl, RecomputedExcl, RecomputedIncl             int64
	HasBilledExcl, HasBilledIncl, HasRecomputedExcl, HasRecomputedIncl bool
}

// Open reports whether the dispute still keeps the CDR from being charged.
func (d *StoredDispute) Open() bool {
	switch reconcile.DisputeState(d.State) {
	case reconcile.DisputeWithdrawn, reconcile.DisputeWrittenOff, reconcile.DisputeRevised:
		return false
	}
	return true
}

// InvoiceSource reads the invoicing rows of a partner's period: the CDRs of
// the selection priced by the run (the store implements it), ordered by
// identity.
type InvoiceSource interface {
	InvoiceRows(ctx context.Context, priced Run, sel *Selection) ([]InvoiceRow, error)
}

// InvoiceStep is the invoice PartnerStep.
type InvoiceStep struct {
	Source InvoiceSource
	Ledger invoicing.Ledger
	// Config is the partner's invoicing setup; ok is false when the
	// configuration has none (then the step does nothing and says so).
	Config func(p Party) (cfg invoicing.Config, ok bool, err error)
	PDF    invoicing.PDFOptions
}

func (InvoiceStep) Name() string { return "invoice" }

// components are invoicing's components in the order of the priced totals
// (reconcile's Field order after total_cost), with their LineRate index.
var components = [5]invoicing.Component{invoicing.Fixed, invoicing.Energy, invoicing.Time, invoicing.Parking, invoicing.Reservation}

// RateIndex is the LineRate index of a priced line's dimension (-1: none).
func RateIndex(dim uint8) int {
	switch dim {
	case DimFlat:
		return 0
	case DimEnergy:
		return 1
	case DimTime:
		return 2
	case DimParkingTime:
		return 3
	case DimReservationTime:
		return 4
	}
	return -1
}

func (s InvoiceStep) Run(ctx context.Context, p *PartnerRun) (*StepReport, error) {
	cfg, ok, err := s.Config(p.Party)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &StepReport{Counts: map[string]int64{}, Note: "no invoicing details for " + p.Party.String() +
			" in the config: no statements or invoices"}, nil
	}
	rows, err := s.Source.InvoiceRows(ctx, p.Priced, &p.Selection)
	if err != nil {
		return nil, err
	}
	cdrs, skipped, err := InvoiceCDRs(rows)
	if err != nil {
		return nil, err
	}
	w := p.Selection.WindowOf(p.Party)
	zone := time.UTC
	if p.Policy.Zone != nil {
		zone = p.Policy.Zone
	}
	period := invoicing.Period{Name: p.Period.String(), From: w.From.In(zone), To: w.To.In(zone)}
	issue := invoicing.DateOf(p.AsOf.In(zone))
	rep := &StepReport{Counts: map[string]int64{"cdrs": int64(len(cdrs)), "not_invoiceable": skipped}}
	var docs []*invoicing.Document
	// issuedBefore are the documents an earlier run issued: their PDF,
	// workbook and e-invoice stay as that run wrote them (an issued
	// document never changes, and a newer roamsettle may render other
	// bytes for the same document); one that is missing is rendered again
	// from the stored JSON, which is written every time (it is the
	// document, so it only rewrites a damaged copy).
	issuedBefore := map[*invoicing.Document]bool{}
	if p.Kind == JobProvisional {
		if docs, err = invoicing.Statements(cfg, period, cdrs, issue); err != nil {
			return nil, err
		}
		rep.Counts["statements"] = int64(len(docs))
	} else {
		res, err := invoicing.Issue(ctx, s.Ledger, invoicing.Request{Config: cfg, Period: period, CDRs: cdrs, IssueDate: issue})
		if err != nil {
			return nil, err
		}
		for _, is := range res.New {
			if is.Kind == invoicing.CreditNote {
				rep.Counts["credit_notes"]++
			} else {
				rep.Counts["invoices"]++
			}
		}
		// Every document of the period is rendered from its stored JSON, so
		// an attempt after a crash writes what the first would have.
		fresh := map[string]bool{}
		for _, is := range res.New {
			fresh[is.Number] = true
		}
		for _, is := range res.All {
			d, err := invoicing.UnmarshalDocument(is.Document)
			if err != nil {
				return nil, fmt.Errorf("issued document %s: %w", is.Number, err)
			}
			docs = append(docs, d)
			issuedBefore[d] = !fresh[is.Number]
		}
	}
	effect := map[string]invoicing.Money{}
	var currencies []string
	var notes []string
	for _, d := range docs {
		// A document's formats render at once (the renderers only read
		// it): a statement listing a month's disputes spends seconds in
		// each of its JSON and its workbook.
		formats := invoicing.FormatsOf(d)
		outs := make([]FileOutput, len(formats))
		errs := make([]error, len(formats))
		var wg sync.WaitGroup
		for i, f := range formats {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := invoicing.FileName(d, f)
				if issuedBefore[d] && f != invoicing.FormatJSON {
					var ok bool
					if outs[i], ok = p.Files.Existing(name); ok {
						return
					}
				}
				outs[i], errs[i] = p.Files.Write(name, func(w io.Writer) error { return invoicing.Render(w, d, f, s.PDF) })
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if errors.Is(err, invoicing.ErrUBL) {
				// The document stands; only its e-invoice cannot say it
				// (a currency with 3 minor units, a tax without a rate).
				rep.Counts["no_ubl"]++
				notes = append(notes, err.Error())
				continue
			}
			if err != nil {
				return nil, err
			}
			rep.Files = append(rep.Files, outs[i])
		}
		e := d.Totals.Payable
		if d.Kind != invoicing.Statement {
			e = d.Effect()
		}
		if _, ok := effect[d.Currency]; !ok {
			currencies = append(currencies, d.Currency)
			effect[d.Currency] = invoicing.Money{Digits: d.MinorUnits}
		}
		effect[d.Currency] = effect[d.Currency].Add(e)
	}
	rep.Counts["documents"] = int64(len(docs))
	name := "payable"
	if p.Kind == JobProvisional {
		name = "statement payable"
	}
	for _, c := range currencies {
		rep.Amounts = append(rep.Amounts, StepAmount{Name: name, Currency: c, Amount: effect[c].Decimal()})
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d CDRs not invoiceable (no currency, or neither priced nor disputed)", skipped))
	}
	rep.Note = strings.Join(notes, "; ")
	return rep, nil
}

// InvoiceCDRs turns the stored rows into invoicing's inputs (the readings
// in the comment above) and counts the rows that cannot be charged.
func InvoiceCDRs(rows []InvoiceRow) ([]invoicing.CDR, int64, error) {
	out := make([]invoicing.CDR, 0, len(rows))
	var skipped int64
	var s slabs
	for i := range rows {
		r := &rows[i]
		if r.Place == nil || !knownCurrency(r.Place.Currency) {
			// No document can state it (reconcile disputes it for the data
			// it lacks).
			skipped++
			continue
		}
		// The document's CDRs share the rows' place and tariff version.
		c := invoicing.CDR{CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.ID, BodySHA256: r.BodySHA256,
			Start: r.Start, End: r.End, Location: &r.Place.Location, Currency: r.Place.Currency, Credit: r.Credit,
			CreditReference: r.CreditReference}
		if r.Pricing != nil {
			c.Tariff, c.PricingPolicy = &r.Pricing.Tariff, r.Pricing.Policy
		}
		if r.EnergyValid {
			c.Energy = invoicing.Quantity(r.Energy) // both at 6 decimals
		}
		switch {
		case r.Dispute != nil && r.Dispute.Open():
			c.Dispute = r.Dispute.invoicing()
		case r.Dispute != nil && r.Dispute.State != string(reconcile.DisputeWithdrawn):
			c.Charges = billedCharges(r, &s)
		case r.Priced && r.Flags&flagExclUnknown == 0:
			c.Charges = computedCharges(r, &s)
		default:
			skipped++
			continue
		}
		out = append(out, c)
	}
	return out, skipped, nil
}

// Kernel flags as priced_cdrs stores them (pricing.FlagInclUnknown and
// FlagExclUnknown; a test ties them).
const (
	flagInclUnknown = 1 << 5
	flagExclUnknown = 1 << 6
)

// amount10 converts millionths to invoicing's 10 decimals.
func amount10(micro int64) invoicing.Amount { return invoicing.Amount(micro * 10_000) }

func (d *StoredDispute) invoicing() *invoicing.Dispute {
	out := &invoicing.Dispute{Verdict: d.Verdict, Status: d.State, Reasons: d.Reasons, Evidence: d.Evidence}
	if d.HasBilledExcl {
		out.Billed = &invoicing.Price{Excl: amount10(d.BilledExcl), Incl: amount10(d.BilledIncl)}
		if !d.HasBilledIncl {
			out.Billed.Incl = out.Billed.Excl
		}
	}
	if d.HasRecomputedExcl {
		out.Recomputed = &invoicing.Price{Excl: amount10(d.RecomputedExcl), Incl: amount10(d.RecomputedIncl)}
		if !d.HasRecomputedIncl {
			out.Recomputed.Incl = out.Recomputed.Excl
		}
	}
	return out
}

// computedCharges are the recomputed totals per component, with the VAT of
// each (incl − excl) at the rate its lines share; taxes are left out when
// the tariff states no rate (the amounts after taxes are unknown). The
// adjustment is taxed at the rate of the largest component that states
// one (what a min/max clamp or a rounding residue changes is that
// component's price).
func computedCharges(r *InvoiceRow, s *slabs) []invoicing.Charge {
	inclKnown := r.Flags&flagInclUnknown == 0
	var buf [len(components) + 1]invoicing.Charge
	out := buf[:0]
	var sumX, sumI, largest int64
	var adjRate LineRate
	for k, comp := range components {
		f := 1 + k // reconcile Field of the component
		x, in := r.Computed[2*f], r.Computed[2*f+1]
		sumX, sumI = sumX+x, sumI+in
		rate := r.Rates[k]
		if rate.Valid && !rate.Mixed && (!adjRate.Valid || abs(x) > largest) {
			adjRate, largest = rate, abs(x)
		}
		if x == 0 && in == 0 {
			continue
		}
		out = append(out, invoicing.Charge{Component: comp, Excl: amount10(x), Taxes: s.taxes(inclKnown, in-x, rate)})
	}
	x, in := r.Computed[0]-sumX, r.Computed[1]-sumI
	if !inclKnown {
		in = x
	}
	if x != 0 || in != 0 {
		out = append(out, invoicing.Charge{Component: invoicing.Adjustment, Excl: amount10(x), Taxes: s.taxes(inclKnown, in-x, adjRate)})
	}
	return s.charges(out)
}

func abs(v int64) int64 { return max(v, -v) }

func knownCurrency(c string) bool {
	_, ok := pricing.CurrencyMinorUnits(c)
	return ok
}

// taxes is a charge's VAT: none when the amounts after taxes are unknown,
// or when no rate applies and the tax is nil; the rate when the lines
// share one, else the amount only.
func (s *slabs) taxes(inclKnown bool, tax int64, rate LineRate) []invoicing.Tax {
	hasRate := rate.Valid && !rate.Mixed
	if !inclKnown || (!hasRate && tax == 0) {
		return nil
	}
	t := invoicing.Tax{Name: "VAT", Amount: amount10(tax)}
	if hasRate {
		t.Rate, t.HasRate = invoicing.Percent(rate.Rate), true // both at 6 decimals
	}
	return s.tax(t)
}

// slabs hands out a CDR's charges and taxes from large chunks: a month's
// CDRs have two or three of each, and every slice allocated on its own made
// 5 M allocations per 1 M CDRs (BenchmarkInvoiceCDRs; 308 with the slabs).
// Each slice is capped at its length, so an append to one never writes
// into the next.
type slabs struct {
	chargeSlab []invoicing.Charge
	taxSlab    []invoicing.Tax
}

// slabSize is how many charges or taxes a chunk holds.
const slabSize = 1 << 14

// charges is a copy of cs in the slab (nil when cs is empty).
func (s *slabs) charges(cs []invoicing.Charge) []invoicing.Charge {
	if len(cs) == 0 {
		return nil
	}
	out := carve(&s.chargeSlab, len(cs))
	copy(out, cs)
	return out
}

// tax is a one-tax slice in the slab.
func (s *slabs) tax(t invoicing.Tax) []invoicing.Tax {
	out := carve(&s.taxSlab, 1)
	out[0] = t
	return out
}

// carve takes n elements off the slab, starting a new chunk when it has
// not enough room.
func carve[T any](slab *[]T, n int) []T {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, max(n, slabSize))
	}
	from := len(*slab)
	*slab = (*slab)[:from+n]
	return (*slab)[from : from+n : from+n]
}

// billedCharges are the amounts the CDR states, per component; what
// total_cost holds beyond them is the adjustment. A component that states
// no incl_vat has no tax.
func billedCharges(r *InvoiceRow, s *slabs) []invoicing.Charge {
	var buf [len(components) + 1]invoicing.Charge
	out := buf[:0]
	var sumX, sumI int64
	allIncl := r.BilledValid[1]
	for k, comp := range components {
		f := 1 + k
		if !r.BilledValid[2*f] {
			continue
		}
		x := r.Billed[2*f]
		sumX += x
		ch := invoicing.Charge{Component: comp, Excl: amount10(x)}
		if r.BilledValid[2*f+1] {
			in := r.Billed[2*f+1]
			sumI += in
			ch.Taxes = s.tax(invoicing.Tax{Name: "VAT", Amount: amount10(in - x)})
		} else {
			allIncl = false
		}
		if x != 0 || len(ch.Taxes) > 0 && ch.Taxes[0].Amount != 0 {
			out = append(out, ch)
		}
	}
	if r.BilledValid[0] {
		x := r.Billed[0] - sumX
		ch := invoicing.Charge{Component: invoicing.Adjustment, Excl: amount10(x)}
		if allIncl {
			ch.Taxes = s.tax(invoicing.Tax{Name: "VAT", Amount: amount10(r.Billed[1] - sumI - x)})
		}
		if x != 0 || len(ch.Taxes) > 0 && ch.Taxes[0].Amount != 0 {
			out = append(out, ch)
		}
	}
	return s.charges(out)
}
