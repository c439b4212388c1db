package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/roamsettle/roamsettle/invoicing"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

func runRun(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "run", "",
		"Runs the whole job for a period: pulls from the partners the config's [schedule] pull list names, re-prices\n"+
			"every CDR of the period, then for each partner reconciles (disputes), invoices and reports, into\n"+
			"OUT/<period>/<partner>/. Each run is recorded (`roamsettle runs`). A run killed at any point is taken up\n"+
			"again by the next `run` of the same period and partner, without doing anything twice; a run on the same\n"+
			"inputs as the last one (same CDRs, tariff and location versions, dispute moves, configuration) changes\n"+
			"nothing and says so. Without --final the run is provisional (statements, no invoice numbers); --final\n"+
			"issues the numbered invoices once the period has ended, and after that issues credit notes and new\n"+
			"invoices for what changed (late CDRs).")
	dbf := addDBFlags(fs)
	periodFlag := fs.String("period", "", "the period: YYYY-MM (required)")
	partner := fs.String("partner", "", "only this partner, as CC-PID (default: every partner, one folder each)")
	final := fs.Bool("final", false, "finalise the period: numbered invoices (credit notes for what changed after)")
	out := fs.String("out", "", "output folder (default from the config: out)")
	asOf := fs.String("as-of", "", "the instant the run settles as of, RFC 3339 or YYYY-MM-DD (default: now); documents are dated by it")
	noPull := fs.Bool("no-pull", false, "do not pull from partners first")
	workers := fs.Int("workers", 0, "pricing goroutines (default: one per core)")
	wait := fs.Duration("wait", 10*time.Minute, "while another process holds the database, wait this long for it (0: fail at once)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *periodFlag == "" {
		return usageError(fs, env, "--period YYYY-MM is required")
	}
	req := settle.JobRequest{Final: *final, Origin: "manual"}
	var err error
	if req.Scope.Period, err = settle.ParsePeriod(*periodFlag); err != nil {
		return fmt.Errorf("--period: %w", err)
	}
	if *partner != "" {
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
		req.Scope.Partner = settle.NewParty(cc, pid)
	}
	if *asOf != "" {
		if req.AsOf, err = parseAsOf(*asOf); err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
	}
	db, cfg, err := openWaiting(ctx, env, dbf, *wait)
	if err != nil {
		return err
	}
	defer db.Close()
	if *out != "" {
		cfg.Output = *out
	}
	deps, err := jobDeps(env, db, cfg, !*noPull, *workers)
	if err != nil {
		return err
	}
	p := &jobPrinter{w: env.Stdout}
	deps.Started, deps.Progress = p.begin, p.step
	res, err := settle.RunJob(ctx, deps, req)
	if res != nil {
		p.result(res)
	}
	return err
}

// parseAsOf reads an RFC 3339 instant or a day (its midnight in UTC).
func parseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := ocpi.ParseDateTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-06T02:00:00Z) or YYYY-MM-DD", s)
	}
	return t, nil
}

// jobDeps wires the store and the configuration into the whole job: the
// steps main has, in order, and what their outputs depend on.
func jobDeps(env *Env, db *store.Store, cfg Config, pull bool, workers int) (*settle.JobDeps, error) {
	policies, err := partnerPolicies(cfg)
	if err != nil {
		return nil, err
	}
	outDir, err := filepath.Abs(cfg.Output)
	if err != nil {
		return nil, err
	}
	tokens, err := loadTokens(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	// A run killed during its report step leaves the step's DuckDB COPY
	// folder behind; runs of one output folder go one at a time (the run
	// ledger), so any such folder at the start is a dead run's.
	removeStaleReportDirs(outDir)
	steps := []settle.PartnerStep{
		reconcileStep{db: db, cfg: cfg, tokens: tokens},
		settle.InvoiceStep{Source: db, Ledger: db.Invoices(), Config: cfg.invoicingConfig,
			PDF: invoicing.PDFOptions{Warn: func(msg string) { env.Log.Warn(msg) }}},
		settle.ReportPartnerStep{Source: db, Parquet: true, TempDir: func() (string, error) {
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return "", err
			}
			return os.MkdirTemp(outDir, ".tmp-report-")
		}},
	}
	pol := runPolicy{Engine: engineVersion(), Out: outDir, Partners: cfg.Partners, Invoicing: cfg.Invoicing}
	for _, s := range steps {
		pol.Steps = append(pol.Steps, s.Name())
	}
	if cfg.Tokens != "" {
		b, err := os.ReadFile(cfg.Tokens)
		if err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		h := sha256.Sum256(b)
		pol.Tokens = hex.EncodeToString(h[:])
	}
	polJSON, err := json.Marshal(pol)
	if err != nil {
		return nil, err
	}
	settle.ProcessStats = processStats
	d := &settle.JobDeps{Source: db, Sink: db, Scope: db, Ledger: jobLedger{db}, Files: outFiles{root: outDir},
		Policies: policies, Policy: polJSON, Steps: steps, Workers: workers, Log: env.Log}
	if pull && cfg.Schedule != nil {
		for _, k := range cfg.Schedule.Pull {
			key, err := schedule.PartnerKey(k)
			if err != nil {
				return nil, err
			}
			cc, pid, _ := parseParty(key)
			d.Pulls = append(d.Pulls, settle.NewParty(cc, pid))
		}
		d.Pull = func(ctx context.Context, p settle.Party) error { return pullPartner(ctx, env, db, cfg.Database, p) }
	}
	return d, nil
}

// runPolicy is what besides the stored inputs shapes a run's outputs: a
// change to any of it makes the next run settle again.
type runPolicy struct {
	Engine    string           `json:"engine"`
	Steps     []string         `json:"steps"`
	Out       string           `json:"out"`
	Partners  []PartnerConfig  `json:"partners"`
	Invoicing *InvoicingConfig `json:"invoicing,omitempty"`
	Tokens    string           `json:"tokens_sha256,omitempty"`
}

// engineVersion names the build: its module version and VCS revision.
func engineVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.modified":
			v += " " + s.Key + "=" + s.Value
		}
	}
	return v
}
