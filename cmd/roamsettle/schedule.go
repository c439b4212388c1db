package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

func runSchedule(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "schedule", "",
		"Runs the nightly settlement of the config's [schedule] section on its own, for a deployment without an\n"+
			"OCPI receiver (where serve runs, its [schedule] section runs the schedule): each tick pulls from the\n"+
			"partners listed in pull, settles the open months provisionally and finalises each month once its grace\n"+
			"period has passed; ticks missed while it was down are caught up when it starts. SIGINT/SIGTERM stop it\n"+
			"once the runs going on reach a step boundary.")
	dbf := addDBFlags(fs)
	listen := fs.String("listen", "", "serve /metrics and /health on this address (default: none)")
	once := fs.Bool("once", false, "catch up the latest tick due, then exit (for a deployment that starts it from cron)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := dbf.load(ctx)
	if err != nil {
		return err
	}
	if cfg.Schedule == nil {
		return fmt.Errorf("the config has no [schedule] section: nothing to run (see `roamsettle schedule --help`)")
	}
	db, cfg, err := dbf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sched, err := newScheduler(env, db, cfg)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if *listen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(sched.Collectors()...)
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"status": "ok", "schedule": sched.Health()})
		})
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		fmt.Fprintf(env.Stdout, "roamsettle schedule: /metrics and /health at http://%s\n", ln.Addr())
	}
	if *once {
		go func() {
			// The catch-up tick is the first thing Run does.
			for runCtx.Err() == nil && sched.Health().LastTick == nil {
				time.Sleep(50 * time.Millisecond)
			}
			stop()
		}()
	}
	h := sched.Health()
	env.Log.Info("schedule started", "cron", h.Cron, "zone", h.Zone, "grace", h.Grace)
	err = sched.Run(runCtx)
	h = sched.Health()
	if t := h.LastTick; t != nil {
		fmt.Fprintf(env.Stdout, "last tick %s (%s): %d runs, %d failed, %d pulls failed\n", t.Slot.Format(time.RFC3339), t.Origin,
			t.Runs, t.Failed, t.PullsFailed)
		if *once && (t.Failed > 0 || t.PullsFailed > 0) {
			return &exitError{code: 1, err: errors.New("runs or pulls failed: see the log and `roamsettle runs`")}
		}
	}
	return err
}

// newScheduler wires the [schedule] section: its Runner is the whole job
// (the same as `roamsettle run`), its Ledger the store's run ledger, its
// pulls those of `roamsettle pull`.
func newScheduler(env *Env, db *store.Store, cfg Config) (*schedule.Scheduler, error) {
	deps, err := jobDeps(env, db, cfg, false, 0)
	if err != nil {
		return nil, err
	}
	policies := deps.Policies
	return schedule.New(*cfg.Schedule, schedule.Deps{
		Runner: scheduleRunner{deps},
		Ledger: runLedger{db},
		Pull: func(ctx context.Context, partner string) error {
			cc, pid, err := parseParty(partner)
			if err != nil {
				return err
			}
			return pullPartner(ctx, env, db, cfg.Database, settle.NewParty(cc, pid))
		},
		PeriodZone: func(partner string) *time.Location {
			cc, pid, err := parseParty(partner)
			if err != nil {
				return nil
			}
			return policies[settle.NewParty(cc, pid)].Zone
		},
		Log: env.Log,
	})
}

// scheduleRunner runs the schedule's jobs as the whole job: the schedule
// has claimed the run in the ledger and records how it ends.
type scheduleRunner struct{ deps *settle.JobDeps }

func (r scheduleRunner) Settle(ctx context.Context, job schedule.Job) error {
	sc := settle.Scope{Period: settle.Month(job.Period.Year, job.Period.Month)}
	if job.Partner != "" {
		cc, pid, err := parseParty(job.Partner)
		if err != nil {
			return err
		}
		sc.Partner = settle.NewParty(cc, pid)
	}
	key := settle.JobKey{Period: job.Period.String(), Partner: job.Partner, Kind: settle.JobKind(job.Kind), AsOf: job.AsOf}
	res, err := settle.RunClaimed(ctx, r.deps, sc, key)
	if err == nil && res != nil {
		r.deps.Log.Info("schedule run done", "run", res.No, "key", key.String(), "unchanged", res.Unchanged,
			"files", len(res.Files), "took", res.Elapsed)
	}
	return err
}
