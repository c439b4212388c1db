package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/synth"
)

func runGen(ctx context.Context, env *Env, args []string) error {
	def := synth.DefaultConfig()
	fs := newFlagSet(env, "gen", "",
		"Generates a month of deterministic synthetic OCPI data: several CPOs in several countries, time zones,\n"+
			"currencies and OCPI versions, with tariffs, locations and CDRs whose billed amounts are right except\n"+
			"for a known share with injected errors. ground_truth.csv lists every injected error and\n"+
			"manifest.json what was written. The same flags give byte-identical files.")
	cdrs := fs.Int("cdrs", def.CDRs, "number of charging sessions (one CDR each; duplicates and credits come on top)")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	month := fs.String("month", def.Month, "month of the sessions, YYYY-MM")
	errShare := fs.Int("errors", def.ErrorPerMille, "share of sessions with an injected error, per mille")
	credits := fs.Int("credits", def.CreditPerMille, "share of clean 2.2+ CDRs followed by a credit CDR, per mille")
	parties := fs.Int("partners", def.Parties, "number of CPO partners, 1 to 20: the eight default ones first, then twelve more European ones")
	out := fs.String("out", "out/data", "output folder")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if *parties < 1 {
		return fmt.Errorf("--partners must be at least 1, got %d", *parties)
	}
	cfg := def
	cfg.CDRs, cfg.Seed, cfg.Month, cfg.ErrorPerMille, cfg.CreditPerMille = *cdrs, *seed, *month, *errShare, *credits
	cfg.Parties = *parties
	start := time.Now()
	sum, err := synth.Generate(ctx, cfg, *out)
	if err != nil {
		return err
	}
	if !*quiet {
		printGenSummary(env.Stdout, sum, *out, time.Since(start))
	}
	return nil
}

func printGenSummary(w io.Writer, s synth.Summary, dir string, took time.Duration) {
	rate := float64(s.CDRLines) / max(took.Seconds(), 1e-9)
	fmt.Fprintf(w, "generated %d sessions, %d CDR lines (%d credit CDRs) for %s in %s (%.0f CDRs/s)\n",
		s.Sessions, s.CDRLines, s.CreditCDRs, s.Month, took.Round(time.Millisecond), rate)
	for _, p := range s.Parties {
		fmt.Fprintf(w, "  %s*%s %-28s OCPI %-5s %s %-20s %7d CDRs %3d tariff versions %3d locations\n",
			p.CountryCode, p.PartyID, p.Name, p.OCPIVersion, p.Currency, p.TimeZone, p.CDRLines, p.Tariffs, p.Locations)
	}
	fmt.Fprintf(w, "  injected errors: %d (%d per mille of sessions)", s.InjectedErrors, s.ErrorPerMille)
	for _, k := range s.ErrorsByKind {
		fmt.Fprintf(w, ", %s %d", k.Kind, k.Count)
	}
	fmt.Fprintf(w, "\n  written to %s (manifest.json, ground_truth.csv)\n", filepath.Clean(dir))
}
