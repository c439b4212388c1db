package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/roamsettle/roamsettle/invoicing"
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

// totalsSQL selects a table's totals (cdrs' billed ones, priced_cdrs'
// computed ones) in settle's order, excl. and incl. VAT, as micro.
func totalsSQL() string {
	cols := make([]string, 0, settle.NumTotals)
	for _, t := range totalColumns {
		cols = append(cols, micro(t+"_excl_vat"), micro(t+"_incl_vat"))
	}
	return strings.Join(cols, ", ")
}

// InvoiceRows implements settle.InvoiceSource: every CDR of the selection
// that the run priced (or could not price), ordered by identity.
//
// It reads in one snapshot on one connection, table by table: the
// selection's CDRs, then, for their keys (staged once), the run's priced
// rows and their lines' VAT rates, then the owners' disputes, and puts
// them together here. One query joining them made DuckDB carry every
// CDR's strings through its hash joins and materialise the wide result
// before the first batch: three times the time of the separate reads.
func (s *Store) InvoiceRows(ctx context.Context, priced settle.Run, sel *settle.Selection) ([]settle.InvoiceRow, error) {
	runID := priced.ID()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	defer conn.Close()
	// One snapshot for every read (rolled back: nothing is written but
	// the staged keys).
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	var runNo sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT any_value(run_no) FROM reprice_runs WHERE run_id = ?`, runID).Scan(&runNo); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	if !runNo.Valid {
		return nil, errorf("invoice rows", runID, fmt.Errorf("%w: the run has priced nothing", ErrNotFound))
	}
	out, keys, index, err := invoiceScopeCDRs(ctx, conn, sel)
	if err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	pricedRow := make([]bool, len(out))
	err = stageKeys(ctx, conn, keys, func(filter keyFilter) error {
		if err := invoicePriced(ctx, conn, runNo.Int64, filter, index, out, pricedRow); err != nil {
			return fmt.Errorf("priced rows: %w", err)
		}
		if err := invoiceRates(ctx, conn, runNo.Int64, filter, index, out); err != nil {
			return fmt.Errorf("line rates: %w", err)
		}
		return nil
	})
	if err == nil {
		if err = invoiceDisputes(ctx, conn, out); err != nil {
			err = fmt.Errorf("disputes: %w", err)
		}
	}
	if err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	// Only the CDRs the run priced (or could not price) are invoiced.
	n := 0
	for i := range out {
		if pricedRow[i] {
			if n != i {
				out[n] = out[i]
			}
			n++
		}
	}
	clear(out[n:])
	return out[:n:n], nil
}

// invoiceScopeCDRs reads the selection's CDRs in identity order (then
// key), with their keys in the same order and an index of them. DuckDB
// sorts the keys alone; the rows are then read unsorted, each straight
// into its place (sorting the wide rows, in DuckDB or here, moved every
// one of them again: a row is ~500 bytes). A row's owner, location and
// currency, which a month repeats for every session at a place, are read
// as a hash of them and looked up among the scope's distinct ones
// (invoiceContexts): for 10 M CDRs, carrying the ten strings through Arrow
// cost DuckDB 12-16 CPU-s where the hashes and the distinct ones cost 8.
func invoiceScopeCDRs(ctx context.Context, conn *sql.Conn, sel *settle.Selection) ([]settle.InvoiceRow, []int64, *keyIndex, error) {
	scope, args := scopeSQL(sel, `cdr_key, country_code, party_id, id`)
	var keys []int64
	err := arrowQueryOn(ctx, conn, `SELECT cdr_key FROM `+scope+` ORDER BY country_code, party_id, id, cdr_key`, args, 1,
		func(rec arrow.RecordBatch) error {
			keys = append(keys, rec.Column(0).(*array.Int64).Int64Values()...)
			return nil
		})
	if err != nil {
		return nil, nil, nil, err
	}
	index := newKeyIndex(keys)
	for i, k := range keys {
		index.put(k, i)
	}
	contexts, err := invoiceContexts(ctx, conn, sel)
	if err != nil {
		return nil, nil, nil, err
	}
	scope, args = scopeSQL(sel, `cdr_key, id, body_sha256, epoch_us(start_date_time), epoch_us(end_date_time),
		`+invoiceContextSQL+`, `+micro("total_energy")+`, credit, coalesce(credit_reference_id, ''), `+totalsSQL())
	out := make([]settle.InvoiceRow, len(keys))
	var ambiguous []int // rows whose context hash two contexts share
	err = arrowQueryOn(ctx, conn, `SELECT * FROM `+scope, args, 9+settle.NumTotals, func(rec arrow.RecordBatch) error {
		// The columns' arrays, asserted once per batch, not once per value.
		ints := func(col int) *array.Int64 { return rec.Column(col).(*array.Int64) }
		key, start, end, energy := ints(0), ints(3), ints(4), ints(6)
		id, sha, hashes := rec.Column(1).(*array.String), rec.Column(2).(*array.Binary), rec.Column(5).(*array.Uint64)
		credit, creditRef := rec.Column(7).(*array.Boolean), rec.Column(8).(*array.String)
		var billed [settle.NumTotals]*array.Int64
		for k := range billed {
			billed[k] = ints(9 + k)
		}
		for i := range int(rec.NumRows()) {
			at, ok := index.get(key.Value(i))
			if !ok {
				return fmt.Errorf("CDR key %d read but not ordered", key.Value(i))
			}
			r := &out[at]
			c, ok := contexts[hashes.Value(i)]
			if !ok {
				return fmt.Errorf("CDR key %d: its context was not read", key.Value(i))
			}
			if c.ambiguous {
				ambiguous = append(ambiguous, at)
			} else {
				r.CountryCode, r.PartyID, r.Place = c.countryCode, c.partyID, c.place
			}
			r.ID = strings.Clone(id.Value(i))
			copy(r.BodySHA256[:], sha.Value(i))
			r.Start, r.End = microsAt(start, i), microsAt(end, i)
			r.Energy, r.EnergyValid = int64At(energy, i)
			r.Credit = credit.Value(i)
			r.CreditReference = strings.Clone(creditRef.Value(i))
			for k, a := range &billed {
				r.Billed[k], r.BilledValid[k] = int64At(a, i)
			}
		}
		return nil
	})
	if err == nil && len(ambiguous) > 0 {
		err = invoiceContextsOf(ctx, conn, keys, ambiguous, out)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	// The disputes are found by binary search in this order: should
	// DuckDB's string order ever differ from Go's bytewise one, sort here.
	byIdentity := func(i, j int) int {
		return cmp.Or(compareIdentity(out[i], [3]string{out[j].CountryCode, out[j].PartyID, out[j].ID}), cmp.Compare(keys[i], keys[j]))
	}
	for i := 1; i < len(out); i++ {
		if byIdentity(i-1, i) > 0 {
			order := make([]int, len(out))
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, byIdentity)
			sorted, sortedKeys := make([]settle.InvoiceRow, len(out)), make([]int64, len(out))
			for i, o := range order {
				sorted[i], sortedKeys[i] = out[o], keys[o]
				index.put(keys[o], i)
			}
			return sorted, sortedKeys, index, nil
		}
	}
	return out, keys, index, nil
}

// invoiceContextColumns are a CDR's owner, location and currency as an
// invoice row holds them (NULL read as "").
const invoiceContextColumns = `country_code, party_id, coalesce(location_id, ''), coalesce(location_name, ''),
	coalesce(location_address, ''), coalesce(location_city, ''), coalesce(location_postal_code, ''),
	coalesce(location_country, ''), coalesce(evse_id, ''), coalesce(currency, '')`

// invoiceContextSQL hashes them.
const invoiceContextSQL = `hash(` + invoiceContextColumns + `)`

// invoiceContext is one distinct owner, location and currency of a scope.
// ambiguous: another one has the same hash, so the rows with that hash
// read theirs one by one (invoiceContextsOf).
type invoiceContext struct {
	countryCode, partyID string
	place                *settle.InvoicePlace // shared by the context's rows
	ambiguous            bool
}

// invoiceContextsPerCDR makes every context ambiguous, so that tests run
// the rows' own reads.
var invoiceContextsPerCDR = false

// invoiceContexts reads the scope's distinct contexts by their hash.
func invoiceContexts(ctx context.Context, conn *sql.Conn, sel *settle.Selection) (map[uint64]*invoiceContext, error) {
	scope, args := scopeSQL(sel, "*")
	out := map[uint64]*invoiceContext{}
	in := interner{}
	err := arrowQueryOn(ctx, conn, `SELECT DISTINCT `+invoiceContextSQL+`, `+invoiceContextColumns+` FROM `+scope, args, 11,
		func(rec arrow.RecordBatch) error {
			hashes := rec.Column(0).(*array.Uint64)
			for i := range int(rec.NumRows()) {
				h := hashes.Value(i)
				if c, seen := out[h]; seen {
					c.ambiguous = true
					continue
				}
				out[h] = &invoiceContext{ambiguous: invoiceContextsPerCDR}
				readInvoiceContext(out[h], rec, 1, i, in)
			}
			return nil
		})
	return out, err
}

// readInvoiceContext fills c from the invoiceContextColumns of rec's row
// i, the first of them at column from.
func readInvoiceContext(c *invoiceContext, rec arrow.RecordBatch, from, i int, in interner) {
	str := func(col int) string { return in.of(rec.Column(from+col).(*array.String), i) }
	c.countryCode, c.partyID = str(0), str(1)
	c.place = &settle.InvoicePlace{Location: invoicing.Location{ID: str(2), Name: str(3), Address: str(4), City: str(5),
		PostalCode: str(6), Country: str(7), EVSEID: str(8)}, Currency: str(9)}
}

// invoiceContextsOf reads the contexts of out's rows at the given
// positions (keys holds their CDR keys) one by one.
func invoiceContextsOf(ctx context.Context, conn *sql.Conn, keys []int64, rows []int, out []settle.InvoiceRow) error {
	byKey := make(map[int64]int, len(rows))
	list := make([]int64, 0, len(rows))
	for _, at := range rows {
		byKey[keys[at]] = at
		list = append(list, keys[at])
	}
	return stageKeys(ctx, conn, list, func(filter keyFilter) error {
		in := interner{}
		return arrowQueryOn(ctx, conn, `SELECT cdr_key, `+invoiceContextColumns+` FROM cdrs WHERE `+filter("cdr_key"), nil, 11,
			func(rec arrow.RecordBatch) error {
				ks := rec.Column(0).(*array.Int64)
				for i := range int(rec.NumRows()) {
					var c invoiceContext
					readInvoiceContext(&c, rec, 1, i, in)
					r := &out[byKey[ks.Value(i)]]
					r.CountryCode, r.PartyID, r.Place = c.countryCode, c.partyID, c.place
				}
				return nil
			})
	})
}

// invoicePriced fills each row's priced columns from the run's priced row
// and tariff, and marks the rows that have one.
func invoicePriced(ctx context.Context, conn *sql.Conn, runNo int64, filter keyFilter, index *keyIndex, out []settle.InvoiceRow, priced []bool) error {
	tariffs := map[int64]*settle.InvoicePricing{}
	err := arrowQueryOn(ctx, conn, `SELECT tariff_ref::BIGINT, coalesce(country_code, ''), coalesce(party_id, ''), coalesce(id, ''),
			epoch_us(last_updated), coalesce(policy, '')
		FROM priced_tariffs WHERE run_no = ?`, []any{runNo}, 6, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		for i := range int(rec.NumRows()) {
			tariffs[c.i64(0, i)] = &settle.InvoicePricing{Tariff: invoicing.TariffVersion{CountryCode: c.str(1, i), PartyID: c.str(2, i),
				ID: c.str(3, i), LastUpdated: c.micros(4, i)}, Policy: c.str(5, i)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	q := `SELECT cdr_key, status::BIGINT, tariff_ref::BIGINT, flags::BIGINT, ` + totalsSQL() + `
		FROM priced_cdrs WHERE run_no = ? AND ` + filter("cdr_key")
	return arrowQueryOn(ctx, conn, q, []any{runNo}, 4+settle.NumTotals, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		for r := range int(rec.NumRows()) {
			i, ok := index.get(c.i64(0, r))
			if !ok {
				continue
			}
			row := &out[i]
			priced[i] = true
			row.Priced = c.valid(1, r) && c.i64(1, r) == int64(settle.PricedOK)
			if c.valid(2, r) {
				row.Pricing = tariffs[c.i64(2, r)]
			}
			row.Flags = int32(c.i64(3, r))
			for k := range settle.NumTotals {
				row.Computed[k] = c.i64(4+k, r)
			}
		}
		return nil
	})
}

// invoiceRates fills each row's VAT rates from its priced lines.
func invoiceRates(ctx context.Context, conn *sql.Conn, runNo int64, filter keyFilter, index *keyIndex, out []settle.InvoiceRow) error {
	q := `SELECT cdr_key, dimension::BIGINT, count(*)::BIGINT, count(vat)::BIGINT, ` + micro("min(vat)") + `, ` + micro("max(vat)") + `
		FROM priced_lines WHERE run_no = ? AND ` + filter("cdr_key") + ` GROUP BY ALL`
	return arrowQueryOn(ctx, conn, q, []any{runNo}, 6, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		for r := range int(rec.NumRows()) {
			i, ok := index.get(c.i64(0, r))
			k := settle.RateIndex(uint8(c.i64(1, r)))
			if !ok || k < 0 {
				continue
			}
			n, nv, lo, hi := c.i64(2, r), c.i64(3, r), c.i64(4, r), c.i64(5, r)
			out[i].Rates[k] = settle.LineRate{Lines: int32(n), Valid: nv == n, Mixed: nv > 0 && (nv < n || lo != hi), Rate: lo}
		}
		return nil
	})
}

// invoiceDisputes gives each disputed row its dispute and the dispute's
// current state (its newest event's; 'raised' before any). The disputes
// are read by owner and found among the rows by identity here: joining
// them to cdrs scanned the whole period for every partner when nightly
// pulls store the partners' CDRs interleaved.
func invoiceDisputes(ctx context.Context, conn *sql.Conn, out []settle.InvoiceRow) error {
	var owners strings.Builder
	var args []any
	for i := range out {
		if i > 0 && out[i].CountryCode == out[i-1].CountryCode && out[i].PartyID == out[i-1].PartyID {
			continue
		}
		if len(args) > 0 {
			owners.WriteString(", ")
		}
		owners.WriteString("(?::VARCHAR, ?::VARCHAR)")
		args = append(args, out[i].CountryCode, out[i].PartyID)
	}
	if len(args) == 0 {
		return nil
	}
	q := `WITH o(country_code, party_id) AS (VALUES ` + owners.String() + `),
		d AS (SELECT x.* FROM disputes x SEMI JOIN o USING (country_code, party_id) WHERE x.verdict IS NOT NULL),
		state AS (SELECT e.country_code, e.party_id, e.cdr_id, arg_max(e.state, e.seq) AS state FROM dispute_events e
			SEMI JOIN d ON e.country_code = d.country_code AND e.party_id = d.party_id AND e.cdr_id = d.cdr_id GROUP BY ALL)
		SELECT d.country_code, d.party_id, d.cdr_id, d.verdict, d.reasons::VARCHAR[], coalesce(d.evidence, ''),
			coalesce(st.state, 'raised'),
			` + micro("d.billed_excl") + `, ` + micro("d.billed_incl") + `, ` + micro("d.recomputed_excl") + `, ` + micro("d.recomputed_incl") + `
		FROM d LEFT JOIN state st ON st.country_code = d.country_code AND st.party_id = d.party_id AND st.cdr_id = d.cdr_id`
	in := interner{}
	return arrowQueryOn(ctx, conn, q, args, 11, func(rec arrow.RecordBatch) error {
		c := newArrowCols(rec)
		cc, pid, id := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.String)
		reasons := rec.Column(4).(*array.List)
		for r := range int(rec.NumRows()) {
			// The rows are in identity order; every row of the identity
			// (one per key) is disputed, as a join would give it.
			identity := [3]string{cc.Value(r), pid.Value(r), id.Value(r)}
			at, _ := slices.BinarySearchFunc(out, identity, compareIdentity)
			for i := at; i < len(out) && compareIdentity(out[i], identity) == 0; i++ {
				out[i].Dispute = &settle.StoredDispute{Verdict: in.str(c, 3, r), Reasons: in.list(reasons, r), Evidence: c.str(5, r),
					State:      in.str(c, 6, r),
					BilledExcl: c.i64(7, r), HasBilledExcl: c.valid(7, r), BilledIncl: c.i64(8, r), HasBilledIncl: c.valid(8, r),
					RecomputedExcl: c.i64(9, r), HasRecomputedExcl: c.valid(9, r),
					RecomputedIncl: c.i64(10, r), HasRecomputedIncl: c.valid(10, r)}
			}
		}
		return nil
	})
}

// compareIdentity orders a row against an identity (country code, party
// id, CDR id) as InvoiceRows orders its rows.
func compareIdentity(r settle.InvoiceRow, id [3]string) int {
	return cmp.Or(strings.Compare(r.CountryCode, id[0]), strings.Compare(r.PartyID, id[1]), strings.Compare(r.ID, id[2]))
}

// keyIndex finds a row by its cdr_key. The keys of one partner's month
// are a share of the database's key range, so a slice over that range
// (when it is at most 16 times the rows) serves where a map of a million
// keys cost more than the query that fills it; a sparser range takes the
// map.
type keyIndex struct {
	min   int64
	pos   []int32 // position + 1 by key - min (0: absent)
	byKey map[int64]int
}

func newKeyIndex(keys []int64) *keyIndex {
	if len(keys) == 0 {
		return &keyIndex{byKey: map[int64]int{}}
	}
	lo, hi := slices.Min(keys), slices.Max(keys)
	if span := uint64(hi - lo); span < 16*uint64(len(keys)) && span < math.MaxInt32 {
		return &keyIndex{min: lo, pos: make([]int32, span+1)}
	}
	return &keyIndex{byKey: make(map[int64]int, len(keys))}
}

// put records key at position i (i < 2^31-1).
func (x *keyIndex) put(key int64, i int) {
	if x.byKey != nil {
		x.byKey[key] = i
		return
	}
	x.pos[key-x.min] = int32(i) + 1
}

func (x *keyIndex) get(key int64) (int, bool) {
	if x.byKey != nil {
		i, ok := x.byKey[key]
		return i, ok
	}
	if key < x.min || uint64(key-x.min) >= uint64(len(x.pos)) || x.pos[key-x.min] == 0 {
		return 0, false
	}
	return int(x.pos[key-x.min]) - 1, true
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

// arrowCols reads a record batch's columns by index: integers as int64
// (DuckDB's BIGINT), times as microseconds since the epoch (epoch_us),
// strings copied out of the batch's memory. The columns' arrays are
// asserted once per batch (newArrowCols): asserting them per value cost
// 2.4 of the 40 CPU-s that reading a 10 M month's invoice rows took.
type arrowCols struct {
	rec  arrow.RecordBatch
	ints []*array.Int64 // by column; nil for a column of another type
	strs []*array.String
}

func newArrowCols(rec arrow.RecordBatch) arrowCols {
	c := arrowCols{rec: rec, ints: make([]*array.Int64, rec.NumCols()), strs: make([]*array.String, rec.NumCols())}
	for i, col := range rec.Columns() {
		switch a := col.(type) {
		case *array.Int64:
			c.ints[i] = a
		case *array.String:
			c.strs[i] = a
		}
	}
	return c
}

func (c arrowCols) valid(col, i int) bool { return c.rec.Column(col).IsValid(i) }

func (c arrowCols) i64(col, i int) int64 {
	a := c.ints[col]
	if a.IsNull(i) {
		return 0
	}
	return a.Value(i)
}

// micros is a time read as epoch_us; null is the zero time.
func (c arrowCols) micros(col, i int) time.Time { return microsAt(c.ints[col], i) }

func (c arrowCols) str(col, i int) string {
	a := c.strs[col]
	if a.IsNull(i) {
		return ""
	}
	return strings.Clone(a.Value(i))
}

// interner shares the copies of a column's repeated strings (parties,
// locations, currencies, tariffs, states).
type interner map[string]string

func (in interner) str(c arrowCols, col, i int) string {
	return in.of(c.strs[col], i)
}

// of is the shared copy of a's i-th value ("" when null).
func (in interner) of(a *array.String, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return in.s(a.Value(i))
}

// list is the shared copies of a's i-th list of strings: nil when the
// list is null, never nil otherwise (as database/sql scanned it).
func (in interner) list(a *array.List, i int) []string {
	if !a.IsValid(i) {
		return nil
	}
	vals := a.ListValues().(*array.String)
	from, to := a.ValueOffsets(i)
	out := make([]string, 0, to-from)
	for j := from; j < to; j++ {
		out = append(out, in.s(vals.Value(int(j))))
	}
	return out
}

// int64At is a's i-th value and whether it is not null.
func int64At(a *array.Int64, i int) (int64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	return a.Value(i), true
}

// microsAt is a's i-th value, an epoch_us, as a time; null is the zero
// time.
func microsAt(a *array.Int64, i int) time.Time {
	if a.IsNull(i) {
		return time.Time{}
	}
	return time.UnixMicro(a.Value(i)).UTC()
}

func (in interner) s(v string) string {
	if s, ok := in[v]; ok {
		return s
	}
	s := strings.Clone(v)
	in[s] = s
	return s
}
