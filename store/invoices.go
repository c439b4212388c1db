package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/roamsettle/roamsettle/invoicing"
)

// Issued invoices and credit notes (migrations/0006_invoices.sql): the
// store's side of invoicing.Ledger. invoicing decides what is issued, with
// which number and hash; the store keeps it in one transaction, refuses a
// position or number out of sequence, and never changes a stored row.

// ErrOutOfSequence: a document put at a position or number that is not the
// next one (taken, or leaving a gap).
var ErrOutOfSequence = errors.New("out of sequence")

// InvoiceLedger is the store's invoicing.Ledger.
type InvoiceLedger struct {
	s *Store
	// mu runs one issuance at a time in this process; a second process
	// cannot open the database (DuckDB has one writer).
	mu sync.Mutex
}

// Invoices returns the ledger of issued documents.
func (s *Store) Invoices() *InvoiceLedger { return &InvoiceLedger{s: s} }

var _ invoicing.Ledger = (*InvoiceLedger)(nil)

// Transact runs fn in one transaction on one connection: the documents and
// snapshots it puts are committed together when fn returns nil, and rolled
// back otherwise.
func (l *InvoiceLedger) Transact(ctx context.Context, fn func(invoicing.LedgerTx) error) (err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	conn, err := l.s.db.Conn(ctx)
	if err != nil {
		return errorf("issue", "", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return errorf("issue", "", err)
	}
	defer func() {
		if err != nil {
			if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
			}
		}
	}()
	if err := fn(&invoiceTx{ctx: ctx, conn: conn}); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return errorf("issue", "", fmt.Errorf("commit: %w", err))
	}
	return nil
}

type invoiceTx struct {
	ctx  context.Context
	conn *sql.Conn
}

// Links reads the issuer's chain; Content is DuckDB's SHA-256 of the
// stored document, so the documents themselves are not read.
func (t *invoiceTx) Links(issuer string) ([]invoicing.Link, error) {
	rows, err := t.conn.QueryContext(t.ctx, `SELECT position, series, sequence, number, sha256, previous_sha256,
		sha256(document) FROM invoice_documents WHERE issuer = ? ORDER BY position`, issuer)
	if err != nil {
		return nil, errorf("invoice chain", issuer, err)
	}
	defer rows.Close()
	var out []invoicing.Link
	for rows.Next() {
		var l invoicing.Link
		var sha, prev []byte
		var content string
		if err := rows.Scan(&l.Position, &l.Series, &l.Sequence, &l.Number, &sha, &prev, &content); err != nil {
			return nil, errorf("invoice chain", issuer, err)
		}
		l.SHA256, l.Previous = hash32(sha), hash32(prev)
		if c, err := hex.DecodeString(content); err == nil {
			l.Content = hash32(c)
		}
		out = append(out, l)
	}
	return out, errorf("invoice chain", issuer, rows.Err())
}

func hash32(b []byte) (h [32]byte) {
	copy(h[:], b)
	return h
}

const documentColumns = `issuer, partner, period, currency, position, kind, series, sequence, number, issue_date,
	document, sha256, previous_sha256, inputs_sha256, policy`

// Documents reads what the issuer issued to the partner for the period.
func (t *invoiceTx) Documents(issuer, partner, period string) ([]invoicing.Issued, error) {
	rows, err := t.conn.QueryContext(t.ctx, `SELECT `+documentColumns+` FROM invoice_documents
		WHERE issuer = ? AND partner = ? AND period = ? ORDER BY position`, issuer, partner, period)
	if err != nil {
		return nil, errorf("issued documents", issuer+" "+partner+" "+period, err)
	}
	defer rows.Close()
	var out []invoicing.Issued
	for rows.Next() {
		var d invoicing.Issued
		var kind string
		var issued time.Time
		var doc string
		var sha, prev, inputs []byte
		if err := rows.Scan(&d.Issuer, &d.Partner, &d.Period, &d.Currency, &d.Position, &kind, &d.Series, &d.Sequence,
			&d.Number, &issued, &doc, &sha, &prev, &inputs, &d.Policy); err != nil {
			return nil, errorf("issued documents", issuer, err)
		}
		d.Kind, d.IssueDate, d.Document = invoicing.Kind(kind), invoicing.DateOf(issued.UTC()), []byte(doc)
		d.SHA256, d.Previous, d.InputsSHA256 = hash32(sha), hash32(prev), hash32(inputs)
		out = append(out, d)
	}
	return out, errorf("issued documents", issuer, rows.Err())
}

// Put stores a document and its snapshot. The position must follow the
// issuer's last one and name its hash, and the number must follow the
// series' last one; the table's keys refuse a taken position or number
// even so.
func (t *invoiceTx) Put(d invoicing.Issued, inputs []invoicing.InputRef) error {
	var last, lastSeq int64
	var lastSHA []byte
	err := t.conn.QueryRowContext(t.ctx, `SELECT coalesce(max(position), 0),
		coalesce(arg_max(sha256, position), ''::BLOB) FROM invoice_documents WHERE issuer = ?`, d.Issuer).Scan(&last, &lastSHA)
	if err == nil {
		err = t.conn.QueryRowContext(t.ctx, `SELECT coalesce(max(sequence), 0) FROM invoice_documents
			WHERE issuer = ? AND series = ?`, d.Issuer, d.Series).Scan(&lastSeq)
	}
	if err != nil {
		return errorf("put document", d.Number, err)
	}
	switch {
	case d.Position != last+1 || d.Previous != hash32(lastSHA):
		return errorf("put document", d.Number, fmt.Errorf("%w: position %d after %d, or not chained to it", ErrOutOfSequence, d.Position, last))
	case d.Sequence != lastSeq+1:
		return errorf("put document", d.Number, fmt.Errorf("%w: number %d of series %q after %d", ErrOutOfSequence, d.Sequence, d.Series, lastSeq))
	}
	_, err = t.conn.ExecContext(t.ctx, `INSERT INTO invoice_documents (`+documentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?)`,
		d.Issuer, d.Partner, d.Period, d.Currency, d.Position, string(d.Kind), d.Series, d.Sequence, d.Number,
		// Copies: the driver hands the bytes to cgo, which refuses a pointer
		// into a struct that holds other pointers.
		d.IssueDate.String(), string(d.Document), bytes.Clone(d.SHA256[:]), bytes.Clone(d.Previous[:]),
		bytes.Clone(d.InputsSHA256[:]), d.Policy)
	if err != nil {
		return errorf("put document", d.Number, err)
	}
	if len(inputs) == 0 {
		return nil
	}
	tb := newInputsTable(len(inputs))
	for _, in := range inputs {
		r := tb.row()
		r.str(d.Issuer)
		r.i64(d.Position)
		r.i32(in.Line)
		r.str(in.CountryCode)
		r.str(in.PartyID)
		r.str(in.ID)
		r.blob(in.BodySHA256[:])
		r.optStr(in.Tariff.CountryCode)
		r.optStr(in.Tariff.PartyID)
		r.optStr(in.Tariff.ID)
		r.ts(in.Tariff.LastUpdated)
		r.optStr(in.PricingPolicy)
		r.next().(*array.Decimal128Builder).Append(decimal128.FromI64(int64(in.Net)))
		r.boolean(in.Disputed)
		r.end()
	}
	return errorf("put document inputs", d.Number, insertTables(t.ctx, t.conn, tb))
}

var netType = &arrow.Decimal128Type{Precision: 38, Scale: invoicing.Scale}

func newInputsTable(n int) *table {
	t := newTable("invoice_inputs", col("issuer", strType), col("position", i64), col("line", i32),
		col("country_code", strType), col("party_id", strType), col("cdr_id", strType), col("body_sha256", blobType),
		col("tariff_country_code", strType), col("tariff_party_id", strType), col("tariff_id", strType),
		col("tariff_last_updated", tsType), col("pricing_policy", strType), col("net", netType), col("disputed", bool_))
	t.reserve(n)
	return t
}

// InvoiceInputs returns the snapshot stored with the issuer's document at
// the position, in line order.
func (l *InvoiceLedger) InvoiceInputs(ctx context.Context, issuer string, position int64) ([]invoicing.InputRef, error) {
	object := issuer + " #" + strconv.FormatInt(position, 10)
	rows, err := l.s.db.QueryContext(ctx, `SELECT line, country_code, party_id, cdr_id, body_sha256, tariff_country_code,
		tariff_party_id, tariff_id, tariff_last_updated, pricing_policy, net, disputed FROM invoice_inputs
		WHERE issuer = ? AND position = ? ORDER BY rowid`, issuer, position)
	if err != nil {
		return nil, errorf("invoice inputs", object, err)
	}
	defer rows.Close()
	var out []invoicing.InputRef
	for rows.Next() {
		var in invoicing.InputRef
		var body []byte
		var tcc, tpid, tid, policy sql.NullString
		var tlu sql.NullTime
		var net nullDecimal
		if err := rows.Scan(&in.Line, &in.CountryCode, &in.PartyID, &in.ID, &body, &tcc, &tpid, &tid, &tlu, &policy, &net, &in.Disputed); err != nil {
			return nil, errorf("invoice inputs", object, err)
		}
		in.BodySHA256 = hash32(body)
		in.Tariff = invoicing.TariffVersion{CountryCode: tcc.String, PartyID: tpid.String, ID: tid.String, LastUpdated: utc(tlu)}
		in.PricingPolicy = policy.String
		if in.Net, err = invoicing.AmountFromDecimal(net.Decimal); err != nil {
			return nil, errorf("invoice inputs", object, err)
		}
		out = append(out, in)
	}
	return out, errorf("invoice inputs", object, rows.Err())
}
