package pricing

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// PeriodColumns are the Arrow columns ArrowBuilder reads, found by name (in
// any order, extra columns ignored). They are what the store's period scan
// produces, one row per charging period, rows of one CDR contiguous and in
// period order:
//
//	cdr_key          int64                the CDR's key; a new key starts a new CDR
//	period_index     uint16               not read (row order is what counts)
//	start_date_time  timestamp, any unit  UTC
//	end_date_time    timestamp            not read by the kernel
//	tariff_id        utf8, nullable       must be the same (or null) on all periods of a CDR
//	energy, time, parking_time, reservation_time,
//	min_current, max_current, min_power, max_power
//	                 int64, nullable      millionths of the OCPI unit (kWh, h, A, kW);
//	                                      null: the period has no such dimension
//
// The kernel's units follow from that scale without rounding except for
// time: energy, current and power are copied (the kernel keeps 1e-6), and
// hours become whole seconds, nearest (half up), as the reference does.
var PeriodColumns = []string{"cdr_key", "period_index", "start_date_time", "end_date_time", "tariff_id",
	"energy", "time", "parking_time", "reservation_time", "min_current", "max_current", "min_power", "max_power"}

// CDRHeader is what the kernel needs of a CDR besides its periods; the
// caller reads it from the CDR table.
type CDRHeader struct {
	Start  int64 // start_date_time, unix seconds
	Tariff int32 // index into the []*Compiled the batch is run with
	Zone   int32 // index into Batch.Zones
	Credit bool
}

// HeaderLookup returns the header of a CDR. tariffID is the first non-null
// tariff_id of its periods (empty when none); it is only valid during the
// call. ok=false leaves the CDR out of the batch (SkipNoHeader).
type HeaderLookup func(cdrKey int64, tariffID string) (h CDRHeader, ok bool)

// SkipReason says why ArrowBuilder left a CDR out of the batch; such CDRs
// are priced one by one with Price, which handles them all.
type SkipReason uint8

const (
	SkipNoHeader     SkipReason = iota + 1 // the lookup did not know the CDR
	SkipMixedTariffs                       // its periods name different tariffs
	SkipUnsorted                           // its periods are not in time order
	SkipOutOfRange                         // a volume beyond the kernel's range
	SkipMixedPeriod                        // a period has reservation time and charging volumes (StatusMixedPeriod)
)

func (s SkipReason) String() string {
	switch s {
	case SkipNoHeader:
		return "no header"
	case SkipMixedTariffs:
		return "periods name several tariffs"
	case SkipUnsorted:
		return "periods not in time order"
	case SkipOutOfRange:
		return "volume out of range"
	case SkipMixedPeriod:
		return "reservation and charging in one period"
	}
	return "unknown"
}

// Skipped is one CDR left out of a batch.
type Skipped struct {
	Key    int64
	Reason SkipReason
}

// ArrowBuilder fills a Batch from Arrow record batches with PeriodColumns.
// A CDR may continue from one record into the next: the builder keeps the
// CDR being read open until its key changes. Ready returns the CDRs complete
// so far and Next starts the next batch with the open CDR carried over, so a
// scan of any size is priced in bounded memory. After warm-up it allocates
// nothing per row: every column is appended into reused slices.
type ArrowBuilder struct {
	Lookup HeaderLookup
	// Skipped lists the CDRs left out since the last Next.
	Skipped []Skipped

	b     Batch
	view1 Batch
	// The open CDR: its periods are at the end of b's period columns, from
	// openFrom; it has no per-CDR row yet.
	open      bool
	openKey   int64
	openFrom  int
	openTID   []byte // first non-null tariff_id, copied (records are released)
	openSkip  SkipReason
	lastStart int64

	schema *arrow.Schema
	cols   [len13]int
}

const len13 = 13

const (
	cKey = iota
	cIndex
	cStart
	cEnd
	cTariff
	cEnergy
	cTime
	cParking
	cReservation
	cMinCur
	cMaxCur
	cMinPow
	cMaxPow
)

// SetZones sets the zones the CDR headers' Zone indexes refer to.
func (ab *ArrowBuilder) SetZones(zones []*time.Location) { ab.b.Zones = zones }

// Append adds the rows of one record batch. A record without the columns,
// or with columns of other types, is an error (nothing is added).
func (ab *ArrowBuilder) Append(rec arrow.RecordBatch) error {
	if rec.Schema() != ab.schema {
		if err := ab.bind(rec.Schema()); err != nil {
			return err
		}
	}
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	keys := rec.Column(ab.cols[cKey]).(*array.Int64)
	starts := rec.Column(ab.cols[cStart]).(*array.Timestamp)
	tids := rec.Column(ab.cols[cTariff]).(*array.String)
	var vol [8]*array.Int64
	for i := range vol {
		vol[i] = rec.Column(ab.cols[cEnergy+i]).(*array.Int64)
	}
	toSec := timestampDivisor(starts.DataType().(*arrow.TimestampType).Unit)
	b := &ab.b
	for r := 0; r < n; r++ {
		key := keys.Value(r)
		if !ab.open || key != ab.openKey {
			ab.closeOpen()
			ab.open, ab.openKey, ab.openFrom = true, key, len(b.PeriodStart)
			ab.openTID, ab.openSkip, ab.lastStart = ab.openTID[:0], 0, 0
		}
		start := floorDiv(int64(starts.Value(r)), toSec)
		if len(b.PeriodStart) > ab.openFrom && start < ab.lastStart {
			ab.skipOpen(SkipUnsorted)
		}
		ab.lastStart = start
		if tids.IsValid(r) {
			if t := tids.Value(r); len(ab.openTID) == 0 {
				ab.openTID = append(ab.openTID, t...)
			} else if !equalFoldASCII(ab.openTID, t) {
				ab.skipOpen(SkipMixedTariffs)
			}
		}
		var has uint8
		v := func(c int) int64 {
			if vol[c].IsNull(r) {
				return 0
			}
			return vol[c].Value(r)
		}
		energy := v(0)
		timeS, parkS, resvS := microHoursToSeconds(v(1)), microHoursToSeconds(v(2)), microHoursToSeconds(v(3))
		if vol[3].IsValid(r) {
			has |= HasReservation
		}
		bits := [4]uint8{HasMinCurrent, HasMaxCurrent, HasMinPower, HasMaxPower}
		for i, bit := range bits {
			if vol[4+i].IsValid(r) {
				has |= bit
			}
		}
		if energy > 1e13 || timeS > 1e8 || parkS > 1e8 || resvS > 1e8 {
			ab.skipOpen(SkipOutOfRange)
		}
		if has&HasReservation != 0 && (energy > 0 || timeS > 0 || parkS > 0) {
			ab.skipOpen(SkipMixedPeriod)
		}
		b.PeriodStart = append(b.PeriodStart, start)
		b.EnergyMilliWh = append(b.EnergyMilliWh, energy)
		b.TimeS, b.ParkingS, b.ReservationS = append(b.TimeS, timeS), append(b.ParkingS, parkS), append(b.ReservationS, resvS)
		b.MinCurrent, b.MaxCurrent = append(b.MinCurrent, v(4)), append(b.MaxCurrent, v(5))
		b.MinPower, b.MaxPower = append(b.MinPower, v(6)), append(b.MaxPower, v(7))
		b.Has = append(b.Has, has)
	}
	return nil
}

// Ready returns the batch of the CDRs complete so far (the open one is not
// in it). It stays valid until the next Append, Next or Finish.
func (ab *ArrowBuilder) Ready() *Batch {
	if len(ab.b.PeriodOffsets) == 0 {
		ab.b.PeriodOffsets = append(ab.b.PeriodOffsets, 0)
	}
	return ab.view()
}

// Finish closes the open CDR (the scan has ended) and returns the batch.
func (ab *ArrowBuilder) Finish() *Batch {
	ab.closeOpen()
	return ab.Ready()
}

// Next empties the batch for the next one, keeping its capacity and the
// open CDR's periods, and clears Skipped.
func (ab *ArrowBuilder) Next() {
	b := &ab.b
	from := len(b.PeriodStart)
	if ab.open {
		from = ab.openFrom
	}
	carry := func(col []int64) []int64 { return col[:copy(col, col[from:])] }
	b.PeriodStart, b.EnergyMilliWh, b.TimeS, b.ParkingS, b.ReservationS = carry(b.PeriodStart), carry(b.EnergyMilliWh), carry(b.TimeS), carry(b.ParkingS), carry(b.ReservationS)
	b.MinCurrent, b.MaxCurrent, b.MinPower, b.MaxPower = carry(b.MinCurrent), carry(b.MaxCurrent), carry(b.MinPower), carry(b.MaxPower)
	b.Has = b.Has[:copy(b.Has, b.Has[from:])]
	ab.openFrom = 0
	b.CDRStart, b.Tariff, b.Zone, b.Credit, b.Key = b.CDRStart[:0], b.Tariff[:0], b.Zone[:0], b.Credit[:0], b.Key[:0]
	b.PeriodOffsets = append(b.PeriodOffsets[:0], 0)
	ab.Skipped = ab.Skipped[:0]
}

// view is the batch without the open CDR's periods.
func (ab *ArrowBuilder) view() *Batch {
	v := &ab.view1
	*v = ab.b
	m := int(ab.b.PeriodOffsets[len(ab.b.PeriodOffsets)-1])
	v.PeriodStart, v.EnergyMilliWh, v.TimeS, v.ParkingS, v.ReservationS = v.PeriodStart[:m], v.EnergyMilliWh[:m], v.TimeS[:m], v.ParkingS[:m], v.ReservationS[:m]
	v.MinCurrent, v.MaxCurrent, v.MinPower, v.MaxPower, v.Has = v.MinCurrent[:m], v.MaxCurrent[:m], v.MinPower[:m], v.MaxPower[:m], v.Has[:m]
	return v
}

func (ab *ArrowBuilder) skipOpen(r SkipReason) {
	if ab.openSkip == 0 {
		ab.openSkip = r
	}
}

// closeOpen turns the open CDR into a batch row, or drops its periods when
// it is skipped.
func (ab *ArrowBuilder) closeOpen() {
	if !ab.open {
		return
	}
	ab.open = false
	b := &ab.b
	if len(b.PeriodOffsets) == 0 {
		b.PeriodOffsets = append(b.PeriodOffsets, 0)
	}
	reason := ab.openSkip
	var h CDRHeader
	if reason == 0 {
		var ok bool
		// The lookup gets a string aliasing the builder's buffer (valid
		// during the call): string(openTID) would allocate per CDR.
		if h, ok = ab.Lookup(ab.openKey, bytesString(ab.openTID)); !ok {
			reason = SkipNoHeader
		}
	}
	if reason != 0 {
		ab.Skipped = append(ab.Skipped, Skipped{Key: ab.openKey, Reason: reason})
		ab.truncatePeriods(ab.openFrom)
		return
	}
	b.CDRStart = append(b.CDRStart, h.Start)
	b.Tariff = append(b.Tariff, h.Tariff)
	b.Zone = append(b.Zone, h.Zone)
	b.Credit = append(b.Credit, h.Credit)
	b.Key = append(b.Key, ab.openKey)
	b.PeriodOffsets = append(b.PeriodOffsets, int32(len(b.PeriodStart)))
}

func (ab *ArrowBuilder) truncatePeriods(m int) {
	b := &ab.b
	b.PeriodStart, b.EnergyMilliWh, b.TimeS, b.ParkingS, b.ReservationS = b.PeriodStart[:m], b.EnergyMilliWh[:m], b.TimeS[:m], b.ParkingS[:m], b.ReservationS[:m]
	b.MinCurrent, b.MaxCurrent, b.MinPower, b.MaxPower, b.Has = b.MinCurrent[:m], b.MaxCurrent[:m], b.MinPower[:m], b.MaxPower[:m], b.Has[:m]
}

// bind finds the columns by name and checks their types.
func (ab *ArrowBuilder) bind(s *arrow.Schema) error {
	want := [len13]arrow.Type{arrow.INT64, arrow.UINT16, arrow.TIMESTAMP, arrow.TIMESTAMP, arrow.STRING,
		arrow.INT64, arrow.INT64, arrow.INT64, arrow.INT64, arrow.INT64, arrow.INT64, arrow.INT64, arrow.INT64}
	for c, name := range PeriodColumns {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return fmt.Errorf("pricing: period records have no column %q", name)
		}
		if got := s.Field(idx[0]).Type.ID(); got != want[c] && c != cIndex && c != cEnd {
			return fmt.Errorf("pricing: period column %q is %s, want %s", name, s.Field(idx[0]).Type, want[c])
		}
		ab.cols[c] = idx[0]
	}
	ab.schema = s
	return nil
}

func timestampDivisor(u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return 1
	case arrow.Millisecond:
		return 1e3
	case arrow.Microsecond:
		return 1e6
	}
	return 1e9
}

// microHoursToSeconds converts millionths of an hour to whole seconds,
// nearest, half up (hoursToSeconds); negative volumes are priced as 0.
func microHoursToSeconds(v int64) int64 {
	if v <= 0 {
		return 0
	}
	if v > 1e15 {
		return 1e9 // beyond the kernel's range: refused by the caller
	}
	return (v*36 + 5000) / 10000
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
