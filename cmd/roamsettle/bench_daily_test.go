package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/roamsettle/roamsettle/synth"
)

// TestBuildDailyBenchData builds the daily layout of `make bench-run`
// (RUN_BENCH_LAYOUT=daily): the month `gen` wrote in RUN_BENCH_DAILY_SRC,
// split into one folder per day of the CDRs' end in RUN_BENCH_DAILY_DST,
// each with a manifest and a CC-PID folder per partner, after a folder
// 0000-setup with every partner's tariffs and locations. `ingest` of the
// folders in name order stores the month as nightly pulls do: each
// night's CDRs of every partner, then the next night's, so that a
// partner's keys span the whole month in blocks (gen's own folder stores
// it partner by partner, one block each). It runs only when both
// variables are set.
func TestBuildDailyBenchData(t *testing.T) {
	src, dst := os.Getenv("RUN_BENCH_DAILY_SRC"), os.Getenv("RUN_BENCH_DAILY_DST")
	if src == "" || dst == "" {
		t.Skip("RUN_BENCH_DAILY_SRC and RUN_BENCH_DAILY_DST name the gen folder and the daily one")
	}
	b, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man synth.Summary
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setup := filepath.Join(dst, "0000-setup")
	var setupParties []synth.PartySummary
	days := map[string][]synth.PartySummary{}
	for _, p := range man.Parties {
		sp := p
		sp.CDRFile = ""
		for _, f := range []string{p.TariffsFile, p.LocationFile} {
			copyFile(filepath.Join(src, f), filepath.Join(setup, f))
		}
		setupParties = append(setupParties, sp)

		// This partner's CDR lines, by the day they end (UTC).
		in, err := os.Open(filepath.Join(src, p.CDRFile))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*bufio.Writer{}
		var files []*os.File
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var end struct {
				End  string `json:"end_date_time"`  // 2.2+
				Stop string `json:"stop_date_time"` // 2.1.1
			}
			if err := json.Unmarshal(sc.Bytes(), &end); err != nil {
				t.Fatalf("%s: %v", p.CDRFile, err)
			}
			day := "9999-no-end"
			if e := end.End + end.Stop; len(e) >= 10 {
				day = e[:10]
			}
			w := out[day]
			if w == nil {
				path := filepath.Join(dst, day, p.CDRFile)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
				w = bufio.NewWriterSize(f, 1<<20)
				out[day] = w
				dp := p
				dp.TariffsFile, dp.LocationFile = "", ""
				days[day] = append(days[day], dp)
			}
			w.Write(sc.Bytes())
			w.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		in.Close()
		for _, w := range out {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range files {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	manifest := func(folder string, parties []synth.PartySummary) {
		m := man
		m.Parties = parties
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "manifest.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest(setup, setupParties)
	var names []string
	for day, parties := range days {
		manifest(filepath.Join(dst, day), parties)
		names = append(names, day)
	}
	sort.Strings(names)
	t.Logf("%d partners, %d days (%s .. %s) in %s", len(man.Parties), len(names), names[0], names[len(names)-1], dst)
}
