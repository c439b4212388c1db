package pricing

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// benchCDRs builds n CDRs of 1-5 periods (charging with currents, then
// parking) spread over a year, priced with the spec's complex tariff.
func benchCDRs(n int) []*ocpi.CDR {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cdrs := make([]*ocpi.CDR, n)
	for i := range cdrs {
		start := base.Add(time.Duration(rng.IntN(365*24*60)) * time.Minute)
		var segs []seg
		np := 1 + rng.IntN(5)
		for p := 0; p < np; p++ {
			s := seg{secs: int64(60 + rng.IntN(3600)), maxCur: "16", minCur: "10"}
			if p == np-1 && np > 1 {
				s.parking = true
			} else {
				s.charging = true
				s.energy = "7.5"
			}
			segs = append(segs, s)
		}
		cdrs[i] = mkCDR(start, segs...)
	}
	return cdrs
}

func benchSetup(b *testing.B, n int) (*Batch, []*Compiled, ocpi.Tariff, []*ocpi.CDR) {
	tariff := specTariff(b, "spec221", "tariff_4_complex.json")
	c, err := Compile(&tariff, DefaultPolicy())
	if err != nil {
		b.Fatal(err)
	}
	cdrs := benchCDRs(n)
	var bb BatchBuilder
	for _, cdr := range cdrs {
		if err := bb.Add(cdr, 0, berlin); err != nil {
			b.Fatal(err)
		}
	}
	return &bb.Batch, []*Compiled{c}, tariff, cdrs
}

func benchKernel(b *testing.B, workers int) {
	batch, compiled, _, _ := benchSetup(b, 100_000)
	out := NewOutput(len(batch.CDRStart), len(batch.PeriodStart), true)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := RunParallel(batch, compiled, out, workers); err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(batch.CDRStart))/secs, "CDRs/s")
	b.ReportMetric(float64(b.N*len(batch.PeriodStart))/secs, "periods/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkKernel/1 is one core, /all every core (GOMAXPROCS); a run over
// 100,000 CDRs allocates only the goroutines, nothing per row.
func BenchmarkKernel(b *testing.B) {
	b.Run("1", func(b *testing.B) { benchKernel(b, 1) })
	b.Run("all", func(b *testing.B) { benchKernel(b, 0) })
}

// BenchmarkReference prices the same CDRs one by one with the decimal
// reference; divide the kernel's CDRs/s by this for the ratio.
func BenchmarkReference(b *testing.B) {
	_, _, tariff, cdrs := benchSetup(b, 2_000)
	tariffs := []ocpi.Tariff{tariff}
	periods := 0
	for _, c := range cdrs {
		periods += len(c.ChargingPeriods)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, c := range cdrs {
			if _, err := Price(c, tariffs, Options{TimeZone: berlin}); err != nil {
				b.Fatal(err)
			}
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(cdrs))/secs, "CDRs/s")
	b.ReportMetric(float64(b.N*periods)/secs, "periods/s")
	b.ReportMetric(0, "ns/op")
}

// FuzzCompileAndKernel: any tariff the test decoder reads and any volumes
// either compile and price without panic, or are refused with an error or
// a non-OK status; never a silent overflow (checked against the reference
// when the kernel says OK).
func FuzzCompileAndKernel(f *testing.F) {
	for _, name := range []string{"tariff_4_complex.json", "tariff_14_step_size.json", "tariff_6_025kwh_start_max_price.json"} {
		data, err := readSpec("spec221", name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, int64(3_000_000), int64(3600), int64(600), int64(120), int64(1000))
	}
	f.Fuzz(func(t *testing.T, data []byte, energy, timeS, parkS, offset, cur int64) {
		tariff, err := decodeTariffJSON(data, ocpi.V221)
		if err != nil {
			return
		}
		c, err := Compile(&tariff, DefaultPolicy())
		if err != nil {
			return
		}
		b := &Batch{
			CDRStart: []int64{1_780_000_000}, Tariff: []int32{0}, Zone: []int32{0}, Credit: []bool{false}, PeriodOffsets: []int32{0, 2},
			PeriodStart: []int64{1_780_000_000, 1_780_000_000 + offset}, EnergyMilliWh: []int64{energy, energy / 3}, TimeS: []int64{timeS, 0},
			ParkingS: []int64{0, parkS}, ReservationS: []int64{0, 0}, MinCurrent: []int64{cur, 0}, MaxCurrent: []int64{cur, 0},
			MinPower: []int64{0, 0}, MaxPower: []int64{0, 0}, Has: []uint8{HasMinCurrent | HasMaxCurrent, 0}, Zones: []*time.Location{berlin},
		}
		out := NewOutput(1, 2, true)
		if err := RunParallel(b, []*Compiled{c}, out, 1); err != nil {
			return
		}
		if out.Status[0] == StatusOK && out.TotalIncl[0] < 0 {
			t.Fatalf("negative total %d without an error", out.TotalIncl[0])
		}
	})
}

// BenchmarkBuildAndKernel is what a caller pays per CDR to price decoded
// CDRs with the kernel: /build fills batches with BatchBuilder only,
// /build+kernel also prices them on one core, /arrow+kernel fills them from
// the store's period records with ArrowBuilder instead (the records are
// built once, outside the timing). Each reports CDRs/s and allocations per
// CDR; BenchmarkKernel/1 is the kernel alone for comparison.
func BenchmarkBuildAndKernel(b *testing.B) {
	const n = 100_000
	tariff := specTariff(b, "spec221", "tariff_4_complex.json")
	c, err := Compile(&tariff, DefaultPolicy())
	if err != nil {
		b.Fatal(err)
	}
	compiled := []*Compiled{c}
	cdrs := benchCDRs(n)
	periods := 0
	for _, cdr := range cdrs {
		periods += len(cdr.ChargingPeriods)
	}
	build := func(b *testing.B, bb *BatchBuilder) {
		bb.Reset()
		for _, cdr := range cdrs {
			if err := bb.Add(cdr, 0, berlin); err != nil {
				b.Fatal(err)
			}
		}
	}
	run := func(b *testing.B, withKernel bool) {
		var bb BatchBuilder
		build(b, &bb) // warm-up: the builder keeps its capacity
		out := NewOutput(n, periods, true)
		var k Kernel
		var mem0, mem1 runtime.MemStats
		runtime.ReadMemStats(&mem0)
		b.ResetTimer()
		for b.Loop() {
			build(b, &bb)
			if withKernel {
				k.Run(&bb.Batch, compiled, out, 0, n)
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&mem1)
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*n)/secs, "CDRs/s")
		b.ReportMetric(float64(mem1.Mallocs-mem0.Mallocs)/float64(b.N*n), "allocs/CDR")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("build", func(b *testing.B) { run(b, false) })
	b.Run("build+kernel", func(b *testing.B) { run(b, true) })
	b.Run("arrow+kernel", func(b *testing.B) {
		recs := periodRecords(b, cdrs, 1<<16)
		ab := ArrowBuilder{Lookup: headersOf(cdrs)}
		ab.SetZones([]*time.Location{berlin})
		out := NewOutput(n, periods, true)
		var k Kernel
		pass := func() {
			ab.Next()
			for _, r := range recs {
				if err := ab.Append(r); err != nil {
					b.Fatal(err)
				}
			}
			bt := ab.Finish()
			k.Run(bt, compiled, out, 0, len(bt.CDRStart))
		}
		pass()
		var mem0, mem1 runtime.MemStats
		runtime.ReadMemStats(&mem0)
		b.ResetTimer()
		for b.Loop() {
			pass()
		}
		b.StopTimer()
		runtime.ReadMemStats(&mem1)
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*n)/secs, "CDRs/s")
		b.ReportMetric(float64(mem1.Mallocs-mem0.Mallocs)/float64(b.N*n), "allocs/CDR")
		b.ReportMetric(0, "ns/op")
	})
}
