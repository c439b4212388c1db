package pricing

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// BatchBuilder fills a Batch from decoded CDRs (tests, the CLI, small
// imports, the "batch building"). Bulk runs fill the same columns
// from Arrow (ArrowBuilder). After warm-up (Reset keeps every buffer) it
// allocates nothing per CDR: decimals are read through their coefficient
// and exponent, and periods are ordered in a reused buffer.
type BatchBuilder struct {
	Batch
	zoneIndex map[*time.Location]int32
	order     []int32    // the CDR's periods in time order (scratch)
	rows      []batchRow // the CDR's converted periods (scratch)
}

// batchRow is one converted period, kept until the whole CDR is known good.
type batchRow struct {
	start, e, t, pk, r, minC, maxC, minP, maxP int64
	has                                        uint8
}

// Reset empties the builder, keeping its capacity.
func (bb *BatchBuilder) Reset() {
	b := &bb.Batch
	b.CDRStart, b.Tariff, b.Zone, b.Credit, b.Key = b.CDRStart[:0], b.Tariff[:0], b.Zone[:0], b.Credit[:0], nil
	b.PeriodOffsets = append(b.PeriodOffsets[:0], 0)
	b.PeriodStart, b.EnergyMilliWh, b.TimeS, b.ParkingS, b.ReservationS = b.PeriodStart[:0], b.EnergyMilliWh[:0], b.TimeS[:0], b.ParkingS[:0], b.ReservationS[:0]
	b.MinCurrent, b.MaxCurrent, b.MinPower, b.MaxPower, b.Has = b.MinCurrent[:0], b.MaxCurrent[:0], b.MinPower[:0], b.MaxPower[:0], b.Has[:0]
}

// Add appends one CDR priced with compiled tariff index tariff in zone loc.
// Its periods are sorted by start; volumes the kernel cannot hold exactly
// (energy, power or current beyond 6 decimals) are an error, and the
// CDR is then not added. A CDR without periods is not added either (price
// it with Price, which builds one from the totals), nor one with a period
// that has reservation time and charging volumes (ErrMixedPeriod).
func (bb *BatchBuilder) Add(cdr *ocpi.CDR, tariff int32, loc *time.Location) error {
	if len(bb.PeriodOffsets) == 0 {
		bb.PeriodOffsets = append(bb.PeriodOffsets, 0)
	}
	cps := cdr.ChargingPeriods
	if len(cps) == 0 {
		return fmt.Errorf("pricing: CDR %s has no charging periods", cdr.ID)
	}
	if bb.zoneIndex == nil {
		bb.zoneIndex = map[*time.Location]int32{}
		for i, z := range bb.Zones {
			bb.zoneIndex[z] = int32(i)
		}
	}
	zi, ok := bb.zoneIndex[loc]
	if !ok {
		zi = int32(len(bb.Zones))
		bb.Zones = append(bb.Zones, loc)
		bb.zoneIndex[loc] = zi
	}
	// Stable insertion sort: periods nearly always arrive in order, and
	// sort.SliceStable would allocate its closure and swapper per CDR.
	order := bb.order[:0]
	for i := range cps {
		j := len(order)
		order = append(order, int32(i))
		for ; j > 0 && cps[i].StartDateTime.Before(cps[order[j-1]].StartDateTime); j-- {
			order[j] = order[j-1]
		}
		order[j] = int32(i)
	}
	bb.order = order
	rows := bb.rows[:0]
	for _, oi := range order {
		rw, err := periodRow(&cps[oi])
		if err != nil {
			bb.rows = rows
			return fmt.Errorf("pricing: CDR %s: %w", cdr.ID, err)
		}
		rows = append(rows, rw)
	}
	bb.rows = rows
	b := &bb.Batch
	for i := range rows {
		rw := &rows[i]
		b.PeriodStart = append(b.PeriodStart, rw.start)
		b.EnergyMilliWh = append(b.EnergyMilliWh, rw.e)
		b.TimeS, b.ParkingS, b.ReservationS = append(b.TimeS, rw.t), append(b.ParkingS, rw.pk), append(b.ReservationS, rw.r)
		b.MinCurrent, b.MaxCurrent = append(b.MinCurrent, rw.minC), append(b.MaxCurrent, rw.maxC)
		b.MinPower, b.MaxPower = append(b.MinPower, rw.minP), append(b.MaxPower, rw.maxP)
		b.Has = append(b.Has, rw.has)
	}
	b.CDRStart = append(b.CDRStart, cdr.StartDateTime.Unix())
	b.Tariff = append(b.Tariff, tariff)
	b.Zone = append(b.Zone, zi)
	b.Credit = append(b.Credit, cdr.Credit)
	b.PeriodOffsets = append(b.PeriodOffsets, int32(len(b.PeriodStart)))
	return nil
}

// periodRow converts one period to the kernel's units (the scales in
// compile.go), as the reference reads it: energies summed, hours to whole
// seconds (nearest), negative times as 0 (the reference warns).
func periodRow(cp *ocpi.ChargingPeriod) (batchRow, error) {
	rw := batchRow{start: cp.StartDateTime.Unix()}
	exact := true // every ENERGY volume had at most 6 decimals
	for k := range cp.Dimensions {
		d := &cp.Dimensions[k]
		var err error
		switch dimType(d.Type) {
		case ocpi.DimEnergy:
			if v, ok := scaledFast(d.Volume, energyScale); ok && exact && v <= 1e15 && v >= -1e15 {
				rw.e += v // a few of these cannot overflow
			} else {
				exact = false
			}
		case ocpi.DimTime:
			rw.t += max(hoursToSeconds(d.Volume), 0)
		case ocpi.DimParkingTime:
			rw.pk += max(hoursToSeconds(d.Volume), 0)
		case ocpi.DimReservationTime:
			rw.r += max(hoursToSeconds(d.Volume), 0)
			rw.has |= HasReservation
		case ocpi.DimMinCurrent:
			rw.minC, err = scaledVolume(d.Volume, "MIN_CURRENT")
			rw.has |= HasMinCurrent
		case ocpi.DimMaxCurrent:
			rw.maxC, err = scaledVolume(d.Volume, "MAX_CURRENT")
			rw.has |= HasMaxCurrent
		case ocpi.DimMinPower:
			rw.minP, err = scaledVolume(d.Volume, "MIN_POWER")
			rw.has |= HasMinPower
		case ocpi.DimMaxPower:
			rw.maxP, err = scaledVolume(d.Volume, "MAX_POWER")
			rw.has |= HasMaxPower
		}
		if err != nil {
			return rw, err
		}
	}
	if !exact {
		// A volume beyond 6 decimals: the exact sum decides (two halves of a
		// mWh make one), or scaled's error names it.
		energy := decimal.Zero
		for _, d := range cp.Dimensions {
			if dimType(d.Type) == ocpi.DimEnergy {
				energy = energy.Add(d.Volume)
			}
		}
		e, err := scaled(energy, energyScale, "ENERGY")
		if err != nil {
			return rw, err
		}
		rw.e = e
	}
	if rw.e > 1e13 || rw.t > 1e8 || rw.pk > 1e8 || rw.r > 1e8 {
		return rw, errors.New("volumes out of range")
	}
	if rw.has&HasReservation != 0 && (rw.e > 0 || rw.t > 0 || rw.pk > 0) {
		return rw, ErrMixedPeriod
	}
	return rw, nil
}

func scaledVolume(d decimal.Decimal, what string) (int64, error) {
	if v, ok := scaledFast(d, unitScale); ok {
		return v, nil
	}
	return scaled(d, unitScale, what)
}

// dimType upper-cases an ASCII dimension type without allocating when it
// already is (strings.ToUpper returns its argument then).
func dimType(s string) string { return strings.ToUpper(s) }

// ErrMixedPeriod is the error BatchBuilder.Add returns for a CDR with a
// period that has reservation time and charging volumes: price it with
// Price (see StatusMixedPeriod).
var ErrMixedPeriod = errors.New("a period has RESERVATION_TIME and ENERGY, TIME or PARKING_TIME: price it with Price")

// Money converts a kernel amount (1e-10 units) to a decimal.
func Money(v int64) decimal.Decimal { return decimal.New(v, -moneyScale) }
