package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/synth"
)

// BenchmarkReconcile reconciles a period over every partner after pricing
// (a first reconcile prices it, outside the timing) and reports CDRs/s
// and how many CDRs the screen accepted from columns and evaluated whole.
// By default the period is a generated month of RECONCILE_BENCH_CDRS
// sessions (20 000) built through ingest; RECONCILE_BENCH_DB (a copy: it
// is written to), RECONCILE_BENCH_PERIOD and optionally
// RECONCILE_BENCH_CONFIG and RECONCILE_BENCH_TOKENS reconcile an existing
// database instead (`make bench-reconcile`; heavy ones under the bench
// lock).
func BenchmarkReconcile(b *testing.B) {
	ctx := context.Background()
	args := []string{"reconcile"}
	if db := os.Getenv("RECONCILE_BENCH_DB"); db != "" {
		args = append(args, "--db", db, "--period", os.Getenv("RECONCILE_BENCH_PERIOD"))
		if c := os.Getenv("RECONCILE_BENCH_CONFIG"); c != "" {
			args = append(args, "--config", c)
		}
		if t := os.Getenv("RECONCILE_BENCH_TOKENS"); t != "" {
			args = append(args, "--tokens", t)
		}
	} else {
		n := 20_000
		if v := os.Getenv("RECONCILE_BENCH_CDRS"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				b.Fatalf("RECONCILE_BENCH_CDRS=%q: %v", v, err)
			}
		}
		dir := b.TempDir()
		data, db := filepath.Join(dir, "data"), filepath.Join(dir, "rs.duckdb")
		cfg := synth.DefaultConfig()
		cfg.CDRs = n
		if _, err := synth.Generate(ctx, cfg, data); err != nil {
			b.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := Run(ctx, []string{"ingest", "--quiet", "--db", db, data}, &out, &errb); code != 0 {
			b.Fatalf("ingest: exit %d\n%s", code, errb.String())
		}
		args = append(args, "--db", db, "--period", "2026-10", "--tokens", filepath.Join(data, "tokens.ndjson"))
	}
	reconcileOnce := func() (accepted, whole int) {
		var out, errb bytes.Buffer
		if code := Run(ctx, args, &out, &errb); code != 0 {
			b.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
		for _, l := range strings.Split(errb.String(), "\n") {
			if i := strings.Index(l, "accepted_from_columns="); i >= 0 {
				fmt.Sscanf(l[i:], "accepted_from_columns=%d evaluated_whole=%d", &accepted, &whole)
			}
		}
		return accepted, whole
	}
	reconcileOnce() // prices the period when its priced rows are missing or stale
	b.ResetTimer()
	var accepted, whole int
	for range b.N {
		accepted, whole = reconcileOnce()
	}
	b.StopTimer()
	if accepted+whole == 0 {
		b.Fatal("no CDR reconciled")
	}
	b.ReportMetric(float64((accepted+whole)*b.N)/b.Elapsed().Seconds(), "CDRs/s")
	b.ReportMetric(float64(accepted), "accepted")
	b.ReportMetric(float64(whole), "whole")
}
