package settle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// Reason codes: why a CDR is not priceable, and why the reference priced
// one. They are stable: reconciliation and reports read them.
const (
	WhyBlocking   = "blocking_finding"
	WhyNoTariffID = "no_tariff_id"
	WhyNoTariff   = "tariff_not_stored"
	WhyNoVersion  = "no_version_in_effect"
	WhyNoStart    = "no_start"
	WhyRefError   = "reference_error"
	RefSeveral    = "several_connector_tariffs"
	RefNoPeriods  = "no_charging_periods"
	RefCompile    = "tariff_not_compilable"
	RefOverflow   = "kernel_overflow"
)

// WhyTariffBlocking: the tariff version in effect has a finding that blocks
// pricing (StoredTariff.Blocking).
const WhyTariffBlocking = "tariff_blocking_finding"

// reasonNames are numbered in this order (reason code i+1), so that every
// run gives a reason the same code; others are added as met.
var reasonNames = []string{WhyBlocking, WhyNoTariffID, WhyNoTariff, WhyNoVersion, WhyNoStart, WhyRefError,
	RefSeveral, RefNoPeriods, RefCompile, RefOverflow, pricing.SkipMixedTariffs.String(), pricing.SkipUnsorted.String(),
	pricing.SkipOutOfRange.String(), string(pricing.ReasonCurrencyMismatch), string(pricing.ReasonAmbiguousTariff),
	pricing.SkipMixedPeriod.String(), WhyTariffBlocking, string(pricing.ReasonNoTariffApplies)}

// Header states.
const (
	hOutOfScope uint8 = iota
	hPending
	hKernel
	hDone
)

// Header flags.
const (
	fCredit uint8 = 1 << iota
	fBlocking
	fBilledExcl
	fBilledIncl
)

// tariffRef is one published tariff (owner + id) with its versions.
type tariffRef struct {
	versions []ocpi.Tariff
	indexes  []int32 // into runner.tariffs, per version
}

type refKey struct {
	owner int32
	id    string
}

type zoneEntry struct {
	PricedZone
	loc *time.Location
}

// runner holds a run's state. Per-CDR header columns are dense arrays
// indexed by cdr_key - minKey, so that the kernel's lookup is an index.
type runner struct {
	ctx  context.Context
	src  Source
	opts Options
	sum  *Summary
	sel  *Selection

	owners     map[Party]int32
	ownerNames []Party
	policies   []pricing.Policy // per owner
	refs       []tariffRef
	refIndex   map[refKey]int32
	tariffs    []PricedTariff
	compiled   []*pricing.Compiled
	minor      []int   // per tariff: the minor units its amounts are rounded to
	tariffMsg  []int32 // per tariff: message (compile error, unknown currency); -1 none
	blocked    []int32 // per tariff: why it prices nothing (a blocking finding); -1 none
	units      [][]lineUnit
	embIndex   map[int64]int32

	zones      []zoneEntry
	zoneLocs   []*time.Location
	zoneIndex  map[zoneKey]int32
	locs       map[locKey]*locVersions
	refCacheH  map[refKey]int32 // refFor's cache for the header loader
	headerCtxs map[headerKey]*headerCtx
	ctxTuples  map[uint64]headerKey  // context hash -> strings
	ctxByHash  map[uint64]*headerCtx // resolved
	ambiguous  map[uint64]bool       // hashes two contexts share
	cdrTuples  map[int64]headerKey   // their CDRs' strings
	refCacheP  map[refKey]int32      // and for the period scan
	reasons    []string
	reasonIdx  map[string]uint8
	messages   []string
	messageIdx map[string]int32
	currencies []string
	currIdx    map[string]int16
	currSums   []currencySums

	minKey int64
	// keys are the scope's keys in order when it is sparse (few of its key
	// range's keys): the per-CDR arrays then hold one entry per CDR of the
	// scope, at its position in keys, instead of one per key of the range.
	keys     []int64
	state    []uint8
	flags    []uint8
	start    []int64
	owner    []int32
	fallback []int32 // ref; -1 none, -2 several, -3 not stored
	zone     []int32
	emb      []int32 // tariff index of the embedded tariff; -1 none, -2 several
	currency []int16
	billedX  []int64
	billedI  []int64

	refQueue      map[int64]string   // cdr_key -> why the reference prices it
	refMessage    map[int64]int32    // cdr_key -> message that goes with it
	multiFallback map[int64][]string // cdr_key -> several connector tariff ids

	w    RunWriter
	buf  *writeBuf      // being filled
	full chan *writeBuf // to the writer goroutine
	free chan *writeBuf // back from it
	werr chan error     // the writer's first error, when it stops
	wrun bool
	out  *pricing.Output
	embO *pricing.Output
	embT []int32
}

type lineUnit struct {
	price, vat int64 // millionths
	vatValid   bool
}

func newRunner(ctx context.Context, src Source, opts Options, sum *Summary) *runner {
	r := &runner{ctx: ctx, src: src, opts: opts, sum: sum, sel: &sum.Selection, owners: map[Party]int32{},
		refIndex: map[refKey]int32{}, refCacheH: map[refKey]int32{}, refCacheP: map[refKey]int32{},
		headerCtxs: map[headerKey]*headerCtx{}, embIndex: map[int64]int32{}, zoneIndex: map[zoneKey]int32{},
		reasonIdx: map[string]uint8{}, messageIdx: map[string]int32{}, currIdx: map[string]int16{},
		refQueue: map[int64]string{}, refMessage: map[int64]int32{}, multiFallback: map[int64][]string{}}
	for _, why := range reasonNames {
		r.reasonCode(why)
	}
	return r
}

func (r *runner) ownerIndex(p Party) int32 {
	if i, ok := r.owners[p]; ok {
		return i
	}
	i := int32(len(r.ownerNames))
	r.owners[p] = i
	r.ownerNames = append(r.ownerNames, p)
	pol := r.opts.Policies[p].Pricing
	if pol.Mode == "" {
		pol = pricing.DefaultPolicy()
	}
	r.policies = append(r.policies, pol)
	return i
}

// policyName is how priced tariffs name the policy they were compiled under.
func policyName(p pricing.Policy) string {
	s := string(p.Mode) + "/" + string(p.Level) + "/" + string(p.Step)
	if p.MinorUnits >= 0 {
		s += fmt.Sprintf("/minor=%d", p.MinorUnits)
	}
	return s
}

// tariffName names a tariff version in messages.
func tariffName(t *ocpi.Tariff) string {
	s := ocpi.PartyKey(t.CountryCode, t.PartyID) + "*" + t.ID
	if !t.LastUpdated.IsZero() {
		s += " of " + ocpi.FormatDateTime(t.LastUpdated)
	}
	return s
}

// addTariff compiles one tariff version under its owner's policy; a version
// the kernel cannot represent gets a nil entry (and its compile error as
// its message) and goes to the reference.
func (r *runner) addTariff(pt PricedTariff, t *ocpi.Tariff, pol pricing.Policy) int32 {
	idx := int32(len(r.tariffs))
	pt.Ref, pt.Policy, pt.Currency = idx, policyName(pol), t.Currency
	r.tariffs = append(r.tariffs, pt)
	c, err := pricing.Compile(t, pol)
	msg := int32(-1)
	minor := 2
	switch {
	case err != nil:
		c = nil
		msg = r.messageCode("tariff " + tariffName(t) + " does not compile: " + err.Error())
		if m, ok := pricing.CurrencyMinorUnits(t.Currency); ok {
			minor = m
		}
	default:
		minor = c.MinorUnits()
		if _, known := pricing.CurrencyMinorUnits(t.Currency); !known && pol.MinorUnits < 0 {
			msg = r.messageCode(fmt.Sprintf("tariff %s: currency %q is not ISO 4217: amounts rounded to %d minor units", tariffName(t), t.Currency, minor))
		}
	}
	r.compiled = append(r.compiled, c)
	r.minor = append(r.minor, minor)
	r.tariffMsg = append(r.tariffMsg, msg)
	r.blocked = append(r.blocked, -1)
	units := make([]lineUnit, len(t.Elements)*4)
	dims := [4]string{ocpi.TariffDimFlat, ocpi.TariffDimEnergy, ocpi.TariffDimTime, ocpi.TariffDimParkingTime}
	for e := range t.Elements {
		for d, name := range dims {
			for _, pc := range t.Elements[e].PriceComponents {
				if strings.EqualFold(pc.Type, name) {
					u := &units[e*4+d]
					u.price = pc.Price.Shift(6).IntPart()
					if pc.VAT.Valid {
						u.vat, u.vatValid = pc.VAT.Decimal.Shift(6).IntPart(), true
					}
					break // the first component of a type wins, as in the kernel
				}
			}
		}
	}
	r.units = append(r.units, units)
	return idx
}

func (r *runner) loadTariffs() error {
	ts, err := r.src.ScopeTariffs(r.ctx, r.opts.Run.Scope.Partner)
	if err != nil {
		return wrap("published tariffs", ErrRead, r.opts.Run.ID(), err)
	}
	for i := range ts {
		t := &ts[i]
		o := r.ownerIndex(Party{t.CountryCode, t.PartyID})
		k := refKey{o, t.ID}
		ri, ok := r.refIndex[k]
		if !ok {
			ri = int32(len(r.refs))
			r.refIndex[k] = ri
			r.refs = append(r.refs, tariffRef{})
		}
		ti := r.addTariff(PricedTariff{Source: "published", Key: t.Key, CountryCode: t.CountryCode, PartyID: t.PartyID,
			ID: t.ID, LastUpdated: t.LastUpdated}, &t.Tariff, r.policies[o])
		if t.Blocking != "" {
			r.blocked[ti] = r.messageCode("tariff " + tariffName(&t.Tariff) + " has a finding that blocks pricing (" + t.Blocking +
				"): CDRs it would price are not priced with what is left of it")
		}
		ref := &r.refs[ri]
		ref.versions = append(ref.versions, t.Tariff)
		ref.indexes = append(ref.indexes, ti)
	}
	return nil
}

// refFor finds the published tariff an id names (as sent; ids are stored
// upper-cased). The map is asked first with the spelling as sent, which
// does not allocate; a miss is cached under that spelling. Each goroutine
// has its own cache: refIndex is read-only once the tariffs are loaded.
func (r *runner) refFor(cache map[refKey]int32, owner int32, id string) int32 {
	if ri, ok := cache[refKey{owner, id}]; ok {
		return ri
	}
	ri, ok := r.refIndex[refKey{owner, id}]
	if !ok {
		if ri, ok = r.refIndex[refKey{owner, ocpi.Key(id)}]; !ok {
			ri = -3
		}
	}
	cache[refKey{owner, strings.Clone(id)}] = ri
	return ri
}

// inEffect returns the tariff index of the version in effect at start.
func (r *runner) inEffect(ri int32, start int64) int32 {
	ref := &r.refs[ri]
	t, ok := pricing.InEffect(ref.versions, time.Unix(start, 0).UTC())
	if !ok {
		return -1
	}
	for i := range ref.versions {
		if &ref.versions[i] == t {
			return ref.indexes[i]
		}
	}
	return -1
}

// reasonCode is the reason's code (0: none).
func (r *runner) reasonCode(why string) uint8 {
	if why == "" {
		return 0
	}
	if c, ok := r.reasonIdx[why]; ok {
		return c
	}
	r.reasons = append(r.reasons, why)
	c := uint8(len(r.reasons))
	r.reasonIdx[why] = c
	return c
}

// messageCode is the message's position (-1: none); a message shared by
// many CDRs (a tariff's) is stored once.
func (r *runner) messageCode(msg string) int32 {
	if msg == "" {
		return -1
	}
	if c, ok := r.messageIdx[msg]; ok {
		return c
	}
	c := int32(len(r.messages))
	r.messages = append(r.messages, msg)
	r.messageIdx[msg] = c
	return c
}

// currencyCode numbers the currencies of the scope's CDRs.
func (r *runner) currencyCode(cur string) int16 {
	if c, ok := r.currIdx[cur]; ok {
		return c
	}
	c := int16(len(r.currencies))
	cur = strings.Clone(cur)
	r.currencies = append(r.currencies, cur)
	r.currSums = append(r.currSums, currencySums{})
	r.currIdx[cur] = c
	return c
}

// notPriceable writes the CDR's row with the reason and its message.
func (r *runner) notPriceable(i int, why string, msg int32) {
	r.state[i] = hDone
	r.sum.NotPriceable[why]++
	r.appendRow(i, PricedNotPriceable, why, msg, ByNone, -1, 0, nil, nil, nil, 0)
}

// index is the position of a CDR's entry in the per-CDR arrays, -1 when
// the key has none.
func (r *runner) index(key int64) int {
	if r.keys != nil {
		if i, ok := slices.BinarySearch(r.keys, key); ok {
			return i
		}
		return -1
	}
	i := key - r.minKey
	if i < 0 || i >= int64(len(r.state)) {
		return -1
	}
	return int(i)
}

// keyOf is the key of the CDR whose entry is at position i.
func (r *runner) keyOf(i int) int64 {
	if r.keys != nil {
		return r.keys[i]
	}
	return r.minKey + int64(i)
}

func (r *runner) toReference(key int64, why string) {
	r.state[r.index(key)] = hDone
	r.refQueue[key] = why
}

// lookup is the kernel's HeaderLookup: it decides, per CDR, whether the
// kernel prices it.
func (r *runner) lookup(key int64, tariffID string) (pricing.CDRHeader, bool) {
	i := r.index(key)
	if i < 0 || r.state[i] != hPending {
		return pricing.CDRHeader{}, false
	}
	switch {
	case r.flags[i]&fBlocking != 0:
		r.notPriceable(i, WhyBlocking, -1)
		return pricing.CDRHeader{}, false
	case r.start[i] == minInt64:
		r.notPriceable(i, WhyNoStart, -1)
		return pricing.CDRHeader{}, false
	}
	ri := r.fallback[i]
	if tariffID != "" {
		ri = r.refFor(r.refCacheP, r.owner[i], tariffID)
	}
	switch ri {
	case -1:
		r.notPriceable(i, WhyNoTariffID, -1)
		return pricing.CDRHeader{}, false
	case -2:
		r.toReference(key, RefSeveral)
		return pricing.CDRHeader{}, false
	case -3:
		r.notPriceable(i, WhyNoTariff, -1)
		return pricing.CDRHeader{}, false
	}
	ti := r.inEffect(ri, r.start[i])
	if ti < 0 {
		r.notPriceable(i, WhyNoVersion, -1)
		return pricing.CDRHeader{}, false
	}
	if m := r.blocked[ti]; m >= 0 {
		r.notPriceable(i, WhyTariffBlocking, m)
		return pricing.CDRHeader{}, false
	}
	// pricing's one currency rule, as the reference applies it in Price.
	if err := pricing.CheckCurrency("", r.currencies[r.currency[i]], r.tariffs[ti].ID, r.tariffs[ti].Currency); err != nil {
		r.notPriceable(i, string(pricing.ReasonCurrencyMismatch), r.messageCode(err.(*pricing.NotPriceable).Message))
		return pricing.CDRHeader{}, false
	}
	if r.compiled[ti] == nil {
		r.toReference(key, RefCompile)
		r.refMessage[key] = r.tariffMsg[ti]
		return pricing.CDRHeader{}, false
	}
	r.state[i] = hKernel
	return pricing.CDRHeader{Start: r.start[i], Tariff: ti, Zone: r.zone[i], Credit: r.flags[i]&fCredit != 0}, true
}

const minInt64 = -1 << 63

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// appendRow adds one priced row and counts it in the summary; zones is a
// snapshot that has the CDR's zone when it is priced; minor is the minor
// units its totals were rounded to.
func (r *runner) appendRow(i int, status uint8, why string, msg int32, by uint8, tariff, flags int32, totals *[NumTotals]int64, emb *[2]int64, zones []zoneEntry, minor int) {
	p := &r.buf.rows
	p.CDRKey = append(p.CDRKey, r.keyOf(i))
	p.Status, p.Reason, p.Message, p.PricedBy = append(p.Status, status), append(p.Reason, r.reasonCode(why)), append(p.Message, msg), append(p.PricedBy, by)
	p.TariffRef, p.Flags = append(p.TariffRef, tariff), append(p.Flags, flags)
	p.Zone = append(p.Zone, int16(r.zone[i]))
	var t [NumTotals]int64
	if totals != nil {
		t = *totals
	}
	for c := range p.Totals {
		p.Totals[c] = append(p.Totals[c], t[c])
	}
	f := r.flags[i]
	embRef, ex, in := int32(-1), int64(0), int64(0)
	if emb != nil {
		embRef, ex, in = r.emb[i], emb[0], emb[1]
		r.sum.EmbeddedPriced++
		if totals != nil && (ex != t[0] || in != t[1]) {
			r.sum.EmbeddedNeq++
		}
	}
	p.EmbeddedRef, p.EmbeddedExcl, p.EmbeddedIncl = append(p.EmbeddedRef, embRef), append(p.EmbeddedExcl, ex), append(p.EmbeddedIncl, in)
	// The one comparison (reconcile.Compare) at the minor units the totals
	// were rounded to.
	var computed reconcile.Amount
	if status == PricedOK {
		// A tariff without a tax rate leaves incl unknown: not compared.
		computed = reconcile.Amount{Excl: t[0], Incl: t[1], HasExcl: true, HasIncl: flags&int32(pricing.FlagInclUnknown) == 0}
	}
	billed := reconcile.Amount{Excl: r.billedX[i], Incl: r.billedI[i], HasExcl: f&fBilledExcl != 0, HasIncl: f&fBilledIncl != 0}
	d := reconcile.Compare(billed, computed, minor)
	p.Outcome = append(p.Outcome, d.Outcome)
	r.sum.Outcomes[d.Outcome]++
	if d.Outcome == reconcile.Different {
		s := &r.currSums[r.currency[i]]
		s.cdrs++
		s.sum += d.Excl
		s.abs += max(d.Excl, -d.Excl)
	}
	if status != PricedOK {
		return
	}
	z := zones[r.zone[i]]
	r.sum.ZoneSources[z.Source]++
	if z.Source == string(pricing.ZoneUnresolved) {
		r.sum.ZonesUnresolved++
	}
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[int64]string) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	return keys
}
