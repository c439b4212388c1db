package store

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

var (
	benchCDRs  = flag.Int("store.cdrs", 1_000_000, "CDRs saved by BenchmarkSave and scanned by BenchmarkScanPeriods")
	benchBatch = flag.Int("store.batch", 10_000, "Save batch size in BenchmarkSave")
	benchBulk  = flag.Bool("store.bulk", true, "BenchmarkSave tunes the database with TuneForBulkLoad, as ingest does")
)

// synthBatch makes n distinct CDRs numbered from first: 3 periods of 3
// dimensions, every string field set, ~1 KB of raw bytes each.
func synthBatch(first, n int) []ocpi.Received {
	out := make([]ocpi.Received, n)
	tmpl := sampleCDR("")
	tmpl.Tariffs = nil // the tariffs are published, as most CPOs do
	for i := range out {
		k := first + i
		c := new(ocpi.CDR)
		*c = *tmpl
		c.ID = "CDR" + strconv.Itoa(k)
		c.SessionID = "S" + strconv.Itoa(k)
		start := t0.Add(time.Duration(k) * time.Minute)
		c.StartDateTime, c.EndDateTime, c.LastUpdated = start, start.Add(2*time.Hour), start.Add(3*time.Hour)
		c.ChargingPeriods = make([]ocpi.ChargingPeriod, 3)
		for p := range c.ChargingPeriods {
			c.ChargingPeriods[p] = ocpi.ChargingPeriod{
				StartDateTime: start.Add(time.Duration(p) * 40 * time.Minute),
				TariffID:      "12",
				Dimensions: []ocpi.CDRDimension{
					{Type: ocpi.DimEnergy, Volume: decimal.New(int64(k%50000+p), -4)},
					{Type: ocpi.DimTime, Volume: decimal.New(6667, -4)},
					{Type: ocpi.DimMaxPower, Volume: decimal.New(int64(k%220), -1)},
				},
			}
		}
		c.TotalCost = &ocpi.Price{ExclVAT: decimal.New(int64(k%100000), -2), InclVAT: decimal.NewNullDecimal(decimal.New(int64(k%100000)*121, -4))}
		raw := fmt.Appendf(make([]byte, 0, 1100), `{"country_code":"NL","party_id":"ABC","id":%q,"start_date_time":%q,"end_date_time":%q,`+
			`"session_id":%q,"cdr_token":{"country_code":"DE","party_id":"EMS","uid":"012345678","type":"RFID","contract_id":"DE8ACC12E46L89"},`+
			`"auth_method":"WHITELIST","cdr_location":{"id":"LOC1","name":"Gent Zuid","address":"F.Rooseveltlaan 3A","city":"Gent",`+
			`"postal_code":"9000","country":"BEL","coordinates":{"latitude":"51.047599","longitude":"3.729944"},"evse_uid":"3256",`+
			`"evse_id":"BE*BEC*E041503003","connector_id":"1","connector_standard":"IEC_62196_T2","connector_format":"SOCKET",`+
			`"connector_power_type":"AC_3_PHASE"},"currency":"EUR","charging_periods":[`+
			`{"start_date_time":"…","dimensions":[{"type":"ENERGY","volume":%s},{"type":"TIME","volume":0.6667},{"type":"MAX_POWER","volume":%s}],"tariff_id":"12"},`+
			`{"start_date_time":"…","dimensions":[{"type":"ENERGY","volume":%s},{"type":"TIME","volume":0.6667},{"type":"MAX_POWER","volume":%s}],"tariff_id":"12"},`+
			`{"start_date_time":"…","dimensions":[{"type":"ENERGY","volume":%s},{"type":"TIME","volume":0.6667},{"type":"MAX_POWER","volume":%s}],"tariff_id":"12"}],`+
			`"total_cost":{"excl_vat":%s,"incl_vat":%s},"total_energy":15.4333,"total_time":2,"last_updated":%q}`,
			c.ID, c.StartDateTime.Format(time.RFC3339), c.EndDateTime.Format(time.RFC3339), c.SessionID,
			c.ChargingPeriods[0].Dimensions[0].Volume, c.ChargingPeriods[0].Dimensions[2].Volume,
			c.ChargingPeriods[1].Dimensions[0].Volume, c.ChargingPeriods[1].Dimensions[2].Volume,
			c.ChargingPeriods[2].Dimensions[0].Volume, c.ChargingPeriods[2].Dimensions[2].Volume,
			c.TotalCost.ExclVAT, c.TotalCost.InclVAT.Decimal, c.LastUpdated.Format(time.RFC3339))
		out[i] = ocpi.Received{
			Source:     ocpi.Source{Channel: ocpi.ChannelFile, Name: "bench.ndjson", Partner: "NL*ABC", Position: int64(k)},
			ReceivedAt: t0.Add(24 * time.Hour),
			Raw:        raw,
			SHA256:     sha256.Sum256(raw),
			Kind:       ocpi.KindCDR,
			Version:    ocpi.V221,
			CDR:        c,
		}
	}
	return out
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// measures the work better than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fill saves n synthetic CDRs in batches and returns the wall and CPU time
// spent in Save.
func fill(tb testing.TB, s *Store, n, batch int) (inSave, cpu time.Duration) {
	for first := 0; first < n; first += batch {
		rs := synthBatch(first, min(batch, n-first))
		t, c := time.Now(), cpuTime()
		out, err := s.Save(context.Background(), rs)
		inSave += time.Since(t)
		cpu += cpuTime() - c
		if err != nil {
			tb.Fatal(err)
		}
		if out[0] != ocpi.OutcomeAccepted {
			tb.Fatalf("outcome %s", out[0])
		}
	}
	return inSave, cpu
}

// BenchmarkSave saves -store.cdrs synthetic CDRs into a new file database in
// batches of -store.batch and reports CDRs per second of Save (building the
// batches is not counted). Run with -benchtime=1x.
func BenchmarkSave(b *testing.B) {
	for b.Loop() {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		if *benchBulk {
			if err := s.TuneForBulkLoad(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		inSave, cpu := fill(b, s, *benchCDRs, *benchBatch)
		t, c := time.Now(), cpuTime()
		if err := s.Close(); err != nil { // includes the final checkpoint
			b.Fatal(err)
		}
		inSave += time.Since(t)
		cpu += cpuTime() - c
		b.ReportMetric(float64(*benchCDRs)/inSave.Seconds(), "CDRs/s")
		b.ReportMetric(float64(*benchCDRs)/cpu.Seconds(), "CDRs/cpu-s")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkScanPeriods reports the periods per second ScanPeriods streams
// from a file database of -store.cdrs CDRs (3 periods each).
func BenchmarkScanPeriods(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "scan.db")
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	fill(b, s, *benchCDRs, 20_000)
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	var periods int64
	for b.Loop() {
		var n, energy, lastKey int64
		err := s.ScanPeriods(ctx, func(rec arrow.RecordBatch) error {
			n += rec.NumRows()
			keys := rec.Column(0).(*array.Int64)
			col := rec.Column(5).(*array.Int64)
			for i := range int(rec.NumRows()) {
				energy += col.Value(i)
				if k := keys.Value(i); k < lastKey {
					return fmt.Errorf("cdr_key %d after %d: periods out of order", k, lastKey)
				} else {
					lastKey = k
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(*benchCDRs)*3 || energy == 0 {
			b.Fatalf("scanned %d periods, energy %d", n, energy)
		}
		periods += n
	}
	b.ReportMetric(float64(periods)/b.Elapsed().Seconds(), "periods/s")
}
