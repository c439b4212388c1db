package reconcile

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// The hypotheses' fast path. Re-pricing a CDR under each hypothesis with
// the decimal reference (pricing.Price) was most of the whole evaluation's
// cost. Where the compiled kernel can price the hypothesis (one tariff in
// the CDR's currency, not a credit, periods it can hold), one kernel batch
// prices the recomputation and every such hypothesis of the CDR at once;
// pricing's property tests hold the kernel equal to the reference on
// every input it accepts, totals and priced lines alike. As a guard, the
// kernel's recomputation must equal the reference's totals, else every
// hypothesis of the CDR is priced with the reference; so is each one the
// kernel refuses. Compiled tariffs are kept per version, policy and
// variant (kernelCache), shared by the workers.

// kernelCache holds compiled tariffs by kernelKey; nil compiled: the
// kernel refuses the tariff.
type kernelCache struct {
	m    sync.Map
	used atomic.Int64 // trials the kernel priced (tests)
}

type kernelKey struct {
	id      string
	updated int64
	elems   *ocpi.TariffElement // the stored version's (see hypothesis.elems)
	variant string              // "" the version as stored; else the hypothesis' change
	policy  pricing.Policy
}

func (k *kernelCache) compile(key kernelKey, t *ocpi.Tariff) *pricing.Compiled {
	if v, ok := k.m.Load(key); ok {
		return v.(*pricing.Compiled)
	}
	c, err := pricing.Compile(t, key.policy)
	if err != nil {
		c = nil
	}
	k.m.Store(key, c)
	return c
}

// kernelTrials is one CDR's hypotheses priced by the kernel.
type kernelTrials struct {
	out   *pricing.Output
	offs  []int32
	row   []int // the batch row of each hypothesis, -1: price it with the reference
	exact int   // the batch row of the exact amounts (rounding), -1: none
	minor int
}

// newKernelTrials prices the CDR's recomputation, each hypothesis the
// kernel can price and, with exact, the unrounded amounts, in one batch.
// nil: the kernel does not price this CDR (or disagrees with the
// reference): use the reference throughout.
func newKernelTrials(cs *Case, hs []hypothesis, base pricing.Options, exact bool) *kernelTrials {
	c, res, cache := cs.CDR, cs.Result, cs.kernel
	if cache == nil || c.Credit || len(cs.Tariffs) != 1 || res == nil || res.Zone.Loc == nil ||
		!strings.EqualFold(cs.Tariffs[0].Currency, c.Currency) {
		return nil
	}
	var compiled []*pricing.Compiled
	var bb pricing.BatchBuilder
	add := func(t *ocpi.Tariff, elems *ocpi.TariffElement, variant string, pol pricing.Policy, loc *time.Location) int {
		if variant == "-" || elems == nil || !strings.EqualFold(t.Currency, c.Currency) {
			return -1
		}
		ct := cache.compile(kernelKey{id: t.ID, updated: t.LastUpdated.UnixNano(), elems: elems, variant: variant, policy: pol}, t)
		if ct == nil {
			return -1
		}
		compiled = append(compiled, ct)
		if bb.Add(c, int32(len(compiled)-1), loc) != nil {
			compiled = compiled[:len(compiled)-1]
			return -1
		}
		return len(compiled) - 1
	}
	own := firstElement(&cs.Tariffs[0])
	if add(&cs.Tariffs[0], own, "", base.Policy, res.Zone.Loc) != 0 {
		return nil
	}
	kt := &kernelTrials{row: make([]int, len(hs)), exact: -1, minor: res.MinorUnits}
	for i := range hs {
		h := &hs[i]
		kt.row[i] = -1
		if len(h.tariffs) != 1 {
			continue
		}
		loc := res.Zone.Loc
		if h.opts.TimeZone != nil {
			loc = h.opts.TimeZone
		}
		kt.row[i] = add(&h.tariffs[0], h.elems, h.variant, h.opts.Policy, loc)
	}
	if exact {
		o := base.Policy
		o.Level = pricing.RoundNone
		kt.exact = add(&cs.Tariffs[0], own, "", o, res.Zone.Loc)
	}
	kt.offs = bb.PeriodOffsets
	kt.out = pricing.NewOutput(len(compiled), len(bb.PeriodStart), true)
	if pricing.RunParallel(&bb.Batch, compiled, kt.out, 1) != nil || kt.out.Status[0] != pricing.StatusOK ||
		kt.totals(0) != ComputedTotals(res) {
		return nil
	}
	return kt
}

// ok reports whether the kernel priced a batch row.
func (kt *kernelTrials) ok(row int) bool { return row >= 0 && kt.out.Status[row] == pricing.StatusOK }

// amounts are a row's totals as pricing's (total_cost, then the buckets
// in Field order).
func (kt *kernelTrials) amounts(row int) [NumFields]pricing.Amount {
	o := kt.out
	a := [NumFields]pricing.Amount{{Excl: pricing.Money(o.TotalExcl[row]), Incl: pricing.Money(o.TotalIncl[row])}}
	const buckets = int(NumFields) - 1 // fixed, energy, time, parking, reservation
	for b := range buckets {
		a[1+b] = pricing.Amount{Excl: pricing.Money(o.BucketExcl[row*buckets+b]), Incl: pricing.Money(o.BucketIncl[row*buckets+b])}
	}
	return a
}

// totals are a row's totals as ComputedTotals gives a result's
// (Recomputed), in integers.
func (kt *kernelTrials) totals(row int) Totals {
	o := kt.out
	in := o.Flags[row]&pricing.FlagInclUnknown == 0
	const buckets = int(NumFields) - 1
	t := Totals{{Excl: kt.micro(o.TotalExcl[row]), Incl: kt.micro(o.TotalIncl[row])}}
	for b := range buckets {
		t[1+b] = Amount{Excl: kt.micro(o.BucketExcl[row*buckets+b]), Incl: kt.micro(o.BucketIncl[row*buckets+b])}
	}
	for f := range t {
		t[f].HasExcl, t[f].HasIncl = true, in
		if !in {
			t[f].Incl = 0
		}
	}
	return t
}

// micro is MicroAt of a kernel amount (1e-10): rounded half away from
// zero to the minor units, in millionths.
func (kt *kernelTrials) micro(v int64) int64 {
	m := min(max(kt.minor, 0), Scale)
	unit := kernelPow10[kernelScale-m]
	q, r := v/unit, v%unit
	if 2*abs64(r) >= unit {
		if v < 0 {
			q--
		} else {
			q++
		}
	}
	return q * pow10[Scale-m]
}

// kernelScale is the kernel's money scale (pricing.Money: 1e-10).
const kernelScale = 10

var kernelPow10 = [kernelScale + 1]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// periods are the periods whose priced lines differ between the
// recomputation (row 0) and a row: periodsDiffering's answer.
func (kt *kernelTrials) periods(row int) []int {
	const dims = 4 // FLAT, ENERGY, TIME, PARKING_TIME per period
	o := kt.out
	b0, b1 := int(kt.offs[0]), int(kt.offs[row])
	var out []int
	for p := range int(kt.offs[1] - kt.offs[0]) {
		for d := range dims {
			i, j := (b0+p)*dims+d, (b1+p)*dims+d
			e0, e1 := o.LineElement[i], o.LineElement[j]
			if e0 < 0 && e1 < 0 {
				continue
			}
			if e0 != e1 || o.LineBilled[i] != o.LineBilled[j] || o.LineExcl[i] != o.LineExcl[j] || o.LineIncl[i] != o.LineIncl[j] {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
