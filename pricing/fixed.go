package pricing

import (
	"math"

	"github.com/shopspring/decimal"
)

// pow10i holds 10^0 .. 10^18.
var pow10i = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decParts returns d's coefficient and exponent when the coefficient has at
// most 18 digits, without allocating (a decimal's big.Int is only read).
func decParts(d decimal.Decimal) (coef int64, exp int32, ok bool) {
	if d.NumDigits() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

// scaledFast is scaled's allocation-free path: d × 10^scale when that is an
// exact integer within scaled's range. ok=false leaves the answer (or the
// error) to scaled, so both give the same results.
func scaledFast(d decimal.Decimal, scale int32) (int64, bool) {
	c, e, ok := decParts(d)
	if !ok {
		return 0, false
	}
	if c == 0 {
		return 0, true
	}
	e += scale
	const limit = math.MaxInt64 / 4
	switch {
	case e >= 0 && e <= 18:
		if p := pow10i[e]; c <= limit/p && c >= -limit/p {
			return c * p, true
		}
	case e < 0 && e >= -18:
		if p := pow10i[-e]; c%p == 0 {
			return c / p, true
		}
	}
	return 0, false
}

// hoursSecondsFast is hoursToSeconds without allocating: h × 3600 rounded
// to whole seconds, half away from zero (decimal.Round). ok=false when the
// value is out of its range; the caller then takes the decimal path.
func hoursSecondsFast(h decimal.Decimal) (int64, bool) {
	c, e, ok := decParts(h)
	if !ok || c > math.MaxInt64/3600 || c < -math.MaxInt64/3600 {
		return 0, false
	}
	n := c * 3600
	switch {
	case e >= 0 && e <= 18:
		if p := pow10i[e]; n <= math.MaxInt64/p && n >= -math.MaxInt64/p {
			return n * p, true
		}
		return 0, false
	case e < 0 && e >= -18:
		p := pow10i[-e]
		q, r := n/p, n%p
		if r < 0 {
			r = -r
		}
		if r >= p-r { // half away from zero
			if n < 0 {
				q--
			} else {
				q++
			}
		}
		return q, true
	}
	return 0, false
}
