package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

// TestBuildRepriceBenchDB builds the replicated layout of `make
// bench-reprice` (REPRICE_BENCH_LAYOUT=replicated; the default layout is
// built by gen and ingest): a generated month of REPRICE_BENCH_BASE
// sessions ingested normally, then its CDRs and charging periods replicated
// in SQL with new keys and ids until there are REPRICE_BENCH_CDRS CDRs.
// It runs only when REPRICE_BENCH_DB names the file, and keeps an existing one.
func TestBuildRepriceBenchDB(t *testing.T) {
	path := os.Getenv("REPRICE_BENCH_DB")
	if path == "" {
		t.Skip("REPRICE_BENCH_DB not set")
	}
	if _, err := os.Stat(path); err == nil {
		t.Logf("%s exists: kept", path)
		return
	}
	want := envInt(t, "REPRICE_BENCH_CDRS", 10_000_000)
	base := envInt(t, "REPRICE_BENCH_BASE", 20_000)
	ctx := context.Background()
	start := time.Now()
	data := filepath.Join(t.TempDir(), "data")
	cfg := synth.DefaultConfig()
	cfg.CDRs = base
	if _, err := synth.Generate(ctx, cfg, data); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs, err := expandInputs([]string{data}, ocpi.Hint{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdout: os.Stderr, Stderr: os.Stderr, Log: newLogger(os.Stderr, "warn")}
	if _, errs := importJobs(ctx, env, st, jobs, true); len(errs) > 0 {
		t.Fatal(errs)
	}
	db := st.DB()
	var n, stride int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), max(cdr_key) + 1 FROM cdrs`).Scan(&n, &stride); err != nil {
		t.Fatal(err)
	}
	copies := (int64(want) + n - 1) / n
	t.Logf("ingested %d CDRs in %s; replicating %d times", n, time.Since(start).Round(time.Millisecond), copies)
	// Copies keep their month and location; keys grow copy by copy, so the
	// period table stays in (cdr_key, period_index) order.
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO cdrs SELECT cdrs.* REPLACE (cdr_key + k * %d AS cdr_key, id || '-R' || k AS id)
			FROM cdrs, range(1, %d) r(k) WHERE cdr_key < %d ORDER BY k, cdr_key`, stride, copies, stride),
		fmt.Sprintf(`INSERT INTO charging_periods SELECT charging_periods.* REPLACE (cdr_key + k * %d AS cdr_key)
			FROM charging_periods, range(1, %d) r(k) WHERE cdr_key < %d ORDER BY k, cdr_key, period_index`, stride, copies, stride),
		`CHECKPOINT`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cdrs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s: %d CDRs in %s", path, n, time.Since(start).Round(time.Millisecond))
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}
