package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

func runRuns(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "show" {
		return runRunsShow(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	fs := newFlagSet(env, "runs", "[list] | show ID",
		"Lists the settlement runs (`roamsettle run`, the schedule, demo), the most recent first: identity\n"+
			"(period, partner, kind, as of), status, attempts, when, CDRs priced, disputes and files written.\n"+
			"`runs show ID` gives a run's inputs, attempts, steps with their counts and amounts, and its files.")
	db := addDBFlags(fs)
	period := fs.String("period", "", "only this period's, YYYY-MM")
	partner := fs.String("partner", "", "only this partner scope's, CC-PID (\"all\": the every-partner runs)")
	kind := fs.String("kind", "", "only this kind: provisional, final, correction")
	status := fs.String("status", "", "only this status: running, succeeded, failed, canceled, interrupted")
	limit := fs.Int("limit", 50, "at most this many (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, env, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	f := store.RunFilter{Period: *period, Kind: *kind, Status: *status, Limit: *limit}
	switch {
	case *partner == "all":
		f.Partner = ""
	case *partner != "":
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
		f.Partner = cc + "-" + pid
	}
	st, _, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rs, err := st.Runs(ctx, f)
	if err != nil {
		return err
	}
	if *partner == "all" {
		kept := rs[:0]
		for _, r := range rs {
			if r.Key.Partner == "" {
				kept = append(kept, r)
			}
		}
		rs = kept
	}
	if *asJSON {
		out := make([]runJSON, len(rs))
		for i, r := range rs {
			out[i] = toRunJSON(r)
		}
		return writeJSON(env, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tperiod\tpartner\tkind\tas of\tstatus\tattempts\tstarted\ttook\tCDRs\tdisputed\tdocuments\n")
	for _, r := range rs {
		f := runFigures(r.Steps)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.No, r.Key.Period, partnerName(r.Key.Partner), r.Key.Kind,
			asOfText(r.Key.AsOf), r.Status, r.Attempts, r.Started.Format("2006-01-02 15:04:05"), took(r.Started, r.Ended),
			f.text("cdrs"), f.text("disputed"), f.text("documents"))
	}
	fmt.Fprintf(tw, "%d runs\n", len(rs))
	return tw.Flush()
}

func runRunsShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "runs show", "ID", "Shows one run: identity, inputs, attempts, steps (counts, amounts) and files.")
	db := addDBFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	// The ID may come before the flags (runs show 3 --json) or after.
	var id []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[:1], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if id = append(id, fs.Args()...); len(id) != 1 {
		return usageError(fs, env, "which run? runs show ID (the ID column of `roamsettle runs`)")
	}
	no, err := strconv.ParseInt(id[0], 10, 64)
	if err != nil {
		return fmt.Errorf("run ID %q: want a number from `roamsettle runs`", id[0])
	}
	st, _, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.RunByNo(ctx, no)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env, toRunDetailJSON(d))
	}
	printRunDetail(env, d)
	return nil
}

func writeJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func partnerName(p string) string {
	if p == "" {
		return "all"
	}
	return p
}

func asOfText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func took(start, end time.Time) string {
	if end.IsZero() {
		return "-"
	}
	return end.Sub(start).Round(time.Millisecond).String()
}

// figures sums a run's step counts by name (reconcile's per partner).
type figures map[string]int64

func runFigures(steps []store.RunStep) figures {
	f := figures{}
	for _, s := range steps {
		name, _, _ := strings.Cut(s.Name, " ")
		for k, v := range s.Counts {
			switch {
			case name == "price" && k == "cdrs", name == "reconcile" && k == "disputed", k == "documents":
				f[k] += v
			}
		}
	}
	return f
}

func (f figures) text(k string) string {
	if v, ok := f[k]; ok {
		return strconv.FormatInt(v, 10)
	}
	return "-"
}

func printRunDetail(env *Env, d store.RunDetail) {
	w := env.Stdout
	r := d.RunRecord
	fmt.Fprintf(w, "run %d: %s %s %s", r.No, r.Key.Period, partnerName(r.Key.Partner), r.Key.Kind)
	if !r.Key.AsOf.IsZero() {
		fmt.Fprintf(w, " as of %s", asOfText(r.Key.AsOf))
	}
	fmt.Fprintf(w, "\n  status %s after %d attempt(s); started %s, took %s (origin %s)\n", r.Status, r.Attempts,
		r.Started.Format(time.RFC3339), took(r.Started, r.Ended), r.Origin)
	if r.Err != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Err)
	}
	if in, err := settle.ParseJobInputs(r.Inputs); err == nil {
		fmt.Fprintf(w, "  inputs: digest %s, settled as of %s\n", in.Digest, asOfText(in.AsOf))
		for _, p := range in.Parts {
			fmt.Fprintf(w, "    %-24s %d rows\n", p.Name, p.Rows)
		}
	}
	if len(d.History) > 1 {
		fmt.Fprintln(w, "  attempts:")
		for _, a := range d.History {
			fmt.Fprintf(w, "    %d  %-11s started %s, took %s, pid %d  %s\n", a.Attempt, a.Status, a.Started.Format(time.RFC3339),
				took(a.Started, a.Ended), a.PID, a.Err)
		}
	}
	fmt.Fprintln(w, "  steps:")
	for _, s := range r.Steps {
		fmt.Fprintf(w, "    %-18s %s", s.Name, countsLine(s.Counts))
		for _, a := range s.Amounts {
			fmt.Fprintf(w, "; %s %s %s", a.Name, currencyName(a.Currency), a.Amount.String())
		}
		fmt.Fprintf(w, " (%s)\n", s.Ended.Sub(s.Started).Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  files (%d):\n", len(d.Outputs))
	for _, o := range d.Outputs {
		fmt.Fprintf(w, "    %s  %d bytes  sha256 %s\n", o.Path, o.Bytes, shortHash(o.SHA256))
	}
}

func currencyName(c string) string {
	if c == "" {
		return "(no currency)"
	}
	return c
}

// runJSON is one run of `runs --json`.
type runJSON struct {
	ID       int64              `json:"id"`
	Period   string             `json:"period"`
	Partner  string             `json:"partner"`
	Kind     string             `json:"kind"`
	AsOf     *time.Time         `json:"as_of,omitempty"`
	Status   string             `json:"status"`
	Attempts int                `json:"attempts"`
	Origin   string             `json:"origin"`
	Started  time.Time          `json:"started"`
	Ended    *time.Time         `json:"ended,omitempty"`
	Error    string             `json:"error,omitempty"`
	Inputs   json.RawMessage    `json:"inputs,omitempty"`
	Policy   json.RawMessage    `json:"policy,omitempty"`
	Steps    []stepJSON         `json:"steps"`
	Files    []fileJSON         `json:"files,omitempty"`
	Attempt  []store.RunAttempt `json:"attempt_history,omitempty"`
}

type stepJSON struct {
	Name    string            `json:"name"`
	Started time.Time         `json:"started"`
	Ended   time.Time         `json:"ended"`
	Counts  map[string]int64  `json:"counts"`
	Amounts []store.RunAmount `json:"amounts,omitempty"`
}

type fileJSON struct {
	Path   string `json:"path"`
	Step   string `json:"step"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func toRunJSON(r store.RunRecord) runJSON {
	j := runJSON{ID: r.No, Period: r.Key.Period, Partner: partnerName(r.Key.Partner), Kind: r.Key.Kind, Status: r.Status,
		Attempts: r.Attempts, Origin: r.Origin, Started: r.Started, Error: r.Err, Inputs: r.Inputs, Policy: r.Policy, Steps: []stepJSON{}}
	if !r.Key.AsOf.IsZero() {
		t := r.Key.AsOf
		j.AsOf = &t
	}
	if !r.Ended.IsZero() {
		t := r.Ended
		j.Ended = &t
	}
	for _, s := range r.Steps {
		j.Steps = append(j.Steps, stepJSON{Name: s.Name, Started: s.Started, Ended: s.Ended, Counts: s.Counts, Amounts: s.Amounts})
	}
	return j
}

func toRunDetailJSON(d store.RunDetail) runJSON {
	j := toRunJSON(d.RunRecord)
	j.Attempt = d.History
	for _, o := range d.Outputs {
		j.Files = append(j.Files, fileJSON{Path: o.Path, Step: o.Step, Bytes: o.Bytes, SHA256: fmt.Sprintf("%x", o.SHA256)})
	}
	return j
}
