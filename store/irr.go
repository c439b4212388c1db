package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
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
