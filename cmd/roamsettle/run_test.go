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

// generatedMonth is a month of n sessions ingested into a new database.
func generatedMonth(t *testing.T, n int) (db, data string) {
	t.Helper()
	dir := t.TempDir()
	data, db = filepath.Join(dir, "data"), filepath.Join(dir, "rs.duckdb")
	cfg := synth.DefaultConfig()
	cfg.CDRs = n
	if _, err := synth.Generate(context.Background(), cfg, data); err != nil {
		t.Fatal(err)
	}
	rs(t, "ingest", "--quiet", "--db", db, data)
	return db, data
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

// The whole job on a generated month: figures and files against the
// golden file; a repeat on the same inputs changes nothing and says so; a
// late CDR makes the next run settle again.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and settles a month in a separate process")
	}
	db, _ := generatedMonth(t, 3000)
	out := filepath.Join(t.TempDir(), "out")
	stdout := mustBinary(t, "run", "--db", db, "--period", "2026-10", "--out", out, "--as-of", "2026-11-06T02:00:00Z")
	if !strings.Contains(stdout, "run 1: 2026-10 all provisional as of 2026-11-06T02:00:00Z (new)") {
		t.Errorf("stdout:\n%s", stdout)
	}
	checkGolden(t, "e2e-provisional.golden", runFiguresText(t, db, "1", out))
	before := modTimes(t, out)

	stdout = mustBinary(t, "run", "--db", db, "--period", "2026-10", "--out", out)
	if !strings.Contains(stdout, "unchanged") || !strings.Contains(stdout, "are those of run 1") {
		t.Errorf("a repeat on the same inputs:\n%s", stdout)
	}
	if after := modTimes(t, out); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a repeat on the same inputs touched files:\n%v\n%v", before, after)
	}
	if list := mustBinary(t, "runs", "--db", db); strings.Count(list, "provisional") != 1 {
		t.Errorf("runs after an unchanged repeat:\n%s", list)
	}
}
