package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// hasFlag reports whether args set the flag name (-name, --name, =value).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		t := strings.TrimLeft(a, "-")
		if len(t) < len(a) && (t == name || strings.HasPrefix(t, name+"=")) {
			return true
		}
	}
	return false
}

func runPriceStored(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "price", "--db FILE --cdr CC-PID-ID",
		"Prices a stored CDR against the tariff version in effect at its session start (the stored tariffs and\n"+
			"locations, the partner's policy) and reconciles it: the verdict, each hypothesis tried (another tariff\n"+
			"version or the embedded copy, UTC instead of local time, no step size or the other reading, another\n"+
			"VAT rate, other rounding) and which explains the billed amount: the evidence a dispute keeps.")
	db := addDBFlags(fs)
	ref := fs.String("cdr", "", "the stored CDR, CC-PID-ID (required)")
	explain := fs.Bool("explain", false, "also explain the recomputation period by period")
	asJSON := fs.Bool("json", false, "print the CDR's reconcile entry, findings and hypotheses as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cc, pid, id, err := parseCDRRef(*ref)
	if err != nil {
		return fmt.Errorf("--cdr: %w", err)
	}
	st, cfg, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cdrs, probs, err := st.CDRsByID(ctx, cc, pid, []string{id})
	if err != nil {
		return err
	}
	if len(cdrs) == 0 {
		return fmt.Errorf("--cdr %s: no such CDR stored", *ref)
	}
	policies, err := partnerPolicies(cfg)
	if err != nil {
		return err
	}
	owner := settle.NewParty(cc, pid)
	in := &reconcile.Input{Problems: probs, Policy: policies[owner].Pricing}
	if err := st.ReconcileOwner(ctx, owner, in); err != nil {
		return err
	}
	dups, conflicts, err := st.ReceivedAgain(ctx, cc, pid)
	if err != nil {
		return err
	}
	in.Stored = &reconcile.MemoryStored{Duplicates: dups, Conflicts: conflicts}
	pc := cfg.partner(cc, pid)
	in.Tolerance, in.Limits = pc.tolerance(), pc.limits()
	if in.Tokens, err = loadTokens(cfg.Tokens); err != nil {
		return err
	}
	ev := in.Evaluate(cdrs[0])
	if *asJSON {
		rep := &reconcile.Report{Evaluations: []*reconcile.Evaluation{ev}, Findings: ev.Findings}
		out := struct {
			reconcile.JSONCDR
			Findings []reconcile.JSONFinding `json:"findings"`
			Tried    []string                `json:"hypotheses_tried"`
		}{JSONCDR: rep.Build().CDRs[0], Findings: rep.Build().Findings, Tried: []string{}}
		for i := range ev.Trials {
			out.Tried = append(out.Tried, ev.Trials[i].Describe(ev.MinorUnits))
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if *explain && ev.Result != nil {
		if err := ev.Result.Explain(env.Stdout); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout)
	}
	_, err = fmt.Fprintln(env.Stdout, ev.Evidence())
	return err
}
