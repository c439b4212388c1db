package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/reports"
	"github.com/roamsettle/roamsettle/settle"
)

// reportMonth stores a partner's October 2025: CDRs billed as priced, one
// billed too much, one without a billed amount, one received twice, and
// one pushed over OCPI six hours after its end; re-prices and reconciles
// it as `reconcile` does, and returns the reconciliation.
func reportMonth(t *testing.T, s *Store) (*reconcile.Report, settle.Scope) {
	t.Helper()
	ctx := context.Background()
	save(t, s, recvTariff(sampleTariff("12", t0.Add(-24*time.Hour)), "t", 1),
		recvLocation(sampleLocation("LOC1", "Europe/Brussels", t0.Add(-48*time.Hour), "12"), "l", 2))
	var batch []ocpi.Received
	for i, id := range []string{"A1", "A2", "A3", "B1", "C1", "D1"} {
		c := sampleCDR(id)
		c.Tariffs = nil
		c.StartDateTime = t0.Add(time.Duration(i) * 24 * time.Hour)
		c.EndDateTime = c.StartDateTime.Add(2 * time.Hour)
		c.LastUpdated = c.EndDateTime.Add(time.Duration(i+1) * time.Minute)
		for p := range c.ChargingPeriods {
			c.ChargingPeriods[p].StartDateTime = c.StartDateTime.Add(time.Duration([]int{0, 30, 90}[p]) * time.Minute)
		}
		switch id {
		case "C1":
			c.TotalCost = nil
		}
		r := recvCDR(c, "c"+id, int64(10+i))
		if id == "D1" {
			r.Source.Channel, r.ReceivedAt = ocpi.ChannelPush, c.EndDateTime.Add(6*time.Hour)
		}
		batch = append(batch, r)
	}
	// Stored in another order than their ids' (the exports sort by id,
	// not by key).
	slices.Reverse(batch)
	save(t, s, batch...)
	slices.Reverse(batch)
	again := recvCDR(batch[0].CDR, "cA1", 99)
	again.Raw, again.SHA256 = batch[0].Raw, batch[0].SHA256
	again.Source.Name, again.Source.Position = "push", 7 // the partner sent A1 again
	save(t, s, again)

	owner := settle.NewParty("NL", "ABC")
	scope := settle.Scope{Period: settle.Month(2025, time.October), Partner: owner}
	if _, err := settle.Execute(ctx, s, s, settle.Options{Run: settle.Run{Kind: settle.KindReprice, Scope: settle.Scope{Period: scope.Period}}, Lines: true}); err != nil {
		t.Fatal(err)
	}
	// Bill A1..A3 and D1 as priced, B1 one euro more.
	priced := map[string]reconcile.Amount{}
	sel := scope.Selection(nil)
	in, err := s.ReconcileInput(ctx, &sel)
	if err != nil {
		t.Fatal(err)
	}
	w := sel.WindowOf(owner)
	in.Period, in.PeriodName, in.Partner = reconcile.Window{From: w.From, To: w.To, Name: "2025-10"}, "2025-10", "NL-ABC"
	in.At, in.By = t0.AddDate(0, 1, 0), "test"
	for _, ev := range reconcile.Reconcile(in).Evaluations {
		priced[ev.ID] = ev.Recomputed[reconcile.TotalCost]
	}
	for _, id := range []string{"A1", "A2", "A3", "B1", "D1"} {
		billed := priced[id].Excl
		if id == "B1" {
			billed += 1_000_000
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE cdrs SET total_cost_excl_vat = ? WHERE id = ?`, reconcile.FromMicro(billed).String(), id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE cdrs SET total_cost_incl_vat = NULL,
		total_fixed_cost_excl_vat = NULL, total_fixed_cost_incl_vat = NULL, total_energy_cost_excl_vat = NULL, total_energy_cost_incl_vat = NULL,
		total_time_cost_excl_vat = NULL, total_time_cost_incl_vat = NULL, total_parking_cost_excl_vat = NULL, total_parking_cost_incl_vat = NULL`); err != nil {
		t.Fatal(err)
	}
	if in, err = s.ReconcileInput(ctx, &sel); err != nil {
		t.Fatal(err)
	}
	in.Period, in.PeriodName, in.Partner = reconcile.Window{From: w.From, To: w.To, Name: "2025-10"}, "2025-10", "NL-ABC"
	in.At, in.By = t0.AddDate(0, 1, 0), "test"
	rep := reconcile.Reconcile(in)
	if _, _, err := s.SaveReconcile(ctx, "reconcile:2025-10/NL-ABC", rep, []byte("{}"), in.At); err != nil {
		t.Fatal(err)
	}
	return rep, scope
}

// The KPI figures counted from the stored rows are reconcile's own KPIs
// and summary for the same period.
func TestReportFiguresAreReconcileKPIs(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	rep, scope := reportMonth(t, s)
	brussels, _ := time.LoadLocation("Europe/Brussels")
	zones := map[settle.Party]*time.Location{scope.Partner: brussels}
	sel := scope.Selection(zones)
	reps, err := s.ReportFigures(ctx, &sel, "2025-10", zones)
	if err != nil {
		t.Fatal(err)
	}
	r := reps[scope.Partner]
	if len(reps) != 1 || r == nil {
		t.Fatalf("reports for %v", reps)
	}
	f := &r.Figures
	j := rep.Build()
	k := rep.KPIs(false)
	if f.CDRs != int64(k.CDRs) || f.Reconciled != f.CDRs || f.Disputed != int64(k.Disputed) || f.CDRs-f.Disputed != int64(k.Accepted) ||
		f.OK != int64(j.Summary.OK) || f.Mismatch != int64(j.Summary.Mismatch) || f.NotVerifiable != int64(j.Summary.NotVerifiable) {
		t.Errorf("counts %+v, reconcile %+v", f, j.Summary)
	}
	if f.CDRs != 6 || f.Mismatch != 1 || f.NotVerifiable != 1 || f.Disputed != 3 {
		t.Errorf("fixture: %d CDRs, %d mismatch, %d not verifiable, %d disputed; want 6, 1, 1, 3 (A1 a duplicate)", f.CDRs, f.Mismatch, f.NotVerifiable, f.Disputed)
	}
	rate := func(key string) *string {
		for _, x := range f.KPIs() {
			if x.Key == key {
				if v, ok := x.Rate(); ok {
					s := v.StringFixed(4)
					return &s
				}
			}
		}
		return nil
	}
	for key, want := range map[string]*string{"acceptance_rate": k.AcceptanceRate, "dispute_rate": k.DisputeRate,
		"priced_in_effect_rate": k.PricedInEffectRate, "zone_resolved_rate": k.ZoneResolvedRate} {
		if got := rate(key); (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("%s = %v, reconcile says %v", key, deref(got), deref(want))
		}
	}
	for src, n := range k.ZoneSources {
		if f.ZoneSources[src] != int64(n) {
			t.Errorf("zone source %s: %d, reconcile %d", src, f.ZoneSources[src], n)
		}
	}
	for reason, n := range j.Summary.ByReason {
		if f.ByReason[reason] != int64(n) {
			t.Errorf("reason %s: %d, reconcile %d", reason, f.ByReason[reason], n)
		}
	}
	for _, c := range f.Currencies {
		m := j.Summary.Currencies[c.Currency]
		if m.Billed == nil || *m.Billed.ExclVAT != c.Billed.StringFixed(2) || *m.Recomputed.ExclVAT != c.Recomputed.StringFixed(2) ||
			*m.InDispute.ExclVAT != c.InDispute.StringFixed(2) {
			t.Errorf("%s: billed %s, recomputed %s, in dispute %s; reconcile %+v", c.Currency, c.Billed, c.Recomputed, c.InDispute, m)
		}
	}
	// The period is October in Brussels; A1 ended on the 3rd, 21:39 local.
	if len(f.Days) != 31 || f.Days[2].CDRs != 1 || r.Scope.Zone != brussels {
		t.Errorf("days: %d, the 3rd %+v", len(f.Days), f.Days[2])
	}
	// As of D1's push, the newest receipt of the period.
	if want := t0.Add(5*24*time.Hour + 8*time.Hour); !r.Scope.AsOf.Equal(want) {
		t.Errorf("as of %v, want %v", r.Scope.AsOf, want)
	}
	// Issue delays: 1..6 minutes; D1's delivery: six hours after its end.
	if l := f.IssueDelay; l.CDRs != 6 || l.P50 != 180 || l.Max != 360 || l.Buckets[0] != 6 {
		t.Errorf("issue delay %+v", l)
	}
	if l := f.Delivery; l.CDRs != 1 || l.Unknown != 5 || l.P50 != 6*3600 || l.Buckets[1] != 1 {
		t.Errorf("delivery %+v", l)
	}
}

// In a run, the writer reads the run's own priced rows (not yet
// committed) for the reports.
func TestReportFiguresInRun(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	_, scope := reportMonth(t, s)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM priced_cdrs`); err != nil {
		t.Fatal(err)
	}
	var priced int64
	step := stepFunc(func(ctx context.Context, r *settle.Running) error {
		src, ok := r.Writer.(settle.ReportSource)
		if !ok {
			t.Fatal("the run's writer is no ReportSource")
		}
		reps, err := src.ReportFigures(ctx, r.Selection, "2025-10", nil)
		if err != nil {
			return err
		}
		priced = reps[scope.Partner].Figures.Priced
		return nil
	})
	if _, err := settle.Execute(ctx, s, s, settle.Options{Run: settle.Run{Kind: settle.KindReprice, Scope: scope}, Steps: []settle.Step{step}}); err != nil {
		t.Fatal(err)
	}
	if priced != 6 {
		t.Errorf("the step saw %d priced CDRs, want the run's 6", priced)
	}
}

type stepFunc func(ctx context.Context, r *settle.Running) error

func (f stepFunc) Name() string                                     { return "test" }
func (f stepFunc) Run(ctx context.Context, r *settle.Running) error { return f(ctx, r) }

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// The disputes the reports list are the reconciliation's, at minor units.
func TestReportDisputes(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	rep, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	ds, err := s.ReportDisputes(ctx, &sel, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	got := ds[scope.Partner]
	if len(got) != len(rep.Disputes) {
		t.Fatalf("%d disputes, reconcile raised %d", len(got), len(rep.Disputes))
	}
	for i, d := range got {
		r := rep.Disputes[i]
		if d.CDRID != r.CDRID || d.Verdict != string(r.Verdict) || d.State != "raised" || d.Evidence != r.Evidence ||
			d.Billed.HasExcl != r.Billed.HasExcl || d.Billed.HasExcl && !d.Billed.Excl.Equal(reconcile.FromMicro(r.Billed.Excl)) {
			t.Errorf("dispute %d: %+v, reconcile %+v", i, d, r)
		}
		if d.Start.IsZero() || d.LocationID != "LOC1" || d.MinorUnits != 2 {
			t.Errorf("dispute %s: CDR fields %+v", d.CDRID, d)
		}
	}
	// B1 was billed one euro more than recomputed.
	for _, d := range got {
		if d.CDRID == "B1" && (!d.Difference.HasExcl || !d.Difference.Excl.Equal(decimal.NewFromInt(-1)) || !d.InDispute.Excl.Equal(decimal.NewFromInt(1))) {
			t.Errorf("B1: difference %v, in dispute %v", d.Difference, d.InDispute)
		}
	}
	// A dispute withdrawn by the next reconciliation is no longer listed.
	if _, err := s.MoveDispute(ctx, "NL", "ABC", got[0].CDRID, reconcile.DisputeWithdrawn, "test", "", t0.AddDate(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	ds, _ = s.ReportDisputes(ctx, &sel, "2025-10")
	if len(ds[scope.Partner]) != len(got)-1 {
		t.Errorf("after withdrawing one: %d disputes", len(ds[scope.Partner]))
	}
}

// The Parquet exports, read back by DuckDB in place with hive
// partitioning, hold every priced row, line and dispute with the same
// sums; exporting again gives the same bytes.
func TestParquetExportReadBack(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	rep, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	dir := t.TempDir()
	files, err := s.ExportParquet(ctx, &sel, "2025-10", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"parquet/disputes/partner=NL-ABC/period=2025-10/disputes.parquet",
		"parquet/priced_cdrs/partner=NL-ABC/period=2025-10/priced_cdrs.parquet",
		"parquet/priced_lines/partner=NL-ABC/period=2025-10/priced_lines.parquet"}
	sort.Strings(files)
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", files, want)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(left)
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("the directory holds %v", left)
	}
	glob := func(table string) string {
		return "read_parquet(" + sqlString(filepath.Join(dir, "parquet", table, "*", "*", "*.parquet")) + ", hive_partitioning = true)"
	}
	one := func(q string, dest ...any) {
		t.Helper()
		if err := s.db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n, nWant int64
	var sum, sumWant nullDecimal
	var partner, period string
	one(`SELECT count(*), sum(total_cost_excl_vat), any_value(partner), any_value(period) FROM `+glob("priced_cdrs"), &n, &sum, &partner, &period)
	one(`SELECT count(*), sum(total_cost_excl_vat) FROM priced_cdrs`, &nWant, &sumWant)
	if n != nWant || n != 6 || !sum.Decimal.Equal(sumWant.Decimal) || partner != "NL-ABC" || period != "2025-10" {
		t.Errorf("priced_cdrs: %d rows, sum %v, %s %s; stored %d, %v", n, sum.Decimal, partner, period, nWant, sumWant.Decimal)
	}
	one(`SELECT count(*), sum(amount_incl_vat) FROM `+glob("priced_lines"), &n, &sum)
	one(`SELECT count(*), sum(amount_incl_vat) FROM priced_lines`, &nWant, &sumWant)
	if n != nWant || n == 0 || !sum.Decimal.Equal(sumWant.Decimal) {
		t.Errorf("priced_lines: %d rows, sum %v; stored %d, %v", n, sum.Decimal, nWant, sumWant.Decimal)
	}
	one(`SELECT count(*), sum(in_dispute_excl_vat) FROM `+glob("disputes"), &n, &sum)
	var inDispute decimal.Decimal
	for _, d := range rep.Disputes {
		inDispute = inDispute.Add(reconcile.FromMicro(d.InDispute.Excl))
	}
	if n != int64(len(rep.Disputes)) || !sum.Decimal.Equal(inDispute) {
		t.Errorf("disputes: %d rows, in dispute %v; reconcile %d, %v", n, sum.Decimal, len(rep.Disputes), inDispute)
	}
	// Amounts keep their decimal type; the verdict rides along.
	var typ, verdict string
	one(`SELECT typeof(total_cost_excl_vat), verdict FROM `+glob("priced_cdrs")+` WHERE cdr_id = 'B1'`, &typ, &verdict)
	if typ != "DECIMAL(18,6)" || verdict != "MISMATCH" {
		t.Errorf("B1: %s, %s", typ, verdict)
	}
	// Rows are in CDR id order (then line), not in the order the CDRs were
	// stored (reportMonth stores them in reverse).
	var ids string
	one(`SELECT string_agg(cdr_id, ' ') FROM `+glob("priced_cdrs"), &ids)
	var lineRows, inOrder int64
	one(`SELECT count(*), count(*) FILTER (WHERE prev IS NULL OR prev <= cdr_id) FROM (SELECT cdr_id, lag(cdr_id) OVER () AS prev FROM `+glob("priced_lines")+`)`, &lineRows, &inOrder)
	if ids != "A1 A2 A3 B1 C1 D1" || lineRows != inOrder {
		t.Errorf("priced_cdrs in order %s, want A1 A2 A3 B1 C1 D1; %d of %d priced_lines in id order", ids, inOrder, lineRows)
	}
	// Again, into another directory: the same bytes.
	dir2 := t.TempDir()
	if _, err := s.ExportParquet(ctx, &sel, "2025-10", dir2); err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: %d and %d bytes, differ (sha %x, %x)", f, len(a), len(b), sha256.Sum256(a), sha256.Sum256(b))
		}
	}
}

// An owner without rows in a table gets an empty file with the table's
// schema, so an earlier export of that partition never survives.
func TestParquetEmptyPartition(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	save(t, s, recvCDR(sampleCDR("Z1"), "z", 1))
	scope := settle.Scope{Period: settle.Month(2025, time.October)}
	if _, err := settle.Execute(ctx, s, s, settle.Options{Run: settle.Run{Kind: settle.KindReprice, Scope: scope}, Lines: true}); err != nil {
		t.Fatal(err)
	}
	sel := scope.Selection(nil)
	dir := t.TempDir()
	files, err := s.ExportParquet(ctx, &sel, "2025-10", dir)
	if err != nil || len(files) != 3 {
		t.Fatalf("%v %v", files, err)
	}
	var n int64
	var cols int
	q := `SELECT count(*) FROM read_parquet(` + sqlString(filepath.Join(dir, "parquet", "disputes", "*", "*", "*.parquet")) + `, hive_partitioning = true)`
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 0 {
		t.Errorf("disputes: %d rows, %v", n, err)
	}
	q = `SELECT count(*) FROM parquet_schema(` + sqlString(filepath.Join(dir, filepath.FromSlash(settle.ParquetPath("disputes", settle.NewParty("NL", "ABC"), "2025-10")))) + `)`
	if err := s.db.QueryRowContext(ctx, q).Scan(&cols); err != nil || cols < 10 {
		t.Errorf("empty file's schema: %d columns, %v", cols, err)
	}
	_ = reports.FormatVersion
}

// secondsBetween must count what date_diff('second', ...) counts: the
// whole seconds of the later instant minus those of the earlier one, also
// when either has a fraction of a second or they straddle a zone change.
func TestSecondsBetweenIsDateDiff(t *testing.T) {
	s := openMem(t)
	pairs := [][2]string{
		{"2025-01-01 00:00:00+00", "2025-01-01 00:00:00+00"},
		{"2025-01-01 00:00:00.9+00", "2025-01-01 00:00:01.1+00"},
		{"2025-01-01 00:00:00.1+00", "2025-01-01 00:00:01+00"},
		{"2025-01-01 00:00:00.999999+00", "2025-01-01 00:00:00.999999+00"},
		{"2025-03-30 00:30:00.5+00", "2025-03-30 03:30:00.25+02"},
		{"1970-01-01 00:00:01+00", "2026-12-07 14:31:17.123456+00"},
	}
	for _, p := range pairs {
		q := `SELECT date_diff('second', a, b), ` + secondsBetween("a", "b") + ` FROM (SELECT ?::TIMESTAMPTZ AS a, ?::TIMESTAMPTZ AS b)`
		var want, got int64
		if err := s.db.QueryRowContext(context.Background(), q, p[0], p[1]).Scan(&want, &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s .. %s: %d, date_diff says %d", p[0], p[1], got, want)
		}
	}
}

// A report gathered once reads what the separate reads give: the same
// figures, disputes and Parquet bytes. Asked for another selection it
// refuses rather than replace the rows its caller reads.
func TestGatheredReportIsTheSeparateReads(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	_, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	wantFigs, err := s.ReportFigures(ctx, &sel, "2025-10", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDisputes, err := s.ReportDisputes(ctx, &sel, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	files, err := s.ExportParquet(ctx, &sel, "2025-10", dirA)
	if err != nil {
		t.Fatal(err)
	}
	src, release, err := s.GatherReport(ctx, &sel, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	figs, err := src.ReportFigures(ctx, &sel, "2025-10", nil)
	if err != nil || !reflect.DeepEqual(figs, wantFigs) {
		t.Errorf("figures: %v\n%+v\nwant %+v", err, figs[scope.Partner], wantFigs[scope.Partner])
	}
	disputes, err := src.ReportDisputes(ctx, &sel, "2025-10")
	if err != nil || !reflect.DeepEqual(disputes, wantDisputes) || len(disputes[scope.Partner]) == 0 {
		t.Errorf("disputes: %v, %d, want %d", err, len(disputes[scope.Partner]), len(wantDisputes[scope.Partner]))
	}
	// The exports read the rows the figures read: twice from one gathering.
	for range 2 {
		got, err := src.ExportParquet(ctx, &sel, "2025-10", dirB)
		if err != nil || !reflect.DeepEqual(got, files) {
			t.Fatalf("export: %v %v, want %v", got, err, files)
		}
		for _, f := range files {
			a, _ := os.ReadFile(filepath.Join(dirA, f))
			b, _ := os.ReadFile(filepath.Join(dirB, f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: %d and %d bytes differ", f, len(a), len(b))
			}
		}
	}
	other := settle.Scope{Period: scope.Period, Partner: settle.NewParty("DE", "XYZ")}.Selection(nil)
	if _, err := src.ReportFigures(ctx, &other, "2025-10", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("another selection: %v, want ErrInvalid", err)
	}
	if _, err := src.ExportParquet(ctx, &sel, "2025-11", dirB); !errors.Is(err, ErrInvalid) {
		t.Errorf("another period: %v, want ErrInvalid", err)
	}
}

// ReconcileStep.Reported hands over each owner's whole report before its
// rows are stored (what `run` writes reconcile.json from meanwhile): the
// report that ends in Reports, with every CDR, while the reconciliation's
// transaction holds none of its rows yet.
func TestReconcileReportedBeforeStored(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	want, scope := reportMonth(t, s)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM reconcile_runs`); err != nil {
		t.Fatal(err)
	}
	var got []*reconcile.Report
	step := &settle.ReconcileStep{Prepare: func(_ context.Context, _ settle.Party, in *reconcile.Input) error {
		in.At, in.By = t0.AddDate(0, 1, 0), "test"
		return nil
	}}
	w, err := s.BeginReconcile(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	step.Reported = func(owner settle.Party, rep *reconcile.Report) {
		if owner != scope.Partner {
			t.Errorf("reported for %v", owner)
		}
		// In the writer's own transaction, which sees what it wrote.
		var n int
		if err := w.tx.QueryRowContext(ctx, `SELECT count(*) FROM reconcile_runs`).Scan(&n); err != nil || n != 0 {
			t.Errorf("stored before the report was handed over: %d rows, %v", n, err)
		}
		got = append(got, rep)
	}
	sel := scope.Selection(nil)
	if err := step.Reconcile(ctx, s, w, settle.Run{Kind: settle.KindReconcile, Scope: scope}, &sel); err != nil {
		w.Rollback()
		t.Fatal(err)
	}
	if err := w.Commit(ctx, settle.RunRecord{}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != step.Reports[scope.Partner] {
		t.Fatalf("reported %d reports, want the one in Reports", len(got))
	}
	if sm, ws := got[0].Summary(), want.Summary(); sm.CDRs != ws.CDRs || sm.CDRs != 6 {
		t.Errorf("reported %d CDRs, reconcile %d", sm.CDRs, ws.CDRs)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM reconcile_runs`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after commit: %d runs stored, %v", n, err)
	}
}

// ReconciledCounts are the report figures' counts, before and after a
// CDR loses its reconciliation result: invoices and reports refuse alike.
func TestReconciledCountsAreTheFigures(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	_, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	for _, what := range []string{"reconciled", "one result gone"} {
		figs, err := s.ReportFigures(ctx, &sel, "2025-10", nil)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := s.ReconciledCounts(ctx, &sel, "2025-10")
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != len(figs) || len(counts) == 0 {
			t.Fatalf("%s: %d owners counted, %d in the figures", what, len(counts), len(figs))
		}
		for p, r := range figs {
			want := settle.ReconciledCount{CDRs: r.Figures.CDRs, Reconciled: r.Figures.Reconciled, NewestReceipt: r.Scope.AsOf}
			if got := counts[p]; got != want {
				t.Errorf("%s, %s: %+v, the figures %+v", what, p, got, want)
			}
		}
		// Evaluated whole or accepted from columns: its result is gone.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM reconcile_cdrs WHERE cdr_id = 'B1'`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM reconcile_accepted WHERE cdr_key IN (SELECT cdr_key FROM cdrs WHERE id = 'B1')`); err != nil {
			t.Fatal(err)
		}
	}
	if c := ownerCounts(t, s, &sel); c.Reconciled != c.CDRs-1 {
		t.Errorf("after deleting B1's result: %+v", c)
	}
}

func ownerCounts(t *testing.T, s *Store, sel *settle.Selection) settle.ReconciledCount {
	t.Helper()
	m, err := s.ReconciledCounts(context.Background(), sel, "2025-10")
	if err != nil || len(m) != 1 {
		t.Fatalf("%v, %d owners", err, len(m))
	}
	for _, c := range m {
		return c
	}
	return settle.ReconciledCount{}
}

// The disputes read as Arrow batches are the ones database/sql scanned (as
// until 2026-12-07), amounts compared by value: a raised and a moved
// dispute, with and without a billed amount.
func TestDisputesOfIsTheScan(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	_, scope := reportMonth(t, s)
	sel := scope.Selection(nil)
	owners, err := reportRuns(ctx, s.db, 0, &sel, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, what := range []string{"raised", "one sent"} {
		want, err := disputesOfScanned(ctx, conn, owners, "2025-10")
		if err != nil {
			t.Fatal(err)
		}
		got, err := disputesOf(ctx, conn, owners, "2025-10")
		if err != nil {
			t.Fatal(err)
		}
		if len(want[scope.Partner]) == 0 || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Fatalf("%s: the Arrow read differs from the scan\n got %+v\nwant %+v", what, got, want)
		}
		if what == "raised" {
			if _, err := s.MoveDispute(ctx, "NL", "ABC", want[scope.Partner][0].CDRID, reconcile.DisputeSent, "test", "", t0.AddDate(0, 1, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func disputesOfScanned(ctx context.Context, q querier, owners []ownerRun, period string) (map[settle.Party][]reports.Dispute, error) {
	out := map[settle.Party][]reports.Dispute{}
	if len(owners) == 0 {
		return out, nil
	}
	runs, rargs := runsSQL(owners)
	err := eachRow(ctx, q, `WITH `+runs+`, `+disputeStateSQL+`
		SELECT d.country_code, d.party_id, coalesce(c.id_as_sent, c.id, d.cdr_id), c.start_date_time, c.end_date_time,
			coalesce(c.location_id, ''), coalesce(c.evse_uid, ''), coalesce(d.currency, ''), d.verdict, d.reasons, d.codes, st.state,
			d.billed_excl, d.billed_incl, d.recomputed_excl, d.recomputed_incl, d.in_dispute_excl, d.in_dispute_incl, d.evidence
		FROM disputes d JOIN runs r USING (country_code, party_id) JOIN st USING (country_code, party_id, cdr_id)
		LEFT JOIN cdrs c ON c.country_code = d.country_code AND c.party_id = d.party_id AND c.id = d.cdr_id
		WHERE d.period = ? AND st.state <> 'withdrawn'
		ORDER BY d.country_code, d.party_id, d.cdr_id`, append(rargs, period), func(rows *sql.Rows) error {
		var cc, pid string
		var d reports.Dispute
		var start, end sql.NullTime
		var reasons, codes stringList
		dec := make([]nullDecimal, 6)
		if err := rows.Scan(&cc, &pid, &d.CDRID, &start, &end, &d.LocationID, &d.EVSEUID, &d.Currency, &d.Verdict, &reasons, &codes,
			&d.State, &dec[0], &dec[1], &dec[2], &dec[3], &dec[4], &dec[5], &d.Evidence); err != nil {
			return err
		}
		d.Start, d.End = utc(start), utc(end)
		d.Reasons, d.Codes = reasons, codes
		d.MinorUnits = minorUnits(d.Currency)
		m := int32(d.MinorUnits)
		amount := func(e, i nullDecimal) reports.Amount {
			return reports.Amount{Excl: e.Decimal.Round(m), Incl: i.Decimal.Round(m), HasExcl: e.Valid, HasIncl: i.Valid}
		}
		d.Billed, d.Recomputed, d.InDispute = amount(dec[0], dec[1]), amount(dec[2], dec[3]), amount(dec[4], dec[5])
		if d.Billed.HasExcl && d.Recomputed.HasExcl {
			d.Difference.Excl, d.Difference.HasExcl = d.Recomputed.Excl.Sub(d.Billed.Excl), true
		}
		if d.Billed.HasIncl && d.Recomputed.HasIncl {
			d.Difference.Incl, d.Difference.HasIncl = d.Recomputed.Incl.Sub(d.Billed.Incl), true
		}
		p := settle.Party{CountryCode: cc, PartyID: pid}
		out[p] = append(out[p], d)
		return nil
	})
	return out, err
}
