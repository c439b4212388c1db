package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/roamsettle/roamsettle/settle"
)

// The Parquet exports for BI tools: the period's priced CDRs (with the
// reconciliation's verdict), priced lines and disputes, written by
// DuckDB's COPY with PARTITION_BY (partner, period), so that
// parquet/TABLE/partner=CC-PID/period=PERIOD/TABLE.parquet is a hive
// layout DuckDB, Spark or Trino read in place (the partition columns are
// in the path, not in the files). Rows are ordered by CDR id (then line);
// amounts keep their DECIMAL types; an owner without rows in a table gets
// an empty file with the table's schema, so a re-export never leaves an
// earlier file behind.

// parquetQueries are the exports' SELECTs over report_scope (and the runs
// CTE), each with the partner and period columns first.
var parquetQueries = map[string]string{
	"priced_cdrs": `SELECT s.country_code || '-' || s.party_id AS partner, ?::VARCHAR AS period,
			coalesce(c.id_as_sent, c.id) AS cdr_id, c.start_date_time, c.end_date_time, c.location_id, c.evse_uid, c.connector_id,
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
		ORDER BY partner, cdr_id, s.cdr_key`,
	"priced_lines": `SELECT s.country_code || '-' || s.party_id AS partner, ?::VARCHAR AS period,
			coalesce(c.id_as_sent, c.id) AS cdr_id, l.period_index, d.name AS dimension, l.element_index,
			l.quantity, l.billed_quantity, l.unit_price, l.vat, l.amount_excl_vat, l.amount_incl_vat, c.currency
		FROM report_scope s JOIN cdrs c USING (cdr_key)
		JOIN priced_lines l ON l.run_no = s.run_no AND l.cdr_key = s.cdr_key
		JOIN dimension_types d ON d.code = l.dimension
		ORDER BY partner, cdr_id, s.cdr_key, l.period_index, l.dimension, l.element_index`,
	"disputes": `SELECT d.country_code || '-' || d.party_id AS partner, d.period,
			coalesce(c.id_as_sent, c.id, d.cdr_id) AS cdr_id, st.state, d.verdict, d.reasons, d.codes, d.currency,
			d.billed_excl AS billed_excl_vat, d.billed_incl AS billed_incl_vat,
			d.recomputed_excl AS recomputed_excl_vat, d.recomputed_incl AS recomputed_incl_vat,
			d.in_dispute_excl AS in_dispute_excl_vat, d.in_dispute_incl AS in_dispute_incl_vat, d.evidence
		FROM disputes d JOIN runs r USING (country_code, party_id) JOIN st USING (country_code, party_id, cdr_id)
		LEFT JOIN cdrs c ON c.country_code = d.country_code AND c.party_id = d.party_id AND c.id = d.cdr_id
		WHERE d.period = ? AND st.state <> 'withdrawn'
		ORDER BY partner, cdr_id`,
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
	if err := os.MkdirAll(filepath.Join(dir, ".copy"), 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, table := range settle.ParquetTables {
		query := with + parquetQueries[table]
		args := append(append([]any{}, rargs...), period)
		raw := filepath.Join(dir, ".copy", table)
		_, err := q.ExecContext(ctx, `COPY (`+query+`) TO `+sqlString(raw)+` (FORMAT parquet, COMPRESSION zstd,
			PARTITION_BY (partner, period), FILENAME_PATTERN `+sqlString(table+"_{i}")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", table, err)
		}
		for _, o := range owners {
			part := filepath.Join(raw, "partner="+o.party.String(), "period="+period)
			written, err := parquetFiles(part)
			if err != nil {
				return nil, err
			}
			final := settle.ParquetPath(table, o.party, period)
			dst := filepath.Join(dir, filepath.FromSlash(final))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			switch len(written) {
			case 0:
				// No rows: an empty file with the table's schema.
				_, err = q.ExecContext(ctx, `COPY (SELECT * EXCLUDE (partner, period) FROM (`+query+`) WHERE false) TO `+
					sqlString(dst)+` (FORMAT parquet, COMPRESSION zstd)`, args...)
			case 1:
				err = os.Rename(written[0], dst)
			default:
				err = fmt.Errorf("copy %s: DuckDB wrote %d files for %s, want one", table, len(written), part)
			}
			if err != nil {
				return nil, err
			}
			files = append(files, final)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, ".copy")); err != nil {
		return nil, err
	}
	return files, nil
}

// parquetFiles lists the .parquet files DuckDB wrote into one partition
// directory (none when the partition had no rows).
func parquetFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".parquet") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
