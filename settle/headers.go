package settle

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// keyChunk is how many cdr_keys one header or period read covers: the
// DuckDB driver materialises a query's whole result before the first batch
// (one query over 10 M CDRs held ~2 GB).
const keyChunk = 1 << 20

// eachKeyChunk calls fn for consecutive key ranges [lo, hi] covering
// [minKey, maxKey].
func eachKeyChunk(minKey, maxKey int64, fn func(lo, hi int64) error) error {
	for lo := minKey; lo <= maxKey; lo += keyChunk {
		if err := fn(lo, min(lo+keyChunk-1, maxKey)); err != nil {
			return err
		}
	}
	return nil
}

// locKey names a stored location: its owner and upper-cased id.
type locKey struct {
	owner int32
	id    string
}

// locVersions are a location's stored versions ordered by last_updated.
type locVersions struct {
	at    []int64 // last_updated, µs
	zones []string
	conns []map[[2]string][]string
}

// version is the version in effect at start (µs): the latest not after it,
// else the oldest (also when the start is unknown).
func (l *locVersions) version(start int64, known bool) int {
	v := 0
	if known {
		for j, at := range l.at {
			if at <= start {
				v = j
			}
		}
	}
	return v
}

// loadLocations indexes the stored location versions by owner and id.
func (r *runner) loadLocations() error {
	ls, err := r.src.LocationVersions(r.ctx, r.opts.Run.Scope.Partner)
	if err != nil {
		return wrap("location versions", ErrRead, r.opts.Run.ID(), err)
	}
	r.locs = map[locKey]*locVersions{}
	for _, l := range ls {
		k := locKey{r.ownerIndex(Party{l.CountryCode, l.PartyID}), l.ID}
		v := r.locs[k]
		if v == nil {
			v = &locVersions{}
			r.locs[k] = v
		}
		v.at, v.zones, v.conns = append(v.at, l.LastUpdated.UnixMicro()), append(v.zones, l.TimeZone), append(v.conns, l.Connectors)
	}
	return nil
}

// prepareHeaders sizes the per-CDR arrays, one entry per key of the
// range, or per CDR of a sparse scope (n CDRs), and indexes the stored
// locations.
func (r *runner) prepareHeaders(minKey, maxKey, cdrs int64) error {
	n := int(maxKey - minKey + 1)
	r.minKey = minKey
	if sparse(cdrs, minKey, maxKey) {
		n = int(cdrs)
		r.keys = make([]int64, 0, n)
	}
	r.state, r.flags = make([]uint8, n), make([]uint8, n)
	r.start, r.billedX, r.billedI = make([]int64, n), make([]int64, n), make([]int64, n)
	r.owner, r.fallback, r.zone, r.emb = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	r.currency = make([]int16, n)
	for i := range r.emb {
		r.emb[i] = -1
	}
	return r.loadLocations()
}

// loadEmbedded compiles the tariffs the scope's CDRs embed. It runs after
// the header scan, which places a sparse scope's CDRs.
func (r *runner) loadEmbedded() error {
	var embKeys []int64
	err := r.src.ScanEmbedded(r.ctx, r.sel, func(key, m, first int64) {
		k := r.index(key)
		if k < 0 {
			return
		}
		switch {
		case m > 1:
			r.emb[k] = -2
		case m == 1:
			ei, ok := r.embIndex[first]
			if !ok {
				ei = int32(len(embKeys))
				r.embIndex[first] = ei
				embKeys = append(embKeys, first)
			}
			r.emb[k] = ei
		}
	})
	if err != nil {
		return wrap("scan embedded tariffs", ErrRead, r.opts.Run.ID(), err)
	}
	if len(embKeys) == 0 {
		return nil
	}
	// Rows arrive in no fixed order: number the embedded tariffs by key so
	// a re-run writes the same tariff refs.
	sorted := append([]int64(nil), embKeys...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	bodies, err := r.src.TariffBodies(r.ctx, sorted)
	if err != nil {
		return wrap("embedded tariffs", ErrRead, r.opts.Run.ID(), err)
	}
	byKey := map[int64]int32{}
	for _, k := range sorted {
		t := bodies[k]
		o := r.ownerIndex(NewParty(t.CountryCode, t.PartyID))
		byKey[k] = r.addTariff(PricedTariff{Source: "embedded", Key: k, CountryCode: t.CountryCode, PartyID: t.PartyID,
			ID: t.ID, LastUpdated: t.LastUpdated}, &t, r.policies[o])
	}
	remap := make([]int32, len(embKeys))
	for i, k := range embKeys {
		remap[i] = byKey[k]
	}
	for i, e := range r.emb {
		if e >= 0 {
			r.emb[i] = remap[e]
		}
	}
	return nil
}

// loadHeaders fills the per-CDR arrays from the header scan. It runs
// before the period scan (beside it, it would need a third connection).
func (r *runner) loadHeaders(maxKey int64) error {
	if err := r.loadContexts(); err != nil {
		return wrap("scan contexts", ErrRead, r.opts.Run.ID(), err)
	}
	return eachKeyChunk(r.minKey, maxKey, func(lo, hi int64) error {
		return wrap("scan headers", ErrRead, r.opts.Run.ID(), r.src.ScanHeaders(r.ctx, r.sel, lo, hi, r.keys != nil, r.headerBatch))
	})
}

// headerKey is what a CDR's owner, stored location, connector, zone and
// currency depend on besides its start: one map lookup per CDR instead of
// one per owner, location, connector and zone (the header loop's main cost).
type headerKey struct {
	cc, pid, loc, evse, conn, etz, country, lat, lon, currency string
	valid                                                      uint8 // bits: loc, evse, conn
}

// headerCtx is what a headerKey resolves to, per stored location version
// (one entry when the location is not stored).
type headerCtx struct {
	owner     int32
	currency  int16
	v         *locVersions
	byVersion []ctxVersion
}

type ctxVersion struct {
	zone     int32
	stored   bool     // the version's connector has tariff_ids
	fallback int32    // from them (when stored)
	ids      []string // them, when several
}

// headerContext resolves a headerKey whose strings may alias a batch.
func (r *runner) headerContext(hk headerKey) *headerCtx {
	if c, ok := r.headerCtxs[hk]; ok {
		return c
	}
	for _, s := range []*string{&hk.cc, &hk.pid, &hk.loc, &hk.evse, &hk.conn, &hk.etz, &hk.country, &hk.lat, &hk.lon, &hk.currency} {
		*s = strings.Clone(*s)
	}
	c := &headerCtx{owner: r.ownerIndex(Party{hk.cc, hk.pid}), currency: r.currencyCode(hk.currency)}
	if hk.valid&1 != 0 {
		c.v = r.locs[locKey{c.owner, strings.ToUpper(hk.loc)}]
	}
	versions := 1
	if c.v != nil {
		versions = len(c.v.at)
	}
	for j := 0; j < versions; j++ {
		var cv ctxVersion
		var tz string
		stored := c.v != nil
		if c.v != nil {
			tz = c.v.zones[j]
			if hk.valid&6 == 6 {
				if t, found := c.v.conns[j][[2]string{strings.ToUpper(hk.evse), strings.ToUpper(hk.conn)}]; found && t != nil {
					cv.stored, cv.fallback = true, -1
					switch {
					case len(t) == 1:
						cv.fallback = r.refFor(r.refCacheH, c.owner, t[0])
					case len(t) > 1:
						cv.fallback, cv.ids = -2, t
					}
				}
			}
		}
		cv.zone = r.zoneFor(zoneKey{stored, tz, hk.etz, hk.country, hk.lat, hk.lon})
		c.byVersion = append(c.byVersion, cv)
	}
	r.headerCtxs[hk] = c
	return c
}

// zoneKey is what a CDR's zone is resolved from.
type zoneKey struct {
	stored                     bool // the location is stored (tz is its version's time_zone)
	tz, etz, country, lat, lon string
}

// zoneFor resolves a zone with pricing's chain, in the order price uses:
// the stored location's time_zone, else the CDR's embedded (2.1.1) one, a
// single-zone country, the coordinates; else UTC, unresolved, with a note
// that says what was missing or failed. Each distinct zone, source and
// note is one entry, so the kernel's zone cache is shared by all CDRs in
// the zone.
func (r *runner) zoneFor(k zoneKey) int32 {
	if zi, ok := r.zoneIndex[k]; ok {
		return zi
	}
	cdr := &ocpi.CDR{Location: ocpi.CDRLocation{TimeZone: k.etz, Country: k.country,
		Coordinates: ocpi.GeoLocation{Latitude: k.lat, Longitude: k.lon}}}
	stored := pricing.LocationZones(func(_, _, _ string) (string, bool) { return k.tz, k.tz != "" })
	chain := pricing.ZoneChain{stored, pricing.CountryZones{}, pricing.DefaultCoordinateZones()}
	var e zoneEntry
	if z, ok := chain.ResolveZone(cdr); ok {
		e = zoneEntry{PricedZone{TimeZone: z.Name, Source: string(z.Source), Note: z.Note}, z.Loc}
		// The time_zones passed over (stored or embedded), as pricing names them.
		for i := len(z.Invalid) - 1; i >= 0; i-- {
			e.Note = joinNote(z.Invalid[i]+" is not an IANA zone name", e.Note)
		}
	} else {
		e = zoneEntry{PricedZone{TimeZone: "UTC", Source: string(pricing.ZoneUnresolved), Note: unresolvedNote(k)}, time.UTC}
	}
	zi := int32(-1)
	for i, z := range r.zones {
		if z.PricedZone == e.PricedZone {
			zi = int32(i)
		}
	}
	if zi < 0 {
		zi = int32(len(r.zones))
		r.zones = append(r.zones, e)
		r.zoneLocs = append(r.zoneLocs, e.loc)
	}
	r.zoneIndex[k] = zi
	return zi
}

func joinNote(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

// unresolvedNote says why no zone was found.
func unresolvedNote(k zoneKey) string {
	var why []string
	switch {
	case !k.stored:
		why = append(why, "location not stored")
	case k.tz == "":
		why = append(why, "stored location has no time_zone")
	default:
		why = append(why, fmt.Sprintf("stored location time_zone %q is not an IANA zone", k.tz))
	}
	if k.etz != "" {
		why = append(why, fmt.Sprintf("CDR time_zone %q is not an IANA zone", k.etz))
	}
	if k.country == "" {
		why = append(why, "no country")
	} else {
		why = append(why, fmt.Sprintf("country %q has no single zone", k.country))
	}
	if k.lat == "" || k.lon == "" {
		why = append(why, "no coordinates")
	} else {
		why = append(why, fmt.Sprintf("coordinates %s, %s unreadable or in no zone", k.lat, k.lon))
	}
	return strings.Join(why, "; ")
}

// contextKey reads the context strings starting at column first.
func contextKey(rec arrow.RecordBatch, first, i int) headerKey {
	var s [10]string
	var valid uint8
	for c := range s {
		a := rec.Column(first + c).(*array.String)
		if a.IsValid(i) {
			s[c] = strings.Clone(a.Value(i))
			if c >= 2 && c <= 4 {
				valid |= 1 << (c - 2) // location, EVSE, connector
			}
		}
	}
	return headerKey{cc: s[0], pid: s[1], loc: s[2], evse: s[3], conn: s[4], etz: s[5], country: s[6], lat: s[7], lon: s[8],
		currency: s[9], valid: valid}
}

// loadContexts reads the scope's distinct contexts by hash. A hash that
// two contexts share (or every hash, with opts.perCDRContexts) is resolved
// per CDR instead.
func (r *runner) loadContexts() error {
	r.ctxTuples, r.ctxByHash = map[uint64]headerKey{}, map[uint64]*headerCtx{}
	ambiguous := map[uint64]bool{}
	err := r.src.ScanContexts(r.ctx, r.sel, func(rec arrow.RecordBatch) error {
		if err := checkColumns(rec, ContextColumns, 0); err != nil {
			return err
		}
		hs := rec.Column(0).(*array.Uint64)
		for i := 0; i < int(rec.NumRows()); i++ {
			h := hs.Value(i)
			if _, dup := r.ctxTuples[h]; dup || r.opts.perCDRContexts {
				ambiguous[h] = true
			}
			r.ctxTuples[h] = contextKey(rec, 1, i)
		}
		return nil
	})
	if err != nil || len(ambiguous) == 0 {
		return err
	}
	list := make([]uint64, 0, len(ambiguous))
	for h := range ambiguous {
		list = append(list, h)
	}
	sort.Slice(list, func(a, b int) bool { return list[a] < list[b] })
	r.ambiguous, r.cdrTuples = ambiguous, map[int64]headerKey{}
	return r.src.ScanContextsOf(r.ctx, r.sel, list, func(rec arrow.RecordBatch) error {
		if err := checkColumns(rec, ContextColumns, 1); err != nil {
			return err
		}
		keys := rec.Column(0).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			r.cdrTuples[keys.Value(i)] = contextKey(rec, 2, i)
		}
		return nil
	})
}

// checkColumns refuses batches that are not shaped as the contract says
// (after skip leading columns).
func checkColumns(rec arrow.RecordBatch, names []string, skip int) error {
	s := rec.Schema()
	if s.NumFields() != len(names)+skip {
		return fmt.Errorf("batch has %d columns, want %d", s.NumFields(), len(names)+skip)
	}
	for i, n := range names {
		if got := s.Field(skip + i).Name; got != n {
			return fmt.Errorf("batch column %d is %q, want %q", skip+i, got, n)
		}
	}
	return nil
}

func (r *runner) headerBatch(rec arrow.RecordBatch) error {
	if err := checkColumns(rec, HeaderColumns, 0); err != nil {
		return err
	}
	keys := rec.Column(0).(*array.Int64)
	starts := rec.Column(1).(*array.Timestamp)
	credit, blocking := rec.Column(2).(*array.Boolean), rec.Column(3).(*array.Boolean)
	bx, bi := rec.Column(4).(*array.Int64), rec.Column(5).(*array.Int64)
	fb := rec.Column(6).(*array.List)
	fbv := fb.ListValues().(*array.String)
	contexts := rec.Column(7).(*array.Uint64)
	mul, div := int64(1), int64(1)
	switch starts.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		mul = 1e6
	case arrow.Millisecond:
		mul = 1e3
	case arrow.Nanosecond:
		div = 1e3
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		key := keys.Value(i)
		k := int(key - r.minKey)
		if r.keys != nil {
			// A sparse scope's headers come in key order: each takes the
			// next entry.
			if len(r.keys) == cap(r.keys) || (len(r.keys) > 0 && key <= r.keys[len(r.keys)-1]) {
				return fmt.Errorf("header of CDR key %d out of order or beyond the scope's %d CDRs", key, cap(r.keys))
			}
			k = len(r.keys)
			r.keys = append(r.keys, key)
		}
		var f uint8
		if credit.Value(i) {
			f |= fCredit
		}
		if blocking.Value(i) {
			f |= fBlocking
		}
		if bx.IsValid(i) {
			f |= fBilledExcl
			r.billedX[k] = bx.Value(i)
		}
		if bi.IsValid(i) {
			f |= fBilledIncl
			r.billedI[k] = bi.Value(i)
		}
		r.flags[k] = f
		startKnown := starts.IsValid(i)
		var startMicro int64
		if startKnown {
			startMicro = floorDiv(int64(starts.Value(i))*mul, div)
			r.start[k] = floorDiv(startMicro, 1e6)
		} else {
			r.start[k] = minInt64
		}
		var c *headerCtx
		switch h := contexts.Value(i); {
		case r.ambiguous != nil && r.ambiguous[h]:
			c = r.headerContext(r.cdrTuples[key])
		default:
			if c = r.ctxByHash[h]; c == nil {
				c = r.headerContext(r.ctxTuples[h])
				r.ctxByHash[h] = c
			}
		}
		o := c.owner
		r.owner[k] = o
		r.currency[k] = c.currency
		// The stored location version in effect at the start names the
		// connector's tariffs and the time zone; without a stored
		// connector (or its tariff_ids) the CDR's own ids count.
		cv := &c.byVersion[0]
		if c.v != nil {
			cv = &c.byVersion[c.v.version(startMicro, startKnown)]
		}
		r.zone[k] = cv.zone
		r.fallback[k] = -1
		switch {
		case cv.stored:
			r.fallback[k] = cv.fallback
			if cv.fallback == -2 {
				r.multiFallback[key] = cv.ids
			}
		case fb.IsValid(i):
			lo, hi := fb.ValueOffsets(i)
			switch {
			case hi-lo == 1:
				r.fallback[k] = r.refFor(r.refCacheH, o, fbv.Value(int(lo)))
			case hi-lo > 1:
				cdrIDs := make([]string, 0, hi-lo)
				for j := lo; j < hi; j++ {
					cdrIDs = append(cdrIDs, strings.Clone(fbv.Value(int(j))))
				}
				r.fallback[k] = -2
				r.multiFallback[key] = cdrIDs
			}
		}
		r.state[k] = hPending
	}
	return nil
}
