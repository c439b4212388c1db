package reconcile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// LineClass classifies one line of a partner's invoice (issue 13.3).
type LineClass string

const (
	ClassExact           LineClass = "EXACT"            // the amount we accept, to the minor unit
	ClassWithinTolerance LineClass = "WITHIN_TOLERANCE" // differs, within the partner's tolerance
	ClassMismatch        LineClass = "MISMATCH"         // differs beyond it
	ClassPartnerOnly     LineClass = "PARTNER_ONLY"     // invoices a CDR we never received
	ClassDuplicate       LineClass = "DUPLICATE"        // invoices a CDR an earlier line already invoiced
)

// LineClasses lists the classes in report order.
var LineClasses = []LineClass{ClassExact, ClassWithinTolerance, ClassMismatch, ClassPartnerOnly, ClassDuplicate}

// Columns maps an invoice layout's header names onto what matching reads.
// Header names are compared case-insensitively after trimming. Excl and
// Incl may be empty when the layout has no such column (at least one is
// needed); Currency may be empty (the CDR's currency is assumed).
type Columns struct {
	CDRID    string `toml:"cdr_id"`
	Excl     string `toml:"amount_excl_vat"`
	Incl     string `toml:"amount_incl_vat"`
	Currency string `toml:"currency"`
	// DecimalComma reads "12,34" as 12.34 (and "1.234,56" as 1234.56).
	DecimalComma bool `toml:"decimal_comma"`
}

// DefaultColumns is the layout of issue 13's interface.
func DefaultColumns() Columns {
	return Columns{CDRID: "cdr_id", Excl: "amount_excl_vat", Incl: "amount_incl_vat", Currency: "currency"}
}

// InvoiceLine is one line of a partner's invoice: a CSV or XLSX row, or one
// CDR id of an invoice reconciliation record (which has no amounts).
type InvoiceLine struct {
	File string
	// Line is the row number in the file (the header is row 1), or the
	// position in the record's list of CDR ids (from 1).
	Line     int
	CDRID    string
	Currency string
	Amount   Amount // HasExcl/HasIncl false: the line states no such amount
}

// Invoice is one partner invoice as read.
type Invoice struct {
	File  string
	Lines []InvoiceLine
	// IRR is set when the invoice is a 2.3.0 invoice reconciliation record:
	// its lines claim the CDRs' billed amounts.
	IRR       bool
	InvoiceID string
}

// ReadInvoiceCSV reads a CSV invoice with a header row.
func ReadInvoiceCSV(r io.Reader, file string, cols Columns) (*Invoice, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	var rows [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		rows, lines = append(rows, rec), append(lines, line)
	}
	return fromRows(rows, lines, file, cols)
}

// InvoiceFromRows reads an invoice from rows already read (the first sheet
// of an XLSX file; cmd reads it), the first row being the header.
func InvoiceFromRows(rows [][]string, file string, cols Columns) (*Invoice, error) {
	lines := make([]int, len(rows))
	for i := range lines {
		lines[i] = i + 1
	}
	return fromRows(rows, lines, file, cols)
}

// fromRows reads the rows; lines are their row numbers in the file.
func fromRows(rows [][]string, lines []int, file string, cols Columns) (*Invoice, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("invoice %s: empty, want a header row", file)
	}
	idx := map[string]int{}
	for i, h := range rows[0] {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := idx[h]; !dup && h != "" {
			idx[h] = i
		}
	}
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := idx[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return -1, fmt.Errorf("invoice %s: no column %q in the header (%s); set the partner's invoice column mapping",
				file, name, strings.Join(rows[0], ", "))
		}
		return i, nil
	}
	ci, err := col(cols.CDRID)
	if err != nil {
		return nil, err
	}
	if ci < 0 {
		return nil, fmt.Errorf("invoice %s: the column mapping names no CDR id column", file)
	}
	// An amount column may be absent (a layout before tax only); one is needed.
	ei, errE := col(cols.Excl)
	ii, errI := col(cols.Incl)
	if ei < 0 && ii < 0 {
		if err := errors.Join(errE, errI); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("invoice %s: the column mapping names no amount column", file)
	}
	ki, err := col(cols.Currency)
	if err != nil {
		ki = -1 // a layout without currency: the CDR's is assumed
	}
	inv := &Invoice{File: file}
	cell := func(row []string, i int) string {
		if i < 0 || i >= len(row) {
			return ""
		}
		return strings.TrimSpace(row[i])
	}
	for n, row := range rows[1:] {
		lineNo := lines[n+1]
		id := cell(row, ci)
		blank := id == "" && cell(row, ei) == "" && cell(row, ii) == ""
		if blank {
			continue
		}
		if id == "" {
			return nil, fmt.Errorf("invoice %s: row %d: column %s: no CDR id", file, lineNo, cols.CDRID)
		}
		l := InvoiceLine{File: file, Line: lineNo, CDRID: id, Currency: strings.ToUpper(cell(row, ki))}
		for _, side := range []struct {
			i    int
			name string
			v    *int64
			has  *bool
		}{{ei, cols.Excl, &l.Amount.Excl, &l.Amount.HasExcl}, {ii, cols.Incl, &l.Amount.Incl, &l.Amount.HasIncl}} {
			s := cell(row, side.i)
			if s == "" {
				continue
			}
			d, err := parseAmount(s, cols.DecimalComma)
			if err != nil {
				return nil, fmt.Errorf("invoice %s: row %d: column %s: %w", file, lineNo, side.name, err)
			}
			*side.v, *side.has = Micro(d), true
		}
		if !l.Amount.HasExcl && !l.Amount.HasIncl {
			return nil, fmt.Errorf("invoice %s: row %d: CDR %s has no amount", file, lineNo, id)
		}
		inv.Lines = append(inv.Lines, l)
	}
	return inv, nil
}

// parseAmount reads a decimal amount: "12.34", "-1,234.50", or with
// decimal commas "1.234,50"; a currency sign or code around it is not
// accepted (it belongs in the currency column).
func parseAmount(s string, decimalComma bool) (decimal.Decimal, error) {
	t := strings.ReplaceAll(s, " ", "")
	t = strings.ReplaceAll(t, "\u00a0", "")
	if decimalComma {
		t = strings.ReplaceAll(t, ".", "")
		t = strings.ReplaceAll(t, ",", ".")
	} else {
		t = strings.ReplaceAll(t, ",", "")
	}
	d, err := decimal.NewFromString(t)
	if err != nil {
		return d, fmt.Errorf("%q is not an amount", s)
	}
	if d.Exponent() < -Scale {
		return d, fmt.Errorf("%q has more than %d decimals", s, Scale)
	}
	return d, nil
}

// InvoiceFromIRR turns a 2.3.0 invoice reconciliation record into an
// invoice whose lines are its CDR ids; it states no amounts.
func InvoiceFromIRR(r *ocpi.InvoiceReconciliationRecord, file string) *Invoice {
	inv := &Invoice{File: file, IRR: true, InvoiceID: r.InvoiceID}
	for i, id := range r.CDRs {
		inv.Lines = append(inv.Lines, InvoiceLine{File: file, Line: i + 1, CDRID: strings.TrimSpace(id)})
	}
	return inv
}

// Held is what reconciliation holds of one CDR an invoice may list.
type Held struct {
	ID         string
	Currency   string
	MinorUnits int
	// Billed is the CDR's total_cost; Recomputed ours (HasExcl false: not
	// priced). Verdict is the CDR's.
	Billed, Recomputed Amount
	Verdict            Verdict
	// InPeriod: the CDR belongs to the period reconciled (ours_only lists
	// those no line names).
	InPeriod bool
	// InvoiceReferenceID is the partner invoice the CDR names ("" none).
	InvoiceReferenceID string
}

// Accepted is the amount the invoice line is compared with: the
// recomputed one, or what the CDR billed when it is not verifiable (the
// CDR's own dispute covers that); HasExcl false when neither.
func (h *Held) Accepted() Amount {
	if h.Recomputed.HasExcl && h.Verdict != VerdictNotVerifiable {
		return h.Recomputed
	}
	return h.Billed
}

// LineResult is one classified invoice line.
type LineResult struct {
	File     string
	Line     int
	CDRID    string
	Class    LineClass
	Currency string
	// Stated is what the line claims (the CDR's billed amount for a
	// record), Accepted what we accept; Difference is Accepted - Stated.
	Stated, Accepted, Difference Amount
	Note                         string
}

// InvoiceTotal is the invoice's total against the sum of the CDRs it
// lists, as we accept them; Difference is Recomputed - Stated.
type InvoiceTotal struct {
	Currency                       string
	Stated, Recomputed, Difference Amount
	MinorUnits                     int
}

// InvoiceResult is the matching of a partner's invoices with our CDRs.
type InvoiceResult struct {
	Lines    []LineResult
	OursOnly []string
	Total    InvoiceTotal
}

// Count is the number of lines of a class.
func (r *InvoiceResult) Count(c LineClass) int {
	n := 0
	for i := range r.Lines {
		if r.Lines[i].Class == c {
			n++
		}
	}
	return n
}

// MatchInput is what matching needs.
type MatchInput struct {
	Invoices []*Invoice
	// CDRs are the partner's CDRs we hold, by upper-cased id: every CDR of
	// the period and every other one a line names.
	CDRs map[string]*Held
	// Tolerance is the partner's tolerance in a currency.
	Tolerance func(currency string) Tolerance
	// StatedTotal is the invoice total when the invoices state none line
	// by line (a record with --invoice-total), before tax.
	StatedTotal *decimal.Decimal
}

// Match classifies every line of the invoices (in file and line order),
// lists the period's CDRs no line names, and checks the total.
func Match(in *MatchInput) *InvoiceResult {
	res := &InvoiceResult{}
	seen := map[string]string{} // id -> where first invoiced
	listed := map[string]bool{}
	tol := in.Tolerance
	if tol == nil {
		tol = func(string) Tolerance { return Tolerance{} }
	}
	total := &res.Total
	total.MinorUnits = -1
	statedExcl, statedIncl := true, true
	for _, inv := range in.Invoices {
		for _, l := range inv.Lines {
			key := ocpi.Key(l.CDRID)
			lr := LineResult{File: l.File, Line: l.Line, CDRID: l.CDRID, Currency: l.Currency}
			h := in.CDRs[key]
			stated := l.Amount
			if inv.IRR && h != nil {
				stated = h.Billed
			}
			lr.Stated = stated
			statedExcl = statedExcl && stated.HasExcl
			statedIncl = statedIncl && stated.HasIncl
			total.Stated = addAmount(total.Stated, stated)
			switch {
			case seen[key] != "":
				lr.Class, lr.Note = ClassDuplicate, "already invoiced at "+seen[key]
			case h == nil:
				lr.Class, lr.Note = ClassPartnerOnly, "no CDR with this id was ever received from the partner"
			default:
				if lr.Currency == "" {
					lr.Currency = h.Currency
				}
				acc := h.Accepted()
				lr.Accepted = acc
				total.Recomputed = addAmount(total.Recomputed, acc)
				lr.Class, lr.Difference, lr.Note = classify(stated, acc, h, lr.Currency, tol(h.Currency))
				if ref := h.InvoiceReferenceID; inv.IRR && inv.InvoiceID != "" && ref != "" && !strings.EqualFold(ref, inv.InvoiceID) {
					// The record lists a CDR that names another invoice.
					lr.Class, lr.Note = ClassMismatch, fmt.Sprintf("the CDR's invoice_reference_id is %s, the record's invoice_id %s", ref, inv.InvoiceID)
				}
			}
			if h != nil {
				if total.Currency == "" {
					total.Currency, total.MinorUnits = h.Currency, h.MinorUnits
				}
			} else if total.Currency == "" && l.Currency != "" {
				total.Currency = l.Currency
			}
			if seen[key] == "" {
				seen[key] = fmt.Sprintf("%s:%d", l.File, l.Line)
			}
			listed[key] = true
			res.Lines = append(res.Lines, lr)
		}
	}
	for key, h := range in.CDRs {
		if h.InPeriod && !listed[key] {
			res.OursOnly = append(res.OursOnly, h.ID)
		}
	}
	sort.Strings(res.OursOnly)
	if in.StatedTotal != nil {
		total.Stated = Amount{Excl: Micro(*in.StatedTotal), HasExcl: true}
		statedExcl, statedIncl = true, false
	}
	total.Stated.HasExcl = total.Stated.HasExcl && statedExcl
	total.Stated.HasIncl = total.Stated.HasIncl && statedIncl
	if total.MinorUnits < 0 {
		total.MinorUnits, _ = ocpi.CurrencyMinorUnits(total.Currency)
	}
	total.Difference = subAmount(total.Recomputed, total.Stated)
	return res
}

// classify compares what a line states with what we accept, at the
// currency's minor units.
func classify(stated, acc Amount, h *Held, currency string, tol Tolerance) (LineClass, Amount, string) {
	if currency != "" && h.Currency != "" && !strings.EqualFold(currency, h.Currency) {
		return ClassMismatch, Amount{}, fmt.Sprintf("invoiced in %s, the CDR is in %s", currency, h.Currency)
	}
	if !acc.HasExcl {
		return ClassMismatch, Amount{}, "the CDR states no amount and could not be priced"
	}
	m := h.MinorUnits
	diff := Amount{}
	exact, within := true, true
	check := func(s, a int64) int64 {
		d := RoundMicro(a, m) - RoundMicro(s, m)
		if d != 0 {
			exact = false
			if !tol.Allows(d, a, m) {
				within = false
			}
		}
		return d
	}
	compared := false
	if stated.HasExcl {
		diff.Excl, diff.HasExcl, compared = check(stated.Excl, acc.Excl), true, true
	}
	if stated.HasIncl && acc.HasIncl {
		diff.Incl, diff.HasIncl, compared = check(stated.Incl, acc.Incl), true, true
	}
	note := ""
	if h.Verdict == VerdictNotVerifiable {
		note = "the CDR is not verifiable: compared with what it billed"
	}
	switch {
	case !compared:
		return ClassMismatch, diff, "no amount on a side we can compare"
	case exact:
		return ClassExact, diff, note
	case within:
		return ClassWithinTolerance, diff, note
	}
	return ClassMismatch, diff, note
}

func addAmount(a, b Amount) Amount {
	if b.HasExcl {
		a.Excl, a.HasExcl = a.Excl+b.Excl, true
	}
	if b.HasIncl {
		a.Incl, a.HasIncl = a.Incl+b.Incl, true
	}
	return a
}

func subAmount(a, b Amount) Amount {
	out := Amount{}
	if a.HasExcl && b.HasExcl {
		out.Excl, out.HasExcl = a.Excl-b.Excl, true
	}
	if a.HasIncl && b.HasIncl {
		out.Incl, out.HasIncl = a.Incl-b.Incl, true
	}
	return out
}
