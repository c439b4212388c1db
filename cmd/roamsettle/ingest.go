package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/roamsettle/roamsettle/ingest"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/synth"
)

func runIngest(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "ingest", "FILE...",
		"Imports OCPI CDRs, tariffs and locations (2.1.1, 2.2.1 or 2.3.0; a JSON object, a JSON array, NDJSON\n"+
			"or saved OCPI response pages) into the database. Files are streamed. A bad record is rejected with\n"+
			"its reason and the rest go on; the exit status is non-zero when nothing could be read or the\n"+
			"database refused a batch (the summary then counts what was stored).")
	dbf := addDBFlags(fs)
	partner := fs.String("partner", "", "owner of objects without owner fields (2.1.1), as CC-PID, e.g. NL-ABC;\n"+
		"2.2+ objects owned by another party are rejected")
	version := fs.String("version", "", "OCPI version of the files (default: detected per record)")
	kind := fs.String("kind", "", "object kind: cdr, tariff, location or invoice_reconciliation (default: detected)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	hint, err := ingestHint(*partner, *version, *kind)
	if err != nil {
		return err
	}
	db, _, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	if err := db.TuneForBulkLoad(ctx); err != nil {
		return err
	}

	jobs, err := expandInputs(fs.Args(), hint)
	if err != nil {
		return err
	}
	sum, errs := importJobs(ctx, env, db, jobs, *quiet)
	// The final checkpoint is part of the import's cost: the rate printed
	// includes it.
	closeStart := time.Now()
	closed = true
	closeErr := db.Close()
	sum.Elapsed += time.Since(closeStart)
	printIngestSummary(env.Stdout, sum)
	for _, e := range errs {
		fmt.Fprintf(env.Stderr, "roamsettle ingest: %v\n", e)
	}
	// The summary above counts only what was committed (issue 12 item 14).
	var se *ingest.SinkError
	for _, e := range errs {
		if errors.As(e, &se) {
			if sum.Unknown > 0 {
				return &exitError{code: 1, err: fmt.Errorf("stopped: the database failed while committing a batch; the %d "+
					"records counted above are stored, the %d of that batch may or may not be: free space if the disk is full, "+
					"then import the same input again (what is stored comes back as duplicates)", sum.Records, sum.Unknown)}
			}
			return &exitError{code: 1, err: fmt.Errorf("stopped: the database refused a batch; the %d records "+
				"counted above are stored, the rest of the input was not imported", sum.Records)}
		}
	}
	if closeErr != nil {
		return &exitError{code: 1, err: fmt.Errorf("closing the database: %w; the %d records counted above were committed "+
			"(DuckDB replays its write-ahead log when the database is opened next; free space if the disk is full)", closeErr, sum.Records)}
	}
	if len(errs) > 0 && sum.Records == 0 {
		return &exitError{code: 1, err: errors.New("nothing could be read")}
	}
	return nil
}

func ingestHint(partner, version, kind string) (ocpi.Hint, error) {
	var h ocpi.Hint
	if partner != "" {
		cc, pid, err := parseParty(partner)
		if err != nil {
			return h, err
		}
		h.CountryCode, h.PartyID = cc, pid
	}
	switch ocpi.Version(version) {
	case "", ocpi.V211, ocpi.V221, ocpi.V230:
		h.Version = ocpi.Version(version)
	default:
		return h, fmt.Errorf("--version %q: want 2.1.1, 2.2.1 or 2.3.0", version)
	}
	switch ocpi.Kind(kind) {
	case "", ocpi.KindCDR, ocpi.KindTariff, ocpi.KindLocation, ocpi.KindInvoice:
		h.Kind = ocpi.Kind(kind)
	default:
		return h, fmt.Errorf("--kind %q: want cdr, tariff, location or invoice_reconciliation", kind)
	}
	return h, nil
}

// importJob is one file with the hint its records need.
type importJob struct {
	path string
	hint ocpi.Hint
}

// expandInputs turns the arguments into files. A folder written by `gen`
// (it has a manifest.json) is taken party by party, each party's files with
// that party as the owner hint; any other folder contributes its .json,
// .ndjson and .jsonl files, locations and tariffs before CDRs.
func expandInputs(args []string, hint ocpi.Hint) ([]importJob, error) {
	var jobs []importJob
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			jobs = append(jobs, importJob{path: a, hint: hint}) // a missing file is reported by the import
			continue
		}
		if m, err := os.ReadFile(filepath.Join(a, "manifest.json")); err == nil {
			var man synth.Summary
			if err := json.Unmarshal(m, &man); err != nil {
				return nil, fmt.Errorf("%s: manifest.json: %w", a, err)
			}
			for _, p := range man.Parties {
				h := hint
				h.CountryCode, h.PartyID = p.CountryCode, p.PartyID
				for _, f := range []string{p.LocationFile, p.TariffsFile, p.CDRFile} {
					if f != "" {
						jobs = append(jobs, importJob{path: filepath.Join(a, f), hint: h})
					}
				}
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(path string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".ndjson", ".jsonl":
				if !d.IsDir() {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.SliceStable(files, func(i, j int) bool { return fileRank(files[i]) < fileRank(files[j]) })
		for _, f := range files {
			jobs = append(jobs, importJob{path: f, hint: hint})
		}
	}
	return jobs, nil
}

// fileRank orders files so that locations and tariffs come before the CDRs
// priced with them.
func fileRank(path string) int {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(base, "location"):
		return 0
	case strings.Contains(base, "tariff"):
		return 1
	case strings.Contains(base, "cdr"):
		return 2
	}
	return 3
}

// importJobs imports the files with a progress bar on a terminal, or a log
// line every few seconds otherwise.
func importJobs(ctx context.Context, env *Env, sink ingest.Sink, jobs []importJob, quiet bool) (ingest.Summary, []error) {
	var total int64
	for _, j := range jobs {
		if st, err := os.Stat(j.path); err == nil {
			total += st.Size()
		}
	}
	var done int64 // bytes of the files already finished
	var progress func(int64)
	if !quiet && isTerminal(env.Stderr) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(env.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("ingest"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		progress = func(n int64) { _ = bar.Set64(done + n) }
		defer bar.Finish()
	} else if !quiet {
		last := time.Now()
		progress = func(n int64) {
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				env.Log.Info("ingest progress", "bytes", done+n, "of", total)
			}
		}
	}
	var sum ingest.Summary
	var errs []error
	for _, j := range jobs {
		s, e := ingest.ImportFiles(ctx, sink, []string{j.path}, ingest.Options{Hint: j.hint, Progress: progress})
		sum = ingest.Merge(sum, s)
		errs = append(errs, e...)
		if st, err := os.Stat(j.path); err == nil {
			done += st.Size()
		}
		var se *ingest.SinkError
		if len(e) > 0 && (errors.As(e[0], &se) || ctx.Err() != nil) {
			break
		}
	}
	return sum, errs
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printIngestSummary(w io.Writer, s ingest.Summary) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Records) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "ingested %d files, %s, %d records in %s (%.0f records/s, peak memory %s)\n",
		s.Files, byteSize(s.Bytes), s.Records, s.Elapsed.Round(time.Millisecond), rate, byteSize(peakRSS()))
	if s.Pages > 0 {
		fmt.Fprintf(w, "  OCPI response pages: %d (%d with an error status)\n", s.Pages, s.ErrorPages)
	}
	fmt.Fprintf(w, "  accepted   %d", s.Accepted)
	for _, k := range []ocpi.Kind{ocpi.KindCDR, ocpi.KindTariff, ocpi.KindLocation, ocpi.KindInvoice} {
		if n := s.AcceptedByKind[k]; n > 0 {
			fmt.Fprintf(w, "  %s %d", k, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  duplicates %d (acknowledged, nothing changed)\n", s.Duplicates)
	fmt.Fprintf(w, "  conflicts  %d (a different body under a stored identity: refused)\n", s.Conflicts)
	fmt.Fprintf(w, "  rejected   %d\n", s.Rejected)
	if s.Unknown > 0 {
		fmt.Fprintf(w, "  unknown    %d (the database failed while committing them: they may or may not be stored)\n", s.Unknown)
	}
	for _, r := range ingest.SortedRules(s.RejectedByRule) {
		fmt.Fprintf(w, "    %-18s %d\n", r, s.RejectedByRule[r])
	}
	if len(s.Findings) > 0 {
		fmt.Fprintln(w, "  findings on stored objects (by rule):")
		for _, r := range ingest.SortedRules(s.Findings) {
			fmt.Fprintf(w, "    %-18s %d\n", r, s.Findings[r])
		}
	}
	if len(s.Examples) > 0 {
		fmt.Fprintf(w, "  first problems (all of them: roamsettle rejects; conflicts are in the conflicts table):\n")
	}
	for _, ex := range s.Examples {
		fmt.Fprintf(w, "  ! %s\n", ex)
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
