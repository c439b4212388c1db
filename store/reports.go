package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/reports"
	"github.com/roamsettle/roamsettle/settle"
)

// The reports' read path (settle.ReportSource) and the Parquet exports.
// Each owner's figures come from the rows of the newest re-pricing that
// covers it ('reprice:PERIOD/CC-PID' or 'reprice:PERIOD/*', by
// finished_at; a run's writer reads its own) and of its reconciliation
// ('reconcile:PERIOD/CC-PID'), joined to the period's CDRs by the one
// period rule. The scope's per-CDR columns are gathered once into a
// temporary table (report_scope) on one connection, then aggregated.

var (
	_ settle.ReportGatherer = (*Store)(nil)
	_ settle.ReportGatherer = (*PricedWriter)(nil)
	_ settle.ReportSource   = gatheredSource{}
)

// querier is a connection or a run's transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// onConn runs fn on one connection of the pool (temporary tables live on
// a connection).
func (s *Store) onConn(ctx context.Context, fn func(q querier) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// ReportFigures implements settle.ReportSource.
func (s *Store) ReportFigures(ctx context.Context, sel *settle.Selection, period string, zones map[settle.Party]*time.Location) (map[settle.Party]*reports.Report, error) {
	var out map[settle.Party]*reports.Report
	err := s.onConn(ctx, func(q querier) (err error) {
		out, err = reportFigures(ctx, q, 0, sel, period, zones)
		return err
	})
	return out, errorf("report figures", period, err)
}

// ReportFigures implements settle.ReportSource in the run's transaction:
// the priced rows are the run's own.
func (w *PricedWriter) ReportFigures(ctx context.Context, sel *settle.Selection, period string, zones map[settle.Party]*time.Location) (map[settle.Party]*reports.Report, error) {
	out, err := reportFigures(ctx, w.tx, w.runNo, sel, period, zones)
	return out, errorf("report figures", period, err)
}

// ReportDisputes implements settle.ReportSource.
func (s *Store) ReportDisputes(ctx context.Context, sel *settle.Selection, period string) (map[settle.Party][]reports.Dispute, error) {
	var out map[settle.Party][]reports.Dispute
	conn, err := s.db.Conn(ctx)
	if err == nil {
		out, err = reportDisputes(ctx, conn, conn, 0, sel, period)
		conn.Close()
	}
	return out, errorf("report disputes", period, err)
}

// ReportDisputes implements settle.ReportSource in the run's transaction.
func (w *PricedWriter) ReportDisputes(ctx context.Context, sel *settle.Selection, period string) (map[settle.Party][]reports.Dispute, error) {
	out, err := reportDisputes(ctx, w.tx, w.conn, w.runNo, sel, period)
	return out, errorf("report disputes", period, err)
}

// ExportParquet implements settle.ReportSource.
func (s *Store) ExportParquet(ctx context.Context, sel *settle.Selection, period, dir string) ([]string, error) {
	var out []string
	err := s.onConn(ctx, func(q querier) (err error) {
		out, err = exportParquet(ctx, q, 0, sel, period, dir)
		return err
	})
	return out, errorf("export parquet", period, err)
}

// ExportParquet implements settle.ReportSource in the run's transaction.
func (w *PricedWriter) ExportParquet(ctx context.Context, sel *settle.Selection, period, dir string) ([]string, error) {
	out, err := exportParquet(ctx, w.tx, w.runNo, sel, period, dir)
	return out, errorf("export parquet", period, err)
}

// GatherReport implements settle.ReportGatherer on one connection of the
// pool, held until release.
func (s *Store) GatherReport(ctx context.Context, sel *settle.Selection, period string) (settle.ReportSource, func(), error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, errorf("gather report", period, err)
	}
	g, err := gather(ctx, conn, 0, sel, period)
	if err != nil {
		conn.Close()
		return nil, nil, errorf("gather report", period, err)
	}
	g.conn = conn
	return gatheredSource{g}, func() { g.drop(ctx); conn.Close() }, nil
}

// GatherReport implements settle.ReportGatherer in the run's transaction.
func (w *PricedWriter) GatherReport(ctx context.Context, sel *settle.Selection, period string) (settle.ReportSource, func(), error) {
	g, err := gather(ctx, w.tx, w.runNo, sel, period)
	if err != nil {
		return nil, nil, errorf("gather report", period, err)
	}
	g.conn = w.conn
	return gatheredSource{g}, func() { g.drop(ctx) }, nil
}

// gatheredSource reads one gathered selection and period; asked for
// another, it refuses (gathering it would replace the table its caller
// still reads).
type gatheredSource struct{ g *reportScope }

func (s gatheredSource) check(op string, sel *settle.Selection, period string) error {
	if scopeKey(sel, period) != s.g.key {
		return errorf(op, period, fmt.Errorf("%w: the report was gathered for another selection", ErrInvalid))
	}
	return nil
}

func (s gatheredSource) ReportFigures(ctx context.Context, sel *settle.Selection, period string, zones map[settle.Party]*time.Location) (map[settle.Party]*reports.Report, error) {
	if err := s.check("report figures", sel, period); err != nil {
		return nil, err
	}
	out, err := s.g.figures(ctx, sel, period, zones)
	return out, errorf("report figures", period, err)
}

func (s gatheredSource) ReportDisputes(ctx context.Context, sel *settle.Selection, period string) (map[settle.Party][]reports.Dispute, error) {
	if err := s.check("report disputes", sel, period); err != nil {
		return nil, err
	}
	out, err := disputesOf(ctx, s.g.conn, s.g.owners, period)
	return out, errorf("report disputes", period, err)
}

func (s gatheredSource) ExportParquet(ctx context.Context, sel *settle.Selection, period, dir string) ([]string, error) {
	if err := s.check("export parquet", sel, period); err != nil {
		return nil, err
	}
	out, err := s.g.exportParquet(ctx, period, dir)
	return out, errorf("export parquet", period, err)
}

// ownerRun is an owner of the scope with the rows its reports read.
type ownerRun struct {
	party  settle.Party
	runNo  int32  // the priced rows (0: none)
	recRun string // the reconciliation's run id
	recNo  int32  // its number, for its accepted CDRs (0: none)
}

// reportRuns lists the owners of the selection's CDRs (sorted) and, for
// each, the newest priced run covering it (ownRun when a run's writer
// reads its own rows) and its reconciliation's id.
func reportRuns(ctx context.Context, q querier, ownRun int32, sel *settle.Selection, period string) ([]ownerRun, error) {
	scope, args := scopeSQL(sel, "country_code, party_id")
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT country_code, party_id FROM `+scope+` ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, err
	}
	var out []ownerRun
	for rows.Next() {
		var o ownerRun
		if err := rows.Scan(&o.party.CountryCode, &o.party.PartyID); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for i := range out {
		o := &out[i]
		o.recRun = "reconcile:" + period + "/" + o.party.String()
		var err error
		if o.recNo, err = reconcileRunNo(ctx, q, o.recRun); err != nil {
			return nil, err
		}
		if ownRun != 0 {
			o.runNo = ownRun
			continue
		}
		var no sql.NullInt32
		err = q.QueryRowContext(ctx, `SELECT run_no FROM reprice_runs WHERE run_id IN (?, ?) ORDER BY finished_at DESC, run_id LIMIT 1`,
			"reprice:"+period+"/"+o.party.String(), "reprice:"+period+"/*").Scan(&no)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		o.runNo = no.Int32
	}
	return out, nil
}

// runsSQL is the owners' runs as a VALUES list named runs(country_code,
// party_id, run_no, rec_run, rec_no), for a WITH clause.
func runsSQL(owners []ownerRun) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString("runs(country_code, party_id, run_no, rec_run, rec_no) AS (VALUES ")
	for i, o := range owners {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?::VARCHAR, ?::VARCHAR, ?::INTEGER, ?::VARCHAR, ?::INTEGER)")
		args = append(args, o.party.CountryCode, o.party.PartyID, o.runNo, o.recRun, o.recNo)
	}
	b.WriteString(")")
	return b.String(), args
}

// secondsBetween is date_diff('second', from, to) for instants after 1970
// (the whole seconds of to minus those of from) in integer arithmetic:
// DuckDB's date_diff on TIMESTAMPTZ goes through ICU's calendar, ten times
// slower over a month of CDRs.
func secondsBetween(from, to string) string {
	return `(epoch_us(` + to + `) // 1000000 - epoch_us(` + from + `) // 1000000)`
}

// slotMillis is the width of the time slots the days are counted in: a
// quarter of an hour divides every zone's offset, so a slot never
// straddles a local midnight.
const slotMillis = 15 * 60 * 1000

// reportScope is a selection's rows of a period gathered into the
// temporary table report_scope on q (gatherScope), for the figures and the
// Parquet exports to read; owners are the selection's owners with their
// runs (none: nothing was gathered).
type reportScope struct {
	q      querier
	conn   *sql.Conn // q's connection, for Arrow reads (GatherReport's)
	ownRun int32
	key    string // scopeKey of what it holds
	owners []ownerRun
}

// scopeKey names a selection and period: two with the same key read the
// same rows.
func scopeKey(sel *settle.Selection, period string) string {
	scope, args := scopeSQL(sel, "*")
	return fmt.Sprint(period, scope, args)
}

// gather lists the selection's owners and gathers their rows; drop
// releases the table.
func gather(ctx context.Context, q querier, ownRun int32, sel *settle.Selection, period string) (*reportScope, error) {
	owners, err := reportRuns(ctx, q, ownRun, sel, period)
	if err != nil {
		return nil, err
	}
	g := &reportScope{q: q, ownRun: ownRun, key: scopeKey(sel, period), owners: owners}
	if len(owners) == 0 {
		return g, nil
	}
	if err := gatherScope(ctx, q, owners, sel); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *reportScope) drop(ctx context.Context) {
	if len(g.owners) > 0 {
		g.q.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS report_scope`)
	}
}

// gatherScope fills the temporary table report_scope with one row per
// CDR of the selection: its owner, slot, receipt, issue delay, the
// reconciliation's verdict, reasons and amounts, and whether it is
// disputed (a verdict other than OK, or an error finding: reconcile's
// rule).
func gatherScope(ctx context.Context, q querier, owners []ownerRun, sel *settle.Selection) error {
	scopeRows, args := scopeSQL(sel, "*")
	runs, rargs := runsSQL(owners)
	_, err := q.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE report_scope AS
		WITH `+runs+`,
		scope AS (
			SELECT cdr_key, country_code, party_id, id, currency, raw_sha256, received_at,
				epoch_ms(`+periodTimeSQL+`) // `+strconv.Itoa(slotMillis)+` AS slot,
				CASE WHEN end_date_time > TIMESTAMPTZ '1970-01-01 00:00:00+00' AND last_updated >= end_date_time
					THEN `+secondsBetween("end_date_time", "last_updated")+` END AS issue_delay,
				CASE WHEN end_date_time > TIMESTAMPTZ '1970-01-01 00:00:00+00' THEN end_date_time END AS end_time
			FROM `+scopeRows+`),
		`+reconciledSQL+`,
		ferr AS (
			SELECT DISTINCT f.country_code, f.party_id, upper(trim(f.cdr_id)) AS id
			FROM reconcile_findings f JOIN runs r ON f.run_id = r.rec_run AND f.country_code = r.country_code AND f.party_id = r.party_id
			WHERE f.severity = 'error')
		SELECT s.* EXCLUDE (currency), `+resultSQL+` AS verdict,
			CASE WHEN rc.verdict IS NOT NULL THEN rc.reasons WHEN ra.cdr_key IS NOT NULL THEN []::VARCHAR[] END AS reasons,
			coalesce(rc.rc_currency, CASE WHEN ra.cdr_key IS NOT NULL THEN upper(s.currency) END) AS rc_currency,
			`+resultOf("billed_excl")+` AS billed_excl, `+resultOf("recomputed_excl")+` AS recomputed_excl,
			coalesce(`+resultSQL+` <> 'OK' OR ferr.id IS NOT NULL, false) AS disputed, r.run_no
		FROM scope s JOIN runs r USING (country_code, party_id)
		LEFT JOIN rc USING (country_code, party_id, id)
		LEFT JOIN ra USING (cdr_key)
		LEFT JOIN ferr USING (country_code, party_id, id)`, append(rargs, args...)...)
	return err
}

// reconciledSQL is the rc and ra CTEs: the owners' reconciliation results
// (runs' rec_run), rc those of the CDRs evaluated whole (and every CDR of
// runs before 0013_reconcile_accepted.sql) by CDR identity, ra those of
// the CDRs accepted from columns by key. A CDR has at most one of them:
// resultSQL and resultOf read the one it has.
const reconciledSQL = `rc AS (
	SELECT x.country_code, x.party_id, upper(trim(x.cdr_id)) AS id, x.verdict, x.reasons, x.currency AS rc_currency,
		x.billed_excl, x.recomputed_excl
	FROM reconcile_cdrs x JOIN runs r ON x.run_id = r.rec_run AND x.country_code = r.country_code AND x.party_id = r.party_id),
ra AS (
	SELECT a.cdr_key, a.billed_excl, a.recomputed_excl FROM reconcile_accepted a SEMI JOIN runs r ON a.run_no = r.rec_no)`

// resultSQL is a CDR's verdict (NULL when it was not reconciled), in a
// query joining rc and ra: an accepted CDR's is OK.
const resultSQL = `coalesce(rc.verdict, CASE WHEN ra.cdr_key IS NOT NULL THEN 'OK' END)`

// resultOf is an amount of a CDR's reconciliation result, rc's or ra's.
func resultOf(col string) string {
	return `CASE WHEN rc.verdict IS NOT NULL THEN rc.` + col + ` ELSE ra.` + col + ` END`
}

// ReconciledCounts implements settle.InvoicePeriodSource: the counts of the
// report figures (CDRs, reconciled, newest receipt) from the rows
// gatherScope joins, without gathering them. Gathering the whole period
// for the three counts cost the 10 M month's invoice step 16 CPU-s.
func (s *Store) ReconciledCounts(ctx context.Context, sel *settle.Selection, period string) (map[settle.Party]settle.ReconciledCount, error) {
	out := map[settle.Party]settle.ReconciledCount{}
	err := s.onConn(ctx, func(q querier) error {
		owners, err := reportRuns(ctx, q, 0, sel, period)
		if err != nil || len(owners) == 0 {
			return err
		}
		scopeRows, args := scopeSQL(sel, "cdr_key, country_code, party_id, id, received_at")
		runs, rargs := runsSQL(owners)
		return eachRow(ctx, q, `WITH `+runs+`, `+reconciledSQL+`
			SELECT s.country_code, s.party_id, count(*), count(`+resultSQL+`), max(s.received_at)
			FROM `+scopeRows+` s JOIN runs r USING (country_code, party_id)
			LEFT JOIN rc USING (country_code, party_id, id)
			LEFT JOIN ra USING (cdr_key)
			GROUP BY ALL`, append(rargs, args...), func(rows *sql.Rows) error {
			var p settle.Party
			var c settle.ReconciledCount
			if err := rows.Scan(&p.CountryCode, &p.PartyID, &c.CDRs, &c.Reconciled, &c.NewestReceipt); err != nil {
				return err
			}
			c.NewestReceipt = c.NewestReceipt.UTC()
			out[p] = c
			return nil
		})
	})
	return out, errorf("reconciled counts", period, err)
}

func reportFigures(ctx context.Context, q querier, ownRun int32, sel *settle.Selection, period string, zones map[settle.Party]*time.Location) (map[settle.Party]*reports.Report, error) {
	g, err := gather(ctx, q, ownRun, sel, period)
	if err != nil {
		return nil, err
	}
	defer g.drop(ctx)
	return g.figures(ctx, sel, period, zones)
}

// figures computes each owner's figures from the gathered rows.
func (g *reportScope) figures(ctx context.Context, sel *settle.Selection, period string, zones map[settle.Party]*time.Location) (map[settle.Party]*reports.Report, error) {
	q, owners := g.q, g.owners
	out := map[settle.Party]*reports.Report{}
	if len(owners) == 0 {
		return out, nil
	}
	for _, o := range owners {
		w := sel.WindowOf(o.party)
		r := &reports.Report{Scope: reports.Scope{Partner: o.party.String(), Period: period, From: w.From, To: w.To, Zone: zones[o.party]}}
		r.Figures.ByReason, r.Figures.ZoneSources, r.Figures.States = map[string]int64{}, map[string]int64{}, map[string]int64{}
		out[o.party] = r
	}
	get := func(cc, pid string) *reports.Figures {
		if r := out[settle.Party{CountryCode: cc, PartyID: pid}]; r != nil {
			return &r.Figures
		}
		return nil
	}
	// Counts, verdicts, the newest receipt and the issue delays.
	err := eachRow(ctx, q, `SELECT country_code, party_id, count(*), count(verdict),
			count(*) FILTER (WHERE verdict = 'OK'), count(*) FILTER (WHERE verdict = 'MISMATCH'),
			count(*) FILTER (WHERE verdict = 'NOT_VERIFIABLE'), count(*) FILTER (WHERE disputed), max(received_at),
			count(issue_delay), coalesce(quantile_disc(issue_delay, 0.5), 0), coalesce(quantile_disc(issue_delay, 0.9), 0),
			coalesce(quantile_disc(issue_delay, 0.99), 0), coalesce(max(issue_delay), 0),
			count(*) FILTER (WHERE issue_delay <= 3600), count(*) FILTER (WHERE issue_delay > 3600 AND issue_delay <= 86400),
			count(*) FILTER (WHERE issue_delay > 86400 AND issue_delay <= 259200),
			count(*) FILTER (WHERE issue_delay > 259200 AND issue_delay <= 604800), count(*) FILTER (WHERE issue_delay > 604800)
		FROM report_scope GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var cc, pid string
		var f reports.Figures
		var asOf time.Time
		l := &f.IssueDelay
		if err := rows.Scan(&cc, &pid, &f.CDRs, &f.Reconciled, &f.OK, &f.Mismatch, &f.NotVerifiable, &f.Disputed, &asOf,
			&l.CDRs, &l.P50, &l.P90, &l.P99, &l.Max, &l.Buckets[0], &l.Buckets[1], &l.Buckets[2], &l.Buckets[3], &l.Buckets[4]); err != nil {
			return err
		}
		if g := get(cc, pid); g != nil {
			l.Unknown = f.CDRs - l.CDRs
			g.CDRs, g.Reconciled, g.OK, g.Mismatch, g.NotVerifiable, g.Disputed, g.IssueDelay = f.CDRs, f.Reconciled, f.OK, f.Mismatch,
				f.NotVerifiable, f.Disputed, f.IssueDelay
			out[settle.Party{CountryCode: cc, PartyID: pid}].Scope.AsOf = asOf.UTC()
			g.Delivery.Unknown = f.CDRs
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Reasons.
	err = eachRow(ctx, q, `SELECT country_code, party_id, r, count(*) FROM (SELECT country_code, party_id, unnest(reasons) AS r FROM report_scope)
		GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var cc, pid, r string
		var n int64
		if err := rows.Scan(&cc, &pid, &r, &n); err != nil {
			return err
		}
		if g := get(cc, pid); g != nil {
			g.ByReason[r] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Money per currency (reconcile's sums: what is stated, what was
	// recomputed, each summed exactly and rounded once to minor units).
	type money struct {
		cur        string
		n, nb, nr  int64
		billed, rc decimal.Decimal
	}
	currencies := map[settle.Party][]money{}
	err = eachRow(ctx, q, `SELECT country_code, party_id, coalesce(rc_currency, ''), count(*), count(billed_excl), count(recomputed_excl),
			coalesce(sum(billed_excl), 0), coalesce(sum(recomputed_excl), 0)
		FROM report_scope WHERE verdict IS NOT NULL GROUP BY ALL ORDER BY 1, 2, 3`, nil, func(rows *sql.Rows) error {
		var cc, pid string
		var m money
		var b, r nullDecimal
		if err := rows.Scan(&cc, &pid, &m.cur, &m.n, &m.nb, &m.nr, &b, &r); err != nil {
			return err
		}
		m.billed, m.rc = b.Decimal, r.Decimal
		p := settle.Party{CountryCode: cc, PartyID: pid}
		currencies[p] = append(currencies[p], m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Disputes of the period (every state but withdrawn) per currency and
	// state.
	type claimed struct {
		n         int64
		inDispute decimal.Decimal
	}
	claims := map[settle.Party]map[string]claimed{}
	runs, rargs := runsSQL(owners)
	err = eachRow(ctx, q, `WITH `+runs+`, `+disputeStateSQL+`
		SELECT d.country_code, d.party_id, coalesce(d.currency, ''), st.state, count(*), coalesce(sum(d.in_dispute_excl), 0)
		FROM disputes d JOIN runs r USING (country_code, party_id) JOIN st USING (country_code, party_id, cdr_id)
		WHERE d.period = ? GROUP BY ALL ORDER BY ALL`, append(rargs, period), func(rows *sql.Rows) error {
		var cc, pid, cur, state string
		var n int64
		var sum nullDecimal
		if err := rows.Scan(&cc, &pid, &cur, &state, &n, &sum); err != nil {
			return err
		}
		p := settle.Party{CountryCode: cc, PartyID: pid}
		g := get(cc, pid)
		if g == nil {
			return nil
		}
		g.States[state] += n
		if state == string(reconcile.DisputeWithdrawn) {
			return nil
		}
		if claims[p] == nil {
			claims[p] = map[string]claimed{}
		}
		c := claims[p][cur]
		c.n += n
		c.inDispute = c.inDispute.Add(sum.Decimal)
		claims[p][cur] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p, ms := range currencies {
		g := &out[p].Figures
		seen := map[string]bool{}
		for _, m := range ms {
			minor := minorUnits(m.cur)
			c := claims[p][m.cur]
			seen[m.cur] = true
			g.Currencies = append(g.Currencies, reports.CurrencyFigures{Currency: m.cur, MinorUnits: minor, CDRs: m.n,
				Billed: m.billed.Round(int32(minor)), BilledCDRs: m.nb, Recomputed: m.rc.Round(int32(minor)), RecomputedCDRs: m.nr,
				Disputes: c.n, InDispute: c.inDispute.Round(int32(minor))})
		}
		for cur, c := range claims[p] {
			if !seen[cur] {
				minor := minorUnits(cur)
				g.Currencies = append(g.Currencies, reports.CurrencyFigures{Currency: cur, MinorUnits: minor, Disputes: c.n,
					InDispute: c.inDispute.Round(int32(minor))})
			}
		}
		sort.Slice(g.Currencies, func(i, j int) bool { return g.Currencies[i].Currency < g.Currencies[j].Currency })
	}
	// Pricing: priced, and where the zone came from; with the version in
	// effect or the embedded tariff when the reconciliation kept the
	// recomputation (reconcile's definition: a CDR whose inputs a finding
	// blocks has none).
	err = eachRow(ctx, q, `SELECT s.country_code, s.party_id, CASE WHEN s.recomputed_excl IS NULL THEN '' ELSE coalesce(t.source, '') END,
			z.zone_source, count(*)
		FROM report_scope s JOIN priced_cdrs p ON p.run_no = s.run_no AND p.cdr_key = s.cdr_key
		JOIN priced_zones z ON z.run_no = p.run_no AND z.zone_ref = p.zone_ref
		LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref
		WHERE p.status = 0 GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var cc, pid, source, zone string
		var n int64
		if err := rows.Scan(&cc, &pid, &source, &zone, &n); err != nil {
			return err
		}
		if g := get(cc, pid); g != nil {
			g.Priced += n
			switch source {
			case "published":
				g.InEffect += n
			case "embedded":
				g.Embedded += n
			}
			g.ZoneSources[zone] += n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Findings of the reconciliation, by code: the CDRs that have one.
	err = eachRow(ctx, q, `WITH `+runs+`
		SELECT f.country_code, f.party_id, f.code, max(f.severity), count(DISTINCT upper(trim(f.cdr_id)))
		FROM reconcile_findings f JOIN runs r ON f.run_id = r.rec_run AND f.country_code = r.country_code AND f.party_id = r.party_id
		GROUP BY ALL ORDER BY 1, 2, 3`, rargs, func(rows *sql.Rows) error {
		var cc, pid string
		var fc reports.FindingCount
		if err := rows.Scan(&cc, &pid, &fc.Code, &fc.Severity, &fc.CDRs); err != nil {
			return err
		}
		if g := get(cc, pid); g != nil {
			g.Findings = append(g.Findings, fc)
			if fc.Code == string(reconcile.CodePeriodNotSplit) {
				g.SpanPriceChange = fc.CDRs
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := deliveryLatency(ctx, q, get); err != nil {
		return nil, err
	}
	if err := days(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

// disputeStateSQL names each dispute's current state: st(country_code,
// party_id, cdr_id, state), for a WITH clause.
const disputeStateSQL = `st AS (
	SELECT e.country_code, e.party_id, e.cdr_id, e.state FROM dispute_events e
	JOIN (SELECT country_code, party_id, cdr_id, max(seq) AS seq FROM dispute_events GROUP BY ALL) l
	USING (country_code, party_id, cdr_id, seq))`

func minorUnits(currency string) int {
	if n, ok := ocpi.CurrencyMinorUnits(currency); ok {
		return n
	}
	return 2
}

// deliveryLatency measures, for the CDRs whose first receipt came over
// OCPI (push or pull), the time from the session's end to that receipt.
// An import from a file says nothing about when the partner delivered.
func deliveryLatency(ctx context.Context, q querier, get func(cc, pid string) *reports.Figures) error {
	var ocpiReceipts int64
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM receipts WHERE channel IN ('push', 'pull')`).Scan(&ocpiReceipts); err != nil {
		return err
	}
	if ocpiReceipts == 0 {
		return nil
	}
	return eachRow(ctx, q, `WITH d AS (
			SELECT s.country_code, s.party_id, `+secondsBetween("s.end_time", "r.first")+` AS delay
			FROM report_scope s JOIN (SELECT sha256, min(received_at) AS first FROM receipts WHERE channel IN ('push', 'pull') GROUP BY sha256) r
				ON r.sha256 = s.raw_sha256
			WHERE s.end_time IS NOT NULL AND r.first >= s.end_time)
		SELECT country_code, party_id, count(*), quantile_disc(delay, 0.5), quantile_disc(delay, 0.9), quantile_disc(delay, 0.99), max(delay),
			count(*) FILTER (WHERE delay <= 3600), count(*) FILTER (WHERE delay > 3600 AND delay <= 86400),
			count(*) FILTER (WHERE delay > 86400 AND delay <= 259200),
			count(*) FILTER (WHERE delay > 259200 AND delay <= 604800), count(*) FILTER (WHERE delay > 604800)
		FROM d GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var cc, pid string
		var l reports.Latency
		if err := rows.Scan(&cc, &pid, &l.CDRs, &l.P50, &l.P90, &l.P99, &l.Max, &l.Buckets[0], &l.Buckets[1], &l.Buckets[2],
			&l.Buckets[3], &l.Buckets[4]); err != nil {
			return err
		}
		if g := get(cc, pid); g != nil {
			l.Unknown = g.CDRs - l.CDRs
			g.Delivery = l
		}
		return nil
	})
}

// days counts each owner's CDRs per day of its period, in its zone, from
// quarter-hour slots.
func days(ctx context.Context, q querier, out map[settle.Party]*reports.Report) error {
	byDay := map[settle.Party]map[time.Time]*reports.Day{}
	err := eachRow(ctx, q, `SELECT country_code, party_id, slot, count(*), count(*) FILTER (WHERE verdict = 'OK'),
			count(*) FILTER (WHERE verdict = 'MISMATCH'), count(*) FILTER (WHERE verdict = 'NOT_VERIFIABLE'), count(*) FILTER (WHERE disputed)
		FROM report_scope GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var cc, pid string
		var slot int64
		var d reports.Day
		if err := rows.Scan(&cc, &pid, &slot, &d.CDRs, &d.OK, &d.Mismatch, &d.NotVerifiable, &d.Disputed); err != nil {
			return err
		}
		p := settle.Party{CountryCode: cc, PartyID: pid}
		r := out[p]
		if r == nil {
			return nil
		}
		zone := r.Scope.Zone
		if zone == nil {
			zone = time.UTC
		}
		lt := time.UnixMilli(slot * slotMillis).In(zone)
		date := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
		if byDay[p] == nil {
			byDay[p] = map[time.Time]*reports.Day{}
		}
		x := byDay[p][date]
		if x == nil {
			x = &reports.Day{Date: date}
			byDay[p][date] = x
		}
		x.CDRs += d.CDRs
		x.OK += d.OK
		x.Mismatch += d.Mismatch
		x.NotVerifiable += d.NotVerifiable
		x.Disputed += d.Disputed
		return nil
	})
	if err != nil {
		return err
	}
	for p, r := range out {
		zone := r.Scope.Zone
		if zone == nil {
			zone = time.UTC
		}
		first, last := r.Scope.From.In(zone), r.Scope.To.Add(-time.Nanosecond).In(zone)
		for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC); !d.After(time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
			day := reports.Day{Date: d}
			if x := byDay[p][d]; x != nil {
				day = *x
			}
			r.Figures.Days = append(r.Figures.Days, day)
		}
	}
	return nil
}

// eachRow runs a query and calls fn for each row.
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// reportDisputes loads each owner's disputes of the period (every state
// but withdrawn), in CDR id order, with the CDR's times and location.
// Amounts are at the currency's minor units (a billed 12.284 shows as the
// 12.28 it is compared as); the difference is recomputed − billed.
// reportDisputes reads through q, and with Arrow through conn, q's
// connection.
func reportDisputes(ctx context.Context, q querier, conn *sql.Conn, ownRun int32, sel *settle.Selection, period string) (map[settle.Party][]reports.Dispute, error) {
	owners, err := reportRuns(ctx, q, ownRun, sel, period)
	if err != nil {
		return nil, err
	}
	return disputesOf(ctx, conn, owners, period)
}

// disputesOf reads the owners' disputes as Arrow batches: scanning their
// 19 columns through database/sql (decimals as text, lists through
// reflection) cost twice the query (6 of the 10 M month's 9 s).
func disputesOf(ctx context.Context, conn *sql.Conn, owners []ownerRun, period string) (map[settle.Party][]reports.Dispute, error) {
	out := map[settle.Party][]reports.Dispute{}
	if len(owners) == 0 {
		return out, nil
	}
	runs, rargs := runsSQL(owners)
	in := interner{}
	err := arrowQueryOn(ctx, conn, `WITH `+runs+`, `+disputeStateSQL+`
		SELECT d.country_code, d.party_id, coalesce(c.id_as_sent, c.id, d.cdr_id), epoch_us(c.start_date_time), epoch_us(c.end_date_time),
			coalesce(c.location_id, ''), coalesce(c.evse_uid, ''), coalesce(d.currency, ''), d.verdict, d.reasons::VARCHAR[],
			d.codes::VARCHAR[], st.state,
			`+micro("d.billed_excl")+`, `+micro("d.billed_incl")+`, `+micro("d.recomputed_excl")+`, `+micro("d.recomputed_incl")+`,
			`+micro("d.in_dispute_excl")+`, `+micro("d.in_dispute_incl")+`, coalesce(d.evidence, '')
		FROM disputes d JOIN runs r USING (country_code, party_id) JOIN st USING (country_code, party_id, cdr_id)
		LEFT JOIN cdrs c ON c.country_code = d.country_code AND c.party_id = d.party_id AND c.id = d.cdr_id
		WHERE d.period = ? AND st.state <> 'withdrawn'
		ORDER BY d.country_code, d.party_id, d.cdr_id`, append(rargs, period), 19, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		reasons, codes := rec.Column(9).(*array.List), rec.Column(10).(*array.List)
		for r := range int(rec.NumRows()) {
			d := reports.Dispute{CDRID: c.str(2, r), Start: c.micros(3, r), End: c.micros(4, r), LocationID: in.str(c, 5, r),
				EVSEUID: in.str(c, 6, r), Currency: in.str(c, 7, r), Verdict: in.str(c, 8, r), Reasons: in.list(reasons, r), Codes: in.list(codes, r),
				State: in.str(c, 11, r), Evidence: c.str(18, r)}
			d.MinorUnits = minorUnits(d.Currency)
			m := int32(d.MinorUnits)
			amount := func(excl, incl int) reports.Amount {
				return reports.Amount{Excl: decimal.New(c.i64(excl, r), -6).Round(m), Incl: decimal.New(c.i64(incl, r), -6).Round(m),
					HasExcl: c.valid(excl, r), HasIncl: c.valid(incl, r)}
			}
			d.Billed, d.Recomputed, d.InDispute = amount(12, 13), amount(14, 15), amount(16, 17)
			if d.Billed.HasExcl && d.Recomputed.HasExcl {
				d.Difference.Excl, d.Difference.HasExcl = d.Recomputed.Excl.Sub(d.Billed.Excl), true
			}
			if d.Billed.HasIncl && d.Recomputed.HasIncl {
				d.Difference.Incl, d.Difference.HasIncl = d.Recomputed.Incl.Sub(d.Billed.Incl), true
			}
			p := settle.Party{CountryCode: in.str(c, 0, r), PartyID: in.str(c, 1, r)}
			out[p] = append(out[p], d)
		}
		return nil
	})
	return out, err
}
