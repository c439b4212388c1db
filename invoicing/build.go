package invoicing

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"time"
)

// Statements assembles the provisional settlement statements of one
// partner's period, one per currency (ordered by currency code): every
// accepted CDR on a line, every disputed CDR listed with its evidence, the
// tax breakdown, totals and the figures. They carry no number and are not
// issued; issueDate is the date they show.
func Statements(cfg Config, period Period, cdrs []CDR, issueDate Date) ([]*Document, error) {
	drafts, err := assemble(cfg, period, cdrs)
	if err != nil {
		return nil, err
	}
	out := make([]*Document, len(drafts))
	for i, d := range drafts {
		doc := d.base(Statement, issueDate)
		doc.Lines = lineValues(d.lines)
		doc.Disputes = d.disputes
		s := d.summary
		doc.Summary = &s
		doc.Days = d.days(d.lines)
		d.completeStreamed(doc)
		out[i] = doc
	}
	return out, nil
}

// base returns the fields every document of the draft shares.
func (d *draft) base(kind Kind, issueDate Date) *Document {
	zone := d.period.From.Location()
	doc := &Document{
		Format: FormatVersion, Kind: kind, Billing: d.cfg.Billing, IssueDate: issueDate,
		Period: DocPeriod{Name: d.period.Name, Start: DateOf(d.period.From.In(zone)),
			End: DateOf(d.period.To.In(zone).Add(-time.Nanosecond)), TimeZone: zone.String()},
		Currency: d.currency, MinorUnits: d.digits,
		Seller: d.cfg.Seller, Buyer: d.cfg.Buyer, Payment: d.cfg.Payment,
		Policy: d.cfg.policy(),
	}
	if kind == Invoice {
		due := issueDate.AddDays(d.cfg.Payment.TermsDays)
		doc.DueDate = &due
	}
	if kind != Invoice {
		// A statement asks for no payment, a credit note pays back.
		doc.Payment.TermsDays, doc.Payment.Note = 0, ""
	}
	switch kind {
	case Statement:
		doc.Notes = append(doc.Notes, "Provisional settlement statement, not an invoice: amounts may change until the period is finalised.")
	case CreditNote:
		doc.Notes = append(doc.Notes, "This credit note cancels the invoice lines it lists; corrected amounts are invoiced anew.")
	}
	if d.cfg.Billing == SelfBilling {
		doc.Notes = append(doc.Notes, "Self-billing: issued by "+d.cfg.Buyer.Name+" on behalf of "+d.cfg.Seller.Name+".")
	}
	return doc
}

// complete fills the tax breakdown, totals and the inputs digest (of the
// input rows, or of the credited lines of a credit note), and returns it.
func (d *draft) complete(doc *Document, inputs []InputRef, credited []Line) [32]byte {
	if doc.Lines == nil {
		doc.Lines = []Line{}
	}
	doc.TaxBreakdown, doc.Totals = taxBreakdown(doc.Lines, d.digits, d.cfg.TaxMethod, d.cfg.Rounding)
	sha := inputsHash(doc.Policy, inputs, credited)
	doc.InputsSHA256 = hexHash(sha)
	return sha
}

// completeStreamed is complete for a statement: the snapshot is only
// digested, never kept.
func (d *draft) completeStreamed(doc *Document) {
	doc.TaxBreakdown, doc.Totals = taxBreakdown(doc.Lines, d.digits, d.cfg.TaxMethod, d.cfg.Rounding)
	h := newInputsHasher(doc.Policy)
	d.eachInput(d.lines, doc.Lines, h.add)
	doc.InputsSHA256 = hexHash(h.sum(nil))
}

// lineValues copies the lines, numbered 1..n in order.
func lineValues(accs []*lineAcc) []Line {
	out := make([]Line, len(accs))
	for i, a := range accs {
		out[i] = a.Line
		out[i].No = i + 1
		out[i].Taxes = slices.Clone(a.Taxes)
	}
	return out
}

// inputs lists the snapshot rows: each CDR of each line (numbered as in
// lines), then each disputed CDR of the draft, left out.
func (d *draft) inputs(accs []*lineAcc, lines []Line) []InputRef {
	n := d.summary.Disputed
	for _, a := range accs {
		n += len(a.members)
	}
	out := make([]InputRef, 0, n)
	d.eachInput(accs, lines, func(r *InputRef) { out = append(out, *r) })
	return out
}

func (d *draft) eachInput(accs []*lineAcc, lines []Line, fn func(*InputRef)) {
	var r InputRef
	for i, a := range accs {
		for k, m := range a.members {
			c := d.cdrs[m]
			r = InputRef{Line: lines[i].No, CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID,
				BodySHA256: c.BodySHA256, Tariff: c.tariff(), PricingPolicy: c.PricingPolicy, Net: a.nets[k]}
			fn(&r)
		}
	}
	for _, c := range d.cdrs {
		if c.Dispute != nil {
			r = InputRef{CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID,
				BodySHA256: c.BodySHA256, Tariff: c.tariff(), PricingPolicy: c.PricingPolicy, Disputed: true}
			fn(&r)
		}
	}
}

// days sums the lines' CDRs by the day of their end in the period's zone.
// A CDR split over two tax sets counts as one session.
func (d *draft) days(accs []*lineAcc) []Day {
	sessions := make([]int, len(d.periodDays))
	sums := make([]sum128, len(d.periodDays))
	counted := make([]bool, len(d.cdrs))
	for _, a := range accs {
		for k, m := range a.members {
			day := d.day[m]
			sums[day].add(a.nets[k])
			if !counted[m] {
				counted[m] = true
				sessions[day]++
			}
		}
	}
	var out []Day
	for i, date := range d.periodDays {
		if sessions[i] > 0 || !sums[i].isZero() {
			out = append(out, Day{Date: date, Sessions: sessions[i], Net: sums[i].round(d.digits, d.cfg.Rounding)})
		}
	}
	return out
}

// inputsHash digests a snapshot: the policy, every input row and, for a
// credit note, the credited lines.
func inputsHash(policy string, inputs []InputRef, credited []Line) [32]byte {
	h := newInputsHasher(policy)
	for i := range inputs {
		h.add(&inputs[i])
	}
	return h.sum(credited)
}

type inputsHasher struct {
	h hash.Hash
	b []byte
}

func newInputsHasher(policy string) *inputsHasher {
	h := &inputsHasher{h: sha256.New(), b: make([]byte, 0, 1<<16)}
	h.str(policy)
	return h
}

func (h *inputsHasher) str(s string) {
	h.b = binary.AppendUvarint(h.b, uint64(len(s)))
	h.b = append(h.b, s...)
}

func (h *inputsHasher) add(r *InputRef) {
	h.b = binary.AppendVarint(h.b, int64(r.Line))
	h.str(r.CountryCode)
	h.str(r.PartyID)
	h.str(r.ID)
	h.b = append(h.b, r.BodySHA256[:]...)
	h.str(r.Tariff.CountryCode)
	h.str(r.Tariff.PartyID)
	h.str(r.Tariff.ID)
	h.b = binary.AppendVarint(h.b, r.Tariff.LastUpdated.Unix())
	h.str(r.PricingPolicy)
	h.b = binary.AppendVarint(h.b, int64(r.Net))
	if r.Disputed {
		h.b = append(h.b, 1)
	} else {
		h.b = append(h.b, 0)
	}
	if len(h.b) > 1<<15 {
		h.h.Write(h.b)
		h.b = h.b[:0]
	}
}

func (h *inputsHasher) sum(credited []Line) [32]byte {
	for _, l := range credited {
		h.str(l.Corrects.Number)
		h.b = binary.AppendVarint(h.b, int64(l.Corrects.Line))
		h.str(l.Digest)
	}
	h.h.Write(h.b)
	return [32]byte(h.h.Sum(nil))
}
