package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Partner invoices. Each CPO invoices the eMSP for every CDR it sent: one
// CSV per party, <CC>-<PID>/invoice.csv (its lines may fall in the month
// before or after when read by end_date_time in UTC), with the columns
// cdr_id, amount_excl_vat, amount_incl_vat, currency, each line the CDR's
// billed total_cost (credit CDRs negative; incl empty when the CDR states
// none). A share of lines (InvoicePerMille) carries an invoicing error of
// its own: a line whose amount is not the CDR's, a line repeated, a line for
// a CDR never sent, a CDR left out. invoice_truth.csv gives the class every
// line must get (and OURS_ONLY for a CDR left out, line 0): MISMATCH for a
// CDR billed wrong (an injected amount error) or a wrong line, DUPLICATE for
// a repeat, PARTNER_ONLY for a CDR never sent, EXACT for the rest.
//
// The invoices draw from their own random stream, so the CDR files and
// ground_truth.csv are the same with or without them.

// Invoice error kinds (invoice_truth.csv's note column names them).
const (
	invAmount      = "invoice_amount"
	invDuplicate   = "invoice_duplicate"
	invPartnerOnly = "invoice_partner_only"
	invMissing     = "invoice_missing"
)

type invoiceFile struct {
	rel  string
	file io.WriteCloser
	w    *csv.Writer
	line int
}

type invoices struct {
	rng    *rand.Rand
	truth  *csv.Writer
	tfile  io.WriteCloser
	byFile map[string]*invoiceFile // by rel path
	order  []string
}

func newInvoices(cfg Config, create fileSink) (*invoices, error) {
	f, err := create("invoice_truth.csv")
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	inv := &invoices{rng: rand.New(rand.NewPCG(cfg.Seed, 0x696e766f696365)), tfile: f,
		truth: csv.NewWriter(bufio.NewWriterSize(f, 64<<10)), byFile: map[string]*invoiceFile{}}
	inv.truth.Write([]string{"country_code", "party_id", "file", "line", "cdr_id", "class", "note"})
	return inv, nil
}

// isAmountKind: the CDR's billed amount is not the right one.
func isAmountKind(k string) bool {
	switch ErrorKind(k) {
	case ErrWrongTariffVersion, ErrWrongPrice, ErrRounding, ErrVAT, ErrTimeZone:
		return true
	}
	return false
}

// invoiceLine invoices one CDR: its id and billed total_cost
// (sign -1 for a credit), and whether that amount is wrong.
func (g *generator) invoiceLine(po *partyOut, id string, m money, sign int64, wrong bool) error {
	inv := g.inv
	p := po.party
	rel := po.dir() + "/invoice.csv"
	f := inv.byFile[rel]
	withIncl := p.version == ocpi.V221 || (p.version == ocpi.V230 && m.taxed)
	write := func(id string, excl, incl int64, class, note string) {
		inc := ""
		if withIncl {
			inc = minorString(incl, p.cur.minor)
		}
		f.w.Write([]string{id, minorString(excl, p.cur.minor), inc, p.cur.code})
		f.line++
		inv.truth.Write([]string{p.countryCode, p.partyID, rel, fmt.Sprint(f.line), id, class, note})
	}
	class, note := "EXACT", ""
	if wrong {
		class, note = "MISMATCH", "the CDR's billed amount is wrong"
	}
	excl, incl := sign*m.excl, sign*m.incl
	kind := ""
	if inv.rng.IntN(1000) < g.cfg.InvoicePerMille {
		kind = [4]string{invAmount, invDuplicate, invPartnerOnly, invMissing}[inv.rng.IntN(4)]
	}
	switch kind {
	case invMissing:
		inv.truth.Write([]string{p.countryCode, p.partyID, rel, "0", id, "OURS_ONLY", invMissing})
	case invAmount:
		delta := max(p.cur.gran*pow10[p.cur.minor]/10000, 1) * int64(1+inv.rng.IntN(50))
		write(id, excl+delta, incl+delta, "MISMATCH", invAmount)
	case invDuplicate:
		write(id, excl, incl, class, note)
		write(id, excl, incl, "DUPLICATE", invDuplicate)
	case invPartnerOnly:
		write(id, excl, incl, class, note)
		write(id+"-I", excl, incl, "PARTNER_ONLY", invPartnerOnly)
	default:
		write(id, excl, incl, class, note)
	}
	return nil
}

// open creates a party's invoice file (in writeStatic, so that the files
// are the same whatever the draws).
func (inv *invoices) open(create fileSink, rel string) error {
	file, err := create(rel)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	f := &invoiceFile{rel: rel, file: file, w: csv.NewWriter(bufio.NewWriterSize(file, 64<<10)), line: 1}
	f.w.Write([]string{"cdr_id", "amount_excl_vat", "amount_incl_vat", "currency"})
	inv.byFile[rel] = f
	inv.order = append(inv.order, rel)
	return nil
}

func (inv *invoices) close() []error {
	var errs []error
	for _, rel := range inv.order {
		f := inv.byFile[rel]
		f.w.Flush()
		errs = append(errs, f.w.Error(), f.file.Close())
	}
	inv.truth.Flush()
	return append(errs, inv.truth.Error(), inv.tfile.Close())
}
