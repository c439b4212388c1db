package invoicing

import (
	"crypto/sha256"
	"encoding/binary"
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
		d.complete(doc, d.inputs(d.lines, doc.Lines), nil)
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
	var out []InputRef
	for i, a := range accs {
		for k, m := range a.members {
			c := d.cdrs[m]
			out = append(out, InputRef{Line: lines[i].No, CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID,
				BodySHA256: c.BodySHA256, Tariff: c.Tariff, PricingPolicy: c.PricingPolicy, Net: a.nets[k]})
		}
	}
	for _, c := range d.cdrs {
		if c.Dispute != nil {
			out = append(out, InputRef{CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID,
				BodySHA256: c.BodySHA256, Tariff: c.Tariff, PricingPolicy: c.PricingPolicy, Disputed: true})
		}
	}
	return out
}

// days sums the lines' CDRs by the day of their end in the period's zone.
// A CDR split over two tax sets counts as one session.
func (d *draft) days(accs []*lineAcc) []Day {
	zone := d.period.From.Location()
	type acc struct {
		sessions int
		net      sum128
	}
	byDay := map[Date]*acc{}
	counted := make(map[int32]bool)
	for _, a := range accs {
		for k, m := range a.members {
			day := DateOf(d.cdrs[m].End.In(zone))
			x := byDay[day]
			if x == nil {
				x = &acc{}
				byDay[day] = x
			}
			x.net.add(a.nets[k])
			if !counted[m] {
				counted[m] = true
				x.sessions++
			}
		}
	}
	out := make([]Day, 0, len(byDay))
	for day, x := range byDay {
		out = append(out, Day{Date: day, Sessions: x.sessions, Net: x.net.round(d.digits, d.cfg.Rounding)})
	}
	slices.SortFunc(out, func(a, b Day) int { return a.Date.Time().Compare(b.Date.Time()) })
	return out
}

// inputsHash digests a snapshot: the policy, every input row and, for a
// credit note, the credited lines.
func inputsHash(policy string, inputs []InputRef, credited []Line) [32]byte {
	h := sha256.New()
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(policy)
	for _, r := range inputs {
		b = binary.AppendVarint(b, int64(r.Line))
		str(r.CountryCode)
		str(r.PartyID)
		str(r.ID)
		b = append(b, r.BodySHA256[:]...)
		str(r.Tariff.Key())
		str(r.PricingPolicy)
		b = binary.AppendVarint(b, int64(r.Net))
		if r.Disputed {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		if len(b) > 1<<16 {
			h.Write(b)
			b = b[:0]
		}
	}
	for _, l := range credited {
		str(l.Corrects.Number)
		b = binary.AppendVarint(b, int64(l.Corrects.Line))
		str(l.Digest)
	}
	h.Write(b)
	return [32]byte(h.Sum(nil))
}
