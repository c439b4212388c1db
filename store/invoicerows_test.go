package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// InvoiceRows reads table by table what one query joining the tables
// gave: the same rows in the same order, on a period with disputes (one
// of them moved on), a CDR the run did not price, one it could not price,
// and lines with and without VAT.
func TestInvoiceRowsAreTheJoin(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	_, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	run := settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: scope.Period}}
	check := func(what string, wantDisputes int) {
		t.Helper()
		want, err := invoiceRowsJoined(s, ctx, run, &sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.InvoiceRows(ctx, run, &sel)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the reads differ from the join\n got %+v\nwant %+v", what, got, want)
		}
		// Every context read row by row, as when two share a hash.
		invoiceContextsPerCDR = true
		perCDR, err := s.InvoiceRows(ctx, run, &sel)
		invoiceContextsPerCDR = false
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(perCDR, want) {
			t.Fatalf("%s, contexts row by row: the reads differ from the join\n got %+v\nwant %+v", what, perCDR, want)
		}
		disputed := 0
		for _, r := range got {
			if r.Dispute != nil {
				disputed++
			}
		}
		if disputed != wantDisputes || len(got) == 0 {
			t.Fatalf("%s: %d rows, %d disputed, want %d", what, len(got), disputed, wantDisputes)
		}
	}
	var disputes int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM disputes`).Scan(&disputes); err != nil || disputes == 0 {
		t.Fatalf("the fixture has %d disputes (%v)", disputes, err)
	}
	// Two places and currencies, one of them with missing fields.
	if _, err := s.db.ExecContext(ctx, `UPDATE cdrs SET location_name = NULL, location_city = 'Gent', currency = NULL WHERE id = 'B1'`); err != nil {
		t.Fatal(err)
	}
	check("as reconciled", disputes)

	var first string
	if err := s.db.QueryRowContext(ctx, `SELECT min(cdr_id) FROM disputes`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveDispute(ctx, "NL", "ABC", first, reconcile.DisputeWrittenOff, "test", "", t0.AddDate(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DELETE FROM priced_cdrs WHERE cdr_key = (SELECT cdr_key FROM cdrs WHERE id = 'A2')`,
		`UPDATE priced_cdrs SET status = 1, tariff_ref = NULL WHERE cdr_key = (SELECT cdr_key FROM cdrs WHERE id = 'A3')`,
		`UPDATE priced_lines SET vat = NULL WHERE cdr_key = (SELECT cdr_key FROM cdrs WHERE id = 'D1') AND period_index = 0`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var a2Disputed int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM disputes WHERE cdr_id = 'A2'`).Scan(&a2Disputed); err != nil {
		t.Fatal(err)
	}
	check("moved, unpriced, not priceable, untaxed", disputes-a2Disputed)

	// A second owner (a copy of the first under party ABB, which sorts
	// before ABC, with keys after it): every owner's period at once, the
	// disputes found by identity across owners.
	for _, stmt := range []string{
		`INSERT INTO cdrs SELECT * REPLACE (cdr_key + 1000 AS cdr_key, 'ABB' AS party_id) FROM cdrs`,
		`INSERT INTO priced_cdrs SELECT * REPLACE (cdr_key + 1000 AS cdr_key) FROM priced_cdrs`,
		`INSERT INTO priced_lines SELECT * REPLACE (cdr_key + 1000 AS cdr_key) FROM priced_lines`,
		`INSERT INTO disputes SELECT * REPLACE ('ABB' AS party_id) FROM disputes`,
		`INSERT INTO dispute_events SELECT * REPLACE ('ABB' AS party_id) FROM dispute_events`,
		`DELETE FROM disputes WHERE party_id = 'ABB' AND cdr_id = 'B1'`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	sel = settle.Scope{Period: scope.Period}.Selection(nil)
	check("two owners", 2*(disputes-a2Disputed)-1)
}

// Two connections stage keys at once, one of them inside a transaction
// (as InvoiceRows does), each reading its own: the staging view is a
// catalog entry, and one name for both failed the second while the first
// transaction was open.
func TestStagedKeysSideBySide(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	count := func(conn *sql.Conn) (n int) {
		t.Helper()
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM load_keys`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	defer a.ExecContext(ctx, "ROLLBACK")
	err = stageKeys(ctx, a, []int64{1, 2, 3}, func(keyFilter) error {
		b, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer b.Close()
		if err := stageKeys(ctx, b, []int64{4, 5}, func(keyFilter) error {
			if n := count(b); n != 2 {
				t.Errorf("the second connection reads %d staged keys, want 2", n)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("second: %w", err)
		}
		if n := count(a); n != 3 {
			t.Errorf("the first connection reads %d staged keys, want 3", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// invoiceRowsJoined is InvoiceRows as one query joining the tables (as it
// was until 2026-12-07): the oracle the table-by-table reads must agree with.
func invoiceRowsJoined(s *Store, ctx context.Context, priced settle.Run, sel *settle.Selection) ([]settle.InvoiceRow, error) {
	runID := priced.ID()
	var runNo sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT any_value(run_no) FROM reprice_runs WHERE run_id = ?`, runID).Scan(&runNo); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	if !runNo.Valid {
		return nil, errorf("invoice rows", runID, fmt.Errorf("%w: the run has priced nothing", ErrNotFound))
	}
	scope, args := scopeSQL(sel, "*")
	// Rows come as Arrow batches (read column by column: database/sql's
	// Scan converted each of a row's 57 values through reflection, most of
	// the step's time), are gathered in chunks (an InvoiceRow is ~500
	// bytes: growing one slice copied and cleared it again and again) and
	// put in identity order here (DuckDB's ORDER BY moved every wide row
	// through its sort).
	const chunk = 4096
	var chunks [][]settle.InvoiceRow
	var keys []int64
	n := 0
	in := interner{}
	err := s.arrowQuery(ctx, invoiceRowsJoinedSQL(scope), append(args, runNo.Int64), 25+2*settle.NumTotals+9, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		for i := range int(rec.NumRows()) {
			if n%chunk == 0 {
				chunks = append(chunks, make([]settle.InvoiceRow, chunk))
			}
			r := &chunks[n/chunk][n%chunk]
			keys = append(keys, c.i64(0, i))
			r.CountryCode, r.PartyID, r.ID = in.str(c, 1, i), in.str(c, 2, i), c.str(3, i)
			copy(r.BodySHA256[:], rec.Column(4).(*array.Binary).Value(i))
			r.Start, r.End = c.micros(5, i), c.micros(6, i)
			r.Place = &settle.InvoicePlace{Currency: in.str(c, 14, i)}
			l := &r.Place.Location
			l.ID, l.Name, l.Address, l.City = in.str(c, 7, i), in.str(c, 8, i), in.str(c, 9, i), in.str(c, 10, i)
			l.PostalCode, l.Country, l.EVSEID = in.str(c, 11, i), in.str(c, 12, i), in.str(c, 13, i)
			r.Energy, r.EnergyValid = c.i64(15, i), c.valid(15, i)
			r.Credit = rec.Column(16).(*array.Boolean).Value(i)
			r.CreditReference = c.str(17, i)
			r.Priced = c.valid(18, i) && c.i64(18, i) == int64(settle.PricedOK)
			if rec.Column(25 + 2*settle.NumTotals + 8).(*array.Boolean).Value(i) {
				r.Pricing = &settle.InvoicePricing{Policy: in.str(c, 23, i)}
				t := &r.Pricing.Tariff
				t.CountryCode, t.PartyID, t.ID, t.LastUpdated = in.str(c, 19, i), in.str(c, 20, i), in.str(c, 21, i), c.micros(22, i)
			}
			r.Flags = int32(c.i64(24, i))
			for k := range settle.NumTotals {
				r.Computed[k] = c.i64(25+k, i)
				r.Billed[k], r.BilledValid[k] = c.i64(25+settle.NumTotals+k, i), c.valid(25+settle.NumTotals+k, i)
			}
			const d0 = 25 + 2*settle.NumTotals
			if c.valid(d0, i) {
				var reasons []string
				if rl := rec.Column(d0 + 1).(*array.List); rl.IsValid(i) {
					from, to := rl.ValueOffsets(i)
					vals := rl.ListValues().(*array.String)
					reasons = make([]string, 0, to-from)
					for j := from; j < to; j++ {
						reasons = append(reasons, in.s(vals.Value(int(j))))
					}
				}
				r.Dispute = &settle.StoredDispute{Verdict: in.str(c, d0, i), Reasons: reasons, Evidence: c.str(d0+2, i),
					State:      in.str(c, d0+3, i),
					BilledExcl: c.i64(d0+4, i), HasBilledExcl: c.valid(d0+4, i), BilledIncl: c.i64(d0+5, i), HasBilledIncl: c.valid(d0+5, i),
					RecomputedExcl: c.i64(d0+6, i), HasRecomputedExcl: c.valid(d0+6, i),
					RecomputedIncl: c.i64(d0+7, i), HasRecomputedIncl: c.valid(d0+7, i)}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	// Identity order, sorted over compact keys (a row is ~500 bytes: a sort
	// that compared rows in place waited on memory more than it compared).
	type sortKey struct {
		cc, pid, id string
		key         int64
		at          int32
	}
	order := make([]sortKey, n)
	at := func(i int32) *settle.InvoiceRow { return &chunks[i/chunk][i%chunk] }
	for i := range order {
		r := at(int32(i))
		order[i] = sortKey{r.CountryCode, r.PartyID, r.ID, keys[i], int32(i)}
	}
	slices.SortFunc(order, func(a, b sortKey) int {
		if a.cc == b.cc && a.pid == b.pid {
			return cmp.Or(strings.Compare(a.id, b.id), cmp.Compare(a.key, b.key))
		}
		return cmp.Or(strings.Compare(a.cc, b.cc), strings.Compare(a.pid, b.pid), strings.Compare(a.id, b.id), cmp.Compare(a.key, b.key))
	})
	out := make([]settle.InvoiceRow, n)
	index := newKeyIndex(keys)
	for i, k := range order {
		out[i] = *at(k.at)
		index.put(k.key, i)
	}
	chunks = nil
	if err := s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) error {
		return invoiceRates(ctx, q, runNo.Int64, filter, index, out)
	}); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	return out, nil
}

// invoiceRowsJoinedSQL is invoiceRowsJoined's query over the CDRs of scope (scopeSQL); its
// last argument is the run number.
func invoiceRowsJoinedSQL(scope string) string {
	var cols []string
	for _, t := range totalColumns {
		cols = append(cols, micro("p."+t+"_excl_vat"), micro("p."+t+"_incl_vat"))
	}
	for _, t := range totalColumns {
		cols = append(cols, micro("c."+t+"_excl_vat"), micro("c."+t+"_incl_vat"))
	}
	return `WITH c AS (SELECT * FROM ` + scope + `),
	d AS (SELECT x.* FROM disputes x SEMI JOIN c ON x.country_code = c.country_code AND x.party_id = c.party_id AND x.cdr_id = c.id),
	state AS (SELECT e.country_code, e.party_id, e.cdr_id, arg_max(e.state, e.seq) AS state FROM dispute_events e
		SEMI JOIN c ON e.country_code = c.country_code AND e.party_id = c.party_id AND e.cdr_id = c.id GROUP BY ALL)
	SELECT c.cdr_key, c.country_code, c.party_id, c.id, c.body_sha256, epoch_us(c.start_date_time), epoch_us(c.end_date_time),
		coalesce(c.location_id, ''), coalesce(c.location_name, ''), coalesce(c.location_address, ''),
		coalesce(c.location_city, ''), coalesce(c.location_postal_code, ''), coalesce(c.location_country, ''),
		coalesce(c.evse_id, ''), coalesce(c.currency, ''), ` + micro("c.total_energy") + `, c.credit,
		coalesce(c.credit_reference_id, ''),
		p.status::BIGINT, coalesce(t.country_code, ''), coalesce(t.party_id, ''), coalesce(t.id, ''), epoch_us(t.last_updated),
		coalesce(t.policy, ''), p.flags::BIGINT, ` + strings.Join(cols, ", ") + `,
		d.verdict, d.reasons::VARCHAR[], coalesce(d.evidence, ''), coalesce(st.state, 'raised'),
		` + micro("d.billed_excl") + `, ` + micro("d.billed_incl") + `, ` + micro("d.recomputed_excl") + `, ` + micro("d.recomputed_incl") + `,
		t.tariff_ref IS NOT NULL
	FROM c JOIN priced_cdrs p ON p.cdr_key = c.cdr_key AND p.run_no = ?
	LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref
	LEFT JOIN d ON d.country_code = c.country_code AND d.party_id = c.party_id AND d.cdr_id = c.id
	LEFT JOIN state st ON st.country_code = c.country_code AND st.party_id = c.party_id AND st.cdr_id = c.id
`
}
