package pricing

import (
	"fmt"
	"math"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// Fixed-point scales of the kernel. Inputs that do not fit a scale exactly
// are refused with an error (never approximated):
//
//	money (amounts, bounds)   1e-10 of the currency unit (int64: up to 9.2e8)
//	prices                    1e-6 per kWh / per hour / per session
//	energy                    1e-6 kWh (one mWh)
//	time                      whole seconds (declared hours converted, nearest)
//	current, power            1e-6 A, 1e-6 kW (the store's volume scale)
//	VAT multiplier            (100 + vat) × 1e6, i.e. vat with up to 6 decimals
const (
	moneyScale  = 10
	priceScale  = 6
	energyScale = 6
	unitScale   = 6
	vatScale    = 6
)

// MaxElements is the most elements a compiled tariff may have: the kernel
// matches all elements of a period as one 64-bit mask.
const MaxElements = 64

const (
	rTime = 1 << iota
	rStartDate
	rEndDate
	rDow
	rMinE
	rMaxE
	rMinDur
	rMaxDur
	rMinCur
	rMaxCur
	rMinPow
	rMaxPow
)

const (
	resvNone uint8 = iota
	resvReservation
	resvExpires
	resvUnknown
)

type kElem struct {
	flags            uint16
	hasStart, hasEnd bool
	resv             uint8
	dow              uint8 // bit 0 = Monday
	startTod, endTod int64
	startDay, endDay int64
	minE, maxE       int64
	minDur, maxDur   int64
	minCur, maxCur   int64
	minPow, maxPow   int64
	comp             [numDims]int16 // index into comps, -1
	flatBucket       Bucket
}

type kComp struct {
	price6 int64
	step   int64 // Wh for energy, s for time; >= 1
	vatMul int64 // (100+vat)·1e6, 0 when no VAT
	elem   int16
	gap    uint16 // FlagInclUnknown or FlagExclUnknown: the side taxRule leaves unknown
}

const (
	taxNet   uint8 = iota // prices excl. VAT; incl = excl × (100+vat)/100
	taxGross              // tax_included YES: incl = price; excl = incl × 100/(100+vat)
	taxNone               // N/A: incl = excl
)

// Compiled is one tariff version compiled for the kernel. It is immutable
// and safe for concurrent use.
type Compiled struct {
	ID       string
	Currency string
	elems    []kElem
	comps    []kComp
	dimMask  [numDims]uint64 // elements with a component of the dimension
	// freeMask has the elements without restrictions (they always match);
	// restricted lists the others, the only ones match evaluates.
	freeMask   uint64
	restricted []int16
	kindMask   [4]uint64 // elements by reservation kind
	taxMode    uint8
	minor      int
	unit       int64 // 10^(moneyScale-minor)
	mode       RoundingMode
	level      RoundingLevel
	combined   bool

	hasMin, hasMax         bool
	minInclSet, maxInclSet bool
	minExcl, minIncl       int64
	maxExcl, maxIncl       int64
}

// scaled returns d × 10^scale as an int64 when exact.
func scaled(d decimal.Decimal, scale int32, what string) (int64, error) {
	s := d.Shift(scale)
	if !s.Equal(s.Truncate(0)) {
		return 0, fmt.Errorf("%s %s has more than %d decimals", what, d, scale)
	}
	if s.GreaterThan(decimal.NewFromInt(math.MaxInt64/4)) || s.LessThan(decimal.NewFromInt(math.MinInt64/4)) {
		return 0, fmt.Errorf("%s %s out of range", what, d)
	}
	return s.IntPart(), nil
}

// Compile turns a tariff version into the kernel's compact form under a
// policy. Errors name the element and component that cannot be represented.
func Compile(t *ocpi.Tariff, pol Policy) (*Compiled, error) {
	if pol.Mode == "" {
		pol = DefaultPolicy()
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if len(t.Elements) > MaxElements {
		return nil, fmt.Errorf("pricing: tariff %s has %d elements, the kernel takes %d", t.ID, len(t.Elements), MaxElements)
	}
	c := &Compiled{ID: t.ID, Currency: strings.ToUpper(t.Currency), mode: pol.Mode, level: pol.Level, combined: pol.Step == StepCombinedTime}
	c.minor, _ = pol.minorUnits(t.Currency)
	c.unit = pow10(moneyScale - c.minor)
	switch strings.ToUpper(t.TaxIncluded) {
	case ocpi.TaxIncludedYes:
		c.taxMode = taxGross
	case ocpi.TaxIncludedNA:
		c.taxMode = taxNone
	}
	fail := func(ei int, err error) (*Compiled, error) {
		return nil, fmt.Errorf("pricing: tariff %s element %d: %w", t.ID, ei, err)
	}
	for ei := range t.Elements {
		el := &t.Elements[ei]
		ke := kElem{comp: [numDims]int16{-1, -1, -1, -1}, flatBucket: flatBucket(el)}
		for ci := range el.PriceComponents {
			pc := &el.PriceComponents[ci]
			d := -1
			for k := range dimNames {
				if strings.EqualFold(pc.Type, dimNames[k]) {
					d = k
				}
			}
			if d < 0 || ke.comp[d] >= 0 {
				continue
			}
			kc := kComp{step: pc.StepSize, elem: int16(ei)}
			switch _, gap := taxRule(t, pc.VAT.Valid); gap {
			case SideIncl:
				kc.gap = FlagInclUnknown
			case SideExcl:
				kc.gap = FlagExclUnknown
			}
			if kc.step < 1 {
				kc.step = 1
			}
			if kc.step > 1e9 {
				return fail(ei, fmt.Errorf("step_size %d too large", pc.StepSize))
			}
			var err error
			if pc.Price.IsNegative() {
				return fail(ei, fmt.Errorf("negative price %s", pc.Price))
			}
			if kc.price6, err = scaled(pc.Price, priceScale, "price"); err != nil {
				return fail(ei, err)
			}
			if kc.price6 > 1e13 {
				return fail(ei, fmt.Errorf("price %s too large", pc.Price))
			}
			if pc.VAT.Valid {
				if pc.VAT.Decimal.IsNegative() || pc.VAT.Decimal.GreaterThan(decimal.NewFromInt(1000)) {
					return fail(ei, fmt.Errorf("vat %s out of range", pc.VAT.Decimal))
				}
				if kc.vatMul, err = scaled(pc.VAT.Decimal.Add(decimal.NewFromInt(100)), vatScale, "vat"); err != nil {
					return fail(ei, err)
				}
			}
			ke.comp[d] = int16(len(c.comps))
			c.comps = append(c.comps, kc)
			c.dimMask[d] |= 1 << uint(ei)
		}
		if r := el.Restrictions; r != nil {
			if err := compileRestrictions(&ke, r); err != nil {
				return fail(ei, err)
			}
		}
		c.kindMask[ke.resv] |= 1 << uint(ei)
		if ke.flags == 0 {
			c.freeMask |= 1 << uint(ei)
		} else {
			c.restricted = append(c.restricted, int16(ei))
		}
		c.elems = append(c.elems, ke)
	}
	var err error
	if l := t.MinPrice; l != nil {
		c.hasMin = true
		if c.minExcl, err = scaled(l.ExclVAT, moneyScale, "min_price"); err != nil {
			return nil, err
		}
		if c.minInclSet = l.InclVAT.Valid; c.minInclSet {
			if c.minIncl, err = scaled(l.InclVAT.Decimal, moneyScale, "min_price"); err != nil {
				return nil, err
			}
		}
	}
	if l := t.MaxPrice; l != nil {
		c.hasMax = true
		if c.maxExcl, err = scaled(l.ExclVAT, moneyScale, "max_price"); err != nil {
			return nil, err
		}
		if c.maxInclSet = l.InclVAT.Valid; c.maxInclSet {
			if c.maxIncl, err = scaled(l.InclVAT.Decimal, moneyScale, "max_price"); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func compileRestrictions(ke *kElem, r *ocpi.TariffRestrictions) error {
	var err error
	if r.StartTime != "" || r.EndTime != "" {
		ke.flags |= rTime
		if ke.hasStart = r.StartTime != ""; ke.hasStart {
			if ke.startTod, err = parseClock(r.StartTime); err != nil {
				return err
			}
		}
		if ke.hasEnd = r.EndTime != ""; ke.hasEnd {
			if ke.endTod, err = parseClock(r.EndTime); err != nil {
				return err
			}
		}
	}
	if r.StartDate != "" {
		ke.flags |= rStartDate
		if ke.startDay, err = parseDate(r.StartDate); err != nil {
			return err
		}
	}
	if r.EndDate != "" {
		ke.flags |= rEndDate
		if ke.endDay, err = parseDate(r.EndDate); err != nil {
			return err
		}
	}
	if len(r.DayOfWeek) > 0 {
		ke.flags |= rDow
		for _, d := range r.DayOfWeek {
			for i, name := range ocpi.DaysOfWeek {
				if strings.EqualFold(strings.TrimSpace(d), name) {
					ke.dow |= 1 << uint(i)
				}
			}
		}
	}
	bounds := []struct {
		v     decimal.NullDecimal
		flag  uint16
		dst   *int64
		scale int32
		what  string
	}{
		{r.MinKWh, rMinE, &ke.minE, energyScale, "min_kwh"}, {r.MaxKWh, rMaxE, &ke.maxE, energyScale, "max_kwh"},
		{r.MinCurrent, rMinCur, &ke.minCur, unitScale, "min_current"}, {r.MaxCurrent, rMaxCur, &ke.maxCur, unitScale, "max_current"},
		{r.MinPower, rMinPow, &ke.minPow, unitScale, "min_power"}, {r.MaxPower, rMaxPow, &ke.maxPow, unitScale, "max_power"},
	}
	for _, b := range bounds {
		if !b.v.Valid {
			continue
		}
		ke.flags |= b.flag
		if *b.dst, err = scaled(b.v.Decimal, b.scale, b.what); err != nil {
			return err
		}
	}
	if r.MinDuration != nil {
		ke.flags |= rMinDur
		ke.minDur = *r.MinDuration
	}
	if r.MaxDuration != nil {
		ke.flags |= rMaxDur
		ke.maxDur = *r.MaxDuration
	}
	switch strings.ToUpper(r.Reservation) {
	case "":
	case ocpi.ReservationReservation:
		ke.resv = resvReservation
	case ocpi.ReservationExpires:
		ke.resv = resvExpires
	default:
		ke.resv = resvUnknown
	}
	return nil
}

func pow10(n int) int64 {
	p := int64(1)
	for i := 0; i < n; i++ {
		p *= 10
	}
	return p
}
