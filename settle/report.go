package settle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/reports"
)

// The report step: for each owner of the scope, the dispute workbook and
// the KPI report (reports/) from the stored rows of the period's newest
// re-pricing and reconciliation, and the Parquet exports of the priced
// CDRs, priced lines and disputes for BI tools (written by the store,
// DuckDB's COPY). `roamsettle report` calls Reports on its own; a run adds
// ReportStep after its reconcile step.

// ReportSource is what the reports read. The store implements it, on its
// database and on a run's writer (which sees the run's own rows).
type ReportSource interface {
	// ReportFigures returns one report per owner of the selection's CDRs
	// (an owner without CDRs in the period has none), with its Scope and
	// Figures filled; zones are the owners' period zones (absent: UTC).
	ReportFigures(ctx context.Context, sel *Selection, period string, zones map[Party]*time.Location) (map[Party]*reports.Report, error)
	// ReportDisputes returns each owner's disputes of the period (every
	// state but withdrawn), in CDR id order, with the periods where the
	// difference arises and their priced lines.
	ReportDisputes(ctx context.Context, sel *Selection, period string) (map[Party][]reports.Dispute, error)
	// ExportParquet writes the selection's priced CDRs, priced lines and
	// disputes as Parquet files under dir, hive-partitioned by partner and
	// period (ParquetPath), one file per table and owner, and returns their
	// paths relative to dir.
	ExportParquet(ctx context.Context, sel *Selection, period string, dir string) ([]string, error)
}

// ReportGatherer is a ReportSource that reads a selection's rows of a
// period once for all of a report's reads: GatherReport returns a source
// whose ReportFigures, ReportDisputes and ExportParquet of that selection
// and period share one gathering (of a month of CDRs, as long as the
// figures themselves), and release, which frees it once they are done.
type ReportGatherer interface {
	ReportSource
	GatherReport(ctx context.Context, sel *Selection, period string) (src ReportSource, release func(), err error)
}

// gatherReport is src gathered once for sel and period when it can be.
func gatherReport(ctx context.Context, src ReportSource, sel *Selection, period string) (ReportSource, func(), error) {
	if g, ok := src.(ReportGatherer); ok {
		return g.GatherReport(ctx, sel, period)
	}
	return src, func() {}, nil
}

// ErrNotReconciled: CDRs of the period have no reconciliation result (none
// was stored, or CDRs arrived since): a report would call them accepted.
var ErrNotReconciled = errors.New("CDRs without a reconciliation result")

// ParquetTables are the tables ExportParquet writes.
var ParquetTables = []string{"priced_cdrs", "priced_lines", "disputes"}

// ParquetPath is where one owner's export of a table goes, relative to the
// output folder: parquet/TABLE/partner=CC-PID/period=PERIOD/TABLE.parquet,
// so that DuckDB, Spark or Trino read parquet/TABLE in place with hive
// partitioning.
func ParquetPath(table string, owner Party, period string) string {
	return path.Join("parquet", table, "partner="+owner.String(), "period="+period, table+".parquet")
}

// ReportDir is where an owner's documents of a period go, relative to the
// output folder: PERIOD/CC-PID.
func ReportDir(period string, owner Party) string { return path.Join(period, owner.String()) }

// Output is where reports go: files by slash-separated paths relative to
// the output folder. cmd implements it on a folder, atomically: a crash
// never leaves half a file under its final name.
type Output interface {
	// WriteFile writes one file, replacing what was there.
	WriteFile(name string, render func(io.Writer) error) error
	// TempDir returns a new empty directory on the output's file system,
	// for files another writer makes (DuckDB's COPY).
	TempDir() (string, error)
	// Publish moves each file (relative to dir) to the same path in the
	// output, each replacing what was there, then removes dir.
	Publish(dir string, files []string) error
}

// ReportOptions are what Reports renders.
type ReportOptions struct {
	Scope Scope
	// Zones are the owners' period zones (absent or nil: UTC), as the
	// policies name them.
	Zones map[Party]*time.Location
	// Parquet also writes the Parquet exports.
	Parquet bool
	// Workers renders owners at once (0: 2).
	Workers int
	// AsOf dates the documents (zero: when the newest CDR of each owner's
	// period was received).
	AsOf time.Time
}

// ReportSummary is what Reports wrote.
type ReportSummary struct {
	Owners []OwnerReport
	// Parquet lists the export files, relative to the output folder.
	Parquet []string
	Phases  []Phase
}

// OwnerReport is one owner's report.
type OwnerReport struct {
	Owner    Party
	CDRs     int64
	Disputes int
	Files    []string // relative to the output folder
}

// Reports renders the dispute workbook and the KPI report of every owner
// of the scope with CDRs in its period into the output (ReportDir), and,
// when asked, the Parquet exports (ParquetPath). It reads only stored rows
// (src); the same rows give the same bytes.
func Reports(ctx context.Context, src ReportSource, out Output, opts ReportOptions) (*ReportSummary, error) {
	run := Run{Kind: "report", Scope: opts.Scope}
	id := run.ID()
	if opts.Scope.Period.IsZero() {
		return nil, &Error{Op: "report", Kind: ErrInvalid, Object: id, Err: fmt.Errorf("no period")}
	}
	sel := opts.Scope.Selection(opts.Zones)
	period := opts.Scope.Period.String()
	sum := &ReportSummary{}
	mark := time.Now()
	var cpu time.Duration
	if ProcessStats != nil {
		cpu, _ = ProcessStats()
	}
	fake := &Summary{}
	phase := func(name string) { fake.phase(name, &mark, &cpu, nil) }
	src, release, err := gatherReport(ctx, src, &sel, period)
	if err != nil {
		return nil, wrap("report figures", ErrRead, id, err)
	}
	defer release()
	reps, err := src.ReportFigures(ctx, &sel, period, opts.Zones)
	if err != nil {
		return nil, wrap("report figures", ErrRead, id, err)
	}
	phase("figures")
	var stale []string
	for p, r := range reps {
		if f := &r.Figures; f.Reconciled != f.CDRs {
			stale = append(stale, fmt.Sprintf("%s (%d of %d CDRs)", p, f.CDRs-f.Reconciled, f.CDRs))
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		return nil, &Error{Op: "report", Kind: ErrInvalid, Object: id, Err: fmt.Errorf("%w: %s; reconcile the period first",
			ErrNotReconciled, strings.Join(stale, ", "))}
	}
	disputes, err := src.ReportDisputes(ctx, &sel, period)
	if err != nil {
		return nil, wrap("report disputes", ErrRead, id, err)
	}
	for p, ds := range disputes {
		if r := reps[p]; r != nil {
			r.Disputes = ds
		}
	}
	if !opts.AsOf.IsZero() {
		for _, r := range reps {
			r.Scope.AsOf = opts.AsOf.UTC()
		}
	}
	phase("disputes")
	owners := make([]Party, 0, len(reps))
	for p := range reps {
		owners = append(owners, p)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].String() < owners[j].String() })
	sum.Owners = make([]OwnerReport, len(owners))
	errs := atOnce(ctx, len(owners), opts.Workers, func(i int) error {
		return renderOwner(ctx, out, reps[owners[i]], owners[i], period, &sum.Owners[i])
	})
	for i, err := range errs {
		if err != nil {
			return nil, wrap("report", ErrWrite, id+" "+owners[i].String(), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("report", ErrOther, id, err)
	}
	phase("documents")
	if opts.Parquet {
		dir, err := out.TempDir()
		if err != nil {
			return nil, wrap("parquet", ErrWrite, id, err)
		}
		files, err := src.ExportParquet(ctx, &sel, period, dir)
		if err == nil {
			err = out.Publish(dir, files)
		}
		if err != nil {
			return nil, wrap("parquet", ErrWrite, id, err)
		}
		sum.Parquet = files
		phase("parquet")
	}
	sum.Phases = fake.Phases
	return sum, nil
}

func renderOwner(ctx context.Context, out Output, r *reports.Report, owner Party, period string, o *OwnerReport) error {
	o.Owner, o.CDRs, o.Disputes = owner, r.Figures.CDRs, len(r.Disputes)
	dir := ReportDir(period, owner)
	return reports.Files(r, func(name string, render func(io.Writer) error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(dir, name)
		if err := out.WriteFile(p, render); err != nil {
			return err
		}
		o.Files = append(o.Files, p)
		return nil
	})
}

// ReportStep renders the reports of a run's scope after its reconcile
// step, reading the run's own rows through its writer when the writer is
// a ReportSource (the store's is), else through its source.
type ReportStep struct {
	Out     Output
	Zones   map[Party]*time.Location
	Parquet bool
	// Summary is what the step wrote (after Run).
	Summary *ReportSummary
}

func (s *ReportStep) Name() string { return "report" }

func (s *ReportStep) Run(ctx context.Context, r *Running) error {
	src, ok := r.Writer.(ReportSource)
	if !ok {
		if src, ok = r.Source.(ReportSource); !ok {
			return fmt.Errorf("neither the run's writer nor its source can be read for reports")
		}
	}
	sum, err := Reports(ctx, src, s.Out, ReportOptions{Scope: r.Run.Scope, Zones: s.Zones, Parquet: s.Parquet})
	s.Summary = sum
	return err
}

// ReportPartnerStep is the report step of the whole job (a PartnerStep):
// one partner's documents into its folder (PartnerRun.Files) and, when
// asked, its Parquet exports at the output root (PartnerRun.Root), each
// written by the job's Files (atomic, unchanged bytes left alone). It
// reads what the steps before it stored, so an attempt after a crash
// writes the same bytes.
type ReportPartnerStep struct {
	Source  ReportSource
	Parquet bool
	// TempDir makes a directory for DuckDB's COPY (nil: the system's).
	TempDir func() (string, error)
}

func (ReportPartnerStep) Name() string { return "report" }

func (s ReportPartnerStep) Run(ctx context.Context, p *PartnerRun) (*StepReport, error) {
	period := p.Period.String()
	zones := map[Party]*time.Location{p.Party: p.Policy.Zone}
	src, release, err := gatherReport(ctx, s.Source, &p.Selection, period)
	if err != nil {
		return nil, err
	}
	defer release()
	reps, err := src.ReportFigures(ctx, &p.Selection, period, zones)
	if err != nil {
		return nil, err
	}
	r := reps[p.Party]
	out := &StepReport{Counts: map[string]int64{}}
	if r == nil {
		out.Note = "no CDRs in the period"
		return out, nil
	}
	if f := &r.Figures; f.Reconciled != f.CDRs {
		return nil, fmt.Errorf("%w: %s (%d of %d CDRs); reconcile the period first", ErrNotReconciled, p.Party, f.CDRs-f.Reconciled, f.CDRs)
	}
	ds, err := src.ReportDisputes(ctx, &p.Selection, period)
	if err != nil {
		return nil, err
	}
	r.Disputes = ds[p.Party]
	if !p.AsOf.IsZero() {
		// The run's instant, not the newest receipt: documents depend only
		// on the run's inputs and identity.
		r.Scope.AsOf = p.AsOf.UTC()
	}
	// The Parquet exports are DuckDB's work and the documents Go's: the
	// export runs on the gathered connection while the documents render.
	type exported struct {
		dir   string
		files []string
		err   error
	}
	parquet := make(chan exported, 1)
	if s.Parquet {
		go func() {
			mk := s.TempDir
			if mk == nil {
				mk = func() (string, error) { return os.MkdirTemp("", "roamsettle-parquet-") }
			}
			var e exported
			if e.dir, e.err = mk(); e.err == nil {
				e.files, e.err = src.ExportParquet(ctx, &p.Selection, period, e.dir)
			}
			parquet <- e
		}()
	} else {
		close(parquet)
	}
	err = reports.Files(r, func(name string, render func(io.Writer) error) error {
		fo, err := p.Files.Write(name, render)
		out.Files = append(out.Files, fo)
		return err
	})
	e, exporting := <-parquet
	if e.dir != "" {
		defer os.RemoveAll(e.dir)
	}
	if err != nil {
		return nil, err
	}
	out.Counts["cdrs"], out.Counts["disputes"] = r.Figures.CDRs, int64(len(r.Disputes))
	if !exporting {
		return out, nil
	}
	if e.err != nil {
		return nil, e.err
	}
	dir, files := e.dir, e.files
	for _, rel := range files {
		fo, err := p.Root.Write(rel, func(w io.Writer) error {
			f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Files = append(out.Files, fo)
	}
	out.Counts["parquet_files"] = int64(len(files))
	return out, nil
}
