package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/synth"
)

// nullSink accepts everything: the benchmark then measures the pipeline
// (split, hash, decode, validate, reorder) without the database.
type nullSink struct{}

func (nullSink) Save(_ context.Context, b []ocpi.Received) ([]ocpi.Outcome, error) {
	outs := make([]ocpi.Outcome, len(b))
	for i := range outs {
		outs[i] = ocpi.OutcomeAccepted
	}
	return outs, nil
}

// BenchmarkImportPipeline imports a generated month of 2.2.1 CDRs (one
// party's cdrs.ndjson) into a sink that stores nothing, reporting CDRs/s and
// MB/s of the pipeline on all cores.
func BenchmarkImportPipeline(b *testing.B) {
	dir := b.TempDir()
	sum, err := synth.Generate(context.Background(), synth.Config{CDRs: 50_000, Seed: 7}, dir)
	if err != nil {
		b.Fatal(err)
	}
	var path string
	for _, p := range sum.Parties {
		if p.OCPIVersion == ocpi.V221 {
			path = filepath.Join(dir, p.CDRFile)
			break
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var records int64
	for b.Loop() {
		s, errs := ImportFiles(context.Background(), nullSink{}, []string{path}, Options{})
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		records += s.Records
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "CDRs/s")
	b.ReportMetric(float64(st.Size())*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}
