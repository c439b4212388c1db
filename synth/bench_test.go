package synth

import (
	"context"
	"testing"
)

// BenchmarkGenerate measures generation throughput, files included, on one
// goroutine: b.N sessions per run.
func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.CDRs = b.N
	dir := b.TempDir()
	b.ResetTimer()
	s, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Sessions)/b.Elapsed().Seconds(), "CDRs/s")
}
