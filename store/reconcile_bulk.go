package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// The reconcile step's store side (settle.ReconcileReader on the run's
// writer, settle.ReconcileSource on the store): the priced rows of the run
// are read back through the run's own transaction (they are not committed
// yet), the CDRs' billed columns and periods as Arrow batches in key
// ranges, and the results are written as Arrow batches in the same
// transaction (migrations/0011_reconcile_step.sql).

var (
	_ settle.ReconcileReader = (*PricedWriter)(nil)
	_ settle.ReconcileSource = (*Store)(nil)
)

// WholeCDRs implements settle.ReconcileSource.
func (s *Store) WholeCDRs(ctx context.Context, keys []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
	return s.cdrsWithProblems(ctx, keys)
}

// PricedDictionaries implements settle.ReconcileReader: the tariffs and
// zones the run's priced rows name.
func (w *PricedWriter) PricedDictionaries(ctx context.Context) ([]settle.PricedTariff, []settle.PricedZone, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT tariff_ref, source, tariff_key, coalesce(country_code, ''), coalesce(party_id, ''),
			coalesce(id, ''), coalesce(currency, ''), policy FROM priced_tariffs WHERE run_no = ? ORDER BY tariff_ref`, w.runNo)
	if err != nil {
		return nil, nil, errorf("priced dictionaries", w.runID, err)
	}
	var ts []settle.PricedTariff
	for rows.Next() {
		var t settle.PricedTariff
		if err := rows.Scan(&t.Ref, &t.Source, &t.Key, &t.CountryCode, &t.PartyID, &t.ID, &t.Currency, &t.Policy); err != nil {
			rows.Close()
			return nil, nil, errorf("priced dictionaries", w.runID, err)
		}
		ts = append(ts, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, nil, errorf("priced dictionaries", w.runID, err)
	}
	rows, err = w.tx.QueryContext(ctx, `SELECT time_zone, zone_source, coalesce(note, '') FROM priced_zones WHERE run_no = ? ORDER BY zone_ref`, w.runNo)
	if err != nil {
		return nil, nil, errorf("priced dictionaries", w.runID, err)
	}
	defer rows.Close()
	var zs []settle.PricedZone
	for rows.Next() {
		var z settle.PricedZone
		if err := rows.Scan(&z.TimeZone, &z.Source, &z.Note); err != nil {
			return nil, nil, errorf("priced dictionaries", w.runID, err)
		}
		zs = append(zs, z)
	}
	return ts, zs, errorf("priced dictionaries", w.runID, rows.Err())
}

// micro64 is a DECIMAL(18,6) column in millionths.
func micro64(col, as string) string { return `CAST(` + col + ` * 1000000 AS BIGINT) AS ` + as }

var pricedRowSQL = func() string {
	cols := []string{"cdr_key", "status", "priced_by", "tariff_ref", "zone_ref", "flags"}
	for i, n := range totalNames {
		cols = append(cols, micro64(n, fmt.Sprintf("t%d", i)))
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM priced_cdrs WHERE cdr_key BETWEEN $lo AND $hi AND run_no = $run AND %s`
}()

const reconcilePeriodSQL = `SELECT cdr_key, epoch_us(start_date_time) AS start_us,
	CAST(energy * 1000000 AS BIGINT) AS energy, CAST(time * 1000000 AS BIGINT) AS time,
	CAST(parking_time * 1000000 AS BIGINT) AS parking_time, CAST(reservation_time * 1000000 AS BIGINT) AS reservation_time,
	CAST(period_index AS INTEGER) AS period_index
FROM charging_periods WHERE cdr_key BETWEEN $lo AND $hi AND %s`

// missingSQL is true when ruleMissing could find a required field missing
// (a superset: the CDR is then evaluated whole).
const missingSQL = `(coalesce(id_as_sent, id) = ''
	OR (version <> '2.1.1' AND (coalesce(country_code_as_sent, country_code) = '' OR coalesce(party_id_as_sent, party_id) = ''))
	OR start_date_time IS NULL OR start_date_time = TIMESTAMPTZ '1970-01-01 00:00:00+00'
	OR end_date_time IS NULL OR end_date_time = TIMESTAMPTZ '1970-01-01 00:00:00+00'
	OR CASE WHEN version = '2.1.1' THEN coalesce(token_contract_id, '') = ''
		ELSE coalesce(token_uid, '') = '' OR coalesce(token_type, '') = '' OR coalesce(token_contract_id, '') = '' END
	OR coalesce(location_id, '') = '' OR coalesce(location_address, '') = '' OR coalesce(location_city, '') = ''
	OR coalesce(location_country, '') = ''
	OR (version <> '2.1.1' AND (coalesce(evse_uid, '') = '' OR coalesce(evse_id, '') = '' OR coalesce(connector_id, '') = ''))
	OR coalesce(currency, '') = '' OR total_cost_excl_vat IS NULL OR blocking)`

var reconcileCDRSQL = func() string {
	cols := []string{"cdr_key", "coalesce(country_code_as_sent, country_code) AS country_code",
		"coalesce(party_id_as_sent, party_id) AS party_id", "coalesce(id_as_sent, id) AS id", "upper(currency) AS currency",
		"version = '2.1.1' AS v211", "credit",
		missingSQL + ` OR cdr_key IN (SELECT object_key FROM findings WHERE kind = 'cdr' AND object_key BETWEEN $lo AND $hi) AS suspect`,
		"epoch_us(start_date_time) AS start_us", "epoch_us(end_date_time) AS end_us"}
	for i, n := range []string{"total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_reservation_cost"} {
		cols = append(cols, micro64(n+"_excl_vat", fmt.Sprintf("b%d", 2*i)), micro64(n+"_incl_vat", fmt.Sprintf("b%d", 2*i+1)))
	}
	cols = append(cols, micro64("total_energy", "total_energy"), micro64("total_time", "total_time"),
		micro64("total_parking_time", "total_parking_time"), "%s", contextSQL+" AS context", "invoice_reference_id",
		"CASE WHEN credit THEN credit_reference_id END AS credit_reference_id")
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM cdrs WHERE %s AND cdr_key BETWEEN $lo AND $hi`
}()

// ScanReconcile implements settle.ReconcileReader.
func (w *PricedWriter) ScanReconcile(ctx context.Context, sel *settle.Selection, minKey, maxKey int64, tokens bool,
	priced, periods, cdrs func(arrow.RecordBatch) error) error {
	filter, args := selectionSQL(sel)
	tok := "NULL::VARCHAR AS token_uid, NULL::VARCHAR AS token_contract_id"
	if tokens {
		tok = "token_uid, token_contract_id"
	}
	// The selection's placeholders are positional: number them after $lo, $hi.
	n := 2 // the last placeholder's number
	numbered := strings.Builder{}
	for _, ch := range filter {
		if ch == '?' {
			n++
			fmt.Fprintf(&numbered, "$%d", n)
			continue
		}
		numbered.WriteRune(ch)
	}
	// When CDRs of several partners arrive interleaved (nightly pulls, a
	// hub's pushes), a partner's keys span the whole period, and its key
	// range alone would read every partner's rows (on a month pulled day
	// by day, each of 20 partners read the whole month's periods): the
	// priced rows and periods are then those of the selection's CDRs.
	// When most of the range is the selection's (every partner's month,
	// or one partner's stored partner by partner), that semi-join costs
	// more than the rows it spares (2.3 of 3.7 s for 10 M priced rows),
	// and the range alone bounds them.
	var inScope int64
	if err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM cdrs WHERE `+filter+` AND cdr_key BETWEEN ? AND ?`,
		append(slices.Clip(args), minKey, maxKey)...).Scan(&inScope); err != nil {
		return errorf("scan reconcile", w.runID, err)
	}
	scoped := append([]any{minKey, maxKey}, args...)
	only, onlyArgs := `cdr_key IN (SELECT cdr_key FROM cdrs WHERE `+numbered.String()+` AND cdr_key BETWEEN $lo AND $hi)`, scoped
	if 2*inScope > maxKey-minKey+1 {
		only, onlyArgs = "TRUE", scoped[:2:2]
	}
	at := strings.NewReplacer("$lo", "$1", "$hi", "$2", "$run", fmt.Sprintf("$%d", len(onlyArgs)+1))
	err := w.arrowQuery(ctx, at.Replace(fmt.Sprintf(pricedRowSQL, only)), append(slices.Clip(onlyArgs), w.runNo), len(settle.PricedRowColumns), priced)
	if err == nil {
		err = w.arrowQuery(ctx, at.Replace(fmt.Sprintf(reconcilePeriodSQL, only)), onlyArgs, len(settle.ReconcilePeriodColumns), periods)
	}
	if err == nil {
		err = w.arrowQuery(ctx, at.Replace(fmt.Sprintf(reconcileCDRSQL, tok, numbered.String())), scoped, len(settle.ReconcileCDRColumns), cdrs)
	}
	return errorf("scan reconcile", w.runID, err)
}

// arrowQuery runs an Arrow query on the writer's connection, inside its
// transaction.
func (w *PricedWriter) arrowQuery(ctx context.Context, q string, args []any, columns int, fn func(arrow.RecordBatch) error) error {
	return arrowQueryOn(ctx, w.conn, q, args, columns, fn)
}

// WriteReconcile implements settle.ReconcileReader.
func (w *PricedWriter) WriteReconcile(ctx context.Context, rec *settle.ReconcileRecord) (raised, revised int, err error) {
	raised, revised, err = writeReconcile(ctx, w.conn, w.tx, rec)
	return raised, revised, errorf("save reconcile", rec.ID, err)
}

// BeginReconcile starts a reconciliation on its own over the priced rows of
// the newest reprice run that covers the scope (its own or every owner's):
// the writer reads them and stores the results in one transaction.
func (s *Store) BeginReconcile(ctx context.Context, scope settle.Scope) (*PricedWriter, error) {
	id := "reconcile:" + scope.String()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, errorf("begin reconcile", id, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, errorf("begin reconcile", id, err)
	}
	w := &PricedWriter{conn: conn, tx: tx, runID: id, reconcileOnly: true}
	ids := []any{settle.Run{Kind: settle.KindReprice, Scope: scope}.ID(),
		settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: scope.Period}}.ID()}
	if err := tx.QueryRowContext(ctx, `SELECT run_no FROM reprice_runs WHERE run_id IN (?, ?) ORDER BY finished_at DESC LIMIT 1`,
		ids...).Scan(&w.runNo); err != nil {
		w.Rollback()
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("the period was never priced: %w", ErrNotFound)
		}
		return nil, errorf("begin reconcile", id, err)
	}
	return w, nil
}

// PricedRunNo is the number of the reprice run whose priced rows the
// writer reads.
func (w *PricedWriter) PricedRunNo() int32 { return w.runNo }

// writeReconcile writes one owner's reconciliation in tx (conn is tx's
// connection, for the Arrow inserts).
func writeReconcile(ctx context.Context, conn *sql.Conn, tx *sql.Tx, rec *settle.ReconcileRecord) (raised, revised int, err error) {
	rep, runID := rec.Report, rec.ID
	// A run id keeps its number from one run to the next; a new one takes
	// the sequence's next, which no concurrent transaction can take too
	// (its accepted rows are deleted by number).
	runNo, err := reconcileRunNo(ctx, tx, runID)
	if err != nil {
		return 0, 0, err
	}
	if runNo == 0 {
		if err = tx.QueryRowContext(ctx, `SELECT nextval('reconcile_run_no')`).Scan(&runNo); err != nil {
			return 0, 0, err
		}
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM reconcile_accepted WHERE run_no = ?`, runNo); err != nil {
		return 0, 0, err
	}
	for _, t := range []string{"reconcile_runs", "reconcile_cdrs", "reconcile_findings", "reconcile_invoice_lines"} {
		if _, err = tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE run_id = ?`, runID); err != nil {
			return 0, 0, err
		}
	}
	sm := rep.Summary()
	var settleRun any
	if rec.Settle != "" {
		settleRun = rec.Settle
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO reconcile_runs BY NAME SELECT ? AS run_id, ? AS period, ? AS partner,
			? AS finished_at, ? AS cdrs, ? AS ok, ? AS mismatch, ? AS not_verifiable, ? AS disputed, ? AS report, ? AS settle_run,
			? AS run_no`,
		runID, rep.Period, rep.Partner, rec.At.UTC(), sm.CDRs, sm.OK, sm.Mismatch, sm.NotVerifiable, sm.Disputed,
		string(rec.JSON), settleRun, runNo); err != nil {
		return 0, 0, err
	}
	if err = insertReconcileCDRs(ctx, conn, runID, runNo, rep); err != nil {
		return 0, 0, err
	}
	if err = insertFindings(ctx, conn, runID, rep.Findings); err != nil {
		return 0, 0, err
	}
	if rep.Invoice != nil {
		var rows [][]any
		for _, l := range rep.Invoice.Lines {
			rows = append(rows, []any{runID, l.File, l.Line, l.CDRID, string(l.Class), l.Note})
		}
		if err = insertRows(ctx, tx, "reconcile_invoice_lines", 6, nil, rows); err != nil {
			return 0, 0, err
		}
	}
	if raised, err = raiseDisputes(ctx, conn, tx, rep.Partner, rep.Period, rep.Disputes, rec.At); err != nil {
		return 0, 0, fmt.Errorf("raise disputes: %w", err)
	}
	if revised, err = reviseDisputes(ctx, tx, rep.Partner, rec.At); err != nil {
		return 0, 0, fmt.Errorf("revise disputes: %w", err)
	}
	return raised, revised, nil
}

// reconcileRunNo is the number of a reconciliation's run id, 0 when it has
// none (never run, or run before 0013_reconcile_accepted.sql).
func reconcileRunNo(ctx context.Context, q querier, runID string) (int32, error) {
	var no sql.NullInt32
	err := q.QueryRowContext(ctx, `SELECT max(run_no) FROM reconcile_runs WHERE run_id = ?`, runID).Scan(&no)
	return no.Int32, err
}

// arrowInsert registers the columns as a view and runs stmt (which names
// the view as %s) on conn.
func arrowInsert(ctx context.Context, conn *sql.Conn, name, stmt string, fields []arrow.Field, cols []arrow.Array) error {
	if len(cols) == 0 || cols[0].Len() == 0 {
		for _, c := range cols {
			c.Release()
		}
		return nil
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, cols, int64(cols[0].Len()))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	return conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
		if err != nil {
			return err
		}
		defer rr.Release()
		execer := dc.(driver.ExecerContext)
		return withArrowView(ctx, ar, execer, rr, name, func(view string) error {
			_, err := execer.ExecContext(ctx, fmt.Sprintf(stmt, view), nil)
			return err
		})
	})
}

// columns collects named Arrow columns.
type columns struct {
	fields []arrow.Field
	cols   []arrow.Array
}

func (c *columns) add(name string, a arrow.Array) {
	c.fields = append(c.fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
	c.cols = append(c.cols, a)
}

func joinReasons(rs []reconcile.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// listSQL turns a comma-joined column into a VARCHAR[] (” is []).
func listSQL(col string) string {
	return `CASE WHEN ` + col + ` = '' THEN []::VARCHAR[] ELSE string_split(` + col + `, ',') END`
}

// reconcileBatch is how many result rows one Arrow insert carries.
const reconcileBatch = 1 << 18

// insertReconcileCDRs writes one row per CDR: the evaluated ones with their
// strings into reconcile_cdrs, the accepted ones (most of a period) by key
// and as numbers into reconcile_accepted, under the run's number: their
// identity and currency are their CDR's (0013_reconcile_accepted.sql).
func insertReconcileCDRs(ctx context.Context, conn *sql.Conn, runID string, runNo int32, rep *reconcile.Report) error {
	mem := memory.DefaultAllocator
	amounts := func(c *columns, get func(i int) [3]reconcile.Amount, n int) {
		names := [6]string{"billed_excl", "billed_incl", "recomputed_excl", "recomputed_incl", "difference_excl", "difference_incl"}
		var v [6][]int64
		var ok [6][]bool
		for j := range 6 {
			v[j], ok[j] = make([]int64, n), make([]bool, n)
		}
		for i := range n {
			for k, a := range get(i) { // once per row: the difference is computed
				v[2*k][i], ok[2*k][i] = a.Excl, a.HasExcl
				v[2*k+1][i], ok[2*k+1][i] = a.Incl, a.HasIncl
			}
		}
		for j := range 6 {
			c.add(names[j], decimalArray(mem, decType, v[j], ok[j]))
		}
	}
	evs := rep.Evaluations
	for from := 0; from < len(evs); from += reconcileBatch {
		part := evs[from:min(from+reconcileBatch, len(evs))]
		n := len(part)
		var c columns
		str := func(name string, f func(ev *reconcile.Evaluation) string, emptyIsNull bool) {
			v := make([]string, n)
			for i, ev := range part {
				v[i] = f(ev)
			}
			c.add(name, stringArray(mem, v, emptyIsNull))
		}
		str("country_code", func(ev *reconcile.Evaluation) string { return ocpi.Key(ev.CountryCode) }, false)
		str("party_id", func(ev *reconcile.Evaluation) string { return ocpi.Key(ev.PartyID) }, false)
		str("cdr_id", func(ev *reconcile.Evaluation) string { return ev.ID }, false)
		str("verdict", func(ev *reconcile.Evaluation) string { return string(ev.Verdict) }, false)
		str("reasons", func(ev *reconcile.Evaluation) string { return joinReasons(ev.Reasons) }, false)
		str("currency", func(ev *reconcile.Evaluation) string { return ev.Currency }, false)
		str("note", func(ev *reconcile.Evaluation) string { return ev.Note }, true) // NULL when none, as the accepted rows
		amounts(&c, func(i int) [3]reconcile.Amount {
			ev := part[i]
			return [3]reconcile.Amount{ev.Billed[reconcile.TotalCost], ev.Recomputed[reconcile.TotalCost], ev.Difference()}
		}, n)
		stmt := `INSERT INTO reconcile_cdrs BY NAME SELECT '` + sqlQuote(runID) + `' AS run_id, country_code, party_id, cdr_id,
			verdict, ` + listSQL("reasons") + ` AS reasons, currency, billed_excl, billed_incl, recomputed_excl, recomputed_incl,
			difference_excl, difference_incl, note FROM %s`
		if err := arrowInsert(ctx, conn, "stage_reconcile_cdrs", stmt, c.fields, c.cols); err != nil {
			return fmt.Errorf("insert reconcile_cdrs: %w", err)
		}
	}
	acc := rep.Accepted
	for from := 0; from < len(acc); from += reconcileBatch {
		part := acc[from:min(from+reconcileBatch, len(acc))]
		n := len(part)
		var c columns
		keys := make([]int64, n)
		for i := range part {
			keys[i] = part[i].Key
		}
		c.add("cdr_key", int64Array(mem, keys, nil))
		amounts(&c, func(i int) [3]reconcile.Amount {
			a := &part[i]
			return [3]reconcile.Amount{a.Billed, a.Recomputed, a.Difference()}
		}, n)
		stmt := `INSERT INTO reconcile_accepted BY NAME SELECT ` + strconv.Itoa(int(runNo)) + ` AS run_no, * FROM %s`
		if err := arrowInsert(ctx, conn, "stage_reconcile_accepted", stmt, c.fields, c.cols); err != nil {
			return fmt.Errorf("insert reconcile_accepted: %w", err)
		}
	}
	return nil
}

func sqlQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }

func insertFindings(ctx context.Context, conn *sql.Conn, runID string, fs []reconcile.Finding) error {
	mem := memory.DefaultAllocator
	for from := 0; from < len(fs); from += reconcileBatch {
		part := fs[from:min(from+reconcileBatch, len(fs))]
		var c columns
		str := func(name string, f func(x *reconcile.Finding) string) {
			v := make([]string, len(part))
			for i := range part {
				v[i] = f(&part[i])
			}
			c.add(name, stringArray(mem, v, false))
		}
		str("country_code", func(x *reconcile.Finding) string { return ocpi.Key(x.CountryCode) })
		str("party_id", func(x *reconcile.Finding) string { return ocpi.Key(x.PartyID) })
		str("cdr_id", func(x *reconcile.Finding) string { return x.CDRID })
		str("code", func(x *reconcile.Finding) string { return string(x.Code) })
		str("severity", func(x *reconcile.Finding) string { return string(x.Severity) })
		str("field", func(x *reconcile.Finding) string { return x.Field })
		str("message", func(x *reconcile.Finding) string { return x.Message })
		b := array.NewBooleanBuilder(mem)
		for i := range part {
			b.Append(part[i].Blocking)
		}
		c.add("blocking", b.NewArray())
		b.Release()
		stmt := `INSERT INTO reconcile_findings BY NAME SELECT '` + sqlQuote(runID) + `' AS run_id, * FROM %s`
		if err := arrowInsert(ctx, conn, "stage_reconcile_findings", stmt, c.fields, c.cols); err != nil {
			return fmt.Errorf("insert reconcile_findings: %w", err)
		}
	}
	return nil
}

// disputeChangedSQL is true when a dispute's stored row (d) differs from
// the run's (r) in a column the run sets: a nightly run that finds the same
// disputes again rewrites none of them (an UPDATE rewrites every row it
// matches, evidence and all, into the WAL and the next checkpoint).
const disputeChangedSQL = `(d.period IS DISTINCT FROM r.period OR d.currency IS DISTINCT FROM r.currency
	OR d.verdict IS DISTINCT FROM r.verdict OR d.reasons IS DISTINCT FROM r.reasons OR d.codes IS DISTINCT FROM r.codes
	OR d.billed_excl IS DISTINCT FROM r.billed_excl OR d.billed_incl IS DISTINCT FROM r.billed_incl
	OR d.recomputed_excl IS DISTINCT FROM r.recomputed_excl OR d.recomputed_incl IS DISTINCT FROM r.recomputed_incl
	OR d.in_dispute_excl IS DISTINCT FROM r.in_dispute_excl OR d.in_dispute_incl IS DISTINCT FROM r.in_dispute_incl
	OR d.evidence IS DISTINCT FROM r.evidence)`

// raiseDisputes records the run's disputes, set by set: a new one is
// inserted with its raised event; one still raised (not sent yet) gets the
// run's evidence; a withdrawn one is raised again with it. A dispute of the
// period still raised that the run no longer finds is withdrawn. Sent and
// later disputes keep the evidence they were sent with.
func raiseDisputes(ctx context.Context, conn *sql.Conn, tx *sql.Tx, partner, period string, ds []*reconcile.Dispute, at time.Time) (int, error) {
	cc, pid, _ := strings.Cut(partner, "-")
	if _, err := tx.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE dispute_state AS
		SELECT e.cdr_id, e.state, e.seq FROM dispute_events e
		JOIN (SELECT cdr_id, max(seq) AS seq FROM dispute_events WHERE country_code = ? AND party_id = ? GROUP BY ALL) l
		USING (cdr_id, seq) WHERE e.country_code = ? AND e.party_id = ?`, cc, pid, cc, pid); err != nil {
		return 0, err
	}
	defer tx.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS dispute_state`)
	if _, err := tx.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE dispute_run (cdr_id VARCHAR, period VARCHAR, currency VARCHAR,
		verdict VARCHAR, reasons VARCHAR[], codes VARCHAR[], billed_excl DECIMAL(18,6), billed_incl DECIMAL(18,6),
		recomputed_excl DECIMAL(18,6), recomputed_incl DECIMAL(18,6), in_dispute_excl DECIMAL(18,6), in_dispute_incl DECIMAL(18,6),
		evidence VARCHAR, raised_at TIMESTAMPTZ, event_by VARCHAR, note VARCHAR)`); err != nil {
		return 0, err
	}
	defer tx.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS dispute_run`)
	mem := memory.DefaultAllocator
	for from := 0; from < len(ds); from += reconcileBatch {
		part := ds[from:min(from+reconcileBatch, len(ds))]
		n := len(part)
		var c columns
		str := func(name string, f func(d *reconcile.Dispute) string) {
			v := make([]string, n)
			for i, d := range part {
				v[i] = f(d)
			}
			c.add(name, stringArray(mem, v, false))
		}
		str("cdr_id", func(d *reconcile.Dispute) string { return ocpi.Key(d.CDRID) })
		str("period", func(d *reconcile.Dispute) string { return d.Period })
		str("currency", func(d *reconcile.Dispute) string { return d.Currency })
		str("verdict", func(d *reconcile.Dispute) string { return string(d.Verdict) })
		str("reasons", func(d *reconcile.Dispute) string { return joinReasons(d.Reasons) })
		str("codes", func(d *reconcile.Dispute) string {
			s := make([]string, len(d.Codes))
			for i, x := range d.Codes {
				s[i] = string(x)
			}
			return strings.Join(s, ",")
		})
		for j, name := range []string{"billed", "recomputed", "in_dispute"} {
			ve, vi, oe, oi := make([]int64, n), make([]int64, n), make([]bool, n), make([]bool, n)
			for i, d := range part {
				a := [3]reconcile.Amount{d.Billed, d.Recomputed, d.InDispute}[j]
				ve[i], vi[i], oe[i], oi[i] = a.Excl, a.Incl, a.HasExcl, a.HasIncl
			}
			c.add(name+"_excl", decimalArray(mem, decType, ve, oe))
			c.add(name+"_incl", decimalArray(mem, decType, vi, oi))
		}
		str("evidence", func(d *reconcile.Dispute) string { return d.Evidence })
		tb := array.NewInt64Builder(mem)
		for _, d := range part {
			tb.Append(d.Events[0].At.UnixMicro())
		}
		c.add("raised_us", tb.NewArray())
		tb.Release()
		str("event_by", func(d *reconcile.Dispute) string { return d.Events[0].By })
		str("note", func(d *reconcile.Dispute) string { return d.Events[0].Note })
		stmt := `INSERT INTO dispute_run BY NAME SELECT * EXCLUDE (reasons, codes, raised_us), ` + listSQL("reasons") + ` AS reasons, ` +
			listSQL("codes") + ` AS codes, TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds(raised_us) AS raised_at FROM %s`
		if err := arrowInsert(ctx, conn, "stage_dispute_run", stmt, c.fields, c.cols); err != nil {
			return 0, err
		}
	}
	var raised int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM dispute_run r LEFT JOIN dispute_state s USING (cdr_id)
		WHERE s.state IS NULL OR s.state = 'withdrawn'`).Scan(&raised); err != nil {
		return 0, err
	}
	stmts := []struct {
		q    string
		args []any
	}{
		// Raised or withdrawn: the run's evidence.
		{`UPDATE disputes d SET period = r.period, currency = r.currency, verdict = r.verdict, reasons = r.reasons, codes = r.codes,
			billed_excl = r.billed_excl, billed_incl = r.billed_incl, recomputed_excl = r.recomputed_excl,
			recomputed_incl = r.recomputed_incl, in_dispute_excl = r.in_dispute_excl, in_dispute_incl = r.in_dispute_incl,
			evidence = r.evidence
		FROM dispute_run r JOIN dispute_state s USING (cdr_id)
		WHERE d.country_code = ? AND d.party_id = ? AND d.cdr_id = r.cdr_id AND s.state IN ('raised', 'withdrawn')
			AND ` + disputeChangedSQL, []any{cc, pid}},
		// Withdrawn: raised again.
		{`INSERT INTO dispute_events SELECT ?, ?, r.cdr_id, s.seq + 1, 'raised', r.raised_at, r.event_by, r.note, NULL
		FROM dispute_run r JOIN dispute_state s USING (cdr_id) WHERE s.state = 'withdrawn'`, []any{cc, pid}},
		// New.
		{`INSERT INTO disputes SELECT ?, ?, r.cdr_id, r.period, r.currency, r.verdict, r.reasons, r.codes, r.billed_excl,
			r.billed_incl, r.recomputed_excl, r.recomputed_incl, r.in_dispute_excl, r.in_dispute_incl, r.evidence, r.raised_at
		FROM dispute_run r ANTI JOIN dispute_state s USING (cdr_id)`, []any{cc, pid}},
		{`INSERT INTO dispute_events SELECT ?, ?, r.cdr_id, 1, 'raised', r.raised_at, r.event_by, r.note, NULL
		FROM dispute_run r ANTI JOIN dispute_state s USING (cdr_id)`, []any{cc, pid}},
		// Raised disputes of the period the run no longer finds.
		{`INSERT INTO dispute_events SELECT d.country_code, d.party_id, d.cdr_id, s.seq + 1, 'withdrawn', ?, ?,
			'reconciling again found nothing to dispute', NULL
		FROM disputes d JOIN dispute_state s USING (cdr_id)
		WHERE d.country_code = ? AND d.party_id = ? AND d.period = ? AND s.state = 'raised'
			AND d.cdr_id NOT IN (SELECT cdr_id FROM dispute_run)`, []any{at.UTC(), "reconcile " + period, cc, pid, period}},
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return 0, err
		}
	}
	return raised, nil
}
