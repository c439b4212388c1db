package settle

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// fakeCDR is one stored CDR of the fake source.
type fakeCDR struct {
	key      int64
	cdr      *ocpi.CDR
	received time.Time
	blocking bool
	embedded []int64 // tariff body keys
}

// fakeStore is an in-memory Source and Sink: what the store does, without
// DuckDB, so that settle's tests need no cgo link. It builds the same
// Arrow batches the store's scans produce.
type fakeStore struct {
	cdrs      []fakeCDR
	tariffs   []StoredTariff
	bodies    map[int64]ocpi.Tariff
	locations []LocationVersion
	// batchRows splits scans into batches of this many rows (0: one batch).
	batchRows int
	// selectiveScans counts the period scans asked for a selection's CDRs;
	// wholeRange answers them with every CDR in the range (as the contract
	// allows).
	selectiveScans    int
	wholeRange        bool
	sparseHeaderScans int

	failWrite error
	committed []*fakeRun
	open      *fakeRun
}

// fakeRun is what one run wrote.
type fakeRun struct {
	run      Run
	rows     PricedCDRs
	lines    PricedLines
	tariffs  []PricedTariff
	zones    []PricedZone
	reasons  []string
	messages []string
	record   RunRecord
	done     bool
	store    *fakeStore
}

func (f *fakeStore) selected(sel *Selection) []fakeCDR {
	var out []fakeCDR
	for _, c := range f.cdrs {
		if sel.Contains(NewParty(c.cdr.CountryCode, c.cdr.PartyID), PeriodTime(c.cdr.StartDateTime, c.cdr.EndDateTime, c.received)) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeStore) ScopeKeys(_ context.Context, sel *Selection) (int64, int64, int64, error) {
	cs := f.selected(sel)
	if len(cs) == 0 {
		return 0, 0, 0, nil
	}
	lo, hi := cs[0].key, cs[0].key
	for _, c := range cs {
		lo, hi = min(lo, c.key), max(hi, c.key)
	}
	return lo, hi, int64(len(cs)), nil
}

func (f *fakeStore) ScopeTariffs(_ context.Context, owner Party) ([]StoredTariff, error) {
	var out []StoredTariff
	for _, t := range f.tariffs {
		if owner.IsZero() || (Party{t.CountryCode, t.PartyID}) == owner {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeStore) TariffBodies(_ context.Context, keys []int64) (map[int64]ocpi.Tariff, error) {
	out := map[int64]ocpi.Tariff{}
	for _, k := range keys {
		t, ok := f.bodies[k]
		if !ok {
			return nil, errors.New("no tariff body")
		}
		out[k] = t
	}
	return out, nil
}

func (f *fakeStore) LocationVersions(_ context.Context, owner Party) ([]LocationVersion, error) {
	var out []LocationVersion
	for _, l := range f.locations {
		if owner.IsZero() || (Party{l.CountryCode, l.PartyID}) == owner {
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeStore) ScanEmbedded(_ context.Context, sel *Selection, fn func(cdrKey, n, firstTariff int64)) error {
	for _, c := range f.selected(sel) {
		if len(c.embedded) > 0 {
			fn(c.key, int64(len(c.embedded)), c.embedded[0])
		}
	}
	return nil
}

// contextStrings are a CDR's ContextColumns strings (nil: null).
func contextStrings(c *ocpi.CDR) []*string {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	l := &c.Location
	return []*string{opt(ocpi.Key(c.CountryCode)), opt(ocpi.Key(c.PartyID)), opt(l.ID), opt(l.EVSEUID), opt(l.ConnectorID),
		opt(l.TimeZone), opt(l.Country), opt(l.Coordinates.Latitude), opt(l.Coordinates.Longitude), opt(c.Currency)}
}

// contextHash hashes the strings; collide makes every hash the same (to
// exercise the per-CDR path).
func (f *fakeStore) contextHash(ss []*string) uint64 {
	h := fnv.New64a()
	for _, s := range ss {
		if s == nil {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		h.Write([]byte(*s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func stringCol(mem memory.Allocator, vals []*string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(*v)
		}
	}
	return b.NewArray()
}

// emit hands fn the columns in batches of f.batchRows.
func (f *fakeStore) emit(names []string, cols []arrow.Array, fn func(arrow.RecordBatch) error) error {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: names[i], Type: c.DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(cols[0].Len()))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	n := rec.NumRows()
	step := int64(f.batchRows)
	if step <= 0 {
		step = max(n, 1)
	}
	for lo := int64(0); lo < n; lo += step {
		part := rec.NewSlice(lo, min(lo+step, n))
		err := fn(part)
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) ScanContexts(_ context.Context, sel *Selection, fn func(arrow.RecordBatch) error) error {
	mem := memory.DefaultAllocator
	seen := map[uint64]bool{}
	var hashes []uint64
	cols := make([][]*string, len(ContextColumns)-1)
	for _, c := range f.selected(sel) {
		ss := contextStrings(c.cdr)
		h := f.contextHash(ss)
		if seen[h] {
			continue
		}
		seen[h] = true
		hashes = append(hashes, h)
		for i, s := range ss {
			cols[i] = append(cols[i], s)
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	hb := array.NewUint64Builder(mem)
	hb.AppendValues(hashes, nil)
	arrs := []arrow.Array{hb.NewArray()}
	hb.Release()
	for _, c := range cols {
		arrs = append(arrs, stringCol(mem, c))
	}
	return f.emit(ContextColumns, arrs, fn)
}

func (f *fakeStore) ScanContextsOf(_ context.Context, sel *Selection, hashes []uint64, fn func(arrow.RecordBatch) error) error {
	mem := memory.DefaultAllocator
	var keys []int64
	var hs []uint64
	cols := make([][]*string, len(ContextColumns)-1)
	for _, c := range f.selected(sel) {
		ss := contextStrings(c.cdr)
		h := f.contextHash(ss)
		if !slices.Contains(hashes, h) {
			continue
		}
		keys, hs = append(keys, c.key), append(hs, h)
		for i, s := range ss {
			cols[i] = append(cols[i], s)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	kb, hb := array.NewInt64Builder(mem), array.NewUint64Builder(mem)
	kb.AppendValues(keys, nil)
	hb.AppendValues(hs, nil)
	arrs := []arrow.Array{kb.NewArray(), hb.NewArray()}
	kb.Release()
	hb.Release()
	for _, c := range cols {
		arrs = append(arrs, stringCol(mem, c))
	}
	return f.emit(append([]string{"cdr_key"}, ContextColumns...), arrs, fn)
}

// micro is a decimal in millionths.
func micro(d decimal.Decimal) int64 { return d.Shift(6).Round(0).IntPart() }

func (f *fakeStore) ScanHeaders(_ context.Context, sel *Selection, minKey, maxKey int64, sparse bool, fn func(arrow.RecordBatch) error) error {
	if sparse {
		f.sparseHeaderScans++
	}
	mem := memory.DefaultAllocator
	keys, starts := array.NewInt64Builder(mem), array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	credit, blocking := array.NewBooleanBuilder(mem), array.NewBooleanBuilder(mem)
	bx, bi := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	ids := array.NewListBuilder(mem, arrow.BinaryTypes.String)
	idv := ids.ValueBuilder().(*array.StringBuilder)
	ctxs := array.NewUint64Builder(mem)
	n := 0
	for _, c := range f.selected(sel) {
		if c.key < minKey || c.key > maxKey {
			continue
		}
		n++
		keys.Append(c.key)
		if c.cdr.StartDateTime.IsZero() {
			starts.AppendNull()
		} else {
			starts.Append(arrow.Timestamp(c.cdr.StartDateTime.UnixMicro()))
		}
		credit.Append(c.cdr.Credit)
		blocking.Append(c.blocking)
		if p := c.cdr.TotalCost; p != nil {
			bx.Append(micro(p.ExclVAT))
			if p.InclVAT.Valid {
				bi.Append(micro(p.InclVAT.Decimal))
			} else {
				bi.AppendNull()
			}
		} else {
			bx.AppendNull()
			bi.AppendNull()
		}
		if t := c.cdr.Location.TariffIDs; t != nil {
			ids.Append(true)
			for _, id := range t {
				idv.Append(id)
			}
		} else {
			ids.AppendNull()
		}
		ctxs.Append(f.contextHash(contextStrings(c.cdr)))
	}
	bs := []array.Builder{keys, starts, credit, blocking, bx, bi, ids, ctxs}
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	if n == 0 {
		return nil
	}
	arrs := make([]arrow.Array, len(bs))
	for i, b := range bs {
		arrs[i] = b.NewArray()
	}
	return f.emit(HeaderColumns, arrs, fn)
}

// ScanPeriodRange builds pricing.PeriodColumns as the store does: every
// CDR in the key range, in scope or not, or only the selection's.
func (f *fakeStore) ScanPeriodRange(_ context.Context, sel *Selection, minKey, maxKey int64, fn func(arrow.RecordBatch) error) error {
	mem := memory.DefaultAllocator
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	keys, idx := array.NewInt64Builder(mem), array.NewUint16Builder(mem)
	starts, ends := array.NewTimestampBuilder(mem, ts), array.NewTimestampBuilder(mem, ts)
	tids := array.NewStringBuilder(mem)
	vols := make([]*array.Int64Builder, 8)
	for i := range vols {
		vols[i] = array.NewInt64Builder(mem)
	}
	n := 0
	cdrs := slices.Clone(f.cdrs)
	if sel != nil {
		f.selectiveScans++
		if !f.wholeRange {
			cdrs = f.selected(sel)
		}
	}
	slices.SortFunc(cdrs, func(a, b fakeCDR) int { return int(a.key - b.key) })
	for _, c := range cdrs {
		if c.key < minKey || c.key > maxKey {
			continue
		}
		ps := c.cdr.ChargingPeriods
		for pi, p := range ps {
			n++
			keys.Append(c.key)
			idx.Append(uint16(pi))
			starts.Append(arrow.Timestamp(p.StartDateTime.UnixMicro()))
			end := c.cdr.EndDateTime
			if pi+1 < len(ps) {
				end = ps[pi+1].StartDateTime
			}
			ends.Append(arrow.Timestamp(end.UnixMicro()))
			if p.TariffID == "" {
				tids.AppendNull()
			} else {
				tids.Append(p.TariffID)
			}
			var v [8]*int64
			for _, d := range p.Dimensions {
				x := micro(d.Volume)
				slot, combine := -1, 0 // 0 sum, 1 least, 2 greatest
				switch strings.ToUpper(d.Type) {
				case "ENERGY":
					slot = 0
				case "TIME":
					slot = 1
				case "PARKING_TIME":
					slot = 2
				case "RESERVATION_TIME":
					slot = 3
				case "MIN_CURRENT":
					slot, combine = 4, 1
				case "MAX_CURRENT":
					slot, combine = 5, 2
				case "MIN_POWER":
					slot, combine = 6, 1
				case "MAX_POWER":
					slot, combine = 7, 2
				}
				if slot < 0 {
					continue
				}
				switch {
				case v[slot] == nil:
					v[slot] = &x
				case combine == 0:
					*v[slot] += x
				case combine == 1:
					*v[slot] = min(*v[slot], x)
				default:
					*v[slot] = max(*v[slot], x)
				}
			}
			for i, b := range vols {
				if v[i] == nil {
					b.AppendNull()
				} else {
					b.Append(*v[i])
				}
			}
		}
	}
	bs := []array.Builder{keys, idx, starts, ends, tids}
	for _, b := range vols {
		bs = append(bs, b)
	}
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	if n == 0 {
		return nil
	}
	arrs := make([]arrow.Array, len(bs))
	for i, b := range bs {
		arrs[i] = b.NewArray()
	}
	return f.emit(pricing.PeriodColumns, arrs, fn)
}

func (f *fakeStore) CDRs(_ context.Context, keys []int64, withPeriods bool) (map[int64]*ocpi.CDR, map[int64][]int64, error) {
	out, emb := map[int64]*ocpi.CDR{}, map[int64][]int64{}
	for _, c := range f.cdrs {
		if slices.Contains(keys, c.key) {
			cp := *c.cdr
			cp.Tariffs = nil // the store returns the keys, not the bodies
			if !withPeriods {
				cp.ChargingPeriods = nil
			}
			out[c.key] = &cp
			if len(c.embedded) > 0 {
				emb[c.key] = c.embedded
			}
		}
	}
	return out, emb, nil
}

func (f *fakeStore) BeginRun(_ context.Context, run Run) (RunWriter, error) {
	f.open = &fakeRun{run: run, store: f}
	return f.open, nil
}

func (w *fakeRun) WriteCDRs(_ context.Context, p *PricedCDRs) error {
	if w.store.failWrite != nil {
		return w.store.failWrite
	}
	r := &w.rows
	r.CDRKey, r.Status, r.Reason, r.Message = append(r.CDRKey, p.CDRKey...), append(r.Status, p.Status...), append(r.Reason, p.Reason...), append(r.Message, p.Message...)
	r.PricedBy, r.TariffRef, r.Zone, r.Flags = append(r.PricedBy, p.PricedBy...), append(r.TariffRef, p.TariffRef...), append(r.Zone, p.Zone...), append(r.Flags, p.Flags...)
	r.Outcome, r.EmbeddedRef = append(r.Outcome, p.Outcome...), append(r.EmbeddedRef, p.EmbeddedRef...)
	r.EmbeddedExcl, r.EmbeddedIncl = append(r.EmbeddedExcl, p.EmbeddedExcl...), append(r.EmbeddedIncl, p.EmbeddedIncl...)
	for i := range r.Totals {
		r.Totals[i] = append(r.Totals[i], p.Totals[i]...)
	}
	return nil
}

func (w *fakeRun) WriteLines(_ context.Context, l *PricedLines) error {
	o := &w.lines
	o.CDRKey, o.Period, o.Dimension, o.Element = append(o.CDRKey, l.CDRKey...), append(o.Period, l.Period...), append(o.Dimension, l.Dimension...), append(o.Element, l.Element...)
	o.Quantity, o.Billed, o.UnitPrice = append(o.Quantity, l.Quantity...), append(o.Billed, l.Billed...), append(o.UnitPrice, l.UnitPrice...)
	o.VAT, o.VATValid, o.Excl, o.Incl = append(o.VAT, l.VAT...), append(o.VATValid, l.VATValid...), append(o.Excl, l.Excl...), append(o.Incl, l.Incl...)
	return nil
}

func (w *fakeRun) WriteTariffs(_ context.Context, ts []PricedTariff) error {
	w.tariffs = ts
	return nil
}
func (w *fakeRun) WriteZones(_ context.Context, zs []PricedZone) error { w.zones = zs; return nil }
func (w *fakeRun) WriteReasons(_ context.Context, rs []string) error   { w.reasons = rs; return nil }
func (w *fakeRun) WriteMessages(_ context.Context, ms []string) error  { w.messages = ms; return nil }

func (w *fakeRun) Commit(_ context.Context, rec RunRecord) error {
	w.record, w.done = rec, true
	w.store.committed = append(w.store.committed, w)
	w.store.open = nil
	return nil
}

func (w *fakeRun) Rollback() error {
	w.store.open = nil
	return nil
}

// row is one CDR's priced row, named.
type row struct {
	status, reason, message string
	by                      uint8
	totals                  [NumTotals]int64
	outcome                 string
	zone                    PricedZone
	tariff                  string
}

// rowsByID returns the committed run's rows by CDR id.
func (w *fakeRun) rowsByID(f *fakeStore) map[string]row {
	ids := map[int64]string{}
	for _, c := range f.cdrs {
		ids[c.key] = c.cdr.ID
	}
	out := map[string]row{}
	r := &w.rows
	for i, k := range r.CDRKey {
		x := row{status: []string{"priced", "not_priceable"}[r.Status[i]], by: r.PricedBy[i], outcome: r.Outcome[i].String(), zone: w.zones[r.Zone[i]]}
		if c := r.Reason[i]; c > 0 {
			x.reason = w.reasons[c-1]
		}
		if m := r.Message[i]; m >= 0 {
			x.message = w.messages[m]
		}
		if t := r.TariffRef[i]; t >= 0 {
			x.tariff = w.tariffs[t].ID
		}
		for c := range x.totals {
			x.totals[c] = r.Totals[c][i]
		}
		out[ids[k]] = x
	}
	return out
}
