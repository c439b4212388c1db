package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// demoTimes are the only part of demo's output that varies: "(1.2 s)".
var demoTimes = regexp.MustCompile(`\(\d+\.\d s\)`)

// demoText is demo's output with the times and the folder replaced.
func demoText(out, dir string) string {
	return strings.ReplaceAll(demoTimes.ReplaceAllString(out, "(T)"), dir, "OUT")
}

// treeDigest lists every file under dir but the database (whose bytes
// depend on DuckDB's layout) with its SHA-256.
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "roamsettle.duckdb") {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The real binary's demo on a small month: the whole job's summary
// against golden figures, every document the summary points to in place,
// and a second demo into the same folder gives the same summary and the
// same bytes in every file.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and settles a month twice in a separate process")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	first := demoText(mustBinary(t, "demo", "--cdrs", "800", "--out", dir), dir)
	checkGolden(t, "demo.golden", first)
	files := treeDigest(t, dir)

	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	all := strings.Join(names, "\n")
	for _, party := range []string{"BE-BLX", "DE-LDS", "IE-ECH", "IS-HLD", "JO-AMC", "JP-EVJ", "NL-EVB", "US-NYC"} {
		for _, want := range []string{
			`2026-10/` + party + `/INV-[0-9]+\.pdf`,
			`2026-10/` + party + `/statement-` + party + `-2026-10-[A-Z]{3}\.pdf`,
			`2026-10/` + party + `/disputes-` + party + `-2026-10\.xlsx`,
			`2026-10/` + party + `/kpi-` + party + `-2026-10\.pdf`,
			`2026-10/` + party + `/reconcile\.json`,
			`parquet/priced_cdrs/partner=` + party + `/period=2026-10/priced_cdrs\.parquet`,
		} {
			if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(all) {
				t.Errorf("no file matches %s among:\n%s", want, all)
			}
		}
	}
	for _, f := range []string{"roamsettle.toml", "data/ground_truth.csv"} {
		if files[f] == "" {
			t.Errorf("no %s", f)
		}
	}

	second := demoText(mustBinary(t, "demo", "--cdrs", "800", "--out", dir), dir)
	if second != first {
		t.Errorf("a second demo printed another summary:\n%s", diffLines(first, second))
	}
	again := treeDigest(t, dir)
	for f, h := range files {
		if again[f] != h {
			t.Errorf("%s differs after a second demo", f)
		}
	}
	for f := range again {
		if _, ok := files[f]; !ok {
			t.Errorf("%s is new after a second demo", f)
		}
	}
}
