package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/synth"
)

// The crash test: `roamsettle run` killed with SIGKILL at a random point
// of each step, then started again, must leave the output folder exactly
// as an uninterrupted run leaves it, byte for byte (invoice numbers
// included). By default one kill per step of the final run and of the
// provisional run's invoice step, on a small month (tens of seconds);
// ROAMSETTLE_CRASH_TRIES=N kills N times at each step of both runs,
// ROAMSETTLE_CRASH_CDRS sets the month's size, ROAMSETTLE_CRASH_SEED the
// random points.

// crashMonth is a generated, ingested month kept pristine: each trial
// works on its own copy.
type crashMonth struct {
	dir, db, data string
	sum           synth.Summary
}

func newCrashMonth(t *testing.T, n int) *crashMonth {
	t.Helper()
	db, data, _, _ := generatedMonth(t, n)
	raw, err := os.ReadFile(filepath.Join(data, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := &crashMonth{dir: filepath.Dir(db), db: db, data: data}
	if err := json.Unmarshal(raw, &m.sum); err != nil {
		t.Fatal(err)
	}
	return m
}

// copyTree copies a file or a folder.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// trial is a copy of the month: its database, config and output folder.
func (m *crashMonth) trial(t *testing.T) (config, db, out string) {
	t.Helper()
	dir := t.TempDir()
	db, out, config = filepath.Join(dir, "rs.duckdb"), filepath.Join(dir, "out"), filepath.Join(dir, "roamsettle.toml")
	copyTree(t, m.db, db)
	if _, err := os.Stat(m.db + ".raw"); err == nil {
		copyTree(t, m.db+".raw", db+".raw")
	}
	var b bytes.Buffer
	if err := writeDemoConfig(&b, m.sum, db, out, filepath.Join(m.data, "tokens.ndjson")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return config, db, out
}

// outputs are the files under out (hidden ones too: a temporary file left
// behind is a difference) by relative path, with their SHA-256.
func outputs(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(out, p)
			files[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		return nil
	})
	return files
}

func diffOutputs(want, got map[string]string) string {
	var b strings.Builder
	for f, h := range want {
		if g, ok := got[f]; !ok {
			fmt.Fprintf(&b, "  missing %s\n", f)
		} else if g != h {
			fmt.Fprintf(&b, "  differs %s\n", f)
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			fmt.Fprintf(&b, "  extra   %s\n", f)
		}
	}
	return b.String()
}

var crashRuns = []struct {
	kind string
	args []string
}{
	{"provisional", []string{"--as-of", "2026-11-03T02:00:00Z"}},
	{"final", []string{"--final", "--as-of", "2026-11-06T02:00:00Z"}},
}

func runArgs(config string, extra []string) []string {
	return append([]string{"run", "--config", config, "--period", "2026-10"}, extra...)
}

var stepStart = regexp.MustCompile(`msg="step start" step="?([^"]+?)"? run=`)

// killDuring starts the run and kills it with SIGKILL delay after the step
// named step starts ("" for the process start). It reports whether the
// kill landed before the run ended.
func killDuring(t *testing.T, args []string, step string, delay time.Duration) bool {
	t.Helper()
	cmd := roamsettleCmd(t, []string{"ROAMSETTLE_LOG=debug"}, args...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		fired := step == ""
		if fired {
			close(started)
		}
		for sc.Scan() {
			if m := stepStart.FindStringSubmatch(sc.Text()); !fired && m != nil && m[1] == step {
				fired = true
				close(started)
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-started:
	case err := <-done:
		t.Logf("the run ended (%v) before step %q started", err, step)
		return false
	}
	select {
	case <-time.After(delay):
	case err := <-done:
		t.Logf("the run ended (%v) before the kill %s into %q", err, delay, step)
		return false
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err = <-done
	return strings.Contains(fmt.Sprint(err), "killed")
}

// stepTimes are the steps of a run by name with how long each took.
func stepTimes(t *testing.T, db, id string) map[string]time.Duration {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(mustBinary(t, "runs", "show", id, "--db", db, "--json")), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Duration{}
	for _, s := range r.Steps {
		out[s.Name] = s.Ended.Sub(s.Started)
	}
	return out
}

func TestRunCrashAnywhereFinishesTheSame(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes")
	}
	cdrs, tries, seed := 400, 0, uint64(time.Now().UnixNano())
	if v, err := strconv.Atoi(os.Getenv("ROAMSETTLE_CRASH_CDRS")); err == nil {
		cdrs = v
	}
	if v, err := strconv.Atoi(os.Getenv("ROAMSETTLE_CRASH_TRIES")); err == nil {
		tries = v
	}
	if v, err := strconv.ParseUint(os.Getenv("ROAMSETTLE_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("ROAMSETTLE_CRASH_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 15))
	m := newCrashMonth(t, cdrs)

	// The uninterrupted runs.
	config, db, out := m.trial(t)
	times := map[string]map[string]time.Duration{}
	for i, r := range crashRuns {
		mustBinary(t, runArgs(config, r.args)...)
		times[r.kind] = stepTimes(t, db, strconv.Itoa(i+1))
	}
	want := outputs(t, out)
	if len(want) == 0 || !strings.Contains(fmt.Sprint(want), "INV-000001.pdf") {
		t.Fatalf("the uninterrupted runs wrote %v", want)
	}

	type kill struct {
		run  int // index in crashRuns
		step string
	}
	var kills []kill
	partners := make([]string, 0, len(m.sum.Parties))
	for _, p := range m.sum.Parties {
		partners = append(partners, p.CountryCode+"-"+p.PartyID)
	}
	pick := func() string { return partners[rng.IntN(len(partners))] }
	if tries == 0 {
		kills = []kill{{1, ""}, {1, "price"}, {1, "reconcile " + pick()}, {1, "invoice " + pick()}, {1, "report " + pick()}, {0, "invoice " + pick()}}
	} else {
		for range tries {
			for run := range crashRuns {
				kills = append(kills, kill{run, ""}, kill{run, "price"}, kill{run, "reconcile " + pick()}, kill{run, "invoice " + pick()}, kill{run, "report " + pick()})
			}
		}
	}
	landed := 0
	for _, k := range kills {
		r := crashRuns[k.run]
		limit := times[r.kind][k.step]
		if k.step == "" {
			limit = 300 * time.Millisecond // pulls, inputs, claim: before the first step
		}
		delay := time.Duration(rng.Int64N(int64(limit)*6/5 + 1))
		name := fmt.Sprintf("%s run, %q + %s", r.kind, k.step, delay.Round(time.Millisecond))
		config, db, out := m.trial(t)
		for _, before := range crashRuns[:k.run] {
			mustBinary(t, runArgs(config, before.args)...)
		}
		if killDuring(t, runArgs(config, r.args), k.step, delay) {
			landed++
		}
		// Started again, the run finishes the job; then the runs after it.
		stdout := mustBinary(t, runArgs(config, r.args)...)
		for _, after := range crashRuns[k.run+1:] {
			mustBinary(t, runArgs(config, after.args)...)
		}
		if d := diffOutputs(want, outputs(t, out)); d != "" {
			t.Errorf("%s: the output folder differs from the uninterrupted runs':\n%s\nthe restart said:\n%s", name, d, stdout)
		}
		if list := mustBinary(t, "runs", "--db", db, "--status", "succeeded"); strings.Count(list, "succeeded") != len(crashRuns) {
			t.Errorf("%s: runs after the restart:\n%s", name, list)
		}
	}
	t.Logf("%d of %d kills landed during the run", landed, len(kills))
	if landed == 0 {
		t.Error("no kill landed during a run: the test tested nothing")
	}
}
