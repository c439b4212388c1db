package invoicing

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// FormatVersion names the JSON document schema; a change to the schema
// that alters bytes changes it.
const FormatVersion = "roamsettle.invoicing/1"

// Kind is the kind of document.
type Kind string

const (
	// Statement is the provisional settlement statement of a partner and
	// period: every line the period would invoice, the disputes and the
	// figures. It has no number and is not an invoice.
	Statement Kind = "statement"
	// Invoice is a numbered, issued invoice.
	Invoice Kind = "invoice"
	// CreditNote is a numbered, issued credit note: it credits lines of
	// earlier invoices, named in Corrects and each line's Corrects.
	CreditNote Kind = "credit_note"
)

// Document is one statement, invoice or credit note: everything its
// renderings show, and nothing else, so that the PDF, XLSX, JSON and UBL
// renderings of a stored document are byte-identical whenever they are
// made. Its JSON (MarshalDocument) is the canonical form that is hashed,
// chained and stored.
//
// Amounts on a credit note are positive: it credits them. The signed
// effect of a document on what the buyer owes is Effect().
type Document struct {
	Format    string    `json:"format"`
	Kind      Kind      `json:"kind"`
	Billing   Billing   `json:"billing"`
	Number    string    `json:"number,omitempty"`
	Series    string    `json:"series,omitempty"`
	Sequence  int64     `json:"sequence,omitempty"`
	IssueDate Date      `json:"issue_date"`
	DueDate   *Date     `json:"due_date,omitempty"`
	Period    DocPeriod `json:"period"`
	// Currency and its ISO 4217 minor units: every Money has these digits.
	Currency   string  `json:"currency"`
	MinorUnits int     `json:"minor_units"`
	Seller     Party   `json:"seller"`
	Buyer      Party   `json:"buyer"`
	Payment    Payment `json:"payment"`
	// Corrects lists, on a credit note, the invoices whose lines it credits.
	Corrects     []Reference `json:"corrects,omitempty"`
	Lines        []Line      `json:"lines"`
	TaxBreakdown []TaxRow    `json:"tax_breakdown"`
	Totals       Totals      `json:"totals"`
	// Disputes are the disputed CDRs (never charged): always on a
	// statement, on an invoice when Config.Disputes is ListDisputes.
	Disputes []Disputed `json:"disputes,omitempty"`
	Summary  *Summary   `json:"summary,omitempty"`
	// Days is the net amount by day of the CDRs' end (in the period's
	// zone), rounded per day: the data of the chart. Empty on a credit note.
	Days   []Day  `json:"days,omitempty"`
	Policy string `json:"policy"`
	// InputsSHA256 digests the snapshot of inputs (InputRef rows and the
	// policy) this document was made from.
	InputsSHA256 string `json:"inputs_sha256"`
	// PreviousSHA256 is, on an issued document, the SHA-256 of the issuer's
	// previous document (64 zeros for the first): the chain.
	PreviousSHA256 string   `json:"previous_sha256,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// DocPeriod is the settlement period as documents state it.
type DocPeriod struct {
	Name     string `json:"name"`
	Start    Date   `json:"start"`
	End      Date   `json:"end"` // inclusive
	TimeZone string `json:"time_zone"`
}

// Reference names an issued document.
type Reference struct {
	Number    string `json:"number"`
	IssueDate Date   `json:"issue_date"`
}

// LineRef names one line of an issued invoice.
type LineRef struct {
	Number string `json:"number"`
	Line   int    `json:"line"`
}

// Line is one invoice line: the CDRs of one group under one tax set.
type Line struct {
	No          int    `json:"no"`
	Key         string `json:"key"` // what the line charges; stable across runs
	Description string `json:"description"`
	// CDR is set on per-CDR lines.
	CDR      *CDRRef      `json:"cdr,omitempty"`
	Location LineLocation `json:"location"`
	Tariff   string       `json:"tariff,omitempty"` // tariff version "CC*PID*ID@last_updated"
	Sessions int          `json:"sessions"`
	Energy   Quantity     `json:"energy_kwh"`
	From     time.Time    `json:"from"` // first session start (UTC)
	To       time.Time    `json:"to"`   // last session end (UTC)
	Taxes    []LineTax    `json:"taxes"`
	// Components split Net by cost component; they sum to Net exactly
	// (largest remainder after rounding down).
	Components []ComponentAmount `json:"components"`
	Net        Money             `json:"net"`
	// Digest is the SHA-256 of the line's inputs (every CDR's identity,
	// body hash, tariff version, pricing policy and charges) and its
	// rounded amounts: an unchanged digest means an unchanged line.
	Digest string `json:"digest"`
	// Corrects is set on a credit note's line: the invoice line it credits.
	Corrects *LineRef `json:"corrects,omitempty"`
}

// CDRRef identifies a CDR on a per-CDR line or a dispute.
type CDRRef struct {
	ID     string    `json:"id"` // "CC*PID*ID"
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	EVSEID string    `json:"evse_id,omitempty"`
}

// LineLocation is the location of a line's sessions.
type LineLocation struct {
	ID      string `json:"id"` // "CC*PID*LOCATION"
	Name    string `json:"name,omitempty"`
	City    string `json:"city,omitempty"`
	Country string `json:"country,omitempty"`
}

// LineTax is one tax of a line's tax set. A line without tax has one
// LineTax of the untaxed category.
type LineTax struct {
	Name     string   `json:"name"`               // "VAT", "GST", ...
	Category string   `json:"category,omitempty"` // VAT only: S, Z, E, AE, O
	Rate     *Percent `json:"rate,omitempty"`     // nil: given as an amount only, or untaxed
	Reason   string   `json:"reason,omitempty"`   // exemption reason (E, AE, O)
	// Exact is the exact sum of this tax as priced on the line's CDRs
	// (what TaxFromLines rounds).
	Exact Amount `json:"exact_tax,omitempty"`
}

func (t LineTax) key() string {
	s := t.Name + "/" + t.Category
	if t.Rate != nil {
		s += "/" + t.Rate.String()
	}
	return s
}

// ComponentAmount is a line's share of one cost component.
type ComponentAmount struct {
	Component Component `json:"component"`
	Net       Money     `json:"net"`
}

// TaxRow is one row of the tax breakdown: one tax name, category and rate.
type TaxRow struct {
	Name     string   `json:"name"`
	Category string   `json:"category,omitempty"`
	Rate     *Percent `json:"rate,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Base     Money    `json:"base"` // the sum of the net amounts of the lines taxed so
	Tax      Money    `json:"tax"`
}

func (r TaxRow) key() string {
	return LineTax{Name: r.Name, Category: r.Category, Rate: r.Rate}.key()
}

// Totals of a document. Net is the sum of the lines, Tax the sum of the
// tax breakdown, Gross = Net + Tax, Payable = Gross (nothing is prepaid).
type Totals struct {
	Net     Money `json:"net"`
	Tax     Money `json:"tax"`
	Gross   Money `json:"gross"`
	Payable Money `json:"payable"`
}

// Disputed is one disputed CDR with the evidence.
type Disputed struct {
	CDR        CDRRef       `json:"cdr"`
	Location   LineLocation `json:"location"`
	Verdict    string       `json:"verdict"`
	Status     string       `json:"status,omitempty"`
	Reasons    []string     `json:"reasons"`
	Billed     *Price       `json:"billed,omitempty"`
	Recomputed *Price       `json:"recomputed,omitempty"`
	Difference *Price       `json:"difference,omitempty"` // recomputed - billed
	Periods    []int        `json:"periods,omitempty"`
	Evidence   string       `json:"evidence,omitempty"`
}

// Summary is a statement's count of the period.
type Summary struct {
	CDRs     int `json:"cdrs"`
	Accepted int `json:"accepted"`
	Disputed int `json:"disputed"`
	// DisputedBilled and DisputedRecomputed sum the disputed CDRs' amounts
	// excluding tax, each rounded once.
	DisputedBilled     Money `json:"disputed_billed"`
	DisputedRecomputed Money `json:"disputed_recomputed"`
}

// Day is one day of the chart.
type Day struct {
	Date     Date  `json:"date"`
	Sessions int   `json:"sessions"`
	Net      Money `json:"net"`
}

// Effect returns the document's signed effect on what the buyer owes:
// Totals.Payable for an invoice, its negation for a credit note, zero for
// a statement.
func (d *Document) Effect() Money {
	switch d.Kind {
	case Invoice:
		return d.Totals.Payable
	case CreditNote:
		return d.Totals.Payable.Neg()
	}
	return Money{Digits: d.MinorUnits}
}

// zone is the period's time zone, in which renderings show times (UTC
// when this machine does not know it).
func (d *Document) zone() *time.Location {
	if z, err := time.LoadLocation(d.Period.TimeZone); err == nil {
		return z
	}
	return time.UTC
}

// Title is the document's heading.
func (d *Document) Title() string {
	switch {
	case d.Kind == Statement:
		return "Settlement statement (provisional)"
	case d.Kind == CreditNote && d.Billing == SelfBilling:
		return "Self-billed credit note"
	case d.Kind == CreditNote:
		return "Credit note"
	case d.Billing == SelfBilling:
		return "Self-billed invoice"
	}
	return "Invoice"
}

// Date is a calendar date without a zone, written "2006-01-02".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns t's calendar date in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return DateOf(t), nil
}

// AddDays returns the date n days later.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Time returns midnight UTC of the date.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// MarshalText writes "2006-01-02".
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "2006-01-02".
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	*d = v
	return err
}

// MarshalDocument writes the canonical JSON of a document: two-space
// indentation, fields in declaration order, times in UTC, amounts as
// exact decimal strings, a final newline. It is the .json rendering, and
// its SHA-256 is the document hash.
func MarshalDocument(d *Document) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteDocument(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteDocument writes MarshalDocument's bytes to w, the lines one at a
// time: a per-CDR statement of a large partner has over a million, and
// holding their JSON twice (compact, then indented) took 0.8 GB for
// 300,000.
func WriteDocument(w io.Writer, d *Document) error {
	fail := func(err error) error { return fmt.Errorf("invoicing: encode document %s: %w", d.Number, err) }
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// compact encodes v as encoding/json does, without the newline.
	compact := func(v any) ([]byte, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	head := *d
	if len(d.Lines) > 0 {
		head.Lines = []Line{} // "lines": [], cut where the lines go
	}
	c, err := compact(&head)
	if err != nil {
		return fail(err)
	}
	hb := append(indentJSON(nil, c, "", "  "), '\n')
	if len(d.Lines) == 0 {
		_, err := w.Write(hb)
		return err
	}
	const linesAt = "\n  \"lines\": ["
	i := bytes.Index(hb, []byte(linesAt+"]"))
	if i < 0 {
		return fail(errors.New("JSON head without its lines"))
	}
	i += len(linesAt)
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(hb[:i])
	var line []byte
	for n := range d.Lines {
		c, err := compact(&d.Lines[n])
		if err != nil {
			return fail(err)
		}
		sep := ",\n    "
		if n == 0 {
			sep = "\n    "
		}
		line = indentJSON(append(line[:0], sep...), c, "    ", "  ")
		bw.Write(line)
	}
	bw.WriteString("\n  ")
	bw.Write(hb[i:])
	return bw.Flush()
}

// UnmarshalDocument reads a document written by MarshalDocument.
func UnmarshalDocument(b []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("invoicing: decode document: %w", err)
	}
	if d.Format != FormatVersion {
		return nil, fmt.Errorf("invoicing: document format %q, this build reads %q", d.Format, FormatVersion)
	}
	return &d, nil
}

// DocumentHash returns the SHA-256 of the canonical JSON.
func DocumentHash(canonical []byte) [32]byte { return sha256.Sum256(canonical) }

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }
