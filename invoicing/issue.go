package invoicing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Issuing: numbers, the chain and corrections. The store keeps issued
// documents through the Ledger interface; everything that decides what is
// issued, and with which number and hash, is here.

// Scope is what one issuance covers: one issuer's documents for one
// partner, period and currency.
type Scope struct {
	Issuer   string // "CC*PID" of the issuing party
	Partner  string // "CC*PID" of the other party
	Period   string // "2026-10"
	Currency string
}

// Issued is one stored document. It never changes once stored.
type Issued struct {
	Scope
	Position  int64 // 1, 2, 3... in the issuer's chain, without gaps
	Kind      Kind
	Series    string
	Sequence  int64 // 1, 2, 3... in the issuer's series, without gaps
	Number    string
	IssueDate Date
	// Document is the canonical JSON (MarshalDocument), the .json rendering.
	Document []byte
	SHA256   [32]byte // of Document
	// Previous is the SHA256 of the issuer's document at Position-1 (zeros
	// for the first); the document's previous_sha256 states it too.
	Previous     [32]byte
	InputsSHA256 [32]byte
	Policy       string
}

// Link is what the chain check reads of one stored document.
type Link struct {
	Position         int64
	Series           string
	Sequence         int64
	Number           string
	SHA256, Previous [32]byte
	// Content is the SHA-256 of the document's bytes as stored now.
	Content [32]byte
}

// Ledger is the store of issued documents (store implements it).
type Ledger interface {
	// Transact runs fn in one transaction: everything fn puts is committed
	// together when it returns nil, and nothing when it fails.
	Transact(ctx context.Context, fn func(LedgerTx) error) error
}

// LedgerTx is one transaction of the ledger.
type LedgerTx interface {
	// Links returns the issuer's chain, by position.
	Links(issuer string) ([]Link, error)
	// Documents returns the documents the issuer issued to the partner for
	// the period, in every currency, by position.
	Documents(issuer, partner, period string) ([]Issued, error)
	// Put stores a new document and the snapshot of its inputs. It must
	// refuse a position or a series number that is already taken.
	Put(doc Issued, inputs []InputRef) error
}

// ErrChain: the stored documents do not form the issuer's unbroken chain
// (a document was changed, removed or inserted).
var ErrChain = errors.New("issued documents do not chain")

// VerifyChain checks an issuer's links: positions 1..n, each document's
// bytes hashing to its stored hash, each previous hash equal to the hash
// before it, and every series numbered 1..m in issue order.
func VerifyChain(links []Link) error {
	var prev [32]byte
	seq := map[string]int64{}
	for i, l := range links {
		switch {
		case l.Position != int64(i+1):
			return fmt.Errorf("%w: position %d found where %d belongs: a document is missing", ErrChain, l.Position, i+1)
		case l.Content != l.SHA256:
			return fmt.Errorf("%w: document %s (position %d) was changed: its bytes no longer hash to the stored hash",
				ErrChain, l.Number, l.Position)
		case l.Previous != prev:
			return fmt.Errorf("%w: document %s (position %d) does not follow the document before it: that one was changed or replaced",
				ErrChain, l.Number, l.Position)
		case l.Sequence != seq[l.Series]+1:
			return fmt.Errorf("%w: document %s has number %d of series %q where %d belongs",
				ErrChain, l.Number, l.Sequence, l.Series, seq[l.Series]+1)
		}
		seq[l.Series] = l.Sequence
		prev = l.SHA256
	}
	return nil
}

// Request is one issuance: the CDRs of a partner's period as they stand.
type Request struct {
	Config Config
	Period Period
	CDRs   []CDR
	// IssueDate is printed on every document this request issues. It is an
	// input, not the clock, so that a run repeated on the same inputs issues
	// the same bytes; settle passes the date the period is finalised.
	IssueDate Date
}

// Result is what an issuance left in the ledger.
type Result struct {
	// New are the documents this call issued, in chain order: empty when
	// the ledger already held documents for exactly these inputs.
	New []Issued
	// All are the documents of the request's scopes after the call,
	// by position (the new ones included).
	All []Issued
}

// Issue finalises a partner's period: it verifies the issuer's chain,
// compares what the CDRs charge now with the lines already invoiced and
// still open, and in one transaction issues what is needed to make the two
// agree: nothing when they do; a credit note for every invoiced line that
// changed or is no longer charged (referencing the invoice and line); a new
// invoice for every line that changed or is new. Issued documents are never
// edited. Numbers and hashes are assigned inside the transaction that
// stores them, so a failed issuance leaves no gap.
func Issue(ctx context.Context, ledger Ledger, req Request) (*Result, error) {
	drafts, err := assemble(req.Config, req.Period, req.CDRs)
	if err != nil {
		return nil, err
	}
	if req.IssueDate.IsZero() {
		return nil, fmt.Errorf("%w: the issue date is required", ErrInput)
	}
	cfg := req.Config
	issuer := cfg.Issuer().Key()
	res := &Result{}
	err = ledger.Transact(ctx, func(tx LedgerTx) error {
		res.New, res.All = nil, nil
		links, err := tx.Links(issuer)
		if err != nil {
			return err
		}
		if err := VerifyChain(links); err != nil {
			return err
		}
		head := chainHead{}
		if n := len(links); n > 0 {
			head = chainHead{position: links[n-1].Position, sha: links[n-1].SHA256}
		}
		last := map[string]int64{}
		for _, l := range links {
			last[l.Series] = l.Sequence
		}
		existing, err := tx.Documents(issuer, cfg.Partner().Key(), req.Period.Name)
		if err != nil {
			return err
		}
		byCurrency := map[string][]Issued{}
		for _, is := range existing {
			byCurrency[is.Currency] = append(byCurrency[is.Currency], is)
		}
		// A currency invoiced before but without CDRs now is planned with
		// an empty draft: its open lines are credited.
		for cur := range byCurrency {
			if !slices.ContainsFunc(drafts, func(d *draft) bool { return d.currency == cur }) {
				digits, _ := ocpi.CurrencyMinorUnits(cur)
				drafts = append(drafts, &draft{cfg: cfg, period: req.Period, currency: cur, digits: digits})
			}
		}
		slices.SortFunc(drafts, func(a, b *draft) int { return strings.Compare(a.currency, b.currency) })
		for _, d := range drafts {
			scope := Scope{Issuer: issuer, Partner: cfg.Partner().Key(), Period: req.Period.Name, Currency: d.currency}
			existing := byCurrency[d.currency]
			docs, err := d.plan(existing, req.IssueDate)
			if err != nil {
				return err
			}
			res.All = append(res.All, existing...)
			for _, p := range docs {
				series := cfg.InvoiceSeries
				if p.doc.Kind == CreditNote {
					series = cfg.CreditNoteSeries
				}
				last[series]++
				p.doc.Series, p.doc.Sequence = series, last[series]
				p.doc.Number = fmt.Sprintf("%s%06d", series, last[series])
				p.doc.PreviousSHA256 = hexHash(head.sha)
				body, err := MarshalDocument(p.doc)
				if err != nil {
					return err
				}
				is := Issued{Scope: scope, Position: head.position + 1, Kind: p.doc.Kind, Series: series,
					Sequence: last[series], Number: p.doc.Number, IssueDate: p.doc.IssueDate, Document: body,
					SHA256: DocumentHash(body), Previous: head.sha, InputsSHA256: p.inputsSHA, Policy: p.doc.Policy}
				if err := tx.Put(is, p.inputs); err != nil {
					return err
				}
				head = chainHead{position: is.Position, sha: is.SHA256}
				res.New = append(res.New, is)
				res.All = append(res.All, is)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

type chainHead struct {
	position int64
	sha      [32]byte
}

// planned is one document to issue, not yet numbered.
type planned struct {
	doc       *Document
	inputs    []InputRef
	inputsSHA [32]byte
}

// openLine is an invoiced line not credited since.
type openLine struct {
	number   string
	issued   Date
	position int64
	line     Line
}

// plan compares the draft's lines with the open lines of the scope's
// issued documents and returns the credit note and invoice to issue, in
// that order (either may be absent).
func (d *draft) plan(existing []Issued, issueDate Date) ([]planned, error) {
	open := map[string]openLine{}
	for _, is := range existing {
		doc, err := UnmarshalDocument(is.Document)
		if err != nil {
			return nil, fmt.Errorf("issued document %s: %w", is.Number, err)
		}
		if doc.Currency != d.currency || doc.MinorUnits != d.digits {
			return nil, fmt.Errorf("issued document %s is in %s, the scope in %s", is.Number, doc.Currency, d.currency)
		}
		switch doc.Kind {
		case Invoice:
			for _, l := range doc.Lines {
				open[l.Key] = openLine{number: doc.Number, issued: doc.IssueDate, position: is.Position, line: l}
			}
		case CreditNote:
			for _, l := range doc.Lines {
				if o, ok := open[l.Key]; ok && l.Corrects != nil && o.number == l.Corrects.Number && o.line.No == l.Corrects.Line {
					delete(open, l.Key)
				}
			}
		}
	}
	var credits []openLine
	var fresh []*lineAcc
	for _, a := range d.lines {
		if o, ok := open[a.Key]; ok {
			delete(open, a.Key)
			if o.line.Digest == a.Digest {
				continue
			}
			credits = append(credits, o)
		}
		fresh = append(fresh, a)
	}
	for _, o := range open {
		credits = append(credits, o)
	}
	slices.SortFunc(credits, func(a, b openLine) int {
		return cmp.Or(cmp.Compare(a.position, b.position), cmp.Compare(a.line.No, b.line.No))
	})
	var out []planned
	if len(credits) > 0 {
		doc := d.base(CreditNote, issueDate)
		doc.Lines = make([]Line, len(credits))
		for i, o := range credits {
			l := o.line
			l.No = i + 1
			l.Corrects = &LineRef{Number: o.number, Line: o.line.No}
			doc.Lines[i] = l
			if len(doc.Corrects) == 0 || doc.Corrects[len(doc.Corrects)-1].Number != o.number {
				doc.Corrects = append(doc.Corrects, Reference{Number: o.number, IssueDate: o.issued})
			}
		}
		out = append(out, planned{doc: doc, inputsSHA: d.complete(doc, nil, doc.Lines)})
	}
	if len(fresh) > 0 {
		doc := d.base(Invoice, issueDate)
		doc.Lines = lineValues(fresh)
		if d.cfg.Disputes == ListDisputes {
			doc.Disputes = d.disputes
		}
		doc.Days = d.days(fresh)
		inputs := d.inputs(fresh, doc.Lines)
		out = append(out, planned{doc: doc, inputs: inputs, inputsSHA: d.complete(doc, inputs, nil)})
	}
	return out, nil
}
