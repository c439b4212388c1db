package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/internal/atomicfile"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
	"github.com/roamsettle/roamsettle/synth"
)

func runDemo(ctx context.Context, env *Env, args []string) error {
	def := synth.DefaultConfig()
	fs := newFlagSet(env, "demo", "",
		"Runs the whole job on the embedded default: generates a realistic month for several CPOs (with\n"+
			"injected billing errors), ingests it into a fresh DuckDB file, writes its roamsettle.toml, and settles\n"+
			"the month as `roamsettle run` does: a provisional run (statements, dispute workbooks, KPI reports,\n"+
			"Parquet exports), then the final run (numbered invoices). It prints the CDRs, the disputes by reason,\n"+
			"the amounts billed and recomputed per currency, and where everything is. Documents are dated by the\n"+
			"runs' instants (the night after the month's end, and the end of a 5-day grace period), never the\n"+
			"clock, so re-running it gives the same result, byte for byte.")
	out := fs.String("out", "out/demo", "demo folder (data/, its database and config are recreated; documents go to OUT/<month>/<partner>/)")
	cdrs := fs.Int("cdrs", 20000, "number of charging sessions to generate")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	month := fs.String("month", def.Month, "month of the sessions, YYYY-MM")
	verbose := fs.Bool("v", false, "print each step of the runs as `roamsettle run` does")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	period, err := settle.ParsePeriod(*month)
	if err != nil || len(*month) != len("2006-01") {
		return fmt.Errorf("--month %q: want YYYY-MM", *month)
	}
	root, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	lay := demoLayout{shown: filepath.Clean(*out), root: root, month: period.String()}
	if err := lay.clean(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	start := time.Now()
	p := &demoPrinter{w: env.Stdout}
	p.header(lay, *cdrs, *seed)

	cfg := def
	cfg.CDRs, cfg.Seed, cfg.Month = *cdrs, *seed, *month
	t0 := time.Now()
	gsum, err := synth.Generate(ctx, cfg, lay.path("data"))
	if err != nil {
		return err
	}
	p.gen(gsum, time.Since(t0))

	// The config `roamsettle run --config OUT/roamsettle.toml` reads, read
	// back the way run reads it.
	var conf bytes.Buffer
	if err := writeDemoConfig(&conf, gsum, lay.path("roamsettle.duckdb"), root, lay.path("data", "tokens.ndjson")); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(lay.path("roamsettle.toml"), conf.Bytes(), 0o644); err != nil {
		return err
	}
	rcfg, err := loadConfig(lay.path("roamsettle.toml"))
	if err != nil {
		return err
	}
	t0 = time.Now()
	db, err := store.Open(ctx, rcfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	// A month of the demo's size is small queries: with one DuckDB thread
	// the whole demo takes ~25% less CPU than with one per core (measured
	// A/B, 20,000 sessions: 18.5-20 s against 24-28 s user+sys).
	if err := db.SetThreads(ctx, 1); err != nil {
		return err
	}
	jobs, err := expandInputs([]string{lay.path("data")}, ocpi.Hint{})
	if err != nil {
		return err
	}
	isum, errs := importJobs(ctx, env, db, jobs, true)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.ingest(isum, time.Since(t0))

	// The whole job through the code `run` uses: the provisional run the
	// night after the month's end, then the final run once the default
	// grace period for late CDRs has passed.
	deps, err := jobDeps(env, db, rcfg, false, 0)
	if err != nil {
		return err
	}
	if *verbose {
		jp := &jobPrinter{w: env.Stdout}
		deps.Progress = jp.step
	}
	end := period.Window(time.UTC).To
	runs := []settle.JobRequest{
		{Scope: settle.Scope{Period: period}, AsOf: end.Add(2 * time.Hour), Origin: "demo"},
		{Scope: settle.Scope{Period: period}, AsOf: end.AddDate(0, 0, 5).Add(2 * time.Hour), Origin: "demo", Final: true},
	}
	var last *settle.JobResult
	var priced *settle.Summary // the final run uses the provisional run's prices
	for i, req := range runs {
		if req.Final && req.AsOf.After(time.Now()) {
			p.noFinal(req.AsOf)
			break
		}
		t0 = time.Now()
		res, err := settle.RunJob(ctx, deps, req)
		if err != nil {
			return err
		}
		p.run(i+3, res, time.Since(t0))
		last = res
		if res.Price != nil {
			priced = res.Price
		}
	}
	counts, err := db.Counts(ctx)
	if err != nil {
		return err
	}
	p.summary(lay, counts, last, priced, time.Since(start))
	return nil
}
