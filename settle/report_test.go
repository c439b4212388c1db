package settle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/reports"
)

// fakeReports is a ReportSource with canned figures and disputes; its
// export writes one small file per table and owner.
type fakeReports struct {
	figures  map[Party]reports.Figures
	disputes map[Party][]reports.Dispute
	asked    []string
}

func (f *fakeReports) ReportFigures(_ context.Context, sel *Selection, period string, zones map[Party]*time.Location) (map[Party]*reports.Report, error) {
	f.asked = append(f.asked, "figures "+period)
	out := map[Party]*reports.Report{}
	for p, fig := range f.figures {
		if !sel.Owner.IsZero() && p != sel.Owner {
			continue
		}
		w := sel.WindowOf(p)
		out[p] = &reports.Report{Scope: reports.Scope{Partner: p.String(), Period: period, From: w.From, To: w.To, Zone: zones[p],
			AsOf: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)}, Figures: fig}
	}
	return out, nil
}

func (f *fakeReports) ReportDisputes(_ context.Context, sel *Selection, period string) (map[Party][]reports.Dispute, error) {
	f.asked = append(f.asked, "disputes "+period)
	return f.disputes, nil
}

func (f *fakeReports) ExportParquet(_ context.Context, sel *Selection, period, dir string) ([]string, error) {
	var out []string
	for p := range f.figures {
		if !sel.Owner.IsZero() && p != sel.Owner {
			continue
		}
		for _, t := range ParquetTables {
			rel := ParquetPath(t, p, period)
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, rel), []byte(t+" "+p.String()), 0o644); err != nil {
				return nil, err
			}
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out, nil
}

// memOutput keeps the files in memory.
type memOutput struct {
	mu    sync.Mutex
	files map[string][]byte
	root  string
}

func (m *memOutput) WriteFile(name string, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = b.Bytes()
	return nil
}

func (m *memOutput) TempDir() (string, error) { return os.MkdirTemp(m.root, ".tmp-") }

func (m *memOutput) Publish(dir string, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		m.files[f] = b
	}
	return os.RemoveAll(dir)
}

func reconciledFigures(cdrs int64) reports.Figures {
	return reports.Figures{CDRs: cdrs, Reconciled: cdrs, OK: cdrs}
}

func TestReportsWriteEachOwnersFiles(t *testing.T) {
	a, b := NewParty("NL", "ABC"), NewParty("DE", "XYZ")
	src := &fakeReports{figures: map[Party]reports.Figures{a: reconciledFigures(10), b: reconciledFigures(4)},
		disputes: map[Party][]reports.Dispute{a: {{CDRID: "C1", Currency: "EUR", MinorUnits: 2, Verdict: "MISMATCH", State: "raised"}}}}
	out := &memOutput{files: map[string][]byte{}, root: t.TempDir()}
	sum, err := Reports(context.Background(), src, out, ReportOptions{Scope: Scope{Period: Month(2026, 10)}, Parquet: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Owners) != 2 || sum.Owners[0].Owner != b || sum.Owners[1].Disputes != 1 || len(sum.Parquet) != 6 {
		t.Fatalf("summary %+v", sum)
	}
	var names []string
	for n := range out.files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{
		"2026-10/DE-XYZ/disputes-DE-XYZ-2026-10.csv", "2026-10/DE-XYZ/disputes-DE-XYZ-2026-10.xlsx", "2026-10/DE-XYZ/kpi-DE-XYZ-2026-10.json",
		"2026-10/DE-XYZ/kpi-DE-XYZ-2026-10.pdf", "2026-10/DE-XYZ/kpi-DE-XYZ-2026-10.xlsx",
		"2026-10/NL-ABC/disputes-NL-ABC-2026-10.csv", "2026-10/NL-ABC/disputes-NL-ABC-2026-10.xlsx", "2026-10/NL-ABC/kpi-NL-ABC-2026-10.json",
		"2026-10/NL-ABC/kpi-NL-ABC-2026-10.pdf", "2026-10/NL-ABC/kpi-NL-ABC-2026-10.xlsx",
		"parquet/disputes/partner=DE-XYZ/period=2026-10/disputes.parquet", "parquet/disputes/partner=NL-ABC/period=2026-10/disputes.parquet",
		"parquet/priced_cdrs/partner=DE-XYZ/period=2026-10/priced_cdrs.parquet", "parquet/priced_cdrs/partner=NL-ABC/period=2026-10/priced_cdrs.parquet",
		"parquet/priced_lines/partner=DE-XYZ/period=2026-10/priced_lines.parquet", "parquet/priced_lines/partner=NL-ABC/period=2026-10/priced_lines.parquet",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if !bytes.Contains(out.files["2026-10/NL-ABC/disputes-NL-ABC-2026-10.csv"], []byte("C1")) {
		t.Error("NL-ABC's CSV lacks its dispute")
	}
	// One partner: only its files.
	out = &memOutput{files: map[string][]byte{}, root: t.TempDir()}
	if _, err := Reports(context.Background(), src, out, ReportOptions{Scope: Scope{Period: Month(2026, 10), Partner: a}}); err != nil {
		t.Fatal(err)
	}
	for n := range out.files {
		if !strings.HasPrefix(n, "2026-10/NL-ABC/") {
			t.Errorf("partner report wrote %s", n)
		}
	}
}

// A period whose CDRs were not all reconciled is refused: its report would
// count them as accepted.
func TestReportsRefuseUnreconciled(t *testing.T) {
	a := NewParty("NL", "ABC")
	f := reconciledFigures(10)
	f.Reconciled = 7
	src := &fakeReports{figures: map[Party]reports.Figures{a: f}}
	out := &memOutput{files: map[string][]byte{}, root: t.TempDir()}
	_, err := Reports(context.Background(), src, out, ReportOptions{Scope: Scope{Period: Month(2026, 10)}})
	if !errors.Is(err, ErrNotReconciled) || !strings.Contains(err.Error(), "NL-ABC (3 of 10 CDRs)") {
		t.Fatalf("err = %v", err)
	}
	if len(out.files) != 0 {
		t.Errorf("wrote %d files", len(out.files))
	}
}

// The step reads through the run's writer when it is a ReportSource (the
// run's own rows), else through the source.
func TestReportStepReadsTheRunsWriter(t *testing.T) {
	a := NewParty("NL", "ABC")
	src := &fakeReports{figures: map[Party]reports.Figures{a: reconciledFigures(1)}}
	type writerSource struct {
		RunWriter
		*fakeReports
	}
	out := &memOutput{files: map[string][]byte{}, root: t.TempDir()}
	step := &ReportStep{Out: out}
	r := &Running{Run: Run{Kind: KindReprice, Scope: Scope{Period: Month(2026, 10)}}, Writer: writerSource{fakeReports: src}}
	if err := step.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if len(src.asked) != 2 || len(step.Summary.Owners) != 1 || len(out.files) != 5 {
		t.Errorf("asked %v, summary %+v, %d files", src.asked, step.Summary, len(out.files))
	}
	r.Writer = nil
	if err := step.Run(context.Background(), r); err == nil {
		t.Error("a run whose writer and source cannot be read for reports passed")
	}
}

// mapFiles is a Files in memory (the job's).
type mapFiles struct {
	prefix string
	files  map[string][]byte
}

func (m mapFiles) Write(rel string, render func(io.Writer) error) (FileOutput, error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return FileOutput{}, err
	}
	m.files[m.prefix+rel] = b.Bytes()
	return FileOutput{Path: m.prefix + rel, Bytes: int64(b.Len())}, nil
}

func (m mapFiles) Intact(FileOutput) bool { return false }

func (m mapFiles) Existing(string) (FileOutput, bool) { return FileOutput{}, false }

// In the whole job, the report step writes the partner's documents into
// its folder and the Parquet exports at the output root, through the
// job's Files.
func TestReportPartnerStep(t *testing.T) {
	a := NewParty("NL", "ABC")
	src := &fakeReports{figures: map[Party]reports.Figures{a: reconciledFigures(3)}}
	files := map[string][]byte{}
	period := Month(2026, 10)
	p := &PartnerRun{Period: period, Party: a, Selection: Scope{Period: period, Partner: a}.Selection(nil),
		Files: mapFiles{"2026-10/NL-ABC/", files}, Root: mapFiles{"", files}}
	rep, err := ReportPartnerStep{Source: src, Parquet: true, TempDir: func() (string, error) { return os.MkdirTemp(t.TempDir(), "") }}.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 8 || rep.Counts["cdrs"] != 3 || rep.Counts["parquet_files"] != 3 {
		t.Fatalf("report %+v", rep)
	}
	if string(files["parquet/priced_cdrs/partner=NL-ABC/period=2026-10/priced_cdrs.parquet"]) != "priced_cdrs NL-ABC" ||
		len(files["2026-10/NL-ABC/kpi-NL-ABC-2026-10.pdf"]) == 0 {
		t.Errorf("files %v", len(files))
	}
	// A partner not reconciled is refused.
	f := reconciledFigures(3)
	f.Reconciled = 0
	src.figures[a] = f
	if _, err := (ReportPartnerStep{Source: src}).Run(context.Background(), p); !errors.Is(err, ErrNotReconciled) {
		t.Errorf("err = %v", err)
	}
}
