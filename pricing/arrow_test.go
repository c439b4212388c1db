package pricing

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
	"pgregory.net/rapid"
)

// periodSchema is the store's period scan schema (store.PeriodColumns).
var periodSchema = arrow.NewSchema([]arrow.Field{
	{Name: "cdr_key", Type: arrow.PrimitiveTypes.Int64},
	{Name: "period_index", Type: arrow.PrimitiveTypes.Uint16},
	{Name: "start_date_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "end_date_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "tariff_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "energy", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "parking_time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "reservation_time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "min_current", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "max_current", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "min_power", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "max_power", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// periodRecords writes the CDRs' periods as the store would, cut into
// records of at most rowsPer rows (so CDRs span records). CDR i gets key
// 1000+i.
func periodRecords(tb interface {
	Helper()
	Fatalf(string, ...any)
}, cdrs []*ocpi.CDR, rowsPer int) []arrow.RecordBatch {
	tb.Helper()
	bld := array.NewRecordBuilder(memory.NewGoAllocator(), periodSchema)
	defer bld.Release()
	var out []arrow.RecordBatch
	rows := 0
	flush := func() {
		if rows > 0 {
			out = append(out, bld.NewRecordBatch())
			rows = 0
		}
	}
	dimCol := map[string]int{ocpi.DimEnergy: 5, ocpi.DimTime: 6, ocpi.DimParkingTime: 7, ocpi.DimReservationTime: 8,
		ocpi.DimMinCurrent: 9, ocpi.DimMaxCurrent: 10, ocpi.DimMinPower: 11, ocpi.DimMaxPower: 12}
	for i, c := range cdrs {
		for pi, p := range c.ChargingPeriods {
			bld.Field(0).(*array.Int64Builder).Append(int64(1000 + i))
			bld.Field(1).(*array.Uint16Builder).Append(uint16(pi))
			bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(p.StartDateTime.UnixMicro()))
			end := c.EndDateTime
			if pi+1 < len(c.ChargingPeriods) {
				end = c.ChargingPeriods[pi+1].StartDateTime
			}
			bld.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(end.UnixMicro()))
			if p.TariffID == "" {
				bld.Field(4).AppendNull()
			} else {
				bld.Field(4).(*array.StringBuilder).Append(p.TariffID)
			}
			var vals [13]*int64
			for _, d := range p.Dimensions {
				v := d.Volume.Shift(6)
				if !v.Equal(v.Truncate(0)) {
					tb.Fatalf("test volume %s has more than 6 decimals", d.Volume)
				}
				x := v.IntPart()
				vals[dimCol[d.Type]] = &x
			}
			for col := 5; col < 13; col++ {
				if vals[col] == nil {
					bld.Field(col).AppendNull()
				} else {
					bld.Field(col).(*array.Int64Builder).Append(*vals[col])
				}
			}
			rows++
			if rows == rowsPer {
				flush()
			}
		}
	}
	flush()
	return out
}

func headersOf(cdrs []*ocpi.CDR) HeaderLookup {
	return func(key int64, _ string) (CDRHeader, bool) {
		i := int(key - 1000)
		if i < 0 || i >= len(cdrs) {
			return CDRHeader{}, false
		}
		return CDRHeader{Start: cdrs[i].StartDateTime.Unix(), Credit: cdrs[i].Credit}, true
	}
}

// The Arrow mapping fills exactly the batch the decimal builder fills from
// the same CDRs, whatever the record boundaries.
func TestArrowBuilderEqualsBatchBuilder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "cdrs")
		cdrs := make([]*ocpi.CDR, n)
		var want BatchBuilder
		for i := range cdrs {
			cdrs[i] = genCDR(t, i, "EUR", false)
			if err := want.Add(cdrs[i], 0, berlin); err != nil {
				t.Fatal(err)
			}
		}
		want.Key = make([]int64, n)
		for i := range want.Key {
			want.Key[i] = int64(1000 + i)
		}
		recs := periodRecords(t, cdrs, rapid.IntRange(1, 50).Draw(t, "rowsPerRecord"))
		ab := ArrowBuilder{Lookup: headersOf(cdrs)}
		ab.SetZones([]*time.Location{berlin})
		for _, r := range recs {
			if err := ab.Append(r); err != nil {
				t.Fatal(err)
			}
			r.Release()
		}
		got := ab.Finish()
		if len(ab.Skipped) != 0 {
			t.Fatalf("skipped %v", ab.Skipped)
		}
		if err := got.Validate(); err != nil {
			t.Fatal(err)
		}
		wb, gb := want.Batch, *got
		wb.Zones, gb.Zones = nil, nil
		if diff := cmp.Diff(wb, gb); diff != "" {
			t.Fatalf("batch differs (-BatchBuilder +ArrowBuilder):\n%s", diff)
		}
	})
}

// Ready/Next price a scan batch by batch: a CDR cut by a record boundary is
// carried into the next batch, and every CDR is priced exactly once, with
// the totals of a single batch.
func TestArrowBuilderCarriesOpenCDR(t *testing.T) {
	tariff := specTariff(t, "spec221", "tariff_4_complex.json")
	c, err := Compile(&tariff, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	cdrs := benchCDRs(300)
	var whole BatchBuilder
	for _, cdr := range cdrs {
		if err := whole.Add(cdr, 0, berlin); err != nil {
			t.Fatal(err)
		}
	}
	wantOut := NewOutput(len(cdrs), len(whole.PeriodStart), false)
	if err := RunParallel(&whole.Batch, []*Compiled{c}, wantOut, 1); err != nil {
		t.Fatal(err)
	}
	ab := ArrowBuilder{Lookup: headersOf(cdrs)}
	ab.SetZones([]*time.Location{berlin})
	priced := map[int64]int64{}
	price := func(b *Batch) {
		out := NewOutput(len(b.CDRStart), len(b.PeriodStart), false)
		if err := RunParallel(b, []*Compiled{c}, out, 1); err != nil {
			t.Fatal(err)
		}
		for i, k := range b.Key {
			if _, dup := priced[k]; dup {
				t.Fatalf("CDR %d priced twice", k)
			}
			priced[k] = out.TotalIncl[i]
		}
	}
	for _, r := range periodRecords(t, cdrs, 7) {
		if err := ab.Append(r); err != nil {
			t.Fatal(err)
		}
		r.Release()
		price(ab.Ready())
		ab.Next()
	}
	price(ab.Finish())
	if len(priced) != len(cdrs) {
		t.Fatalf("priced %d CDRs, want %d", len(priced), len(cdrs))
	}
	for i := range cdrs {
		if got, want := priced[int64(1000+i)], wantOut.TotalIncl[i]; got != want {
			t.Fatalf("CDR %d: %d in batches, %d in one batch", i, got, want)
		}
	}
}

func TestArrowBuilderSkips(t *testing.T) {
	mon := at(t, "2026-06-01", "10:00", time.Monday)
	ok := mkCDR(mon, seg{min: 10, energy: "1", charging: true, tariffID: "A"}, seg{min: 10, parking: true})
	mixed := mkCDR(mon, seg{min: 10, energy: "1", charging: true, tariffID: "A"}, seg{min: 10, parking: true, tariffID: "B"})
	sameFold := mkCDR(mon, seg{min: 10, energy: "1", charging: true, tariffID: "abc"}, seg{min: 10, parking: true, tariffID: "ABC"})
	unsorted := mkCDR(mon, seg{min: 10, energy: "1", charging: true}, seg{min: 10, parking: true})
	unsorted.ChargingPeriods[0], unsorted.ChargingPeriods[1] = unsorted.ChargingPeriods[1], unsorted.ChargingPeriods[0]
	unknown := mkCDR(mon, seg{min: 10, energy: "1", charging: true})
	huge := mkCDR(mon, seg{min: 10, energy: "20000000", charging: true})
	cdrs := []*ocpi.CDR{ok, mixed, sameFold, unsorted, unknown, huge}
	lookup := headersOf(cdrs)
	var seenTariffIDs []string
	ab := ArrowBuilder{Lookup: func(key int64, tid string) (CDRHeader, bool) {
		seenTariffIDs = append(seenTariffIDs, strings.Clone(tid))
		if key == 1004 {
			return CDRHeader{}, false
		}
		return lookup(key, tid)
	}}
	ab.SetZones([]*time.Location{berlin})
	for _, r := range periodRecords(t, cdrs, 3) {
		if err := ab.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	b := ab.Finish()
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1000, 1002}; !slices.Equal(b.Key, want) {
		t.Errorf("batch keys %v, want %v", b.Key, want)
	}
	want := []Skipped{{1001, SkipMixedTariffs}, {1003, SkipUnsorted}, {1004, SkipNoHeader}, {1005, SkipOutOfRange}}
	if !slices.Equal(ab.Skipped, want) {
		t.Errorf("skipped %v, want %v", ab.Skipped, want)
	}
	// Skipped CDRs are not looked up, except the one the lookup refuses.
	if want := []string{"A", "abc", ""}; !slices.Equal(seenTariffIDs, want) {
		t.Errorf("lookup saw tariff ids %q, want %q", seenTariffIDs, want)
	}
}

func TestArrowBuilderSchema(t *testing.T) {
	rows := []struct {
		name   string
		schema *arrow.Schema
		want   string
	}{
		{"missing column", arrow.NewSchema(periodSchema.Fields()[:12], nil), `no column "max_power"`},
		{"energy as float", func() *arrow.Schema {
			f := slices.Clone(periodSchema.Fields())
			f[5].Type = arrow.PrimitiveTypes.Float64
			return arrow.NewSchema(f, nil)
		}(), `"energy" is float64, want`},
	}
	for _, r := range rows {
		bld := array.NewRecordBuilder(memory.NewGoAllocator(), r.schema)
		rec := bld.NewRecordBatch()
		var ab ArrowBuilder
		err := ab.Append(rec)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: error %v, want %q", r.name, err, r.want)
		}
		rec.Release()
		bld.Release()
	}
}

// After warm-up, appending a record allocates nothing, whatever its size.
func TestArrowBuilderAllocations(t *testing.T) {
	cdrs := benchCDRs(2000)
	recs := periodRecords(t, cdrs, 1<<20)
	ab := ArrowBuilder{Lookup: headersOf(cdrs)}
	ab.SetZones([]*time.Location{berlin})
	run := func() {
		ab.Next()
		if err := ab.Append(recs[0]); err != nil {
			t.Fatal(err)
		}
		ab.Finish()
	}
	run()
	if a := testing.AllocsPerRun(5, run); a != 0 {
		t.Errorf("%.0f allocations per record of %d rows, want 0", a, recs[0].NumRows())
	}
}

func TestMicroHoursToSeconds(t *testing.T) {
	for _, r := range []struct{ in, want int64 }{
		{0, 0}, {-5, 0}, {83400, 300}, {83417, 300}, {83403, 300}, {1973000, 7103}, {138, 0}, {139, 1}, {1_000_000, 3600},
	} {
		if got := microHoursToSeconds(r.in); got != r.want {
			t.Errorf("%d µh = %d s, want %d", r.in, got, r.want)
		}
		if got := hoursToSeconds(Money(r.in).Shift(4)); r.in >= 0 && got != r.want {
			t.Errorf("reference: %d µh = %d s, want %d", r.in, got, r.want)
		}
	}
}

// BenchmarkArrowBuilder maps the store's period records into a batch.
func BenchmarkArrowBuilder(b *testing.B) {
	cdrs := benchCDRs(100_000)
	recs := periodRecords(b, cdrs, 1<<16)
	rows := 0
	for _, r := range recs {
		rows += int(r.NumRows())
	}
	ab := ArrowBuilder{Lookup: func(key int64, _ string) (CDRHeader, bool) { return CDRHeader{Start: 1_780_000_000}, true }}
	ab.SetZones([]*time.Location{berlin})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ab.Next()
		for _, r := range recs {
			if err := ab.Append(r); err != nil {
				b.Fatal(err)
			}
		}
		ab.Finish()
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "periods/s")
	b.ReportMetric(0, "ns/op")
}
