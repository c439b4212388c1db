package pricing

import (
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// applySteps fills billed and extra per period and dimension (digest §5.6):
//
//   - ENERGY: the session total of billable energy (periods with an active
//     ENERGY component) is rounded up to the step (Wh) of the last such
//     period's component; the extra is billed in that period.
//   - TIME and PARKING_TIME: one rounding for the pair. With the default
//     reading only the dimension of the last billable period (parking when the
//     session ends parked) is rounded, on its own billable total; with the
//     2.2.1-tag reading the billable TIME and PARKING_TIME seconds are summed.
//     Either way the step is that of the last billable period's component and
//     the extra goes into that period; unbilled time is neither rounded nor
//     receives the extra.
//   - RESERVATION_TIME: rounded on its own with the step of the last
//     reservation TIME component.
//
// A step of 0 (or less) is read as 1.
func applySteps(periods []refPeriod, tariffs []ocpi.Tariff, reading StepReading, res *Result) {
	comp := func(pk pick) *ocpi.PriceComponent {
		return &tariffs[pk.tariff].Elements[pk.element].PriceComponents[pk.component]
	}
	step := func(pk pick) int64 {
		if s := comp(pk).StepSize; s > 0 {
			return s
		}
		return 1
	}
	// Unrounded billable quantities first.
	for i := range periods {
		p := &periods[i]
		for d := dEnergy; d < numDims; d++ {
			p.billed[d], p.extra[d] = decimal.Zero, decimal.Zero
		}
		if p.picks[dEnergy].tariff >= 0 && p.energy.IsPositive() {
			p.billed[dEnergy] = p.energy
		}
		if p.phase == phaseReservation {
			if p.picks[dTime].tariff >= 0 && p.resvS > 0 {
				p.billed[dTime] = decimal.NewFromInt(p.resvS)
			}
			continue
		}
		if p.picks[dTime].tariff >= 0 && p.timeS > 0 {
			p.billed[dTime] = decimal.NewFromInt(p.timeS)
		}
		if p.picks[dParking].tariff >= 0 && p.parkS > 0 {
			p.billed[dParking] = decimal.NewFromInt(p.parkS)
		}
	}
	// ENERGY.
	lastE, sumE := -1, decimal.Zero
	for i := range periods {
		if periods[i].phase == phaseCharging && periods[i].billed[dEnergy].IsPositive() {
			lastE = i
			sumE = sumE.Add(periods[i].billed[dEnergy])
		}
	}
	if lastE >= 0 {
		s := step(periods[lastE].picks[dEnergy])
		sWh := decimal.NewFromInt(s)
		q, r := sumE.Mul(decimal.NewFromInt(1000)).QuoRem(sWh, 0)
		if r.IsPositive() {
			q = q.Add(decimal.NewFromInt(1))
		}
		extra := q.Mul(sWh).Div(decimal.NewFromInt(1000)).Sub(sumE)
		addExtra(&periods[lastE], dEnergy, extra, s)
		res.take(ReadStepCeiling)
	}
	// TIME / PARKING_TIME.
	lastT, lastDim := -1, -1
	for i := range periods {
		p := &periods[i]
		if p.phase != phaseCharging {
			continue
		}
		if p.billed[dParking].IsPositive() {
			lastT, lastDim = i, dParking
		} else if p.billed[dTime].IsPositive() {
			lastT, lastDim = i, dTime
		}
	}
	if lastT >= 0 {
		s := step(periods[lastT].picks[lastDim])
		var sum int64
		for i := range periods {
			p := &periods[i]
			if p.phase != phaseCharging {
				continue
			}
			if reading == StepCombinedTime {
				sum += p.billed[dTime].IntPart() + p.billed[dParking].IntPart()
			} else {
				sum += p.billed[lastDim].IntPart()
			}
		}
		addExtra(&periods[lastT], lastDim, decimal.NewFromInt(ceilTo(sum, s)-sum), s)
		res.take(ReadStepCeiling)
		res.take(ReadStepTime)
	}
	// RESERVATION_TIME.
	lastR := -1
	var sumR int64
	for i := range periods {
		if periods[i].phase == phaseReservation && periods[i].billed[dTime].IsPositive() {
			lastR = i
			sumR += periods[i].billed[dTime].IntPart()
		}
	}
	if lastR >= 0 {
		s := step(periods[lastR].picks[dTime])
		addExtra(&periods[lastR], dTime, decimal.NewFromInt(ceilTo(sumR, s)-sumR), s)
		res.take(ReadStepCeiling)
		res.take(ReadStepReservation)
	}
}

func addExtra(p *refPeriod, d int, extra decimal.Decimal, s int64) {
	p.billed[d] = p.billed[d].Add(extra)
	p.extra[d] = extra
	p.stepApplied[d] = s
}

// ceilTo rounds a non-negative n up to a multiple of s > 0.
func ceilTo(n, s int64) int64 {
	if r := n % s; r != 0 {
		return n + s - r
	}
	return n
}
