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
	// Rows come as Arrow batches (read column by column: database/sql's
	// Scan converted each of a row's 57 values through reflection, most of
	// the step's time), are gathered in chunks (an InvoiceRow is ~600
	// bytes: growing one slice copied and cleared it again and again) and
	// put in identity order here (DuckDB's ORDER BY moved every wide row
	// through its sort).
	const chunk = 4096
	var chunks [][]settle.InvoiceRow
	var keys []int64
	n := 0
	in := interner{}
	err := s.arrowQuery(ctx, invoiceRowsSQL(scope), append(args, runNo.Int64), invoiceRowsColumns, func(rec arrow.RecordBatch) error {
		c := arrowCols{rec}
		for i := range int(rec.NumRows()) {
			if n%chunk == 0 {
				chunks = append(chunks, make([]settle.InvoiceRow, chunk))
			}
			r := &chunks[n/chunk][n%chunk]
			keys = append(keys, c.i64(0, i))
			r.CountryCode, r.PartyID, r.ID = in.str(c, 1, i), in.str(c, 2, i), c.str(3, i)
			copy(r.BodySHA256[:], rec.Column(4).(*array.Binary).Value(i))
			r.Start, r.End = c.micros(5, i), c.micros(6, i)
			l := &r.Location
			l.ID, l.Name, l.Address, l.City = in.str(c, 7, i), in.str(c, 8, i), in.str(c, 9, i), in.str(c, 10, i)
			l.PostalCode, l.Country, l.EVSEID = in.str(c, 11, i), in.str(c, 12, i), in.str(c, 13, i)
			r.Currency = in.str(c, 14, i)
			r.Energy, r.EnergyValid = c.i64(15, i), c.valid(15, i)
			r.Credit = rec.Column(16).(*array.Boolean).Value(i)
			r.CreditReference = c.str(17, i)
			r.Priced = c.valid(18, i) && c.i64(18, i) == int64(settle.PricedOK)
			t := &r.Tariff
			t.CountryCode, t.PartyID, t.ID, t.LastUpdated = in.str(c, 19, i), in.str(c, 20, i), in.str(c, 21, i), c.micros(22, i)
			r.PricingPolicy = in.str(c, 23, i)
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
	// Identity order, sorted over compact keys (a row is ~600 bytes: a sort
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
	if err := s.invoiceRates(ctx, runNo.Int64, sel, index, out); err != nil {
		return nil, errorf("invoice rows", runID, err)
	}
	return out, nil
}

// invoiceRates fills each row's VAT rates from its priced lines.
func (s *Store) invoiceRates(ctx context.Context, runNo int64, sel *settle.Selection, index *keyIndex, out []settle.InvoiceRow) error {
	scope, args := scopeSQL(sel, "cdr_key")
	q := `SELECT l.cdr_key, l.dimension::BIGINT, count(*)::BIGINT, count(l.vat)::BIGINT,
			` + micro("min(l.vat)") + `, ` + micro("max(l.vat)") + `
		FROM priced_lines l WHERE l.run_no = ? AND l.cdr_key IN (SELECT cdr_key FROM ` + scope + `)
		GROUP BY ALL`
	return s.arrowQuery(ctx, q, append([]any{runNo}, args...), 6, func(rec arrow.RecordBatch) error {
		c := arrowCols{rec}
		for r := range int(rec.NumRows()) {
			i, ok := index.get(c.i64(0, r))
			k := settle.RateIndex(uint8(c.i64(1, r)))
			if !ok || k < 0 {
				continue
			}
			n, nv, lo, hi := c.i64(2, r), c.i64(3, r), c.i64(4, r), c.i64(5, r)
			out[i].Rates[k] = settle.LineRate{Lines: int(n), Valid: nv == n, Mixed: nv > 0 && (nv < n || lo != hi), Rate: lo}
		}
		return nil
	})
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

// invoiceRowsColumns is how many columns invoiceRowsSQL returns.
const invoiceRowsColumns = 25 + 2*settle.NumTotals + 8

// invoiceRowsSQL is InvoiceRows' query over the CDRs of scope (scopeSQL); its
// last argument is the run number.
func invoiceRowsSQL(scope string) string {
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
		` + micro("d.billed_excl") + `, ` + micro("d.billed_incl") + `, ` + micro("d.recomputed_excl") + `, ` + micro("d.recomputed_incl") + `
	FROM c JOIN priced_cdrs p ON p.cdr_key = c.cdr_key AND p.run_no = ?
	LEFT JOIN priced_tariffs t ON t.run_no = p.run_no AND t.tariff_ref = p.tariff_ref
	LEFT JOIN d ON d.country_code = c.country_code AND d.party_id = c.party_id AND d.cdr_id = c.id
	LEFT JOIN state st ON st.country_code = c.country_code AND st.party_id = c.party_id AND st.cdr_id = c.id
`
}

// arrowCols reads a record batch's columns by index: integers as int64
// (DuckDB's BIGINT), times as microseconds since the epoch (epoch_us),
// strings copied out of the batch's memory.
type arrowCols struct{ rec arrow.RecordBatch }

func (c arrowCols) valid(col, i int) bool { return c.rec.Column(col).IsValid(i) }

func (c arrowCols) i64(col, i int) int64 {
	a := c.rec.Column(col).(*array.Int64)
	if a.IsNull(i) {
		return 0
	}
	return a.Value(i)
}

// micros is a time read as epoch_us; null is the zero time.
func (c arrowCols) micros(col, i int) time.Time {
	a := c.rec.Column(col).(*array.Int64)
	if a.IsNull(i) {
		return time.Time{}
	}
	return time.UnixMicro(a.Value(i)).UTC()
}

func (c arrowCols) str(col, i int) string {
	a := c.rec.Column(col).(*array.String)
	if a.IsNull(i) {
		return ""
	}
	return strings.Clone(a.Value(i))
}

// interner shares the copies of a column's repeated strings (parties,
// locations, currencies, tariffs, states).
type interner map[string]string

func (in interner) str(c arrowCols, col, i int) string {
	a := c.rec.Column(col).(*array.String)
	if a.IsNull(i) {
		return ""
	}
	return in.s(a.Value(i))
}

func (in interner) s(v string) string {
	if s, ok := in[v]; ok {
		return s
	}
	s := strings.Clone(v)
	in[s] = s
	return s
}
