package pricing

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// BatchBuilder fills a Batch from decoded CDRs (tests, the CLI, small
// imports). Bulk runs fill the same columns from Arrow (ArrowBuilder).
type BatchBuilder struct {
	Batch
	zoneIndex map[*time.Location]int32
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
// it with Price, which builds one from the totals).
func (bb *BatchBuilder) Add(cdr *ocpi.CDR, tariff int32, loc *time.Location) error {
	if len(bb.PeriodOffsets) == 0 {
		bb.PeriodOffsets = append(bb.PeriodOffsets, 0)
	}
	if len(cdr.ChargingPeriods) == 0 {
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
	order := make([]int, len(cdr.ChargingPeriods))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return cdr.ChargingPeriods[order[a]].StartDateTime.Before(cdr.ChargingPeriods[order[b]].StartDateTime)
	})
	type row struct {
		start, e, t, pk, r, minC, maxC, minP, maxP int64
		has                                        uint8
	}
	rows := make([]row, 0, len(order))
	for _, oi := range order {
		cp := &cdr.ChargingPeriods[oi]
		rw := row{start: cp.StartDateTime.Unix()}
		energy := decimal.Zero
		for _, d := range cp.Dimensions {
			var err error
			var v int64
			switch strings.ToUpper(d.Type) {
			case ocpi.DimEnergy:
				energy = energy.Add(d.Volume)
			case ocpi.DimTime:
				rw.t += max(hoursToSeconds(d.Volume), 0)
			case ocpi.DimParkingTime:
				rw.pk += max(hoursToSeconds(d.Volume), 0)
			case ocpi.DimReservationTime:
				rw.r += max(hoursToSeconds(d.Volume), 0)
				rw.has |= HasReservation
			case ocpi.DimMinCurrent:
				v, err = scaled(d.Volume, unitScale, "MIN_CURRENT")
				rw.minC, rw.has = v, rw.has|HasMinCurrent
			case ocpi.DimMaxCurrent:
				v, err = scaled(d.Volume, unitScale, "MAX_CURRENT")
				rw.maxC, rw.has = v, rw.has|HasMaxCurrent
			case ocpi.DimMinPower:
				v, err = scaled(d.Volume, unitScale, "MIN_POWER")
				rw.minP, rw.has = v, rw.has|HasMinPower
			case ocpi.DimMaxPower:
				v, err = scaled(d.Volume, unitScale, "MAX_POWER")
				rw.maxP, rw.has = v, rw.has|HasMaxPower
			}
			if err != nil {
				return fmt.Errorf("pricing: CDR %s: %w", cdr.ID, err)
			}
		}
		e, err := scaled(energy, energyScale, "ENERGY")
		if err != nil {
			return fmt.Errorf("pricing: CDR %s: %w", cdr.ID, err)
		}
		rw.e = e
		if rw.e > 1e13 || rw.t > 1e8 || rw.pk > 1e8 || rw.r > 1e8 {
			return fmt.Errorf("pricing: CDR %s: volumes out of range", cdr.ID)
		}
		if rw.has&HasReservation != 0 && (rw.e > 0 || rw.t > 0 || rw.pk > 0) {
			return fmt.Errorf("pricing: CDR %s: %w", cdr.ID, ErrMixedPeriod)
		}
		rows = append(rows, rw)
	}
	b := &bb.Batch
	for _, rw := range rows {
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

// ErrMixedPeriod is the error BatchBuilder.Add returns for a CDR with a
// period that has reservation time and charging volumes: price it with
// Price (see StatusMixedPeriod).
var ErrMixedPeriod = errors.New("a period has RESERVATION_TIME and ENERGY, TIME or PARKING_TIME: price it with Price")

// Money converts a kernel amount (1e-10 units) to a decimal.
func Money(v int64) decimal.Decimal { return decimal.New(v, -moneyScale) }
