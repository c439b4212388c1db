package ocpi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// benchDecode measures decode+validate throughput of one payload on one
// goroutine, in CDRs/s and MB/s.
func benchDecode(b *testing.B, path string, hint Hint) {
	pretty := readFixture(b, path)
	var buf bytes.Buffer
	if err := json.Compact(&buf, pretty); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	if d := Decode(raw, hint); d.Rejected || d.Problems.Blocking() {
		b.Fatalf("fixture does not decode cleanly: %v", d.Problems)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d := Decode(raw, hint)
		if d.CDR == nil {
			b.Fatal("no CDR")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
	b.ReportMetric(float64(len(raw)), "bytes/CDR")
}

// A realistic 2.2.1 CDR: 4 periods, 10 dimensions, all cost breakdowns, no
// embedded tariffs (~1.6 KB compact).
func BenchmarkDecodeCDR221(b *testing.B) { benchDecode(b, realisticCDR, Hint{}) }

// The 2.2.1 CDR with the kind and version given, as a receiver knows them.
func BenchmarkDecodeCDR221Hinted(b *testing.B) {
	benchDecode(b, realisticCDR, Hint{Kind: KindCDR, Version: V221})
}

// The 2.3.0 spec example (embedded tariff, taxes).
func BenchmarkDecodeCDR230Example(b *testing.B) {
	benchDecode(b, specDir+"/2.3.0/cdr_example.json", Hint{})
}

// Both cores: the ingest target is 100k CDRs/s end to end on 2 cores.
func BenchmarkDecodeCDR221Parallel(b *testing.B) {
	pretty := readFixture(b, realisticCDR)
	var buf bytes.Buffer
	_ = json.Compact(&buf, pretty)
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if Decode(raw, Hint{}).CDR == nil {
				panic("no CDR")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}

// Reference point on the same machine at the same moment (the machine is
// shared, so compare ratios): encoding/json into generic values with
// UseNumber, which neither converts to decimals nor validates anything.
func BenchmarkBaselineEncodingJSONGeneric(b *testing.B) {
	pretty := readFixture(b, realisticCDR)
	var buf bytes.Buffer
	_ = json.Compact(&buf, pretty)
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}
