package invoicing

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Scale is the number of decimals of an Amount: the pricing kernel's exact
// scale (priced_lines stores DECIMAL(18,10)), so priced amounts arrive
// without conversion loss.
const Scale = 10

// Amount is an exact money amount in units of 10^-Scale of its currency:
// what invoicing receives per CDR charge, before any rounding. One Amount
// holds up to about ±9.2·10^8 currency units (a CDR charge); sums are
// accumulated in 128 bits (sum128), so a period of any realistic size cannot
// overflow.
type Amount int64

// QuantityScale is the number of decimals of a Quantity (kWh): OCPI volumes
// carry 4, the store keeps 6.
const QuantityScale = 6

// Quantity is an exact energy volume in 10^-QuantityScale kWh.
type Quantity int64

// PercentScale is the number of decimals of a Percent (9.975 % QST needs 3).
const PercentScale = 6

// Percent is an exact tax rate in 10^-PercentScale percent: 19 % is
// 19_000_000.
type Percent int64

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// ErrAmount: a number that cannot be held exactly at its fixed scale (too
// many decimals or out of range). Nothing is ever rounded silently.
var ErrAmount = errors.New("not exactly representable")

// fixedFromDecimal converts d to an integer count of 10^-scale, exactly.
func fixedFromDecimal(d decimal.Decimal, scale int) (int64, error) {
	exp := int(d.Exponent())
	if exp < -scale {
		r := d.Round(int32(scale))
		if !r.Equal(d) {
			return 0, fmt.Errorf("%s has more than %d decimals: %w", d, scale, ErrAmount)
		}
		d, exp = r, int(r.Exponent())
	}
	if n := d.NumDigits(); n > 19 || (n == 19 && !d.Coefficient().IsInt64()) {
		return 0, fmt.Errorf("%s out of range: %w", d, ErrAmount)
	}
	c := d.CoefficientInt64()
	shift := exp + scale
	if shift > 18 {
		return 0, fmt.Errorf("%s out of range: %w", d, ErrAmount)
	}
	hi, lo := bits.Mul64(uint64(absInt(c)), uint64(pow10[shift]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("%s out of range: %w", d, ErrAmount)
	}
	if c < 0 {
		return -int64(lo), nil
	}
	return int64(lo), nil
}

func absInt(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// parseFixed reads a plain decimal literal ("-12.3400") as a count of
// 10^-scale, exactly.
func parseFixed(s string, scale int) (int64, error) {
	d, err := decimal.NewFromString(s)
	if err != nil || strings.ContainsAny(s, "eE") || strings.TrimSpace(s) != s {
		return 0, fmt.Errorf("%q is not a plain decimal number", s)
	}
	return fixedFromDecimal(d, scale)
}

// formatFixed writes v·10^-scale with at least minDigits and at most scale
// decimals (trailing zeros beyond minDigits are dropped).
func formatFixed(v int64, scale, minDigits int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	intPart, frac := digits[:len(digits)-scale], digits[len(digits)-scale:]
	for len(frac) > minDigits && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// AmountFromDecimal converts an exact decimal; more than Scale significant
// decimals, or a value out of range, is an error wrapping ErrAmount.
func AmountFromDecimal(d decimal.Decimal) (Amount, error) {
	v, err := fixedFromDecimal(d, Scale)
	return Amount(v), err
}

// ParseAmount reads a decimal literal such as "12.28".
func ParseAmount(s string) (Amount, error) {
	v, err := parseFixed(s, Scale)
	return Amount(v), err
}

// MustAmount is ParseAmount for literals known to be valid (tests, tables).
func MustAmount(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Decimal returns the amount as an exact decimal.
func (a Amount) Decimal() decimal.Decimal { return decimal.New(int64(a), -Scale) }

// String writes the amount exactly, without trailing zeros beyond 2 decimals.
func (a Amount) String() string { return formatFixed(int64(a), Scale, 2) }

// MarshalText writes String (exact).
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an exact decimal literal.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := ParseAmount(string(b))
	*a = v
	return err
}

// QuantityFromDecimal converts an exact kWh volume.
func QuantityFromDecimal(d decimal.Decimal) (Quantity, error) {
	v, err := fixedFromDecimal(d, QuantityScale)
	return Quantity(v), err
}

// MustQuantity parses a literal known to be valid.
func MustQuantity(s string) Quantity {
	v, err := parseFixed(s, QuantityScale)
	if err != nil {
		panic(err)
	}
	return Quantity(v)
}

func (q Quantity) String() string { return formatFixed(int64(q), QuantityScale, 0) }

// MarshalText writes the volume exactly.
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads an exact volume.
func (q *Quantity) UnmarshalText(b []byte) error {
	v, err := parseFixed(string(b), QuantityScale)
	*q = Quantity(v)
	return err
}

// PercentFromDecimal converts an exact tax rate (19, 5.5, 9.975).
func PercentFromDecimal(d decimal.Decimal) (Percent, error) {
	v, err := fixedFromDecimal(d, PercentScale)
	return Percent(v), err
}

// MustPercent parses a literal known to be valid.
func MustPercent(s string) Percent {
	v, err := parseFixed(s, PercentScale)
	if err != nil {
		panic(err)
	}
	return Percent(v)
}

func (p Percent) String() string { return formatFixed(int64(p), PercentScale, 0) }

// MarshalText writes the rate exactly.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads an exact rate.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := parseFixed(string(b), PercentScale)
	*p = Percent(v)
	return err
}

// Money is an amount rounded to its currency's ISO 4217 minor units: Units
// of 10^-Digits. Every amount a document states is Money; it is written
// with exactly Digits decimals ("12.30", "1234" for JPY).
type Money struct {
	Units  int64
	Digits int
}

// Add returns m + o. Both must have the same digits (zero adapts); a
// mismatch or an overflow beyond ±9.2·10^18 minor units is a programming
// error, not an input error: amounts of one document share one currency.
func (m Money) Add(o Money) Money {
	d := m.Digits
	switch {
	case m.Units == 0:
		d = o.Digits
	case o.Units != 0 && o.Digits != m.Digits:
		panic(fmt.Sprintf("invoicing: adding money of %d and %d digits", m.Digits, o.Digits))
	}
	s := m.Units + o.Units
	if (o.Units > 0 && s < m.Units) || (o.Units < 0 && s > m.Units) {
		panic("invoicing: money overflow")
	}
	return Money{Units: s, Digits: d}
}

// Neg returns -m.
func (m Money) Neg() Money { return Money{Units: -m.Units, Digits: m.Digits} }

// IsZero reports whether m is zero.
func (m Money) IsZero() bool { return m.Units == 0 }

// String writes exactly Digits decimals.
func (m Money) String() string {
	if m.Digits == 0 {
		return strconv.FormatInt(m.Units, 10)
	}
	s := formatFixed(m.Units, m.Digits, m.Digits)
	return s
}

// Decimal returns the amount as an exact decimal.
func (m Money) Decimal() decimal.Decimal { return decimal.New(m.Units, -int32(m.Digits)) }

// MarshalText writes String.
func (m Money) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "12.30": the digits are those written.
func (m *Money) UnmarshalText(b []byte) error {
	s := string(b)
	digits := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		digits = len(s) - i - 1
	}
	if digits > 4 {
		return fmt.Errorf("money %q: more than 4 decimals", s)
	}
	v, err := parseFixed(s, digits)
	if err != nil {
		return fmt.Errorf("money %q: %w", s, err)
	}
	*m = Money{Units: v, Digits: digits}
	return nil
}

// Rounding is how an exact amount is rounded to minor units.
type Rounding string

const (
	// HalfUp rounds halves away from zero (the default: the OCPI examples
	// and most contracts).
	HalfUp Rounding = "half_up"
	// HalfEven rounds halves to the even neighbour (banker's rounding).
	HalfEven Rounding = "half_even"
)

// sum128 accumulates Amounts exactly in 128-bit two's complement.
type sum128 struct {
	hi int64
	lo uint64
}

func (s *sum128) add(a Amount) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, uint64(a), 0)
	s.hi += int64(a>>63) + int64(carry)
}

func (s *sum128) addSum(o sum128) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, o.lo, 0)
	s.hi += o.hi + int64(carry)
}

func (s sum128) isZero() bool { return s.hi == 0 && s.lo == 0 }

// fits reports whether the sum fits an int64 (the common case).
func (s sum128) fits() bool {
	return (s.hi == 0 && s.lo <= math.MaxInt64) || (s.hi == -1 && s.lo > math.MaxInt64)
}

func (s sum128) big() *big.Int {
	v := new(big.Int).SetInt64(s.hi)
	v.Lsh(v, 64)
	return v.Add(v, new(big.Int).SetUint64(s.lo))
}

// decimal returns the exact sum.
func (s sum128) decimal() decimal.Decimal {
	if s.fits() {
		return decimal.New(int64(s.lo), -Scale)
	}
	return decimal.NewFromBigInt(s.big(), -Scale)
}

// round returns the sum rounded to digits decimals (0..4) in the given mode.
func (s sum128) round(digits int, mode Rounding) Money {
	div := pow10[Scale-digits]
	if s.fits() {
		v := int64(s.lo)
		return Money{Units: roundDiv(v, div, mode), Digits: digits}
	}
	q, r := new(big.Int).QuoRem(s.big(), big.NewInt(div), new(big.Int))
	// r has the sign of the dividend; |r| < div fits an int64.
	q.Add(q, big.NewInt(roundAdjust(q.Bit(0) == 1, r.Int64(), div, mode)))
	if !q.IsInt64() {
		panic("invoicing: money overflow")
	}
	return Money{Units: q.Int64(), Digits: digits}
}

// roundDiv returns v/div rounded in mode (div > 0).
func roundDiv(v, div int64, mode Rounding) int64 {
	q, r := v/div, v%div
	return q + roundAdjust(q&1 == 1, r, div, mode)
}

// roundAdjust says how to move a truncated quotient given the remainder r
// (same sign as the dividend).
func roundAdjust(odd bool, r, div int64, mode Rounding) int64 {
	if r == 0 {
		return 0
	}
	sign := int64(1)
	if r < 0 {
		sign, r = -1, -r
	}
	switch {
	case 2*r > div:
		return sign
	case 2*r == div && (mode == HalfUp || odd):
		return sign
	}
	return 0
}

// floorDiv returns floor(v/div) and the non-negative remainder (div > 0).
func floorDiv(s sum128, div int64) (q int64, rem int64) {
	if s.fits() {
		v := int64(s.lo)
		q, rem = v/div, v%div
		if rem < 0 {
			q, rem = q-1, rem+div
		}
		return q, rem
	}
	bq, br := new(big.Int).DivMod(s.big(), big.NewInt(div), new(big.Int)) // Euclidean: br >= 0
	if !bq.IsInt64() {
		panic("invoicing: money overflow")
	}
	return bq.Int64(), br.Int64()
}
