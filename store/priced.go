package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/settle"
)

// The settlement path (migrations 0003 and 0006): the store is the
// settle.Source and settle.Sink of a run. A scope's CDRs are selected by
// the period rule (settle.PeriodTime, in SQL: periodTimeSQL) and read as
// per-CDR headers (their repeated strings once per distinct context) and
// Arrow period batches, in key ranges; the run's rows go into
// priced_tariffs, priced_zones, priced_reasons, priced_messages,
// priced_cdrs and priced_lines in one transaction that first deletes the
// previous rows of the same run id.

var (
	_ settle.Source = (*Store)(nil)
	_ settle.Sink   = (*Store)(nil)
)

// periodTimeSQL is settle.PeriodTime in SQL: the end, else the start (the
// 1970 sentinel is unknown), else when the CDR was received.
const periodTimeSQL = `coalesce(nullif(end_date_time, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
	nullif(start_date_time, TIMESTAMPTZ '1970-01-01 00:00:00+00'), received_at)`

// selectionSQL is the WHERE condition of a selection over cdrs, and its
// arguments. DuckDB evaluates it on every row of the table (its zone maps
// cannot prune on an expression): scopeSQL reads only the period's rows.
func selectionSQL(sel *settle.Selection) (string, []any) {
	var b strings.Builder
	var args []any
	window := func(w settle.Window) {
		b.WriteString(periodTimeSQL + ` >= ? AND ` + periodTimeSQL + ` < ?`)
		args = append(args, w.From.UTC(), w.To.UTC())
	}
	party := func(p settle.Party) {
		b.WriteString(`country_code = ? AND party_id = ?`)
		args = append(args, p.CountryCode, p.PartyID)
	}
	b.WriteString("(")
	if !sel.Owner.IsZero() {
		party(sel.Owner)
		b.WriteString(" AND ")
		window(sel.WindowOf(sel.Owner))
		b.WriteString(")")
		return b.String(), args
	}
	b.WriteString("(")
	window(sel.Default)
	for _, z := range sel.Zoned {
		b.WriteString(" AND NOT (")
		party(z.Party)
		b.WriteString(")")
	}
	b.WriteString(")")
	for _, z := range sel.Zoned {
		b.WriteString(" OR (")
		party(z.Party)
		b.WriteString(" AND ")
		window(z.Window)
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String(), args
}

// unknownEnd is the 1970 sentinel OCPI platforms send for an unknown time.
const unknownEnd = `TIMESTAMPTZ '1970-01-01 00:00:00+00'`

// scopeSQL is the selection's CDRs (the same rows as selectionSQL) as a
// subquery over cdrs with the given columns, in no particular order, and
// its arguments. It is a UNION ALL of branches whose period condition is a
// plain range on a stored column, which DuckDB pushes into the scan and
// prunes row groups with (zone maps: each row group's min and max):
//
//   - the end is known: end_date_time in the window (almost every CDR);
//   - the end is NULL, or the sentinel: the fallback time (PeriodTime) in
//     the window, among the rows whose end_date_time IS NULL (the column's
//     validity mask, or nothing at all when the table holds no NULL end)
//     or equals the sentinel (pruned by the zone maps).
//
// Each owner with its own window gets its own branches. So re-pricing a
// month reads that month's rows, however long the history: measured on a
// copy of a database of 1,014,883 CDRs (a month of 1 M sessions ingested,
// then small months), the scope query of the 1,011 CDRs of 2031-01 scanned
// 6,776 rows in 0.015 s instead of 1,014,883 in 0.26-0.30 s, and
// TestScopeSQLReadsOnlyThePeriod pins it.
func scopeSQL(sel *settle.Selection, cols string) (string, []any) {
	var branches []string
	var args []any
	add := func(w settle.Window, party string, partyArgs []any) {
		from, to := w.From.UTC(), w.To.UTC()
		fallback := `coalesce(nullif(start_date_time, ` + unknownEnd + `), received_at)`
		for _, cond := range []string{
			`end_date_time >= ? AND end_date_time < ? AND end_date_time <> ` + unknownEnd,
			`end_date_time IS NULL AND ` + fallback + ` >= ? AND ` + fallback + ` < ?`,
			`end_date_time = ` + unknownEnd + ` AND ` + fallback + ` >= ? AND ` + fallback + ` < ?`,
		} {
			branches = append(branches, `SELECT `+cols+` FROM cdrs WHERE `+cond+party)
			args = append(args, from, to)
			args = append(args, partyArgs...)
		}
	}
	if !sel.Owner.IsZero() {
		add(sel.WindowOf(sel.Owner), ` AND country_code = ? AND party_id = ?`, []any{sel.Owner.CountryCode, sel.Owner.PartyID})
	} else {
		var others strings.Builder
		var otherArgs []any
		for _, z := range sel.Zoned {
			others.WriteString(` AND NOT (country_code = ? AND party_id = ?)`)
			otherArgs = append(otherArgs, z.Party.CountryCode, z.Party.PartyID)
		}
		add(sel.Default, others.String(), otherArgs)
		for _, z := range sel.Zoned {
			add(z.Window, ` AND country_code = ? AND party_id = ?`, []any{z.Party.CountryCode, z.Party.PartyID})
		}
	}
	return `(` + strings.Join(branches, ` UNION ALL `) + `)`, args
}

// contextSQL hashes the context strings (settle.ContextColumns) and
// whether each is null (so that NULL and the empty string differ).
const contextSQL = `hash(country_code, party_id, location_id, evse_uid, connector_id, location_time_zone,
	location_country, location_latitude, location_longitude, currency, location_id IS NULL, evse_uid IS NULL,
	connector_id IS NULL, location_time_zone IS NULL, location_country IS NULL, location_latitude IS NULL,
	location_longitude IS NULL, currency IS NULL)`

const contextStringsSQL = `country_code, party_id, location_id, evse_uid, connector_id,
	location_time_zone AS embedded_time_zone, location_country AS country, location_latitude AS latitude,
	location_longitude AS longitude, currency`

// headersSQL reads settle.HeaderColumns from a FROM clause. A filtered
// scan keeps the table's insertion order, which is key order. The stored
// location version and its connector are looked up by the caller
// (LocationVersions): joining them here (an ASOF join on the session
// start) took 19 s of 20 s at 10 M CDRs.
const headersSQL = `
SELECT cdr_key, start_date_time, credit, blocking,
	CAST(total_cost_excl_vat * 1000000 AS BIGINT) AS billed_excl,
	CAST(total_cost_incl_vat * 1000000 AS BIGINT) AS billed_incl,
	location_tariff_ids, ` + contextSQL + ` AS context
FROM %s`

// ScanHeaders implements settle.Source. The driver holds a query's whole
// result in memory: the caller reads a large scope in key ranges. A dense
// range is filtered by the period rule (no sort: insertion order); a
// sparse one reads the scope's rows only (scopeSQL) and sorts them, which
// at 1 M rows costs ~0.2 s more CPU than the filter.
func (s *Store) ScanHeaders(ctx context.Context, sel *settle.Selection, minKey, maxKey int64, sparse bool, fn func(arrow.RecordBatch) error) error {
	var q string
	var args []any
	if sparse {
		scope, sargs := scopeSQL(sel, "*")
		q = fmt.Sprintf(headersSQL, scope) + ` WHERE cdr_key BETWEEN ? AND ? ORDER BY cdr_key`
		args = sargs
	} else {
		filter, fargs := selectionSQL(sel)
		q = fmt.Sprintf(headersSQL, "cdrs") + ` WHERE ` + filter + ` AND cdr_key BETWEEN ? AND ?`
		args = fargs
	}
	return errorf("scan headers", "", s.arrowQuery(ctx, q, append(args, minKey, maxKey), len(settle.HeaderColumns), fn))
}

// ScanContexts implements settle.Source.
func (s *Store) ScanContexts(ctx context.Context, sel *settle.Selection, fn func(arrow.RecordBatch) error) error {
	scope, args := scopeSQL(sel, "*")
	q := fmt.Sprintf(`SELECT DISTINCT %s AS context, %s FROM %s`, contextSQL, contextStringsSQL, scope)
	return errorf("scan contexts", "", s.arrowQuery(ctx, q, args, len(settle.ContextColumns), fn))
}

// ScanContextsOf implements settle.Source.
func (s *Store) ScanContextsOf(ctx context.Context, sel *settle.Selection, contexts []uint64, fn func(arrow.RecordBatch) error) error {
	if len(contexts) == 0 {
		return nil
	}
	scope, args := scopeSQL(sel, "*")
	list := make([]byte, 0, len(contexts)*21)
	for i, c := range contexts {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendUint(list, c, 10)
	}
	q := fmt.Sprintf(`SELECT * FROM (SELECT cdr_key, %s AS context, %s FROM %s)
		WHERE context IN (%s)`, contextSQL, contextStringsSQL, scope, list)
	return errorf("scan contexts", "", s.arrowQuery(ctx, q, args, len(settle.ContextColumns)+1, fn))
}

// LocationVersion is one stored location version (settle's type).
type LocationVersion = settle.LocationVersion

// LocationVersions implements settle.Source.
func (s *Store) LocationVersions(ctx context.Context, owner settle.Party) ([]LocationVersion, error) {
	q := `SELECT location_key, country_code, party_id, id, last_updated, time_zone FROM locations`
	var args []any
	if !owner.IsZero() {
		q += ` WHERE country_code = ? AND party_id = ?`
		args = append(args, ocpi.Key(owner.CountryCode), ocpi.Key(owner.PartyID))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY country_code, party_id, id, last_updated, location_key`, args...)
	if err != nil {
		return nil, errorf("location versions", "", err)
	}
	var out []LocationVersion
	byKey := map[int64]int{}
	for rows.Next() {
		var l LocationVersion
		var tz sql.NullString
		if err := rows.Scan(&l.Key, &l.CountryCode, &l.PartyID, &l.ID, &l.LastUpdated, &tz); err != nil {
			rows.Close()
			return nil, errorf("location versions", "", err)
		}
		l.LastUpdated, l.TimeZone, l.Connectors = l.LastUpdated.UTC(), tz.String, map[[2]string][]string{}
		byKey[l.Key] = len(out)
		out = append(out, l)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, errorf("location versions", "", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT e.location_key, upper(e.uid), upper(k.id), k.tariff_ids
		FROM location_evses e JOIN location_connectors k USING (location_key, evse_index)
		WHERE e.uid IS NOT NULL AND k.id IS NOT NULL
		ORDER BY e.location_key, e.evse_index, k.connector_index`)
	if err != nil {
		return nil, errorf("location versions", "", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key int64
		var uid, cid string
		var ids stringList
		if err := rows.Scan(&key, &uid, &cid, &ids); err != nil {
			return nil, errorf("location versions", "", err)
		}
		i, ok := byKey[key]
		if !ok {
			continue // another owner's
		}
		if _, seen := out[i].Connectors[[2]string{uid, cid}]; !seen {
			out[i].Connectors[[2]string{uid, cid}] = ids
		}
	}
	return out, errorf("location versions", "", rows.Err())
}

// ScanEmbedded implements settle.Source.
func (s *Store) ScanEmbedded(ctx context.Context, sel *settle.Selection, fn func(cdrKey, n, firstTariff int64)) error {
	scope, args := scopeSQL(sel, "cdr_key")
	q := fmt.Sprintf(`SELECT t.cdr_key, count(*) AS n, arg_min(t.tariff_key, t.position) AS tariff_key
		FROM cdr_tariffs t JOIN %s USING (cdr_key)
		GROUP BY t.cdr_key`, scope)
	return errorf("scan embedded tariffs", "", s.arrowQuery(ctx, q, args, 3, func(rec arrow.RecordBatch) error {
		keys, ns, firsts := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64), rec.Column(2).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			fn(keys.Value(i), ns.Value(i), firsts.Value(i))
		}
		return nil
	}))
}

// ScanPeriodRange implements settle.Source: ScanPeriods restricted to
// cdr_key in [minKey, maxKey], in the same columns and order (a filter
// keeps DuckDB's insertion order), so a scope's CDRs are read without
// sorting; the caller skips the keys in the range that are not in its
// scope. Given a selection, only its CDRs' periods are read (a semi-join
// with the scope's keys in the range, sorted: the caller asks so for a
// scope that holds few of its range's keys).
func (s *Store) ScanPeriodRange(ctx context.Context, sel *settle.Selection, minKey, maxKey int64, fn func(arrow.RecordBatch) error) error {
	if sel == nil {
		q := scanPeriodsSQL + ` WHERE cdr_key BETWEEN ? AND ?`
		return errorf("scan periods", "", s.arrowQuery(ctx, q, []any{minKey, maxKey}, len(PeriodColumns), fn))
	}
	scope, scopeArgs := scopeSQL(sel, "cdr_key")
	q := scanPeriodsSQL + ` WHERE cdr_key BETWEEN ? AND ?
		AND cdr_key IN (SELECT cdr_key FROM ` + scope + ` WHERE cdr_key BETWEEN ? AND ?)
		ORDER BY cdr_key, period_index`
	args := append([]any{minKey, maxKey}, scopeArgs...)
	args = append(args, minKey, maxKey)
	return errorf("scan periods", "", s.arrowQuery(ctx, q, args, len(PeriodColumns), fn))
}

func (s *Store) arrowQuery(ctx context.Context, q string, args []any, columns int, fn func(arrow.RecordBatch) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return arrowQueryOn(ctx, conn, q, args, columns, fn)
}

// arrowQueryOn runs q on conn (inside whatever transaction conn holds) and
// hands fn each record batch of exactly columns columns.
func arrowQueryOn(ctx context.Context, conn *sql.Conn, q string, args []any, columns int, fn func(arrow.RecordBatch) error) error {
	return conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := ar.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rr.Release()
		if got := rr.Schema().NumFields(); got != columns {
			return fmt.Errorf("batches have %d columns, want %d", got, columns)
		}
		for rr.Next() {
			if err := fn(rr.RecordBatch()); err != nil {
				return err
			}
		}
		return rr.Err()
	})
}

// StoredTariff is one published tariff version with its identity as stored
// (upper-cased) and its content key (settle's type).
type StoredTariff = settle.StoredTariff

// ScopeTariffs implements settle.Source.
func (s *Store) ScopeTariffs(ctx context.Context, owner settle.Party) ([]StoredTariff, error) {
	return s.PublishedTariffs(ctx, owner.CountryCode, owner.PartyID)
}

// PublishedTariffs returns every published version of the tariffs owned by
// the given party (every party when countryCode is empty), ordered by
// owner, id and last_updated. Each distinct body is loaded once.
func (s *Store) PublishedTariffs(ctx context.Context, countryCode, partyID string) ([]StoredTariff, error) {
	q := `SELECT country_code, party_id, id, last_updated, tariff_key FROM tariffs`
	var args []any
	if countryCode != "" {
		q += ` WHERE country_code = ? AND party_id = ?`
		args = append(args, ocpi.Key(countryCode), ocpi.Key(partyID))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY country_code, party_id, id, last_updated, tariff_key`, args...)
	if err != nil {
		return nil, errorf("published tariffs", "", err)
	}
	var out []StoredTariff
	for rows.Next() {
		var t StoredTariff
		if err := rows.Scan(&t.CountryCode, &t.PartyID, &t.ID, &t.LastUpdated, &t.Key); err != nil {
			rows.Close()
			return nil, errorf("published tariffs", "", err)
		}
		t.LastUpdated = t.LastUpdated.UTC()
		out = append(out, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, errorf("published tariffs", "", err)
	}
	keys := make([]int64, len(out))
	for i := range out {
		keys[i] = out[i].Key
	}
	bodies, err := s.TariffBodies(ctx, keys)
	if err != nil {
		return nil, err
	}
	blocking, err := s.tariffBlocking(ctx, countryCode, partyID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Tariff = bodies[out[i].Key]
		// A body is shared by identical versions: the version's own
		// last_updated is the one that selects it.
		out[i].Tariff.LastUpdated = out[i].LastUpdated
		out[i].Blocking = blocking[out[i].Key]
	}
	return out, nil
}

// tariffBlocking returns, by content key, the findings of published tariffs
// that block pricing ("path: message", joined by "; "), of one owner or of
// all. The decoder keeps such a tariff with a stand-in where the value was
// missing or unreadable; its findings are a function of its body, which is
// why the content key identifies them.
func (s *Store) tariffBlocking(ctx context.Context, countryCode, partyID string) (map[int64]string, error) {
	q := `SELECT DISTINCT object_key, coalesce(path, ''), coalesce(message, '') FROM findings WHERE kind = 'tariff' AND blocking`
	var args []any
	if countryCode != "" {
		q += ` AND country_code = ? AND party_id = ?`
		args = append(args, ocpi.Key(countryCode), ocpi.Key(partyID))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, errorf("tariff findings", "", err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var key int64
		var path, msg string
		if err := rows.Scan(&key, &path, &msg); err != nil {
			rows.Close()
			return nil, errorf("tariff findings", "", err)
		}
		f := msg
		if path != "" {
			f = path + ": " + msg
		}
		if prev := out[key]; prev != "" {
			f = prev + "; " + f
		}
		out[key] = f
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, errorf("tariff findings", "", err)
	}
	return out, nil
}

// TariffBodies loads tariff contents by key (published or embedded in CDRs),
// each distinct key once, in one query per table. The returned tariffs
// share no memory.
func (s *Store) TariffBodies(ctx context.Context, keys []int64) (map[int64]ocpi.Tariff, error) {
	return tariffBodies(ctx, s.db, keys)
}

func tariffBodies(ctx context.Context, q querier, keys []int64) (map[int64]ocpi.Tariff, error) {
	out := make(map[int64]ocpi.Tariff, len(keys))
	var distinct []int64
	seen := make(map[int64]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			distinct = append(distinct, k)
		}
	}
	for from := 0; from < len(distinct); from += 20000 {
		chunk := distinct[from:min(from+20000, len(distinct))]
		ts, got, err := loadTariffsKeyed(ctx, q, `SELECT unnest([`+keyList(chunk)+`]::BIGINT[]) AS tariff_key`)
		if err != nil {
			return nil, errorf("tariff bodies", "", err)
		}
		for i := range ts {
			out[got[i]] = ts[i]
		}
	}
	for _, k := range distinct {
		if _, ok := out[k]; !ok {
			return nil, errorf("tariff bodies", fmt.Sprint(k), ErrNotFound)
		}
	}
	return out, nil
}

// PricedWriter writes one run in one transaction (settle.RunWriter). It
// owns one connection until Commit or Rollback; the caller must not use it
// from several goroutines at once.
type PricedWriter struct {
	conn  *sql.Conn
	tx    *sql.Tx
	runID string
	runNo int32
	rows  int64
	// reconcileOnly: a reconciliation over an earlier run's priced rows
	// (BeginReconcile): Commit records no reprice run.
	reconcileOnly bool
}

// BeginRun implements settle.Sink: it starts the run's transaction and
// deletes the rows a previous run of the same id left, so that Commit
// replaces them atomically. A run id keeps its run_no from one run to the
// next.
func (s *Store) BeginRun(ctx context.Context, run settle.Run) (settle.RunWriter, error) {
	runID := run.ID()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, errorf("begin run", runID, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, errorf("begin run", runID, err)
	}
	w := &PricedWriter{conn: conn, tx: tx, runID: runID}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT any_value(run_no) FROM reprice_runs WHERE run_id = $1),
			(SELECT coalesce(max(run_no), 0) + 1 FROM reprice_runs))`, runID).Scan(&w.runNo); err != nil {
		w.Rollback()
		return nil, errorf("begin run", runID, err)
	}
	for _, t := range []string{"priced_lines", "priced_cdrs", "priced_tariffs", "priced_zones", "priced_reasons", "priced_messages", "reprice_runs"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE run_no = ?`, w.runNo); err != nil {
			w.Rollback()
			return nil, errorf("begin run", runID, err)
		}
	}
	return w, nil
}

// WriteTariffs records the tariff versions the run priced with, in one
// insert (one statement per version cost ~0.5 ms each).
func (w *PricedWriter) WriteTariffs(ctx context.Context, ts []settle.PricedTariff) error {
	if len(ts) == 0 {
		return nil
	}
	mem := memory.DefaultAllocator
	refs, keys := make([]int32, len(ts)), make([]int64, len(ts))
	var src, cc, pid, id, cur, pol []string
	lu := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer lu.Release()
	for i, t := range ts {
		refs[i], keys[i] = t.Ref, t.Key
		src, cc, pid, id = append(src, t.Source), append(cc, t.CountryCode), append(pid, t.PartyID), append(id, t.ID)
		cur, pol = append(cur, t.Currency), append(pol, t.Policy)
		if t.LastUpdated.IsZero() {
			lu.AppendNull()
		} else {
			lu.Append(arrow.Timestamp(t.LastUpdated.UnixMicro()))
		}
	}
	var fields []arrow.Field
	var cols []arrow.Array
	add := func(name string, a arrow.Array) {
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
	}
	add("tariff_ref", int32Array(mem, refs, nil))
	add("source", stringArray(mem, src, false))
	add("tariff_key", int64Array(mem, keys, nil))
	add("country_code", stringArray(mem, cc, true))
	add("party_id", stringArray(mem, pid, true))
	add("id", stringArray(mem, id, true))
	add("last_updated", lu.NewArray())
	add("currency", stringArray(mem, cur, true))
	add("policy", stringArray(mem, pol, false))
	return errorf("write priced tariffs", w.runID, w.insert(ctx, "priced_tariffs", fields, cols))
}

// WriteZones records the time zones priced_cdrs.zone_ref names (by position).
func (w *PricedWriter) WriteZones(ctx context.Context, zs []settle.PricedZone) error {
	for i, z := range zs {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO priced_zones BY NAME SELECT ? AS run_no, ? AS zone_ref, ? AS time_zone,
				? AS zone_source, ? AS note`, w.runNo, i, z.TimeZone, z.Source, nullString(z.Note)); err != nil {
			return errorf("write priced zones", w.runID, err)
		}
	}
	return nil
}

// WriteReasons records the reasons priced_cdrs.reason_ref names: reasons[i]
// has reason_ref i+1 (0 is no reason).
func (w *PricedWriter) WriteReasons(ctx context.Context, reasons []string) error {
	for i, r := range reasons {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO priced_reasons VALUES (?, ?, ?)`, w.runNo, i+1, r); err != nil {
			return errorf("write priced reasons", w.runID, err)
		}
	}
	return nil
}

// WriteMessages records the messages priced_cdrs.message_ref names (by
// position): why a CDR was not priced or what pricing it had to assume.
func (w *PricedWriter) WriteMessages(ctx context.Context, messages []string) error {
	for i, m := range messages {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO priced_messages VALUES (?, ?, ?)`, w.runNo, i, m); err != nil {
			return errorf("write priced messages", w.runID, err)
		}
	}
	return nil
}

var (
	decType10 = &arrow.Decimal128Type{Precision: 18, Scale: settle.LineScale}
)

var totalNames = [settle.NumTotals]string{"total_cost_excl_vat", "total_cost_incl_vat", "total_fixed_cost_excl_vat",
	"total_fixed_cost_incl_vat", "total_energy_cost_excl_vat", "total_energy_cost_incl_vat",
	"total_time_cost_excl_vat", "total_time_cost_incl_vat", "total_parking_cost_excl_vat",
	"total_parking_cost_incl_vat", "total_reservation_cost_excl_vat", "total_reservation_cost_incl_vat"}

// WriteCDRs appends a batch of priced_cdrs rows through DuckDB's Arrow scan.
func (w *PricedWriter) WriteCDRs(ctx context.Context, p *settle.PricedCDRs) error {
	n := p.Len()
	if n == 0 {
		return nil
	}
	mem := memory.DefaultAllocator
	ok := make([]bool, n)
	for i := range ok {
		ok[i] = p.Status[i] == settle.PricedOK
	}
	refValid := func(refs []int32) []bool {
		v := make([]bool, n)
		for i, r := range refs {
			v[i] = r >= 0
		}
		return v
	}
	nonZero := func(codes []uint8) []bool {
		v := make([]bool, n)
		for i, c := range codes {
			v[i] = c != 0
		}
		return v
	}
	var fields []arrow.Field
	var cols []arrow.Array
	add := func(name string, a arrow.Array) {
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
	}
	add("cdr_key", int64Array(mem, p.CDRKey, nil))
	add("status", uint8Array(mem, p.Status, nil))
	add("reason_ref", uint8Array(mem, p.Reason, nonZero(p.Reason)))
	add("message_ref", int32Array(mem, p.Message, refValid(p.Message)))
	add("priced_by", uint8Array(mem, p.PricedBy, nonZero(p.PricedBy)))
	add("tariff_ref", int32Array(mem, p.TariffRef, refValid(p.TariffRef)))
	zb := array.NewInt16Builder(mem)
	zb.AppendValues(p.Zone, nil)
	add("zone_ref", zb.NewArray())
	zb.Release()
	add("flags", int32Array(mem, p.Flags, nil))
	ob := array.NewUint8Builder(mem)
	for _, o := range p.Outcome {
		ob.Append(uint8(o))
	}
	add("billed_outcome", ob.NewArray())
	ob.Release()
	for t := range p.Totals {
		add(totalNames[t], decimalArray(mem, decType, p.Totals[t], ok))
	}
	emb := refValid(p.EmbeddedRef)
	add("embedded_tariff_ref", int32Array(mem, p.EmbeddedRef, emb))
	add("embedded_total_cost_excl_vat", decimalArray(mem, decType, p.EmbeddedExcl, emb))
	add("embedded_total_cost_incl_vat", decimalArray(mem, decType, p.EmbeddedIncl, emb))
	return errorf("write priced cdrs", w.runID, w.insert(ctx, "priced_cdrs", fields, cols))
}

// WriteLines appends a batch of priced_lines rows.
func (w *PricedWriter) WriteLines(ctx context.Context, l *settle.PricedLines) error {
	n := l.Len()
	if n == 0 {
		return nil
	}
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var cols []arrow.Array
	add := func(name string, a arrow.Array) {
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
	}
	add("cdr_key", int64Array(mem, l.CDRKey, nil))
	pb := array.NewUint16Builder(mem)
	pb.AppendValues(l.Period, nil)
	add("period_index", pb.NewArray())
	pb.Release()
	add("dimension", uint8Array(mem, l.Dimension, nil))
	eb := array.NewUint16Builder(mem)
	eb.AppendValues(l.Element, nil)
	add("element_index", eb.NewArray())
	eb.Release()
	add("quantity", decimalArray(mem, decType, l.Quantity, nil))
	add("billed_quantity", decimalArray(mem, decType, l.Billed, nil))
	add("unit_price", decimalArray(mem, decType, l.UnitPrice, nil))
	add("vat", decimalArray(mem, decType, l.VAT, l.VATValid))
	add("amount_excl_vat", decimalArray(mem, decType10, l.Excl, nil))
	add("amount_incl_vat", decimalArray(mem, decType10, l.Incl, nil))
	return errorf("write priced lines", w.runID, w.insert(ctx, "priced_lines", fields, cols))
}

// insert registers the columns as an Arrow view and copies them into table
// with the run's number.
func (w *PricedWriter) insert(ctx context.Context, table string, fields []arrow.Field, cols []arrow.Array) error {
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, cols, int64(cols[0].Len()))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	w.rows += rec.NumRows()
	return w.conn.Raw(func(dc any) error {
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
		return withArrowView(ctx, ar, execer, rr, "stage_"+table, func(view string) error {
			_, err := execer.ExecContext(ctx, `INSERT INTO `+table+` BY NAME SELECT ?::INTEGER AS run_no, * FROM `+view,
				[]driver.NamedValue{{Ordinal: 1, Value: w.runNo}})
			return err
		})
	})
}

// Commit records the run and makes its rows visible, replacing the previous
// ones of the same run id.
func (w *PricedWriter) Commit(ctx context.Context, rec settle.RunRecord) error {
	defer w.conn.Close()
	if w.reconcileOnly {
		return errorf("commit reconcile", w.runID, w.tx.Commit())
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO reprice_runs (run_id, run_no, started_at, finished_at, cdrs, inputs_digest) VALUES (?, ?, ?, ?, ?, ?)`,
		w.runID, w.runNo, rec.Started.UTC(), rec.Finished.UTC(), rec.CDRs, sql.NullString{String: rec.Inputs, Valid: rec.Inputs != ""}); err != nil {
		w.tx.Rollback()
		return errorf("commit priced", w.runID, err)
	}
	return errorf("commit priced", w.runID, w.tx.Commit())
}

// Rollback abandons the run; the previous rows stay.
func (w *PricedWriter) Rollback() error {
	err := w.tx.Rollback()
	w.conn.Close()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil
	}
	return err
}

// PricedChecksum is an order-independent checksum of a run's priced rows
// (and their count): the same inputs must give the same value. The run's
// number is looked up first so that each table is filtered by a constant
// (pruned by DuckDB's zone maps) instead of a semi-join over every run's
// rows.
func (s *Store) PricedChecksum(ctx context.Context, runID string) (cdrs, lines int64, sum string, err error) {
	var runNo sql.NullInt32
	if err := s.db.QueryRowContext(ctx, `SELECT any_value(run_no) FROM reprice_runs WHERE run_id = $1`, runID).Scan(&runNo); err != nil {
		return 0, 0, "", errorf("priced checksum", runID, err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM priced_cdrs WHERE run_no = $1),
		(SELECT count(*) FROM priced_lines WHERE run_no = $1),
		printf('%016x', (
			coalesce((SELECT sum(hash(p)::HUGEINT) FROM priced_cdrs p WHERE run_no = $1), 0) +
			coalesce((SELECT sum(hash(l)::HUGEINT) FROM priced_lines l WHERE run_no = $1), 0) +
			coalesce((SELECT sum(hash(t)::HUGEINT) FROM priced_tariffs t WHERE run_no = $1), 0) +
			coalesce((SELECT sum(hash(z)::HUGEINT) FROM priced_zones z WHERE run_no = $1), 0) +
			coalesce((SELECT sum(hash(x)::HUGEINT) FROM priced_reasons x WHERE run_no = $1), 0) +
			coalesce((SELECT sum(hash(m)::HUGEINT) FROM priced_messages m WHERE run_no = $1), 0)
		) % 18446744073709551616)`, runNo).Scan(&cdrs, &lines, &sum)
	return cdrs, lines, sum, errorf("priced checksum", runID, err)
}

func uint8Array(mem memory.Allocator, v []uint8, valid []bool) arrow.Array {
	b := array.NewUint8Builder(mem)
	defer b.Release()
	b.AppendValues(v, valid)
	return b.NewArray()
}

func int64Array(mem memory.Allocator, v []int64, valid []bool) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(v, valid)
	return b.NewArray()
}

func int32Array(mem memory.Allocator, v []int32, valid []bool) arrow.Array {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(v, valid)
	return b.NewArray()
}

// decimalArray builds a DECIMAL column from integers already at the type's
// scale (so the driver's scale trap cannot apply).
func decimalArray(mem memory.Allocator, t *arrow.Decimal128Type, v []int64, valid []bool) arrow.Array {
	b := array.NewDecimal128Builder(mem, t)
	defer b.Release()
	b.Reserve(len(v))
	for i, x := range v {
		if valid != nil && !valid[i] {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(decimal128.FromI64(x))
	}
	return b.NewArray()
}

func stringArray(mem memory.Allocator, v []string, emptyIsNull bool) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(len(v))
	for _, s := range v {
		if emptyIsNull && s == "" {
			b.AppendNull()
			continue
		}
		b.Append(s)
	}
	return b.NewArray()
}

// ScopeKeys implements settle.Source.
func (s *Store) ScopeKeys(ctx context.Context, sel *settle.Selection) (minKey, maxKey, n int64, err error) {
	scope, args := scopeSQL(sel, "cdr_key")
	var lo, hi sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT min(cdr_key), max(cdr_key), count(*) FROM `+scope, args...).Scan(&lo, &hi, &n)
	return lo.Int64, hi.Int64, n, errorf("scope keys", "", err)
}

// CDRs implements settle.Source: it loads, for the few CDRs priced one by
// one, what pricing reads of them (identity, times, currency, credit, location, totals, periods with
// their dimensions, embedded tariff keys), with one query per table for all
// keys: loading each CDR on its own (CDR) costs a scan of the table per CDR.
// Other fields are left empty.
func (s *Store) CDRs(ctx context.Context, keys []int64, withPeriods bool) (map[int64]*ocpi.CDR, map[int64][]int64, error) {
	cdrs := make(map[int64]*ocpi.CDR, len(keys))
	var embedded map[int64][]int64
	err := s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) (err error) {
		if err := repriceCDRHeads(ctx, q, filter, cdrs); err != nil {
			return err
		}
		if withPeriods {
			if err := repricePeriods(ctx, q, filter, cdrs); err != nil {
				return err
			}
		}
		embedded, err = embeddedTariffKeys(ctx, q, filter)
		return err
	})
	if err != nil {
		return nil, nil, errorf("load cdrs", "", err)
	}
	return cdrs, embedded, nil
}

// embeddedTariffKeys returns, by CDR key, the keys of the tariffs the
// CDRs embed, in their order.
func embeddedTariffKeys(ctx context.Context, q querier, filter keyFilter) (map[int64][]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT cdr_key, tariff_key FROM cdr_tariffs WHERE `+filter("cdr_key")+` ORDER BY cdr_key, position`)
	if err != nil {
		return nil, err
	}
	embedded := map[int64][]int64{}
	for rows.Next() {
		var k, t int64
		if err := rows.Scan(&k, &t); err != nil {
			rows.Close()
			return nil, err
		}
		embedded[k] = append(embedded[k], t)
	}
	return embedded, errors.Join(rows.Err(), rows.Close())
}

// keyRanges is "col BETWEEN a AND b OR ...", one range per block of keys
// (keyBlocks): beside a semi join on the keys, the ranges let DuckDB skip
// the row groups outside them by their zone maps (a semi join alone is
// probed with every row). Keys come in blocks when partners' CDRs arrive
// interleaved (one block per night of nightly pulls).
func keyRanges(col string, blocks [][2]int64) string {
	if len(blocks) == 0 {
		return "FALSE"
	}
	var b strings.Builder
	for i, r := range blocks {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "%s BETWEEN %d AND %d", col, r[0], r[1])
	}
	return b.String()
}

// keyBlockGap is the gap between two keys beyond which keyRanges gives
// them separate ranges: about a row group of CDRs (122,880 rows).
const keyBlockGap = 1 << 16

// maxKeyBlocks bounds the ranges of one filter.
const maxKeyBlocks = 64

// keyBlocks returns the [first, last] ranges of keys (in any order): a
// new range begins after a gap wider than gap, at most max ranges, the
// widest gaps first.
func keyBlocks(keys []int64, gap int64, max int) [][2]int64 {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	var cuts []int // i: a range ends at sorted[i-1] and the next begins at sorted[i]
	for i := 1; i < len(sorted); i++ {
		if sorted[i]-sorted[i-1] > gap {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) > max-1 {
		slices.SortStableFunc(cuts, func(a, b int) int {
			return cmp.Compare(sorted[b]-sorted[b-1], sorted[a]-sorted[a-1])
		})
		cuts = cuts[:max-1]
		slices.Sort(cuts)
	}
	out := make([][2]int64, 0, len(cuts)+1)
	from := 0
	for _, c := range append(cuts, len(sorted)) {
		out = append(out, [2]int64{sorted[from], sorted[c-1]})
		from = c
	}
	return out
}

func keyList(keys []int64) string {
	b := make([]byte, 0, len(keys)*9)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", k)
	}
	return string(b)
}

func repriceCDRHeads(ctx context.Context, q querier, filter keyFilter, out map[int64]*ocpi.CDR) error {
	rows, err := q.QueryContext(ctx, `SELECT cdr_key, coalesce(country_code_as_sent, country_code),
			coalesce(party_id_as_sent, party_id), coalesce(id_as_sent, id), version, start_date_time, end_date_time,
			currency, credit, location_id, evse_uid, connector_id, location_tariff_ids, location_time_zone,
			location_country, location_latitude, location_longitude,
			total_cost_excl_vat, total_cost_incl_vat, total_energy, total_time, total_parking_time
		FROM cdrs WHERE `+filter("cdr_key"))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c ocpi.CDR
		var key int64
		var version string
		var start, end sql.NullTime
		var currency, locID, evse, conn, tz, country, lat, lon sql.NullString
		var tariffIDs stringList
		var tx, ti, energy, hours, parking nullDecimal
		if err := rows.Scan(&key, &c.CountryCode, &c.PartyID, &c.ID, &version, &start, &end, &currency, &c.Credit,
			&locID, &evse, &conn, &tariffIDs, &tz, &country, &lat, &lon, &tx, &ti, &energy, &hours, &parking); err != nil {
			return err
		}
		c.Version = ocpi.Version(version)
		c.StartDateTime, c.EndDateTime, c.Currency = utc(start), utc(end), currency.String
		l := &c.Location
		l.ID, l.EVSEUID, l.ConnectorID, l.TimeZone, l.Country = locID.String, evse.String, conn.String, tz.String, country.String
		l.Coordinates = ocpi.GeoLocation{Latitude: lat.String, Longitude: lon.String}
		l.TariffIDs = tariffIDs
		if tx.Valid {
			c.TotalCost = &ocpi.Price{ExclVAT: tx.Decimal, InclVAT: ti.NullDecimal}
		}
		c.TotalEnergy, c.TotalTime, c.TotalParkingTime = energy.Decimal, hours.Decimal, parking.NullDecimal
		out[key] = &c
	}
	return rows.Err()
}

// repricePeriods adds the filter's charging periods, with their
// dimensions in order, to the CDRs of out (read as Arrow batches: through
// database/sql every volume was a big.Int boxed in an any).
func repricePeriods(ctx context.Context, conn *sql.Conn, filter keyFilter, out map[int64]*ocpi.CDR) error {
	// Both sides are filtered: when the keys' blocks span the table (a
	// period's CDRs without charging periods, spread over every partner)
	// the join otherwise built on every dimension of the database (5 s
	// for 28 k keys of the 10 M month, against 1 s).
	in := interner{}
	return arrowQueryOn(ctx, conn, `SELECT p.cdr_key, p.period_index, epoch_us(p.start_date_time), p.tariff_id, d.type, d.volume
		FROM charging_periods p LEFT JOIN (SELECT * FROM cdr_dimensions_named WHERE `+filter("cdr_key")+`) d USING (cdr_key, period_index)
		WHERE `+filter("p.cdr_key")+` ORDER BY p.cdr_key, p.period_index, d.dimension_index`, nil, 6, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		idx, ok := rec.Column(1).(*array.Uint16)
		if !ok {
			return fmt.Errorf("period_index is %s, want USMALLINT", rec.Column(1).DataType())
		}
		vols, err := decimalColumnOf(rec.Column(5))
		if err != nil {
			return fmt.Errorf("volume: %w", err)
		}
		for i := range int(rec.NumRows()) {
			cdr := out[c.i64(0, i)]
			if cdr == nil {
				continue
			}
			if int(idx.Value(i)) >= len(cdr.ChargingPeriods) {
				cdr.ChargingPeriods = append(cdr.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: c.micros(2, i), TariffID: in.of(c.strs[3], i)})
			}
			if c.valid(4, i) {
				p := &cdr.ChargingPeriods[len(cdr.ChargingPeriods)-1]
				p.Dimensions = append(p.Dimensions, ocpi.CDRDimension{Type: in.of(c.strs[4], i), Volume: vols.at(i).Decimal})
			}
		}
		return nil
	})
}

// TableLayout is how a table is stored: its rows and row groups (DuckDB's
// unit of scanning and of zone-map pruning). A database built by many small
// commits can hold far more, smaller row groups than one built in bulk.
type TableLayout struct {
	Table     string
	Rows      int64
	RowGroups int64
}

// Layouts reports the layout of the tables a settle run scans.
func (s *Store) Layouts(ctx context.Context) ([]TableLayout, error) {
	var out []TableLayout
	for _, t := range []string{"cdrs", "charging_periods"} {
		l := TableLayout{Table: t}
		// One row per segment and column: count the cdr_key column's.
		err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(count), 0), count(DISTINCT row_group_id)
			FROM pragma_storage_info('`+t+`') WHERE column_name = 'cdr_key' AND segment_type <> 'VALIDITY'`).Scan(&l.Rows, &l.RowGroups)
		if err != nil {
			return nil, errorf("layout", t, err)
		}
		out = append(out, l)
	}
	return out, nil
}
