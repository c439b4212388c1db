package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// Reconciliation results and disputes (migrations/0007_reconcile.sql).

// amountArgs are an amount's two sides as DECIMAL(18,6) parameters (nil:
// not stated).
func amountArgs(a reconcile.Amount) (any, any) {
	var e, i any
	if a.HasExcl {
		e = reconcile.FromMicro(a.Excl).StringFixed(reconcile.Scale)
	}
	if a.HasIncl {
		i = reconcile.FromMicro(a.Incl).StringFixed(reconcile.Scale)
	}
	return e, i
}

func reasonList(rs []reconcile.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = "'" + string(r) + "'"
	}
	return "[" + strings.Join(s, ",") + "]"
}

// insertRows inserts rows of n columns in multi-row statements; cast, when
// set, gives a column's SQL around its placeholder ("?::VARCHAR[]").
func insertRows(ctx context.Context, tx *sql.Tx, table string, n int, cast map[int]string, rows [][]any) error {
	const per = 256
	for from := 0; from < len(rows); from += per {
		chunk := rows[from:min(from+per, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " VALUES ")
		args := make([]any, 0, len(chunk)*n)
		for r, row := range chunk {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := range n {
				if c > 0 {
					b.WriteByte(',')
				}
				if x, ok := cast[c]; ok {
					b.WriteString(x)
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
			args = append(args, row...)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
	}
	return nil
}

// SaveReconcile writes a reconcile run (replacing the previous run of the
// same id), raises the report's disputes that are new (one per CDR
// identity: a dispute raised before keeps its evidence and lifecycle), and
// moves every open dispute of the partner whose CDR a stored credit CDR now
// references to revised. All in one transaction.
func (s *Store) SaveReconcile(ctx context.Context, runID string, rep *reconcile.Report, jsonReport []byte, at time.Time) (raised, revised int, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, errorf("save reconcile", runID, err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, errorf("save reconcile", runID, err)
	}
	raised, revised, err = writeReconcile(ctx, conn, tx, &settle.ReconcileRecord{ID: runID, Report: rep, JSON: jsonReport, At: at})
	if err == nil {
		err = tx.Commit()
	} else {
		tx.Rollback()
	}
	return raised, revised, errorf("save reconcile", runID, err)
}

// reviseDisputes appends a revised event to each open dispute of the
// partner whose CDR a stored credit CDR references.
func reviseDisputes(ctx context.Context, tx *sql.Tx, partner string, at time.Time) (int, error) {
	cc, pid, ok := strings.Cut(partner, "-")
	if !ok {
		return 0, nil
	}
	rows, err := tx.QueryContext(ctx, `WITH last AS (
			SELECT country_code, party_id, cdr_id, max(seq) AS seq FROM dispute_events
			WHERE country_code = ? AND party_id = ? GROUP BY ALL)
		SELECT e.cdr_id, e.seq, e.state, min(c.id)
		FROM last l JOIN dispute_events e USING (country_code, party_id, cdr_id, seq)
		JOIN cdrs c ON c.country_code = e.country_code AND c.party_id = e.party_id AND c.credit
			AND upper(c.credit_reference_id) = e.cdr_id
		GROUP BY ALL ORDER BY e.cdr_id`, cc, pid)
	if err != nil {
		return 0, err
	}
	var events [][]any
	for rows.Next() {
		var id, state, credit string
		var seq int
		if err := rows.Scan(&id, &seq, &state, &credit); err != nil {
			rows.Close()
			return 0, err
		}
		if reconcile.CanMove(reconcile.DisputeState(state), reconcile.DisputeRevised) != nil {
			continue
		}
		events = append(events, []any{cc, pid, id, seq + 1, string(reconcile.DisputeRevised), at.UTC(), "reconcile",
			"credit CDR " + credit + " received", credit})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	return len(events), insertRows(ctx, tx, "dispute_events", 9, nil, events)
}

// DisputeFilter selects disputes; zero fields select all.
type DisputeFilter struct {
	CountryCode, PartyID string
	Period               string
	State                reconcile.DisputeState
	CDRID                string
}

// Disputes returns the disputes the filter selects with their events, by
// identity.
func (s *Store) Disputes(ctx context.Context, f DisputeFilter) ([]*reconcile.Dispute, error) {
	q := `SELECT country_code, party_id, cdr_id, period, coalesce(currency, ''), verdict, reasons, codes,
			billed_excl, billed_incl, recomputed_excl, recomputed_incl, in_dispute_excl, in_dispute_incl, evidence
		FROM disputes WHERE true`
	var args []any
	if f.CountryCode != "" {
		q += ` AND country_code = ? AND party_id = ?`
		args = append(args, ocpi.Key(f.CountryCode), ocpi.Key(f.PartyID))
	}
	if f.Period != "" {
		q += ` AND period = ?`
		args = append(args, f.Period)
	}
	if f.CDRID != "" {
		q += ` AND cdr_id = ?`
		args = append(args, ocpi.Key(f.CDRID))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY country_code, party_id, cdr_id`, args...)
	if err != nil {
		return nil, errorf("disputes", "", err)
	}
	var out []*reconcile.Dispute
	byKey := map[string]*reconcile.Dispute{}
	for rows.Next() {
		d := &reconcile.Dispute{}
		var reasons, codes stringList
		dec := make([]nullDecimal, 6)
		if err := rows.Scan(&d.CountryCode, &d.PartyID, &d.CDRID, &d.Period, &d.Currency, &d.Verdict, &reasons, &codes,
			&dec[0], &dec[1], &dec[2], &dec[3], &dec[4], &dec[5], &d.Evidence); err != nil {
			rows.Close()
			return nil, errorf("disputes", "", err)
		}
		for _, r := range reasons {
			d.Reasons = append(d.Reasons, reconcile.Reason(r))
		}
		for _, c := range codes {
			d.Codes = append(d.Codes, reconcile.Code(c))
		}
		d.MinorUnits, _ = ocpi.CurrencyMinorUnits(d.Currency)
		amt := func(e, i nullDecimal) reconcile.Amount {
			return reconcile.Amount{Excl: reconcile.Micro(e.Decimal), Incl: reconcile.Micro(i.Decimal), HasExcl: e.Valid, HasIncl: i.Valid}
		}
		d.Billed, d.Recomputed, d.InDispute = amt(dec[0], dec[1]), amt(dec[2], dec[3]), amt(dec[4], dec[5])
		out = append(out, d)
		byKey[d.Key()] = d
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, errorf("disputes", "", err)
	}
	ev, err := s.db.QueryContext(ctx, `SELECT country_code, party_id, cdr_id, seq, state, event_at, event_by, coalesce(note, ''), coalesce(credit_cdr, '')
		FROM dispute_events ORDER BY country_code, party_id, cdr_id, seq`)
	if err != nil {
		return nil, errorf("dispute events", "", err)
	}
	defer ev.Close()
	for ev.Next() {
		var cc, pid, id string
		var e reconcile.DisputeEvent
		if err := ev.Scan(&cc, &pid, &id, &e.Seq, &e.State, &e.At, &e.By, &e.Note, &e.CreditCDR); err != nil {
			return nil, errorf("dispute events", "", err)
		}
		e.At = e.At.UTC()
		if d := byKey[reconcile.IdentityKey(cc, pid, id)]; d != nil {
			d.Events = append(d.Events, e)
		}
	}
	if err := ev.Err(); err != nil {
		return nil, errorf("dispute events", "", err)
	}
	if f.State == "" {
		return out, nil
	}
	kept := out[:0]
	for _, d := range out {
		if d.State() == f.State {
			kept = append(kept, d)
		}
	}
	return kept, nil
}

// MoveDispute appends a state change to a dispute, after the lifecycle
// allows it.
func (s *Store) MoveDispute(ctx context.Context, countryCode, partyID, cdrID string, to reconcile.DisputeState, by, note string, at time.Time) (reconcile.DisputeEvent, error) {
	ds, err := s.Disputes(ctx, DisputeFilter{CountryCode: countryCode, PartyID: partyID, CDRID: cdrID})
	if err != nil {
		return reconcile.DisputeEvent{}, err
	}
	if len(ds) == 0 {
		return reconcile.DisputeEvent{}, fmt.Errorf("no dispute for CDR %s of %s: %w", cdrID, ocpi.PartyKey(countryCode, partyID), ErrNotFound)
	}
	d := ds[0]
	e, err := d.Move(to, at, by, note)
	if err != nil {
		return e, err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO dispute_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(cdrID), e.Seq, string(e.State), e.At, e.By, e.Note)
	return e, errorf("move dispute", d.Key(), err)
}

// PricedAsOf returns when the newest reprice run covering the owner's
// period finished (its own scope, or every owner), and when the newest
// CDR, tariff or location version of the owner was received: priced rows
// older than that are stale.
func (s *Store) PricedAsOf(ctx context.Context, period, countryCode, partyID string) (priced, inputs time.Time, ok bool, err error) {
	cc, pid := ocpi.Key(countryCode), ocpi.Key(partyID)
	var p, c sql.NullTime
	if cc == "" && pid == "" {
		// Every owner: the scope-wide run, and every owner's inputs.
		err = s.db.QueryRowContext(ctx, `SELECT (SELECT max(finished_at) FROM reprice_runs WHERE run_id = ?),
			greatest((SELECT max(received_at) FROM cdrs), (SELECT max(received_at) FROM tariffs), (SELECT max(received_at) FROM locations))`,
			"reprice:"+period+"/*").Scan(&p, &c)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT
				(SELECT max(finished_at) FROM reprice_runs WHERE run_id IN (?, ?)),
				greatest((SELECT max(received_at) FROM cdrs WHERE country_code = ? AND party_id = ?),
					(SELECT max(received_at) FROM tariffs WHERE country_code = ? AND party_id = ?),
					(SELECT max(received_at) FROM locations WHERE country_code = ? AND party_id = ?))`,
			"reprice:"+period+"/"+cc+"-"+pid, "reprice:"+period+"/*", cc, pid, cc, pid, cc, pid).Scan(&p, &c)
	}
	if err != nil {
		return time.Time{}, time.Time{}, false, errorf("priced as of", cc+"-"+pid, err)
	}
	return p.Time.UTC(), c.Time.UTC(), p.Valid, nil
}
