package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/roamsettle/roamsettle/settle"
)

// What the whole job (settle.RunJob) reads of a scope besides pricing's
// Source: the owners in it, and a description of every stored input it
// reads, which settle digests to know whether two runs settle the same
// inputs.

var _ settle.ScopeReader = (*Store)(nil)

// ScopeOwners implements settle.ScopeReader.
func (s *Store) ScopeOwners(ctx context.Context, sel *settle.Selection) ([]settle.Party, error) {
	counts, err := s.ScopeOwnerCDRs(ctx, sel)
	out := make([]settle.Party, len(counts))
	for i, c := range counts {
		out[i] = c.Owner
	}
	return out, err
}

// ScopeOwnerCDRs implements settle.ReconcileSource.
func (s *Store) ScopeOwnerCDRs(ctx context.Context, sel *settle.Selection) ([]settle.OwnerCDRs, error) {
	scope, args := scopeSQL(sel, "country_code, party_id")
	rows, err := s.db.QueryContext(ctx, `SELECT country_code, party_id, count(*) FROM `+scope+` GROUP BY ALL ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, errorf("scope owners", "", err)
	}
	defer rows.Close()
	var out []settle.OwnerCDRs
	for rows.Next() {
		var c settle.OwnerCDRs
		if err := rows.Scan(&c.Owner.CountryCode, &c.Owner.PartyID, &c.CDRs); err != nil {
			return nil, errorf("scope owners", "", err)
		}
		out = append(out, c)
	}
	return out, errorf("scope owners", "", rows.Err())
}

// PricedInputs implements settle.ScopeReader: the inputs digest stored
// with the run's priced rows ("" when none or written outside the job).
func (s *Store) PricedInputs(ctx context.Context, run settle.Run) (string, error) {
	var d sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT any_value(inputs_digest) FROM reprice_runs WHERE run_id = ?`, run.ID()).Scan(&d)
	return d.String, errorf("priced inputs", run.ID(), err)
}

// ScopeInputs implements settle.ScopeReader. Each part is a row count and
// two order-independent aggregates of DuckDB's 64-bit hash of each row's
// identity and content hash (their sum and their exclusive or): CDRs by
// the period rule; the tariff versions, withdrawals, location versions and
// invoice reconciliation records of the scope's owner (every owner's for
// the all-partners scope, as pricing reads them); and the dispute moves
// people made (the states a run sets itself, raised, withdrawn and
// revised, are results, not inputs). Rows are immutable and append-only,
// so a new one changes its part's count. DuckDB's hash is stable for a
// given DuckDB build: an upgrade that changed it would make the next run
// settle again once.
func (s *Store) ScopeInputs(ctx context.Context, sel *settle.Selection) ([]settle.InputPart, error) {
	scope, args := scopeSQL(sel, "country_code, party_id, id, body_sha256")
	owner, oargs := "true", []any(nil)
	if !sel.Owner.IsZero() {
		owner, oargs = "country_code = ? AND party_id = ?", []any{sel.Owner.CountryCode, sel.Owner.PartyID}
	}
	parts := []struct {
		name, rowHash, from string
		args                []any
	}{
		{"cdrs", "hash(country_code, party_id, id, body_sha256)", scope, args},
		{"tariff_versions", "hash(country_code, party_id, id, last_updated, tariff_key)", "tariffs WHERE " + owner, oargs},
		{"tariff_withdrawals", "hash(country_code, party_id, id, withdrawn_at)", "tariff_withdrawals WHERE " + owner, oargs},
		{"location_versions", "hash(country_code, party_id, id, last_updated, body_sha256)", "locations WHERE " + owner, oargs},
		{"invoice_reconciliations", "hash(country_code, party_id, id, last_updated, body_sha256)", "invoice_reconciliations WHERE " + owner, oargs},
		{"dispute_moves", "hash(country_code, party_id, cdr_id, seq, state, event_at)",
			"dispute_events WHERE state NOT IN ('raised', 'withdrawn', 'revised') AND " + owner, oargs},
	}
	out := make([]settle.InputPart, 0, len(parts))
	for _, p := range parts {
		var n int64
		var sum, xor string
		q := `SELECT count(*), coalesce(sum(` + p.rowHash + `), 0)::VARCHAR, coalesce(bit_xor(` + p.rowHash + `), 0)::VARCHAR FROM ` + p.from
		if err := s.db.QueryRowContext(ctx, q, p.args...).Scan(&n, &sum, &xor); err != nil {
			return nil, errorf("scope inputs", p.name, err)
		}
		out = append(out, settle.InputPart{Name: p.name, Rows: n, Hash: sum + "/" + xor})
	}
	return out, nil
}

// SetRunInputs records what a running run settles (JSON) and the policy it
// settles under; reset forgets the steps and files an earlier attempt
// recorded, when that attempt settled other inputs.
func (s *Store) SetRunInputs(ctx context.Context, runNo int64, inputs, policy []byte, reset bool) error {
	object := fmt.Sprintf("run %d", runNo)
	s.runMu.Lock()
	defer s.runMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return errorf("run inputs", object, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE runs SET inputs = ?, policy = ? WHERE run_no = ? AND status = 'running'`,
		jsonText(inputs), jsonText(policy), runNo)
	if err != nil {
		return errorf("run inputs", object, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errorf("run inputs", object, ErrRunNotRunning)
	}
	if reset {
		for _, t := range []string{"run_steps", "run_outputs"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE run_no = ?`, runNo); err != nil {
				return errorf("run inputs", object, err)
			}
		}
	}
	return errorf("run inputs", object, tx.Commit())
}
