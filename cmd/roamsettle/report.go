package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/internal/atomicfile"
	"github.com/roamsettle/roamsettle/settle"
)

func runReport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "report", "",
		"Writes, for each partner with CDRs in the period (or the one given), the dispute workbook for the\n"+
			"partner (XLSX and CSV: every disputed CDR with its reasons, billed, recomputed, the difference, the\n"+
			"periods where it arises and the evidence) and the KPI report (PDF, XLSX with charts, JSON) into\n"+
			"OUT/PERIOD/CC-PID/, and the Parquet exports of the priced CDRs, priced lines and disputes into\n"+
			"OUT/parquet/TABLE/partner=CC-PID/period=PERIOD/ (hive-partitioned: DuckDB, Spark or Trino read them\n"+
			"in place). It reads the stored rows of the period's newest re-pricing and reconciliation, and refuses\n"+
			"a period whose CDRs are not all reconciled. Every file is written atomically; the same rows give the\n"+
			"same bytes.")
	db := addDBFlags(fs)
	periodFlag := fs.String("period", "", "the period: YYYY-MM (required unless --from/--to)")
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD (with --to)")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD, included")
	partner := fs.String("partner", "", "one partner, as CC-PID (default: every partner with CDRs in the period)")
	out := fs.String("out", "out", "output folder")
	parquet := fs.Bool("parquet", true, "also write the Parquet exports")
	asOf := fs.String("as-of", "", "the instant the documents are dated by, RFC 3339 (default: when the period's newest CDR was received)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	period, err := reconcilePeriod(*periodFlag, *from, *to)
	if err != nil || fs.NArg() > 0 {
		fs.Usage()
		if err != nil {
			return fmt.Errorf("--period: %w", err)
		}
		return errUsage
	}
	opts := settle.ReportOptions{Parquet: *parquet}
	if *asOf != "" {
		if opts.AsOf, err = time.Parse(time.RFC3339, *asOf); err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
	}
	scope := settle.Scope{Period: period}
	if *partner != "" {
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
		scope.Partner = settle.NewParty(cc, pid)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	st, cfg, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	policies, err := partnerPolicies(cfg)
	if err != nil {
		return err
	}
	zones := map[settle.Party]*time.Location{}
	for p, pol := range policies {
		zones[p] = pol.Zone
	}
	settle.ProcessStats = processStats
	start := time.Now()
	opts.Scope, opts.Zones = scope, zones
	sum, err := settle.Reports(ctx, st, outDir{root: *out}, opts)
	if errors.Is(err, settle.ErrNotReconciled) {
		return fmt.Errorf("%w\n(roamsettle reconcile --db FILE --period %s --partner CC-PID reconciles a partner's period)", err, period)
	}
	if err != nil {
		return err
	}
	printReportSummary(env.Stdout, scope, *out, sum, time.Since(start))
	return nil
}

func printReportSummary(w io.Writer, scope settle.Scope, out string, s *settle.ReportSummary, took time.Duration) {
	fmt.Fprintf(w, "report %s: %d partner(s) in %.1f s\n", scope, len(s.Owners), took.Seconds())
	if len(s.Owners) == 0 {
		fmt.Fprintln(w, "  no CDRs in the period")
	}
	for _, o := range s.Owners {
		fmt.Fprintf(w, "  %-8s %8d CDRs %7d disputes  %s\n", o.Owner, o.CDRs, o.Disputes,
			filepath.Join(out, filepath.FromSlash(settle.ReportDir(scope.Period.String(), o.Owner)))+string(filepath.Separator))
	}
	if len(s.Parquet) > 0 {
		fmt.Fprintf(w, "  parquet: %d files under %s (hive-partitioned by partner and period)\n", len(s.Parquet), filepath.Join(out, "parquet"))
	}
	for _, p := range s.Phases {
		fmt.Fprintf(w, "  %-10s %6.2f s wall, %6.2f s CPU\n", p.Name, p.Elapsed.Seconds(), p.CPU.Seconds())
	}
}

// outDir is a settle.Output on a folder: each file goes through a synced
// temporary file renamed over its final name (internal/atomicfile), and
// files DuckDB writes are made in a temporary directory inside the folder,
// then moved into place one by one. A crash never leaves half a file under
// a final name; it may leave a .tmp-* directory, which nothing reads.
type outDir struct{ root string }

func (o outDir) WriteFile(name string, render func(io.Writer) error) error {
	p := filepath.Join(o.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, 0o644, render)
}

func (o outDir) TempDir() (string, error) {
	if err := os.MkdirAll(o.root, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(o.root, ".tmp-")
}

func (o outDir) Publish(dir string, files []string) error {
	for _, f := range files {
		dst := filepath.Join(o.root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Move(filepath.Join(dir, filepath.FromSlash(f)), dst); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}
