package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/synth"
)

// End to end: the real command in its own process (this test binary run
// as `roamsettle`, see TestMain) on generated data, into a temporary
// folder.

// binary runs roamsettle in a process of its own.
func binary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := roamsettleCmd(t, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func roamsettleCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "roamsettle" // testscript.Main runs the command by this name
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func mustBinary(t *testing.T, args ...string) string {
	t.Helper()
	out, errb, code := binary(t, nil, args...)
	if code != 0 {
		t.Fatalf("roamsettle %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

// generatedMonth is a month of n sessions ingested into a new database,
// with the demo's config (invoicing details for every CPO) beside it.
func generatedMonth(t *testing.T, n int) (db, data, config, out string) {
	t.Helper()
	dir := t.TempDir()
	data, db, config, out = filepath.Join(dir, "data"), filepath.Join(dir, "rs.duckdb"), filepath.Join(dir, "roamsettle.toml"), filepath.Join(dir, "out")
	cfg := synth.DefaultConfig()
	cfg.CDRs = n
	sum, err := synth.Generate(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeDemoConfig(&b, sum, db, out, filepath.Join(data, "tokens.ndjson")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rs(t, "ingest", "--quiet", "--db", db, data)
	return db, data, config, out
}

// runFiguresText is what the golden file holds of a run: every step's
// counts and amounts, and every file (relative to out) with its size and
// SHA-256; no times.
func runFiguresText(t *testing.T, db, id, out string) string {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(mustBinary(t, "runs", "show", id, "--db", db, "--json")), &r); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "run %s %s %s status %s\n", r.Period, r.Partner, r.Kind, r.Status)
	for _, s := range r.Steps {
		keys := make([]string, 0, len(s.Counts))
		for k := range s.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "step %s\n", s.Name)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s %d\n", k, s.Counts[k])
		}
		for _, a := range s.Amounts {
			fmt.Fprintf(&b, "  amount %s %s %s\n", a.Name, a.Currency, a.Amount.String())
		}
	}
	for _, f := range r.Files {
		rel, err := filepath.Rel(out, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "file %s %d %s\n", filepath.ToSlash(rel), f.Bytes, f.SHA256)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "run", name)
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update if the change is intended):\n%s", path, diffLines(string(want), got))
	}
}

// modTimes are the files under dir with their modification times.
func modTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out[p] = fi.ModTime()
		}
		return nil
	})
	return out
}

// lateCDR writes, as NDJSON, the first CDR of a partner's file under a new
// id: a CDR of the same month that arrives after the final run.
func lateCDR(t *testing.T, data, party, newID string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, party, "cdrs.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(first, &c); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "late.ndjson")
	late := bytes.Replace(first, []byte(`"id":"`+c.ID+`"`), []byte(`"id":"`+newID+`"`), 1)
	if bytes.Equal(late, first) {
		t.Fatalf("no id %q in %s", c.ID, first)
	}
	if err := os.WriteFile(path, append(late, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The whole job on a generated month: figures and files against golden
// files; a repeat on the same inputs changes nothing and says so; the final
// run issues numbered invoices once; a CDR that arrives after it leads to a
// credit note and a new invoice, and the invoices issued before are never
// touched.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and settles a month in a separate process")
	}
	db, data, config, out := generatedMonth(t, 3000)
	stdout, stderr, code := binary(t, nil, "run", "--config", config, "--period", "2026-10", "--as-of", "2026-11-03T02:00:00Z")
	if code != 0 || !strings.Contains(stdout, "run 1: 2026-10 all provisional as of 2026-11-03T02:00:00Z (new)") {
		t.Errorf("exit %d, stdout:\n%s\n%s", code, stdout, stderr)
	}
	// Every partner's CDRs are screened in one pass and each partner's
	// step finishes its own (the golden files are those of reconciling
	// partner by partner).
	if !strings.Contains(stderr, "partners screened in one pass") || strings.Contains(stderr, "screened again") {
		t.Errorf("the partners were not screened in one pass:\n%s", stderr)
	}
	checkGolden(t, "e2e-provisional.golden", runFiguresText(t, db, "1", out))
	before := modTimes(t, out)

	stdout = mustBinary(t, "run", "--config", config, "--period", "2026-10")
	if !strings.Contains(stdout, "unchanged") || !strings.Contains(stdout, "are those of run 1") {
		t.Errorf("a repeat on the same inputs:\n%s", stdout)
	}
	if after := modTimes(t, out); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a repeat on the same inputs touched files:\n%v\n%v", before, after)
	}

	stdout = mustBinary(t, "run", "--config", config, "--period", "2026-10", "--final", "--as-of", "2026-11-06T02:00:00Z")
	if !strings.Contains(stdout, "not priced again") {
		t.Errorf("the final run on the provisional run's inputs priced the month again:\n%s", stdout)
	}
	checkGolden(t, "e2e-final.golden", runFiguresText(t, db, "2", out))
	invoices, _ := filepath.Glob(filepath.Join(out, "2026-10", "*", "INV-*"))
	if len(invoices) == 0 {
		t.Fatal("the final run issued no invoice")
	}
	issued := map[string]string{}
	for _, f := range invoices {
		b, _ := os.ReadFile(f)
		issued[f] = string(b)
	}
	finalTimes := modTimes(t, out)
	if stdout := mustBinary(t, "run", "--config", config, "--period", "2026-10", "--final"); !strings.Contains(stdout, "unchanged") {
		t.Errorf("the final run again on the same inputs:\n%s", stdout)
	}

	// A CDR of October arrives after the final run.
	rs(t, "ingest", "--quiet", "--db", db, "--partner", "NL-EVB", lateCDR(t, data, "NL-EVB", "NLEVB2610-LATE0001"))
	stdout = mustBinary(t, "run", "--config", config, "--period", "2026-10", "--final", "--as-of", "2026-11-20T02:00:00Z")
	if !strings.Contains(stdout, "2026-10 all correction as of 2026-11-20T02:00:00Z") {
		t.Errorf("after a late CDR:\n%s", stdout)
	}
	checkGolden(t, "e2e-correction.golden", runFiguresText(t, db, "3", out))
	notes, _ := filepath.Glob(filepath.Join(out, "2026-10", "NL-EVB", "CN-*.pdf"))
	if len(notes) != 1 {
		t.Errorf("credit notes %v, want one for NL-EVB", notes)
	}
	after := modTimes(t, out)
	for f, body := range issued {
		if b, _ := os.ReadFile(f); string(b) != body || !after[f].Equal(finalTimes[f]) {
			t.Errorf("%s was touched after it was issued", f)
		}
	}
	list := mustBinary(t, "runs", "--db", db)
	for _, want := range []string{"provisional", "final", "correction", "3 runs"} {
		if !strings.Contains(list, want) {
			t.Errorf("runs:\n%s\nwant %q", list, want)
		}
	}
}

// The run's reconcile step matches the partner's stored 2.3.0 invoice
// reconciliation records, as `reconcile` does: a record received after a
// run makes the next run settle again (its inputs changed), and its
// reconcile.json matches the record's lines.
func TestRunMatchesStoredInvoiceRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and settles a month in a separate process")
	}
	db, data, config, out := generatedMonth(t, 300)
	const party = "NL-EVB"
	raw, err := os.ReadFile(filepath.Join(data, party, "cdrs.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range bytes.Split(raw, []byte("\n")) {
		var c struct {
			ID     string `json:"id"`
			End    string `json:"end_date_time"`
			Credit bool   `json:"credit"`
		}
		if json.Unmarshal(l, &c) == nil && strings.HasPrefix(c.End, "2026-10-1") && !c.Credit && len(ids) < 2 {
			ids = append(ids, c.ID)
		}
	}
	report := func() reconcile.JSONReport {
		t.Helper()
		var rep reconcile.JSONReport
		b, err := os.ReadFile(filepath.Join(out, "2026-10", party, "reconcile.json"))
		if err == nil {
			err = json.Unmarshal(b, &rep)
		}
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	args := []string{"run", "--config", config, "--period", "2026-10", "--partner", party}
	mustBinary(t, append(args, "--as-of", "2026-11-03T02:00:00Z")...)
	if rep := report(); rep.Invoice != nil {
		t.Fatalf("an invoice matched before any record was received: %+v", rep.Invoice)
	}

	irr, _ := json.Marshal(map[string]any{"country_code": "NL", "party_id": "EVB", "id": "A", "invoice_id": "INV-A",
		"cdrs": ids, "last_updated": "2026-11-02T00:00:00Z"})
	path := filepath.Join(t.TempDir(), "irr.json")
	if err := os.WriteFile(path, irr, 0o644); err != nil {
		t.Fatal(err)
	}
	rs(t, "ingest", "--quiet", "--db", db, "--partner", party, "--version", "2.3.0", "--kind", "invoice_reconciliation", path)
	if stdout := mustBinary(t, append(args, "--as-of", "2026-11-04T02:00:00Z")...); strings.Contains(stdout, "unchanged") {
		t.Errorf("a run after a record arrived did nothing:\n%s", stdout)
	}
	inv := report().Invoice
	if inv == nil {
		t.Fatal("the stored record was not matched")
	}
	var got []string
	for _, l := range inv.Lines {
		got = append(got, fmt.Sprintf("%s:%d %s %s", l.File, l.Line, l.CDRID, l.Class))
	}
	want := []string{"stored record A:1 " + ids[0] + " EXACT", "stored record A:2 " + ids[1] + " EXACT"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
