package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/settle"
)

// LatestInvoiceRaw returns the raw payload of the newest stored version of
// a 2.3.0 invoice reconciliation record (newest last_updated, then newest
// receipt), or ErrNotFound. Withdrawn records keep their versions.
func (s *Store) LatestInvoiceRaw(ctx context.Context, countryCode, partyID, id string) ([]byte, error) {
	object := ocpi.PartyKey(countryCode, partyID) + "*" + ocpi.Key(id)
	var seg int
	var off, size int64
	err := s.db.QueryRowContext(ctx, `SELECT r.segment, r.byte_offset, r.size FROM invoice_reconciliations i
		JOIN raw_payloads r ON r.sha256 = i.raw_sha256
		WHERE i.country_code = ? AND i.party_id = ? AND i.id = ?
		ORDER BY i.last_updated DESC, i.received_at DESC LIMIT 1`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id)).Scan(&seg, &off, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errorf("latest invoice reconciliation", object, ErrNotFound)
	}
	if err != nil {
		return nil, errorf("latest invoice reconciliation", object, err)
	}
	raw, err := s.raw.read(seg, off, size)
	return raw, errorf("latest invoice reconciliation", object, err)
}

// WithdrawInvoice records that the owner withdrew an invoice reconciliation
// record (an OCPI DELETE). No version row is deleted.
func (s *Store) WithdrawInvoice(ctx context.Context, countryCode, partyID, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO invoice_reconciliation_withdrawals VALUES (?, ?, ?, ?)`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id), at.UTC())
	return errorf("withdraw invoice reconciliation", ocpi.PartyKey(countryCode, partyID)+"*"+ocpi.Key(id), err)
}

// InvoiceWithdrawnAt returns the latest withdrawal of an invoice
// reconciliation record, if one was recorded.
func (s *Store) InvoiceWithdrawnAt(ctx context.Context, countryCode, partyID, id string) (time.Time, bool, error) {
	var at sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT max(withdrawn_at) FROM invoice_reconciliation_withdrawals
		WHERE country_code = ? AND party_id = ? AND id = ?`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id)).Scan(&at)
	return utc(at), at.Valid, errorf("invoice reconciliation withdrawn", ocpi.PartyKey(countryCode, partyID)+"*"+ocpi.Key(id), err)
}

// StoredInvoices returns the owner's 2.3.0 invoice reconciliation records
// that name a CDR of the selection: of each record its newest version
// (newest last_updated, then newest receipt) with its CDR ids in order. A
// record withdrawn after its newest version was received is left out.
func (s *Store) StoredInvoices(ctx context.Context, sel *settle.Selection) ([]*ocpi.InvoiceReconciliationRecord, error) {
	owner := sel.Owner
	scope, args := scopeSQL(sel, "id")
	q := `WITH latest AS (
			SELECT irr_key, country_code, party_id, id, coalesce(id_as_sent, id) AS id_as_sent, coalesce(invoice_id, '') AS invoice_id,
				last_updated, received_at
			FROM invoice_reconciliations WHERE country_code = ? AND party_id = ?
			QUALIFY row_number() OVER (PARTITION BY id ORDER BY last_updated DESC, received_at DESC, irr_key DESC) = 1),
		live AS (
			SELECT l.* FROM latest l
			WHERE NOT EXISTS (SELECT 1 FROM invoice_reconciliation_withdrawals w
				WHERE w.country_code = l.country_code AND w.party_id = l.party_id AND w.id = l.id AND w.withdrawn_at >= l.received_at)),
		named AS (
			SELECT DISTINCT x.irr_key FROM invoice_reconciliation_cdrs x JOIN live USING (irr_key)
			JOIN (SELECT id FROM ` + scope + `) c ON c.id = upper(trim(x.cdr_id)))
		SELECT l.irr_key, l.id_as_sent, l.invoice_id, l.last_updated, x.cdr_id
		FROM live l JOIN named USING (irr_key) JOIN invoice_reconciliation_cdrs x USING (irr_key)
		ORDER BY l.id, x.position`
	rows, err := s.db.QueryContext(ctx, q, append([]any{ocpi.Key(owner.CountryCode), ocpi.Key(owner.PartyID)}, args...)...)
	if err != nil {
		return nil, errorf("stored invoices", owner.String(), err)
	}
	defer rows.Close()
	var out []*ocpi.InvoiceReconciliationRecord
	last := int64(-1)
	for rows.Next() {
		var key int64
		var id, invoice, cdr string
		var lu time.Time
		if err := rows.Scan(&key, &id, &invoice, &lu, &cdr); err != nil {
			return nil, errorf("stored invoices", owner.String(), err)
		}
		if key != last {
			out = append(out, &ocpi.InvoiceReconciliationRecord{Version: ocpi.V230, CountryCode: owner.CountryCode,
				PartyID: owner.PartyID, ID: id, InvoiceID: invoice, LastUpdated: lu.UTC()})
			last = key
		}
		r := out[len(out)-1]
		r.CDRs = append(r.CDRs, cdr)
	}
	return out, errorf("stored invoices", owner.String(), rows.Err())
}
