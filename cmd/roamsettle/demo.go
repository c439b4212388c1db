package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/ingest"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

func runDemo(ctx context.Context, env *Env, args []string) error {
	def := synth.DefaultConfig()
	fs := newFlagSet(env, "demo", "",
		"Runs the whole job on the embedded default: generates a realistic month for several CPOs (with\n"+
			"injected billing errors), ingests it into a fresh DuckDB file, re-prices every CDR against the\n"+
			"tariff version in effect, and prints a summary of what was stored, flagged, rejected and billed\n"+
			"differently, and where everything is. Re-running it gives the same result.")
	out := fs.String("out", "out/demo", "output folder (its database is recreated)")
	cdrs := fs.Int("cdrs", 20000, "number of charging sessions to generate")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	month := fs.String("month", def.Month, "month of the sessions, YYYY-MM")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	dataDir := filepath.Join(*out, "data")
	dbPath := filepath.Join(*out, "roamsettle.duckdb")

	fmt.Fprintf(env.Stdout, "== 1/4 gen: %d sessions for %s, seed %d\n", *cdrs, *month, *seed)
	cfg := def
	cfg.CDRs, cfg.Seed, cfg.Month = *cdrs, *seed, *month
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	start := time.Now()
	gsum, err := synth.Generate(ctx, cfg, dataDir)
	if err != nil {
		return err
	}
	printGenSummary(env.Stdout, gsum, dataDir, time.Since(start))

	fmt.Fprintf(env.Stdout, "\n== 2/4 ingest into %s\n", dbPath)
	for _, p := range []string{dbPath, dbPath + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	jobs, err := expandInputs([]string{dataDir}, ocpi.Hint{})
	if err != nil {
		return err
	}
	isum, errs := importJobs(ctx, env, db, jobs, false)
	printIngestSummary(env.Stdout, isum)
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Re-price the generated month with the same call and settings as
	// `roamsettle reprice`.
	fmt.Fprintf(env.Stdout, "\n== 3/4 reprice %s (every partner)\n", *month)
	period, err := settle.ParsePeriod(*month)
	if err != nil {
		return err
	}
	rsum, err := settleRun(ctx, db, settle.Options{Run: settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: period}}, Lines: true}, defaultMemoryLimit)
	if err != nil {
		return err
	}
	printRepriceSummary(env.Stdout, rsum)

	fmt.Fprintln(env.Stdout, "\n== 4/4 summary")
	counts, err := db.Counts(ctx)
	if err != nil {
		return err
	}
	printStoreCounts(env.Stdout, counts)
	fmt.Fprintf(env.Stdout, "\nwhere everything is:\n")
	fmt.Fprintf(env.Stdout, "  generated OCPI data   %s (one folder per CPO, manifest.json)\n", dataDir)
	fmt.Fprintf(env.Stdout, "  injected errors       %s\n", filepath.Join(dataDir, "ground_truth.csv"))
	fmt.Fprintf(env.Stdout, "  database              %s (open it with any DuckDB client)\n", dbPath)
	return nil
}

func printStoreCounts(w io.Writer, c store.Counts) {
	fmt.Fprintf(w, "  stored: %d CDRs (%d charging periods, %d dimensions), %d tariff versions, %d location versions\n",
		c.CDRs, c.Periods, c.Dimensions, c.TariffVersions, c.Locations)
	fmt.Fprintf(w, "  raw payloads: %d distinct of %d received; conflicts refused: %d\n", c.RawPayloads, c.Receipts, c.Conflicts)
	if len(c.RejectsByRule) > 0 {
		fmt.Fprintln(w, "  rejected payloads, problems by rule:")
		for _, r := range ingest.SortedRules(c.RejectsByRule) {
			fmt.Fprintf(w, "    %-18s %d\n", r, c.RejectsByRule[r])
		}
	}
	if len(c.FindingsByRule) > 0 {
		fmt.Fprintln(w, "  findings on stored objects, by rule (kept for reconciliation):")
		for _, r := range ingest.SortedRules(c.FindingsByRule) {
			fmt.Fprintf(w, "    %-18s %d\n", r, c.FindingsByRule[r])
		}
	}
}
