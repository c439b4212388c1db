package synth

import (
	"context"
	"io"
	"testing"
)

// BenchmarkGenerate measures generation on one goroutine including writing
// the files to the test's temporary folder: b.N sessions per run.
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

type countingDiscard struct{ n *int64 }

func (c countingDiscard) Write(p []byte) (int, error) { *c.n += int64(len(p)); return len(p), nil }
func (c countingDiscard) Close() error                { return nil }

// BenchmarkGenerateCPU is the same without the file system: what one core
// generates, and how many bytes of NDJSON that is.
func BenchmarkGenerateCPU(b *testing.B) {
	cfg := DefaultConfig()
	cfg.CDRs = b.N
	var n int64
	sink := func(string) (io.WriteCloser, error) { return countingDiscard{&n}, nil }
	b.ResetTimer()
	s, err := generate(context.Background(), cfg, sink)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Sessions)/b.Elapsed().Seconds(), "CDRs/s")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}
