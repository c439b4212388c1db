package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"time"
)

// Batch is a struct-of-arrays batch of CDRs and their charging periods, in
// the kernel's fixed-point units (see the scales in compile.go). It is what
// an Arrow record batch from the store maps onto column by column
// (ArrowBuilder). Periods of one CDR are contiguous and sorted by start.
type Batch struct {
	// Per CDR (n rows).
	CDRStart      []int64 // unix seconds
	Tariff        []int32 // index into the []*Compiled given to Run
	Zone          []int32 // index into Zones
	Credit        []bool
	PeriodOffsets []int32 // n+1 entries: CDR i owns periods [PeriodOffsets[i], PeriodOffsets[i+1])
	Key           []int64 // optional (nil or n): the caller's key of each CDR, e.g. the store's cdr_key

	// Per period (m rows).
	PeriodStart   []int64 // unix seconds
	EnergyMilliWh []int64 // ENERGY in 1e-6 kWh; negative is priced as 0
	TimeS         []int64 // TIME, whole seconds
	ParkingS      []int64 // PARKING_TIME, whole seconds
	ReservationS  []int64 // RESERVATION_TIME, whole seconds
	MinCurrent    []int64 // 1e-6 A, valid when Has&HasMinCurrent
	MaxCurrent    []int64
	MinPower      []int64 // 1e-6 kW
	MaxPower      []int64
	Has           []uint8 // presence bits below

	Zones []*time.Location
}

// Presence bits of Batch.Has.
const (
	HasMinCurrent uint8 = 1 << iota
	HasMaxCurrent
	HasMinPower
	HasMaxPower
	HasReservation // the period has a RESERVATION_TIME dimension
)

// Status of one CDR in an Output.
type Status uint8

const (
	StatusOK       Status = iota
	StatusOverflow        // an amount left the int64 range: price with Price instead
	StatusNoTariff        // the CDR's tariff index is out of range
	// StatusMixedPeriod: a period has reservation time and ENERGY, TIME or
	// PARKING_TIME (irregular, digest §5.11 decided). Its lines do not fit the
	// kernel's four per period: price it with Price. The builders leave such
	// CDRs out (SkipMixedPeriod, an error from BatchBuilder.Add).
	StatusMixedPeriod
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusOverflow:
		return "kernel_overflow"
	case StatusNoTariff:
		return "no_tariff"
	case StatusMixedPeriod:
		return "reservation_and_charging_period"
	}
	return "unknown"
}

// CDR flags of an Output. The bit values are stored: new flags go last.
const (
	FlagExpired uint16 = 1 << iota
	FlagMinApplied
	FlagMaxApplied
	// FlagUnverifiable: a power/current restriction was read as matching for
	// want of the period's dimension, and the element so chosen bills a
	// quantity in that period (WarnUnverifiable).
	FlagUnverifiable
	FlagFlatChanged
	// FlagInclUnknown: a priced line's tariff states no tax rate: the
	// amounts after taxes are not computable (Result.NotComputable SideIncl).
	FlagInclUnknown
	// FlagExclUnknown: prices include taxes at an unstated rate: the amounts
	// before taxes are not computable (SideExcl).
	FlagExclUnknown
)

// Output receives the kernel's results; the caller allocates it once
// (NewOutput) and reuses it across batches, so a run allocates nothing per row.
// Money is at moneyScale (1e-10), rounded as the tariff's policy says.
type Output struct {
	Status     []Status
	Flags      []uint16
	TotalExcl  []int64 // total_cost, after clamp and rounding, negated for credits
	TotalIncl  []int64
	BucketExcl []int64 // n × 5 sub-totals (fixed, energy, time, parking, reservation)
	BucketIncl []int64
	// Per period × dimension (FLAT, ENERGY, TIME, PARKING_TIME; TIME is
	// RESERVATION_TIME in a reservation period). Nil slices are not written.
	LineElement []int16 // -1: not priced
	LineBilled  []int64 // 1e-6 kWh, seconds, or 1 for FLAT
	LineExcl    []int64
	LineIncl    []int64
}

// NewOutput allocates an Output for n CDRs and m periods; lines only when
// withLines.
func NewOutput(n, m int, withLines bool) *Output {
	o := &Output{Status: make([]Status, n), Flags: make([]uint16, n), TotalExcl: make([]int64, n), TotalIncl: make([]int64, n),
		BucketExcl: make([]int64, n*int(numBuckets)), BucketIncl: make([]int64, n*int(numBuckets))}
	if withLines {
		o.LineElement = make([]int16, m*numDims)
		o.LineBilled = make([]int64, m*numDims)
		o.LineExcl = make([]int64, m*numDims)
		o.LineIncl = make([]int64, m*numDims)
	}
	return o
}

// Kernel is one worker's scratch space; it is not safe for concurrent use.
type Kernel struct {
	picks  []int16 // per period × dim: component index, -1
	billed []int64
	zones  []zoneCache
}

type zoneCache struct {
	lo, hi, off int64
	valid       bool
}

var errOverflow = errors.New("overflow")

// Validate checks a batch's shape (lengths and offsets).
func (b *Batch) Validate() error {
	n := len(b.CDRStart)
	if len(b.Tariff) != n || len(b.Zone) != n || len(b.Credit) != n || len(b.PeriodOffsets) != n+1 || (b.Key != nil && len(b.Key) != n) {
		return fmt.Errorf("pricing: batch of %d CDRs has columns of other lengths", n)
	}
	m := len(b.PeriodStart)
	for _, col := range [][]int64{b.EnergyMilliWh, b.TimeS, b.ParkingS, b.ReservationS, b.MinCurrent, b.MaxCurrent, b.MinPower, b.MaxPower} {
		if len(col) != m {
			return fmt.Errorf("pricing: batch of %d periods has columns of other lengths", m)
		}
	}
	if len(b.Has) != m || (n > 0 && (b.PeriodOffsets[0] != 0 || int(b.PeriodOffsets[n]) != m)) {
		return errors.New("pricing: batch period offsets do not cover the periods")
	}
	for i := 0; i < n; i++ {
		if b.PeriodOffsets[i] > b.PeriodOffsets[i+1] {
			return fmt.Errorf("pricing: batch offsets decrease at CDR %d", i)
		}
		if z := b.Zone[i]; z < 0 || int(z) >= len(b.Zones) || b.Zones[z] == nil {
			return fmt.Errorf("pricing: CDR %d has no zone", i)
		}
	}
	for p := 0; p < m; p++ {
		if b.EnergyMilliWh[p] > 1e13 || b.TimeS[p] < 0 || b.TimeS[p] > 1e8 || b.ParkingS[p] < 0 || b.ParkingS[p] > 1e8 || b.ReservationS[p] < 0 || b.ReservationS[p] > 1e8 {
			return fmt.Errorf("pricing: period %d volumes out of range", p)
		}
	}
	return nil
}

// Run prices CDRs [from, to) of the batch into out.
func (k *Kernel) Run(b *Batch, tariffs []*Compiled, out *Output, from, to int) {
	if len(k.zones) < len(b.Zones) {
		k.zones = make([]zoneCache, len(b.Zones))
	}
	for i := from; i < to; i++ {
		out.Status[i] = k.priceCDR(b, tariffs, out, i)
	}
}

// RunParallel validates the batch and prices it on workers goroutines
// (0: GOMAXPROCS), each with its own Kernel.
func RunParallel(b *Batch, tariffs []*Compiled, out *Output, workers int) error {
	if err := b.Validate(); err != nil {
		return err
	}
	n := len(b.CDRStart)
	if len(out.Status) < n {
		return errors.New("pricing: output smaller than the batch")
	}
	if out.LineElement != nil && len(out.LineElement) < len(b.PeriodStart)*numDims {
		return errors.New("pricing: line output smaller than the batch")
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers == 1 || n < 1024 {
		var k Kernel
		k.Run(b, tariffs, out, 0, n)
		return nil
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		from, to := w*chunk, min((w+1)*chunk, n)
		if from >= to {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k Kernel
			k.Run(b, tariffs, out, from, to)
		}()
	}
	wg.Wait()
	return nil
}

// localSeconds returns unix seconds shifted to local wall time, with a
// per-zone cache of the current offset's validity range.
func (k *Kernel) localSeconds(zone int32, loc *time.Location, t int64) int64 {
	zc := &k.zones[zone]
	if zc.valid && t >= zc.lo && t < zc.hi {
		return t + zc.off
	}
	tm := time.Unix(t, 0).In(loc)
	_, off := tm.Zone()
	s, e := tm.ZoneBounds()
	zc.lo, zc.hi, zc.off, zc.valid = math.MinInt64, math.MaxInt64, int64(off), true
	if !s.IsZero() {
		zc.lo = s.Unix()
	}
	if !e.IsZero() {
		zc.hi = e.Unix()
	}
	return t + zc.off
}

func (k *Kernel) priceCDR(b *Batch, tariffs []*Compiled, out *Output, i int) Status {
	ti := b.Tariff[i]
	if ti < 0 || int(ti) >= len(tariffs) || tariffs[ti] == nil {
		return StatusNoTariff
	}
	c := tariffs[ti]
	p0, p1 := int(b.PeriodOffsets[i]), int(b.PeriodOffsets[i+1])
	np := p1 - p0
	if cap(k.picks) < np*numDims {
		k.picks = make([]int16, np*numDims*2)
		k.billed = make([]int64, np*numDims*2)
	}
	picks, billed := k.picks[:np*numDims], k.billed[:np*numDims]
	var flags uint16

	// Expired reservation: reservation time and no charging volume at all.
	hasResv, hasCharging := false, false
	for p := p0; p < p1; p++ {
		charging := b.EnergyMilliWh[p] > 0 || b.TimeS[p] > 0 || b.ParkingS[p] > 0
		if b.Has[p]&HasReservation != 0 {
			if charging {
				return StatusMixedPeriod
			}
			hasResv = true
		} else if charging {
			hasCharging = true
		}
	}
	expired := hasResv && !hasCharging
	if expired {
		flags |= FlagExpired
	}

	// Selection and unrounded billable quantities.
	var energyBefore int64
	lastE, lastT, lastR := -1, -1, -1
	lastDim := 0
	var sumE, sumTime, sumPark, sumR int64
	firstFlat := [2]int{-1, -1}
	zone, loc := b.Zone[i], b.Zones[b.Zone[i]]
	for p := p0; p < p1; p++ {
		j := p - p0
		row := picks[j*numDims : j*numDims+numDims]
		bl := billed[j*numDims : j*numDims+numDims]
		row[0], row[1], row[2], row[3] = -1, -1, -1, -1
		bl[0], bl[1], bl[2], bl[3] = 0, 0, 0, 0
		energy := max(b.EnergyMilliWh[p], 0)
		local := k.localSeconds(zone, loc, b.PeriodStart[p])
		match, unverifiable := c.match(b, p, local, energyBefore, b.PeriodStart[p]-b.CDRStart[i])
		energyBefore += energy
		resv := b.Has[p]&HasReservation != 0
		var chosen [numDims]int16
		if !resv {
			m := match & c.kindMask[resvNone]
			for d := 0; d < numDims; d++ {
				chosen[d] = c.first(d, m)
			}
		} else {
			chosen = [numDims]int16{-1, -1, -1, -1}
			for _, d := range [2]int{dFlat, dTime} {
				if expired {
					chosen[d] = c.first(d, match&c.kindMask[resvExpires])
				}
				if chosen[d] < 0 {
					chosen[d] = c.first(d, match&c.kindMask[resvReservation])
				}
			}
		}
		var guessed uint8 // dimensions chosen by an element matched for want of power/current data
		for d := 0; d < numDims; d++ {
			if chosen[d] >= 0 {
				row[d] = c.elems[chosen[d]].comp[d]
				if unverifiable&(1<<uint(chosen[d])) != 0 {
					guessed |= 1 << uint(d)
				}
			}
		}
		ph := 0
		if resv {
			ph = 1
		}
		if row[dFlat] >= 0 {
			if firstFlat[ph] < 0 {
				firstFlat[ph] = j
				bl[dFlat] = 1
			} else if picks[firstFlat[ph]*numDims+dFlat] != row[dFlat] {
				flags |= FlagFlatChanged
			}
		}
		if resv {
			if row[dTime] >= 0 && b.ReservationS[p] > 0 {
				bl[dTime] = b.ReservationS[p]
				lastR = j
				sumR += bl[dTime]
			}
		} else {
			if row[dEnergy] >= 0 && energy > 0 {
				bl[dEnergy] = energy
				lastE = j
				sumE += energy
			}
			if row[dTime] >= 0 && b.TimeS[p] > 0 {
				bl[dTime] = b.TimeS[p]
				sumTime += bl[dTime]
				lastT, lastDim = j, dTime
			}
			if row[dParking] >= 0 && b.ParkingS[p] > 0 {
				bl[dParking] = b.ParkingS[p]
				sumPark += bl[dParking]
				lastT, lastDim = j, dParking
			}
		}
		// The missing data matters only where the guessed choice bills a
		// quantity: a volume, or the phase's one FLAT (reference: Price).
		if guessed != 0 {
			for d := 0; d < numDims; d++ {
				if guessed&(1<<uint(d)) != 0 && bl[d] > 0 {
					flags |= FlagUnverifiable
				}
			}
		}
	}
	// Step extras (see applySteps for the reading).
	if lastE >= 0 {
		s := c.comps[picks[lastE*numDims+dEnergy]].step * 1000
		billed[lastE*numDims+dEnergy] += ceilTo(sumE, s) - sumE
	}
	if lastT >= 0 {
		s := c.comps[picks[lastT*numDims+lastDim]].step
		sum := sumPark
		if lastDim == dTime {
			sum = sumTime
		}
		if c.combined {
			sum = sumTime + sumPark
		}
		billed[lastT*numDims+lastDim] += ceilTo(sum, s) - sum
	}
	if lastR >= 0 {
		s := c.comps[picks[lastR*numDims+dTime]].step
		billed[lastR*numDims+dTime] += ceilTo(sumR, s) - sumR
	}

	// Amounts.
	var bx, bi [numBuckets]int64
	ok := true
	for j := 0; j < np; j++ {
		resv := b.Has[p0+j]&HasReservation != 0
		for d := 0; d < numDims; d++ {
			ci := picks[j*numDims+d]
			q := billed[j*numDims+d]
			var ex, in int64
			el := int16(-1)
			if ci >= 0 && q > 0 {
				kc := &c.comps[ci]
				el = kc.elem
				var base int64
				var good bool
				// Constant divisors in the common case (the product fits 63
				// bits): the compiler turns them into multiplications.
				switch d {
				case dFlat:
					base, good = kc.price6*1e4, true // price6 <= 1e13 (Compile)
				case dEnergy:
					if hi, lo := bits.Mul64(uint64(q), uint64(kc.price6)); hi == 0 && lo < 1<<62 {
						base, good = int64((lo+50)/100), true
					} else {
						base, good = mulDivRound(q, kc.price6, 100)
					}
				default:
					if hi, lo := bits.Mul64(uint64(kc.price6), uint64(q*25)); hi == 0 && lo < 1<<62 {
						base, good = int64((lo+4)/9), true
					} else {
						base, good = mulDivRound(kc.price6, q*25, 9)
					}
				}
				ex, in, good = c.tax(base, kc.vatMul, good)
				flags |= kc.gap
				if c.level == RoundLine {
					ex, in = roundUnit(ex, c.unit, c.mode), roundUnit(in, c.unit, c.mode)
				}
				ok = ok && good
				bk := BucketEnergy
				switch {
				case resv:
					bk = BucketReservation
				case d == dFlat:
					bk = c.elems[el].flatBucket
				case d == dTime:
					bk = BucketTime
				case d == dParking:
					bk = BucketParking
				}
				bx[bk], good = addChecked(bx[bk], ex)
				ok = ok && good
				bi[bk], good = addChecked(bi[bk], in)
				ok = ok && good
			}
			if out.LineElement != nil {
				li := (p0+j)*numDims + d
				out.LineElement[li], out.LineBilled[li], out.LineExcl[li], out.LineIncl[li] = el, q, ex, in
				if el < 0 {
					out.LineBilled[li] = 0
				}
			}
		}
	}
	var tx, tn int64
	for bk := 0; bk < int(numBuckets); bk++ {
		var g1, g2 bool
		tx, g1 = addChecked(tx, bx[bk])
		tn, g2 = addChecked(tn, bi[bk])
		ok = ok && g1 && g2
	}
	if !ok {
		return StatusOverflow
	}
	var cf uint16
	tx, tn, cf, ok = c.clamp(tx, tn, np > 0)
	if !ok {
		return StatusOverflow
	}
	flags |= cf
	if c.level == RoundTotal {
		for bk := range bx {
			bx[bk], bi[bk] = roundUnit(bx[bk], c.unit, c.mode), roundUnit(bi[bk], c.unit, c.mode)
		}
		tx, tn = roundUnit(tx, c.unit, c.mode), roundUnit(tn, c.unit, c.mode)
	}
	if b.Credit[i] {
		tx, tn = -tx, -tn
	}
	out.TotalExcl[i], out.TotalIncl[i], out.Flags[i] = tx, tn, flags
	copy(out.BucketExcl[i*int(numBuckets):], bx[:])
	copy(out.BucketIncl[i*int(numBuckets):], bi[:])
	return StatusOK
}

// first returns the first element in mask with a component of dimension d.
func (c *Compiled) first(d int, mask uint64) int16 {
	m := mask & c.dimMask[d]
	if m == 0 {
		return -1
	}
	return int16(bits.TrailingZeros64(m))
}

// match evaluates every element's restrictions (except reservation) at the
// period start: bit e set when element e matches. unverifiable has the bits of
// elements that matched only because a power/current dimension was missing.
func (c *Compiled) match(b *Batch, p int, local, energyBefore, duration int64) (match, unverifiable uint64) {
	day := local / 86400
	if local%86400 < 0 {
		day--
	}
	tod := local - day*86400
	dow := uint8(1) << uint((day%7+7+3)%7) // 1970-01-01 was a Thursday (bit 3)
	has := b.Has[p]
	match = c.freeMask
	for _, e := range c.restricted {
		ke := &c.elems[e]
		f := ke.flags
		if f&rTime != 0 && !inWindow(tod, ke.startTod, ke.endTod, ke.hasStart, ke.hasEnd) {
			continue
		}
		if f&rStartDate != 0 && day < ke.startDay || f&rEndDate != 0 && day >= ke.endDay {
			continue
		}
		if f&rDow != 0 && ke.dow&dow == 0 {
			continue
		}
		if f&rMinE != 0 && energyBefore < ke.minE || f&rMaxE != 0 && energyBefore >= ke.maxE {
			continue
		}
		if f&rMinDur != 0 && duration < ke.minDur || f&rMaxDur != 0 && duration >= ke.maxDur {
			continue
		}
		uv := false
		if f&rMinCur != 0 {
			if has&HasMinCurrent == 0 {
				uv = true
			} else if b.MinCurrent[p] < ke.minCur {
				continue
			}
		}
		if f&rMaxCur != 0 {
			if has&HasMaxCurrent == 0 {
				uv = true
			} else if b.MaxCurrent[p] >= ke.maxCur {
				continue
			}
		}
		if f&rMinPow != 0 {
			if has&HasMinPower == 0 {
				uv = true
			} else if b.MinPower[p] < ke.minPow {
				continue
			}
		}
		if f&rMaxPow != 0 {
			if has&HasMaxPower == 0 {
				uv = true
			} else if b.MaxPower[p] >= ke.maxPow {
				continue
			}
		}
		match |= 1 << uint(e)
		if uv {
			unverifiable |= 1 << uint(e)
		}
	}
	return match, unverifiable
}

// tax splits a computed line amount into excl and incl (see applyTax).
func (c *Compiled) tax(base, vatMul int64, ok bool) (excl, incl int64, good bool) {
	if !ok {
		return 0, 0, false
	}
	if vatMul == 0 || c.taxMode == taxNone {
		return base, base, true
	}
	if c.taxMode == taxGross {
		ex, g := mulDivRound(base, 1e8, vatMul)
		return ex, base, g
	}
	if hi, lo := bits.Mul64(uint64(base), uint64(vatMul)); base >= 0 && hi == 0 && lo < 1<<62 {
		return base, int64((lo + 5e7) / 1e8), true
	}
	in, g := mulDivRound(base, vatMul, 1e8)
	return base, in, g
}

// clamp applies min_price then max_price (see clamp in reference.go).
func (c *Compiled) clamp(excl, incl int64, any bool) (int64, int64, uint16, bool) {
	if !any {
		return excl, incl, 0, true
	}
	var flags uint16
	derived := func(bound int64) (int64, bool) {
		if excl == 0 {
			return bound, true
		}
		return mulDivRound(bound, incl, excl)
	}
	ox, on := excl, incl
	if c.hasMin {
		ib, ok := c.minIncl, true
		if !c.minInclSet {
			if ib, ok = derived(c.minExcl); !ok {
				return 0, 0, 0, false
			}
		}
		if ox < c.minExcl || on < ib {
			flags |= FlagMinApplied
		}
		ox, on = max(ox, c.minExcl), max(on, ib)
	}
	if c.hasMax {
		ib, ok := c.maxIncl, true
		if !c.maxInclSet {
			if ib, ok = derived(c.maxExcl); !ok {
				return 0, 0, 0, false
			}
		}
		if ox > c.maxExcl || on > ib {
			flags |= FlagMaxApplied
		}
		ox, on = min(ox, c.maxExcl), min(on, ib)
	}
	return ox, on, flags, true
}

// mulDivRound returns a×b/c rounded half up, for a, b >= 0 and c > 0, with a
// 128-bit intermediate; ok is false when the result does not fit an int64.
func mulDivRound(a, b, c int64) (int64, bool) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi == 0 {
		q, r := lo/uint64(c), lo%uint64(c)
		if r >= uint64(c)-r {
			q++
		}
		return int64(q), q <= math.MaxInt64
	}
	if hi >= uint64(c) {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if r >= uint64(c)-r {
		q++
	}
	return int64(q), q <= math.MaxInt64
}

func addChecked(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0) || b == 0
}

// roundUnit rounds v to a multiple of unit in the mode (halves away from
// zero, or to even).
func roundUnit(v, unit int64, mode RoundingMode) int64 {
	if unit == 1 {
		return v
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var q, r int64
	if unit == 1e8 { // two minor units: a constant divisor is a multiplication
		q, r = v/1e8, v%1e8
	} else {
		q, r = v/unit, v%unit
	}
	switch {
	case 2*r > unit, 2*r == unit && (mode == HalfUp || q%2 == 1):
		q++
	}
	if neg {
		return -q * unit
	}
	return q * unit
}
