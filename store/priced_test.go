package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

var testRun = settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: settle.Month(2026, time.October)}}

func TestSettleSource(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	cdr := sampleCDR("C1")
	// Two versions of the CDR's location (another zone, another tariff on
	// its connector): the caller picks the one in effect at the start.
	save(t, s, recvLocation(sampleLocation("LOC1", "Europe/Brussels", t0.Add(-time.Hour), "12"), "a", 1),
		recvLocation(sampleLocation("LOC1", "Europe/Amsterdam", t0.Add(time.Hour), "99"), "b", 2),
		recvCDR(cdr, "c", 3))
	other := sampleCDR("C2")
	other.StartDateTime = t0.AddDate(0, 2, 0) // outside the scope
	other.EndDateTime = other.StartDateTime.Add(time.Hour)
	save(t, s, recvCDR(other, "d", 4))

	// The CDR ends within the selection's window (it started before it).
	scope := &settle.Selection{Owner: settle.NewParty("nl", "abc"), Default: settle.Window{From: cdr.EndDateTime.Add(-time.Minute), To: cdr.EndDateTime.Add(time.Minute)}}
	lo, hi, n, err := s.ScopeKeys(ctx, scope)
	if err != nil || n != 1 || lo != hi {
		t.Fatalf("ScopeKeys = %d, %d, %d, %v; want one CDR", lo, hi, n, err)
	}
	rows := 0
	var context uint64
	err = s.ScanHeaders(ctx, scope, lo, hi, false, func(rec arrow.RecordBatch) error {
		if got := rec.Schema().NumFields(); got != len(settle.HeaderColumns) {
			t.Fatalf("%d columns", got)
		}
		for i, name := range settle.HeaderColumns {
			if rec.Schema().Field(i).Name != name {
				t.Errorf("column %d is %s, want %s", i, rec.Schema().Field(i).Name, name)
			}
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			rows++
			i64 := func(c int) int64 { return rec.Column(c).(*array.Int64).Value(r) }
			if k := i64(0); k != lo {
				t.Errorf("cdr_key %d, want %d", k, lo)
			}
			if got := rec.Column(1).(*array.Timestamp).Value(r); int64(got) != t0.UnixMicro() {
				t.Errorf("start %d, want %d", got, t0.UnixMicro())
			}
			if i64(4) != 12_280_000 || i64(5) != 14_860_000 {
				t.Errorf("billed %d / %d, want 12.28 / 14.86 in millionths", i64(4), i64(5))
			}
			context = rec.Column(7).(*array.Uint64).Value(r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d header rows, want 1", rows)
	}
	// The CDR's strings come once per context, named by the hash.
	check := func(rec arrow.RecordBatch, first int) {
		t.Helper()
		str := func(c int) string { return rec.Column(first + c).(*array.String).Value(0) }
		if rec.NumRows() != 1 || rec.Column(first-1).(*array.Uint64).Value(0) != context {
			t.Fatalf("%d contexts, want the CDR's", rec.NumRows())
		}
		if str(0) != "NL" || str(1) != "ABC" || str(2) != "LOC1" || str(3) != "3256" || str(4) != "1" || str(6) != "BEL" || str(7) != "51.047599" || str(9) != "EUR" {
			t.Errorf("context %v", rec)
		}
	}
	if err := s.ScanContexts(ctx, scope, func(rec arrow.RecordBatch) error { check(rec, 1); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.ScanContextsOf(ctx, scope, []uint64{context, 1}, func(rec arrow.RecordBatch) error {
		if rec.Column(0).(*array.Int64).Value(0) != lo {
			t.Errorf("cdr_key %d", rec.Column(0).(*array.Int64).Value(0))
		}
		check(rec, 2)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Both stored versions, oldest first, each with its zone and its
	// connectors' tariff ids (connector 2 has none).
	locs, err := s.LocationVersions(ctx, settle.NewParty("nl", "abc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 2 || locs[0].TimeZone != "Europe/Brussels" || locs[1].TimeZone != "Europe/Amsterdam" ||
		!locs[0].LastUpdated.Equal(t0.Add(-time.Hour)) || locs[0].ID != "LOC1" {
		t.Fatalf("LocationVersions = %+v", locs)
	}
	if got := locs[0].Connectors[[2]string{"3256", "1"}]; !slices.Equal(got, []string{"12"}) {
		t.Errorf("connector 1 of the first version: %v, want [12]", got)
	}
	if got := locs[1].Connectors[[2]string{"3256", "1"}]; !slices.Equal(got, []string{"99"}) {
		t.Errorf("connector 1 of the second version: %v, want [99]", got)
	}
	if got, ok := locs[0].Connectors[[2]string{"3256", "2"}]; !ok || got != nil {
		t.Errorf("connector 2: %v %v, want stored without tariff ids", got, ok)
	}
	var embedded [][3]int64
	if err := s.ScanEmbedded(ctx, scope, func(k, n, first int64) { embedded = append(embedded, [3]int64{k, n, first}) }); err != nil {
		t.Fatal(err)
	}
	if len(embedded) != 1 || embedded[0][0] != lo || embedded[0][1] != 1 {
		t.Fatalf("embedded tariffs %v, want one for CDR %d", embedded, lo)
	}
	cdrs, emb, err := s.CDRs(ctx, []int64{lo}, true)
	if err != nil {
		t.Fatal(err)
	}
	c := cdrs[lo]
	if c == nil || c.ID != "C1" || len(c.ChargingPeriods) != 3 || len(c.ChargingPeriods[0].Dimensions) != 3 || len(emb[lo]) != 1 {
		t.Fatalf("CDRs = %+v, embedded %v", c, emb)
	}
	if !c.ChargingPeriods[1].Dimensions[0].Volume.Equal(d("10.0012")) || c.ChargingPeriods[0].TariffID != "12" {
		t.Errorf("period 1: %+v", c.ChargingPeriods[1])
	}
	heads, emb, err := s.CDRs(ctx, []int64{lo}, false)
	if err != nil {
		t.Fatal(err)
	}
	if h := heads[lo]; h == nil || h.ID != "C1" || len(h.ChargingPeriods) != 0 || len(emb[lo]) != 1 {
		t.Fatalf("CDRs without periods = %+v, embedded %v", h, emb)
	}
}

func TestPricedWriterRoundTripAndReplace(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	save(t, s, recvCDR(sampleCDR("C1"), "a", 1))
	write := func(total, amount int64, commit bool) {
		t.Helper()
		w, err := s.BeginRun(ctx, testRun)
		if err != nil {
			t.Fatal(err)
		}
		p := &settle.PricedCDRs{CDRKey: []int64{1}, Status: []uint8{settle.PricedOK}, Reason: []uint8{0}, Message: []int32{0},
			PricedBy: []uint8{settle.ByKernel}, TariffRef: []int32{0}, Zone: []int16{0}, Flags: []int32{0},
			Outcome:     []reconcile.Outcome{reconcile.Different},
			EmbeddedRef: []int32{-1}, EmbeddedExcl: []int64{0}, EmbeddedIncl: []int64{0}}
		for i := range p.Totals {
			p.Totals[i] = []int64{total}
		}
		l := &settle.PricedLines{CDRKey: []int64{1}, Period: []uint16{0}, Dimension: []uint8{1}, Element: []uint16{0},
			Quantity: []int64{5_432_100}, Billed: []int64{5_432_100}, UnitPrice: []int64{250_000}, VAT: []int64{21_000_000},
			VATValid: []bool{true}, Excl: []int64{amount}, Incl: []int64{amount}}
		if err := w.WriteCDRs(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteLines(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTariffs(ctx, []settle.PricedTariff{{Ref: 0, Source: "published", Key: 1, ID: "12", Policy: "p"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteZones(ctx, []settle.PricedZone{{TimeZone: "Europe/Brussels", Source: "location", Note: "n"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessages(ctx, []string{"why"}); err != nil {
			t.Fatal(err)
		}
		if !commit {
			if err := w.Rollback(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := w.Commit(ctx, settle.RunRecord{Run: testRun, Started: time.Now(), Finished: time.Now(), CDRs: 1}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (n int, total, diff, billedIncl, line string) {
		t.Helper()
		err := s.DB().QueryRowContext(ctx, `SELECT count(*), any_value(total_cost_excl_vat)::VARCHAR,
			any_value(difference_excl_vat)::VARCHAR, coalesce(any_value(billed_total_cost_incl_vat)::VARCHAR, 'NULL')
				|| ' ' || any_value(status) || ' ' || any_value(priced_by) || ' ' || any_value(time_zone) || ' ' || any_value(currency)
				|| ' ' || any_value(message) || ' ' || any_value(zone_note) || ' ' || any_value(billed_outcome) || ' ' || any_value(run_id),
			(SELECT any_value(amount_excl_vat)::VARCHAR || ' ' || any_value(quantity)::VARCHAR || ' ' || any_value(vat)::VARCHAR FROM priced_lines)
			FROM priced_cdrs_compared`).Scan(&n, &total, &diff, &billedIncl, &line)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	// Scaled integers land at the column's scale (the Appender's trap does
	// not apply to Arrow decimals).
	write(12_290_000, 1_234_567_890_1, true)
	if n, total, diff, incl, line := read(); n != 1 || total != "12.290000" || diff != "0.010000" || incl != "14.860000 priced kernel Europe/Brussels EUR why n different reprice:2026-10/*" || line != "1.2345678901 5.432100 21.000000" {
		t.Fatalf("first run: %d rows, total %s, difference %s, billed incl %s, line %s", n, total, diff, incl, line)
	}
	// A failed run leaves the previous one.
	write(1_000_000, 1, false)
	if n, total, _, _, _ := read(); n != 1 || total != "12.290000" {
		t.Fatalf("after rollback: %d rows, total %s", n, total)
	}
	// A re-run replaces it.
	write(12_280_000, 2, true)
	if n, total, diff, _, _ := read(); n != 1 || total != "12.280000" || diff != "0.000000" {
		t.Fatalf("after re-run: %d rows, total %s, difference %s", n, total, diff)
	}
}

// BenchmarkPricedWriterCDRs appends 1 M priced_cdrs rows (batches of 65536,
// the reprice writer's) into a file database in one transaction and
// reports rows/s.
func BenchmarkPricedWriterCDRs(b *testing.B) {
	const rows, batch = 1 << 20, 1 << 16
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "priced.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := &settle.PricedCDRs{}
	for i := 0; i < batch; i++ {
		p.CDRKey = append(p.CDRKey, int64(i))
		p.Status, p.Reason, p.PricedBy = append(p.Status, settle.PricedOK), append(p.Reason, 0), append(p.PricedBy, settle.ByKernel)
		p.Message, p.Outcome = append(p.Message, -1), append(p.Outcome, reconcile.Equal)
		p.TariffRef, p.Zone, p.Flags = append(p.TariffRef, int32(i%40)), append(p.Zone, int16(i%3)), append(p.Flags, 0)
		for t := range p.Totals {
			p.Totals[t] = append(p.Totals[t], int64(i%100_000)*10_000)
		}
		p.EmbeddedRef, p.EmbeddedExcl, p.EmbeddedIncl = append(p.EmbeddedRef, -1), append(p.EmbeddedExcl, 0), append(p.EmbeddedIncl, 0)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		w, err := s.BeginRun(ctx, testRun)
		if err != nil {
			b.Fatal(err)
		}
		for done := 0; done < rows; done += batch {
			for i := range p.CDRKey {
				p.CDRKey[i] = int64(done + i)
			}
			if err := w.WriteCDRs(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(ctx, settle.RunRecord{Run: testRun, Started: time.Now(), Finished: time.Now(), CDRs: rows}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// The codes priced lines carry are the schema's dimension_types codes.
func TestDimensionCodesMatchSchema(t *testing.T) {
	s := openMem(t)
	for name, code := range settle.DimensionCodes {
		var got string
		if err := s.DB().QueryRow(`SELECT name FROM dimension_types WHERE code = ?`, code).Scan(&got); err != nil || got != name {
			t.Errorf("code %d: dimension_types says %q (%v), settle says %s", code, got, err, name)
		}
	}
}

// The view names each outcome as reconcile does.
func TestOutcomeNamesMatchView(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	save(t, s, recvCDR(sampleCDR("C1"), "a", 1))
	w, err := s.BeginRun(ctx, testRun)
	if err != nil {
		t.Fatal(err)
	}
	p := &settle.PricedCDRs{}
	for _, o := range reconcile.Outcomes() {
		p.CDRKey, p.Status, p.Reason, p.Message = append(p.CDRKey, 1), append(p.Status, settle.PricedOK), append(p.Reason, 0), append(p.Message, -1)
		p.PricedBy, p.TariffRef, p.Zone, p.Flags = append(p.PricedBy, settle.ByKernel), append(p.TariffRef, -1), append(p.Zone, 0), append(p.Flags, 0)
		p.Outcome, p.EmbeddedRef, p.EmbeddedExcl, p.EmbeddedIncl = append(p.Outcome, o), append(p.EmbeddedRef, -1), append(p.EmbeddedExcl, 0), append(p.EmbeddedIncl, 0)
		for i := range p.Totals {
			p.Totals[i] = append(p.Totals[i], 0)
		}
	}
	if err := errors.Join(w.WriteCDRs(ctx, p), w.WriteZones(ctx, []settle.PricedZone{{TimeZone: "UTC", Source: "unresolved"}}),
		w.Commit(ctx, settle.RunRecord{Run: testRun, Started: time.Now(), Finished: time.Now(), CDRs: 4})); err != nil {
		t.Fatal(err)
	}
	var names string
	if err := s.DB().QueryRow(`SELECT string_agg(billed_outcome, ' ' ORDER BY billed_outcome) FROM priced_cdrs_compared`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range reconcile.Outcomes() {
		want = append(want, o.String())
	}
	slices.Sort(want)
	if names != strings.Join(want, " ") {
		t.Errorf("the view names the outcomes %q, reconcile %q", names, want)
	}
}

// The store's scope query applies settle's period rule: for CDRs whose
// end, start or only receipt fall around the windows' edges, of an owner
// with its own zone and of others, the SQL selection is exactly the CDRs
// settle.Selection.Contains(PeriodTime) holds.
func TestSelectionSQLIsThePeriodRule(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	month := settle.Month(2026, time.October)
	edges := []time.Time{}
	for _, w := range []settle.Window{month.Window(time.UTC), month.Window(berlin)} {
		for _, at := range []time.Time{w.From, w.To} {
			edges = append(edges, at.Add(-time.Microsecond), at, at.Add(time.Microsecond))
		}
	}
	edges = append(edges, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	sentinel := time.Unix(0, 0).UTC()
	type cdrAt struct {
		owner      settle.Party
		start, end time.Time
		id         string
	}
	var all []cdrAt
	var batch []ocpi.Received
	n := 0
	for _, owner := range []settle.Party{settle.NewParty("NL", "ABC"), settle.NewParty("DE", "XYZ")} {
		for _, at := range edges {
			for _, shape := range []int{0, 1, 2, 3} {
				c := sampleCDR(fmt.Sprintf("P%d", n))
				c.CountryCode, c.PartyID = owner.CountryCode, owner.PartyID
				switch shape {
				case 0: // ends at the edge, started the day before
					c.StartDateTime, c.EndDateTime = at.Add(-24*time.Hour), at
				case 1: // no end: its start decides
					c.StartDateTime, c.EndDateTime = at, time.Time{}
				case 2: // the sentinel end: its start decides
					c.StartDateTime, c.EndDateTime = at, sentinel
				case 3: // no times at all: received then
					c.StartDateTime, c.EndDateTime = time.Time{}, time.Time{}
				}
				r := recvCDR(c, "p", int64(n))
				if shape == 3 {
					r.ReceivedAt = at
				}
				all = append(all, cdrAt{owner, c.StartDateTime, c.EndDateTime, c.ID})
				batch = append(batch, r)
				n++
			}
		}
	}
	save(t, s, batch...)
	received := map[string]time.Time{}
	rows, err := s.DB().QueryContext(ctx, `SELECT id, received_at FROM cdrs`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		received[id] = at
	}
	rows.Close()
	zones := map[settle.Party]*time.Location{settle.NewParty("DE", "XYZ"): berlin}
	for _, scope := range []settle.Scope{{Period: month}, {Period: month, Partner: settle.NewParty("de", "xyz")},
		{Period: month, Partner: settle.NewParty("NL", "ABC")}} {
		sel := scope.Selection(zones)
		var want []string
		for _, c := range all {
			if sel.Contains(c.owner, settle.PeriodTime(c.start, c.end, received[c.id])) {
				want = append(want, c.id)
			}
		}
		slices.Sort(want)
		_, _, got, err := s.ScopeKeys(ctx, &sel)
		if err != nil {
			t.Fatal(err)
		}
		if got != int64(len(want)) || len(want) == 0 {
			t.Errorf("scope %s: the store selects %d CDRs, the period rule %d", scope, got, len(want))
		}
		// Both forms of the query select exactly the rule's CDRs.
		filter, args := selectionSQL(&sel)
		union, uargs := scopeSQL(&sel, "id")
		for _, q := range []struct {
			sql  string
			args []any
		}{{`SELECT id FROM cdrs WHERE ` + filter, args}, {`SELECT id FROM ` + union, uargs}} {
			var ids []string
			rows, err := s.DB().QueryContext(ctx, q.sql+` ORDER BY id`, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			slices.Sort(ids)
			if !slices.Equal(ids, want) {
				t.Errorf("scope %s: %s\nselects %v\nthe period rule %v", scope, q.sql, ids, want)
			}
		}
	}
}

// rowsScanned runs q with DuckDB's profiler on one connection and returns,
// for each table scan of cdrs, the rows it read (DuckDB's
// operator_rows_scanned: rows of the row groups and vectors the scan did
// not skip by their zone maps) and the rows it returned.
func rowsScanned(t *testing.T, s *Store, q string, args ...any) (scanned, returned []int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := filepath.Join(t.TempDir(), "profile.json")
	for _, set := range []string{`PRAGMA enable_profiling = 'json'`, `SET profiling_output = '` + out + `'`,
		`SET custom_profiling_settings = '{"OPERATOR_ROWS_SCANNED": "true", "OPERATOR_CARDINALITY": "true", "OPERATOR_TYPE": "true", "EXTRA_INFO": "true"}'`} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA disable_profiling`); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Type     string         `json:"operator_type"`
		Scanned  int64          `json:"operator_rows_scanned"`
		Rows     int64          `json:"operator_cardinality"`
		Extra    map[string]any `json:"extra_info"`
		Children []node         `json:"children"`
	}
	var root node
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	var walk func(n node)
	walk = func(n node) {
		if table, _ := n.Extra["Table"].(string); n.Type == "TABLE_SCAN" && strings.HasSuffix(table, ".cdrs") {
			scanned, returned = append(scanned, n.Scanned), append(returned, n.Rows)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	return scanned, returned
}

// A scope's CDRs are read by the period's rows only, however much history
// is stored: the scope query's scans of cdrs skip the row groups whose
// end_date_time cannot be in the window (the old condition, an expression,
// read every row). History: 400 k CDRs that ended in 2025 (four row
// groups), then a month's 30.
func TestScopeSQLReadsOnlyThePeriod(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	var batch []ocpi.Received
	for i := 0; i < 30; i++ {
		c := sampleCDR(fmt.Sprintf("OCT%d", i))
		c.StartDateTime = time.Date(2026, 10, 1+i, 9, 0, 0, 0, time.UTC)
		c.EndDateTime = c.StartDateTime.Add(time.Hour)
		batch = append(batch, recvCDR(c, "o", int64(i)))
	}
	save(t, s, batch...)
	const history = 400_000
	// The history: CDRs that ended one minute apart in 2025 (only the
	// columns the scope query reads and those that may not be NULL), stored
	// before the month's.
	if _, err := s.DB().ExecContext(ctx, `CREATE TEMP TABLE month AS SELECT * FROM cdrs;
		DELETE FROM cdrs`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO cdrs BY NAME SELECT i + 1 AS cdr_key, 'NL' AS country_code, 'ABC' AS party_id, 'H' || i AS id,
			'2.2.1' AS version, ''::BLOB AS body_sha256, ''::BLOB AS raw_sha256, false AS credit,
			false AS home_charging_compensation, false AS blocking,
			to_timestamp(1735689600 + 60 * i) AS end_date_time, to_timestamp(1735686000 + 60 * i) AS start_date_time,
			to_timestamp(1735689600 + 60 * i) AS received_at
		FROM range(`+fmt.Sprint(history)+`) r(i)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO cdrs SELECT * REPLACE (cdr_key + `+fmt.Sprint(history)+` AS cdr_key) FROM month;
		DROP TABLE month`); err != nil {
		t.Fatal(err)
	}
	sel := settle.Scope{Period: settle.Month(2026, time.October)}.Selection(nil)
	lo, hi, n, err := s.ScopeKeys(ctx, &sel)
	if err != nil || n != 30 || lo != history+1 || hi != history+30 {
		t.Fatalf("ScopeKeys = %d, %d, %d, %v; want the month's 30 CDRs after the history", lo, hi, n, err)
	}
	scope, args := scopeSQL(&sel, "cdr_key")
	scanned, returned := rowsScanned(t, s, `SELECT min(cdr_key), max(cdr_key), count(*) FROM `+scope, args...)
	var read, got int64
	for i := range scanned {
		read, got = read+scanned[i], got+returned[i]
	}
	// DuckDB reads the last row group (122,880 rows, in vectors of 2,048):
	// at most that, never the history before it.
	t.Logf("scope query: scans of cdrs read %v rows and returned %v", scanned, returned)
	if got != 30 || len(scanned) == 0 || read > 122_880 {
		t.Errorf("the scope query read %d rows of cdrs (scans %v) to return %d; want at most one row group of the %d stored",
			read, scanned, got, history+30)
	}
	// The condition every row is evaluated against reads them all: the
	// measure above can tell.
	filter, fargs := selectionSQL(&sel)
	if scanned, _ := rowsScanned(t, s, `SELECT min(cdr_key), max(cdr_key), count(*) FROM cdrs WHERE `+filter, fargs...); len(scanned) != 1 || scanned[0] != history+30 {
		t.Errorf("the expression read %v rows, want all %d", scanned, history+30)
	}
}

// Given a selection, the period scan returns the periods of the
// selection's CDRs in the range only, in (cdr_key, period_index) order: the
// rows of the whole range's scan that belong to them; and the header scan
// of a sparse scope (its rows only, sorted) returns the rows of the
// range's filtered scan.
func TestScanPeriodRangeOfSelection(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	var batch []ocpi.Received
	for i := 0; i < 12; i++ {
		c := sampleCDR(fmt.Sprintf("C%d", i))
		if i%3 != 0 { // two of three end in November
			c.StartDateTime = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
			c.EndDateTime = c.StartDateTime.Add(time.Hour)
			for p := range c.ChargingPeriods {
				c.ChargingPeriods[p].StartDateTime = c.StartDateTime.Add(time.Duration(p) * time.Minute)
			}
		}
		batch = append(batch, recvCDR(c, "s", int64(i)))
	}
	save(t, s, batch...)
	sel := settle.Scope{Period: settle.Month(2025, time.October)}.Selection(nil)
	lo, hi, n, err := s.ScopeKeys(ctx, &sel)
	if err != nil || n != 4 {
		t.Fatalf("ScopeKeys = %d, %d, %d, %v; want 4 CDRs", lo, hi, n, err)
	}
	rowStrings := func(rec arrow.RecordBatch, out *[]string) {
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for c := 0; c < int(rec.NumCols()); c++ {
				row = append(row, rec.Column(c).ValueStr(i))
			}
			*out = append(*out, strings.Join(row, " "))
		}
	}
	var headers [2][]string
	for i, sparse := range []bool{false, true} {
		if err := s.ScanHeaders(ctx, &sel, lo, hi, sparse, func(rec arrow.RecordBatch) error {
			rowStrings(rec, &headers[i])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(headers[0]) != 4 || !slices.Equal(headers[0], headers[1]) {
		t.Errorf("headers, filtered:\n%s\nsparse:\n%s", strings.Join(headers[0], "\n"), strings.Join(headers[1], "\n"))
	}
	inScope := map[int64]bool{}
	for _, row := range headers[0] {
		var key int64
		fmt.Sscan(row, &key)
		inScope[key] = true
	}
	read := func(sel *settle.Selection) []string {
		var out []string
		if err := s.ScanPeriodRange(ctx, sel, lo, hi, func(rec arrow.RecordBatch) error {
			rowStrings(rec, &out)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var want []string
	for _, row := range read(nil) {
		var key int64
		fmt.Sscan(row, &key)
		if inScope[key] {
			want = append(want, row)
		}
	}
	got := read(&sel)
	if len(want) != 4*3 || !slices.Equal(got, want) {
		t.Errorf("the selection's periods:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
