package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/roamsettle/roamsettle/settle"
)

// The invoice step's reads (settle.InvoiceSource): a partner's CDRs of the
// period with their priced row in a run, the VAT rates of their priced
// lines per component, and their dispute with its current state.

var (
	_ settle.InvoiceSource       = (*Store)(nil)
	_ settle.InvoicePeriodSource = (*Store)(nil)
)

// micro reads a DECIMAL(18,6) column as an int64 count of millionths.
func micro(col string) string { return `CAST(` + col + ` * 1000000 AS BIGINT)` }

var totalColumns = []string{"total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
	"total_reservation_cost"}

// InvoiceRows implements settle.InvoiceSource: every CDR of the selection
// that the run priced (or could not price), ordered by identity.
func (s *Store) InvoiceRows(ctx context.Context, priced settle.Run, sel *settle.Selection) ([]settle.InvoiceRow, error) {
	runID := priced.ID()
	var runNo sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT any_value(run_no) FROM reprice_runs WHERE run_id = ?`, runID).Scan(&runNo); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	if !runNo.Valid {
		return nil, errorf("invoice rows", runID, fmt.Errorf("%w: the run has priced nothing", ErrNotFound))
	}
	scope, args := scopeSQL(sel, "*")
	var cols []string
	for _, t := range totalColumns {
		cols = append(cols, micro("p."+t+"_excl_vat"), micro("p."+t+"_incl_vat"))
	}
	for _, t := range totalColumns {
		cols = append(cols, micro("c."+t+"_excl_vat"), micro("c."+t+"_incl_vat"))
	}
	q := `WITH c AS (SELECT * FROM ` + scope + `),
	state AS (SELECT country_code, party_id, cdr_id, arg_max(state, seq) AS state FROM dispute_events GROUP BY ALL)
	SELECT c.cdr_key, c.country_code, c.party_id, c.id, c.body_sha256, c.start_date_time, c.end_date_time,
		coalesce(c.location_id, ''), coalesce(c.location_name, ''), coalesce(c.location_address, ''),
		coalesce(c.location_city, ''), coalesce(c.location_postal_code, ''), coalesce(c.location_country, ''),
		coalesce(c.evse_id, ''), coalesce(c.currency, ''), ` + micro("c.total_energy") + `, c.credit,
		coalesce(c.credit_reference_id, ''),
		p.status, coalesce(t.country_code, ''), coalesce(t.party_id, ''), coalesce(t.id, ''), t.last_updated,
		coalesce(t.policy, ''), p.flags, ` + strings.Join(cols, ", ") + `,
		d.verdict, d.reasons, coalesce(d.evidence, ''), coalesce(st.state, 'raised'),
		` + micro("d.billed_excl") + `, ` + micro("d.billed_incl") + `, ` + micro("d.recomputed_excl") + `, ` + micro("d.recomputed_incl") + `
	FROM c JOIN priced_cdrs p ON p.cdr_key = c.cdr_key AND p.run_no = ?
	LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref
	LEFT JOIN disputes d ON d.country_code = c.country_code AND d.party_id = c.party_id AND d.cdr_id = c.id
	LEFT JOIN state st ON st.country_code = c.country_code AND st.party_id = c.party_id AND st.cdr_id = c.id
	ORDER BY c.country_code, c.party_id, c.id`
	rows, err := s.db.QueryContext(ctx, q, append(args, runNo.Int64)...)
	if err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	defer rows.Close()
	var out []settle.InvoiceRow
	index := map[int64]int{}
	for rows.Next() {
		var r settle.InvoiceRow
		var key int64
		var sha []byte
		var start, end, tariffUpdated sql.NullTime
		var energy sql.NullInt64
		var status uint8
		var totals [2 * settle.NumTotals]sql.NullInt64
		var verdict sql.NullString
		var reasons stringList
		var evidence, state string
		var dis [4]sql.NullInt64
		dest := []any{&key, &r.CountryCode, &r.PartyID, &r.ID, &sha, &start, &end,
			&r.Location.ID, &r.Location.Name, &r.Location.Address, &r.Location.City, &r.Location.PostalCode, &r.Location.Country,
			&r.Location.EVSEID, &r.Currency, &energy, &r.Credit, &r.CreditReference,
			&status, &r.Tariff.CountryCode, &r.Tariff.PartyID, &r.Tariff.ID, &tariffUpdated, &r.PricingPolicy, &r.Flags}
		for i := range totals {
			dest = append(dest, &totals[i])
		}
		dest = append(dest, &verdict, &reasons, &evidence, &state, &dis[0], &dis[1], &dis[2], &dis[3])
		if err := rows.Scan(dest...); err != nil {
			return nil, errorf("invoice rows", runID, err)
		}
		copy(r.BodySHA256[:], sha)
		r.Start, r.End = start.Time.UTC(), end.Time.UTC()
		if tariffUpdated.Valid {
			r.Tariff.LastUpdated = tariffUpdated.Time.UTC()
		}
		r.Energy, r.EnergyValid = energy.Int64, energy.Valid
		r.Priced = status == settle.PricedOK
		for i := range settle.NumTotals {
			r.Computed[i] = totals[i].Int64
			r.Billed[i], r.BilledValid[i] = totals[settle.NumTotals+i].Int64, totals[settle.NumTotals+i].Valid
		}
		if verdict.Valid {
			d := &settle.StoredDispute{Verdict: verdict.String, State: state, Evidence: evidence, Reasons: []string(reasons),
				BilledExcl: dis[0].Int64, HasBilledExcl: dis[0].Valid, BilledIncl: dis[1].Int64, HasBilledIncl: dis[1].Valid,
				RecomputedExcl: dis[2].Int64, HasRecomputedExcl: dis[2].Valid, RecomputedIncl: dis[3].Int64, HasRecomputedIncl: dis[3].Valid}
			r.Dispute = d
		}
		index[key] = len(out)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	if err := s.invoiceRates(ctx, runNo.Int64, sel, index, out); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	return out, nil
}

// invoiceRates fills each row's VAT rates from its priced lines.
func (s *Store) invoiceRates(ctx context.Context, runNo int64, sel *settle.Selection, index map[int64]int, out []settle.InvoiceRow) error {
	scope, args := scopeSQL(sel, "cdr_key")
	rows, err := s.db.QueryContext(ctx, `SELECT l.cdr_key, l.dimension, count(*), count(l.vat),
			`+micro("min(l.vat)")+`, `+micro("max(l.vat)")+`
		FROM priced_lines l WHERE l.run_no = ? AND l.cdr_key IN (SELECT cdr_key FROM `+scope+`)
		GROUP BY ALL`, append([]any{runNo}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key int64
		var dim uint8
		var n, nv int
		var lo, hi sql.NullInt64
		if err := rows.Scan(&key, &dim, &n, &nv, &lo, &hi); err != nil {
			return err
		}
		i, ok := index[key]
		k := settle.RateIndex(dim)
		if !ok || k < 0 {
			continue
		}
		out[i].Rates[k] = settle.LineRate{Lines: n, Valid: nv == n, Mixed: nv > 0 && (nv < n || lo.Int64 != hi.Int64), Rate: lo.Int64}
	}
	return rows.Err()
}

// NewestPriced implements settle.InvoicePeriodSource: the newest re-pricing
// whose rows cover the owner's period, its own ('reprice:P/CC-PID') or
// every owner's ('reprice:P/*'), by finished_at, as the reports choose it
// (reportRuns).
func (s *Store) NewestPriced(ctx context.Context, period settle.Period, owner settle.Party) (settle.Run, bool, error) {
	own := settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: period, Partner: owner}}
	all := settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: period}}
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT run_id FROM reprice_runs WHERE run_id IN (?, ?) ORDER BY finished_at DESC, run_id LIMIT 1`,
		own.ID(), all.ID()).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return settle.Run{}, false, nil
	case err != nil:
		return settle.Run{}, false, errorf("newest priced", own.ID(), err)
	case id == own.ID():
		return own, true, nil
	}
	return all, true, nil
}
