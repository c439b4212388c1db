package synth

import (
	"math/bits"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Fixed point for exact line amounts. A line is an integer number of
// 1/den units of the currency, den = 3600 × 10^8:
//
//	ENERGY  qty (10^-4 kWh) × price (10^-4 per kWh) × 3600
//	TIME    qty (s) × price (10^-4 per h) × 10^4         (= /3600 h, scaled)
//	FLAT    price (10^-4) × 3600 × 10^4
//
// so every line of the spec's arithmetic is exact, whatever the step or
// the seconds. Gross (after VAT) amounts carry a further factor 100 so
// that whole-number VAT percentages stay exact. Rounding to the currency's
// minor units happens only when a reported total is formed.
const (
	den        = 3600 * 100000000
	energyMul  = 3600
	timeMul    = 10000
	flatMul    = 3600 * 10000
	limitToDen = 3600 * 10000 // a 10^-4 price limit as a count of 1/den
)

// roundMode is how an exact total becomes minor units.
type roundMode int

const (
	roundHalfUp roundMode = iota // the policy: half up, on each reported total
	roundTrunc                   // an injected error: truncation
)

// mulDivRound returns num × mul / d rounded half up (or truncated), with a
// 128-bit intermediate so that no scale can overflow. num ≥ 0.
func mulDivRound(num, mul, d int64, mode roundMode) int64 {
	hi, lo := bits.Mul64(uint64(num), uint64(mul))
	if mode == roundHalfUp {
		var c uint64
		lo, c = bits.Add64(lo, uint64(d/2), 0)
		hi += c
	}
	q, _ := bits.Div64(hi, lo, uint64(d))
	return int64(q)
}

// priceOpts says how to compute one CDR's amounts: correctly (the zero value
// plus the version in effect), or as a faulty CPO system would.
type priceOpts struct {
	version     int
	utcClock    bool  // evaluate clock restrictions in UTC instead of local time
	priceDim    int   // a dimension whose prices are off by priceDelta (-1: none)
	priceDelta  int64 // 10^-4 units
	vatOverride int   // use this VAT rate on every taxed line (-1: none)
	totalMode   roundMode
	perLine     bool // round every line to minor units and sum (total excl only)
}

func correctOpts(version int) priceOpts {
	return priceOpts{version: version, priceDim: -1, vatOverride: -1}
}

// amount is an exact bucket: net in 1/den, gross in 1/(100·den).
type amount struct {
	net, gross int64
	rate       int  // the VAT rate of the taxed lines, when there is one
	taxed      bool // some line carries VAT
	mixed      bool // taxed lines with different rates
}

func (a *amount) add(net, gross int64, rate int, taxed bool) {
	a.net += net
	a.gross += gross
	if taxed {
		if a.taxed && a.rate != rate {
			a.mixed = true
		}
		a.rate, a.taxed = rate, true
	}
}

// money is a reported Price in minor units.
type money struct {
	excl, incl int64
	taxed      bool // write taxes / incl as VAT-bearing
	rate       int  // single VAT rate, or -1
}

// priced is a CDR's reported amounts.
type priced struct {
	total   money
	sub     [numDims]money
	clamped bool
	// flatApplied is true when a start fee was charged.
	flatApplied bool
	exact       amount // the exact total before clamping, for notes
}

// pricer holds scratch space so that pricing allocates nothing per CDR.
type pricer struct {
	comp   [][numDims]*component
	extraE []int64 // step_size extra energy per period, 0.1 Wh
	extraT []int64 // step_size extra seconds per period
}

// price computes a CDR's amounts per §5 of the OCPI digest; doc.go states
// the policy.
func (pc *pricer) price(s *session, t *tariff, z *zoneTable, minor int, o priceOpts) priced {
	v := &t.versions[o.version]
	n := len(s.periods)
	if cap(pc.comp) < n {
		pc.comp = make([][numDims]*component, n)
		pc.extraE = make([]int64, n)
		pc.extraT = make([]int64, n)
	}
	comp, extraE, extraT := pc.comp[:n], pc.extraE[:n], pc.extraT[:n]

	// Per dimension, the first element that has the dimension and whose
	// restrictions match at the period start (§5.3, §5.4).
	var energyBefore int64
	for i := range s.periods {
		pr := &s.periods[i]
		local := pr.start
		if !o.utcClock {
			local = z.local(pr.start)
		}
		minute, weekday := clock(local)
		maxP := int64(-1)
		if pr.charging && t.usesPower {
			maxP = pr.powerW
		}
		comp[i] = [numDims]*component{}
		extraE[i], extraT[i] = 0, 0
		for ei := range v.elements {
			e := &v.elements[ei]
			if e.restricted && !e.r.match(minute, weekday, pr.start-s.start, maxP) {
				continue
			}
			for ci := range e.comps {
				c := &e.comps[ci]
				if comp[i][c.dim] == nil {
					comp[i][c.dim] = c
				}
			}
		}
		energyBefore += pr.energy
	}

	// step_size once per session (§5.6): ENERGY on its own, TIME and
	// PARKING_TIME together with the step of the last billable period and
	// only the parking total rounded when that period is parking.
	lastE, sumE := -1, int64(0)
	lastT := -1
	for i := range s.periods {
		pr := &s.periods[i]
		if pr.charging && comp[i][dimEnergy] != nil && pr.energy > 0 {
			lastE, sumE = i, sumE+pr.energy
		}
		if (pr.charging && comp[i][dimTime] != nil) || (!pr.charging && comp[i][dimParking] != nil) {
			lastT = i
		}
	}
	if lastE >= 0 {
		step := comp[lastE][dimEnergy].step * 10 // Wh -> 0.1 Wh
		if step <= 0 {
			step = 10
		}
		extraE[lastE] = ceilTo(sumE, step) - sumE
	}
	if lastT >= 0 {
		parking := !s.periods[lastT].charging
		d := dimTime
		if parking {
			d = dimParking
		}
		var sum int64
		for i := range s.periods {
			if s.periods[i].charging != parking && comp[i][d] != nil {
				sum += s.periods[i].secs
			}
		}
		step := comp[lastT][d].step
		if step <= 0 {
			step = 1
		}
		extraT[lastT] = ceilTo(sum, step) - sum
	}

	var buckets [numDims]amount
	var perLineMinor int64
	line := func(c *component, qty, mul int64) {
		price := c.price
		if o.priceDim == c.dim {
			price += o.priceDelta
		}
		net := qty * price * mul
		rate, taxed := c.vat, c.hasVAT
		if taxed && o.vatOverride >= 0 {
			rate = o.vatOverride
		}
		gross := net * 100
		if taxed && t.taxIncluded != ocpi.TaxIncludedYes {
			gross = net * int64(100+rate)
		}
		buckets[c.dim].add(net, gross, rate, taxed)
		if o.perLine && t.taxIncluded != ocpi.TaxIncludedYes {
			perLineMinor += mulDivRound(net, pow10[minor], den, roundHalfUp)
		}
	}
	var out priced
	for i := range s.periods {
		pr := &s.periods[i]
		if pr.charging {
			if c := comp[i][dimFlat]; c != nil && !out.flatApplied {
				out.flatApplied = true
				line(c, 1, flatMul)
			}
			if c := comp[i][dimEnergy]; c != nil && pr.energy > 0 {
				line(c, pr.energy+extraE[i], energyMul)
			}
			if c := comp[i][dimTime]; c != nil {
				line(c, pr.secs+extraT[i], timeMul)
			}
		} else if c := comp[i][dimParking]; c != nil {
			line(c, pr.secs+extraT[i], timeMul)
		}
	}

	var total amount
	for d := range buckets {
		b := buckets[d]
		total.net += b.net
		total.gross += b.gross
		if b.taxed {
			total.add(0, 0, b.rate, true)
			total.mixed = total.mixed || b.mixed
		}
		out.sub[d] = t.toMoney(b, minor, roundHalfUp, o.vatOverride)
	}
	out.exact = total
	if v.minPrice != nil {
		if lo := v.minPrice.excl * limitToDen; total.net < lo {
			total.net, out.clamped = lo, true
		}
		if lo := v.minPrice.incl * limitToDen * 100; total.gross < lo {
			total.gross, out.clamped = lo, true
		}
	}
	if v.maxPrice != nil {
		if hi := v.maxPrice.excl * limitToDen; total.net > hi {
			total.net, out.clamped = hi, true
		}
		if hi := v.maxPrice.incl * limitToDen * 100; total.gross > hi {
			total.gross, out.clamped = hi, true
		}
	}
	out.total = t.toMoney(total, minor, o.totalMode, o.vatOverride)
	if o.perLine && t.taxIncluded != ocpi.TaxIncludedYes {
		out.total.excl = perLineMinor
	}
	return out
}

// toMoney rounds an exact bucket to the currency's minor units. For a
// tax_included YES tariff the prices are gross: the gross total is rounded
// and the net one derived from it with the tariff's single VAT rate.
func (t *tariff) toMoney(a amount, minor int, mode roundMode, vatOverride int) money {
	m := money{taxed: a.taxed, rate: -1}
	if a.taxed && !a.mixed {
		m.rate = a.rate
	}
	scale := pow10[minor]
	if t.taxIncluded == ocpi.TaxIncludedYes && a.taxed {
		rate := t.inclRate
		if vatOverride >= 0 {
			rate = vatOverride
		}
		m.incl = mulDivRound(a.gross, scale, den*100, roundHalfUp)
		m.excl = mulDivRound(a.gross, scale, den*int64(100+rate), mode)
		return m
	}
	m.excl = mulDivRound(a.net, scale, den, mode)
	m.incl = mulDivRound(a.gross, scale, den*100, roundHalfUp)
	return m
}

func ceilTo(v, step int64) int64 { return (v + step - 1) / step * step }
