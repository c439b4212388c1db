package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/roamsettle/roamsettle/settle"
)

// The Parquet exports for BI tools: the period's priced CDRs (with the
// reconciliation's verdict), priced lines and disputes, each owner's rows
// written by DuckDB's COPY straight into
// parquet/TABLE/partner=CC-PID/period=PERIOD/TABLE.parquet, a hive layout
// DuckDB, Spark or Trino read in place (the partition columns are in the
// path, not in the files). Rows are ordered by CDR id (then line); amounts
// keep their DECIMAL types; an owner without rows in a table gets an empty
// file with the table's schema, so a re-export never leaves an earlier
// file behind. One COPY per owner and table, not one COPY with
// PARTITION_BY: DuckDB's partitioned writer flushes its row groups in the
// order its threads fill them, so a month's file was neither in CDR order
// nor the same bytes twice.

// parquetQueries are the exports' SELECTs over report_scope (and the runs
// CTE) for one owner, whose country code and party id are their last
// arguments.
var parquetQueries = map[string]string{
	"priced_cdrs": `SELECT coalesce(c.id_as_sent, c.id) AS cdr_id, c.start_date_time, c.end_date_time, c.location_id, c.evse_uid, c.connector_id,
			c.currency, CASE p.status WHEN 0 THEN 'priced' ELSE 'not_priceable' END AS status, x.reason AS not_priced_reason,
			m.message, CASE p.priced_by WHEN 1 THEN 'kernel' WHEN 2 THEN 'reference' END AS priced_by,
			t.id AS tariff_id, t.last_updated AS tariff_last_updated, t.source AS tariff_source, t.policy AS pricing_policy,
			z.time_zone, z.zone_source, p.flags,
			p.total_cost_excl_vat, p.total_cost_incl_vat, p.total_fixed_cost_excl_vat, p.total_fixed_cost_incl_vat,
			p.total_energy_cost_excl_vat, p.total_energy_cost_incl_vat, p.total_time_cost_excl_vat, p.total_time_cost_incl_vat,
			p.total_parking_cost_excl_vat, p.total_parking_cost_incl_vat, p.total_reservation_cost_excl_vat,
			p.total_reservation_cost_incl_vat,
			c.total_cost_excl_vat AS billed_total_cost_excl_vat, c.total_cost_incl_vat AS billed_total_cost_incl_vat,
			p.total_cost_excl_vat - c.total_cost_excl_vat AS difference_excl_vat,
			p.total_cost_incl_vat - c.total_cost_incl_vat AS difference_incl_vat,
			p.embedded_total_cost_excl_vat, p.embedded_total_cost_incl_vat,
			s.verdict, s.reasons, s.verdict IS NOT NULL AND s.disputed AS disputed
		FROM report_scope s JOIN cdrs c USING (cdr_key)
		JOIN priced_cdrs p ON p.run_no = s.run_no AND p.cdr_key = s.cdr_key
		JOIN priced_zones z ON z.run_no = p.run_no AND z.zone_ref = p.zone_ref
		LEFT JOIN priced_reasons x ON x.run_no = p.run_no AND x.reason_ref = p.reason_ref
		LEFT JOIN priced_messages m ON m.run_no = p.run_no AND m.message_ref = p.message_ref
		LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref
		WHERE s.country_code = ? AND s.party_id = ?
		ORDER BY cdr_id, s.cdr_key`,
	"priced_lines": `SELECT coalesce(c.id_as_sent, c.id) AS cdr_id, l.period_index, d.name AS dimension, l.element_index,
			l.quantity, l.billed_quantity, l.unit_price, l.vat, l.amount_excl_vat, l.amount_incl_vat, c.currency
		FROM report_scope s JOIN cdrs c USING (cdr_key)
		JOIN priced_lines l ON l.run_no = s.run_no AND l.cdr_key = s.cdr_key
		JOIN dimension_types d ON d.code = l.dimension
		WHERE s.country_code = ? AND s.party_id = ?
		ORDER BY cdr_id, s.cdr_key, l.period_index, l.dimension, l.element_index`,
	"disputes": `SELECT coalesce(c.id_as_sent, c.id, d.cdr_id) AS cdr_id, st.state, d.verdict, d.reasons, d.codes, d.currency,
			d.billed_excl AS billed_excl_vat, d.billed_incl AS billed_incl_vat,
			d.recomputed_excl AS recomputed_excl_vat, d.recomputed_incl AS recomputed_incl_vat,
			d.in_dispute_excl AS in_dispute_excl_vat, d.in_dispute_incl AS in_dispute_incl_vat, d.evidence
		FROM disputes d JOIN runs r USING (country_code, party_id) JOIN st USING (country_code, party_id, cdr_id)
		LEFT JOIN cdrs c ON c.country_code = d.country_code AND c.party_id = d.party_id AND c.id = d.cdr_id
		WHERE d.period = ? AND st.state <> 'withdrawn' AND d.country_code = ? AND d.party_id = ?
		ORDER BY cdr_id`,
}

// parquetArgs are a table's query arguments after the runs CTE's.
func parquetArgs(table, period string, owner settle.Party) []any {
	if table == "disputes" {
		return []any{period, owner.CountryCode, owner.PartyID}
	}
	return []any{owner.CountryCode, owner.PartyID}
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func exportParquet(ctx context.Context, q querier, ownRun int32, sel *settle.Selection, period, dir string) ([]string, error) {
	g, err := gather(ctx, q, ownRun, sel, period)
	if err != nil {
		return nil, err
	}
	defer g.drop(ctx)
	return g.exportParquet(ctx, period, dir)
}

// exportParquet writes the exports of the gathered rows.
func (g *reportScope) exportParquet(ctx context.Context, period, dir string) ([]string, error) {
	q, owners := g.q, g.owners
	if len(owners) == 0 {
		return nil, nil
	}
	runs, rargs := runsSQL(owners)
	with := `WITH ` + runs + `, ` + disputeStateSQL + ` `
	var files []string
	for _, table := range settle.ParquetTables {
		for _, o := range owners {
			final := settle.ParquetPath(table, o.party, period)
			dst := filepath.Join(dir, filepath.FromSlash(final))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			args := append(append([]any{}, rargs...), parquetArgs(table, period, o.party)...)
			_, err := q.ExecContext(ctx, `COPY (`+with+parquetQueries[table]+`) TO `+sqlString(dst)+` (FORMAT parquet, COMPRESSION zstd)`, args...)
			if err != nil {
				return nil, fmt.Errorf("copy %s of %s: %w", table, o.party, err)
			}
			files = append(files, final)
		}
	}
	return files, nil
}
