package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/store"
)

func runDisputes(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "move" {
		return runDisputeMove(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	fs := newFlagSet(env, "disputes", "[list] | move --cdr CC-PID-ID --to STATE",
		"Lists the disputes reconcile raised (one per disputed CDR: its verdict, reasons, the amount in dispute\n"+
			"and its state), or moves one along its lifecycle: raised -> sent -> accepted | declined; declined ->\n"+
			"sent; any open one -> revised (a credit CDR arrived; reconcile does it by itself) | written_off.\n"+
			"Every change is appended, never overwritten.")
	db := addDBFlags(fs)
	partner := fs.String("partner", "", "only this partner's, CC-PID")
	period := fs.String("period", "", "only this period's, YYYY-MM")
	state := fs.String("state", "", "only disputes in this state")
	cdr := fs.String("cdr", "", "only this CDR's, CC-PID-ID")
	asJSON := fs.Bool("json", false, "print JSON, with each dispute's evidence and events")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := store.DisputeFilter{Period: *period}
	var err error
	if *partner != "" {
		if f.CountryCode, f.PartyID, err = parseParty(*partner); err != nil {
			return fmt.Errorf("--partner: %w", err)
		}
	}
	if *cdr != "" {
		if f.CountryCode, f.PartyID, f.CDRID, err = parseCDRRef(*cdr); err != nil {
			return fmt.Errorf("--cdr: %w", err)
		}
	}
	if *state != "" {
		if f.State, err = reconcile.ParseDisputeState(*state); err != nil {
			return fmt.Errorf("--state: %w", err)
		}
	}
	st, _, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.Disputes(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(disputesJSON(ds))
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CDR\tperiod\tstate\tverdict\treasons\tin dispute\n")
	for _, d := range ds {
		amt := "-"
		if d.InDispute.HasExcl {
			amt = reconcile.FromMicro(d.InDispute.Excl).StringFixed(int32(d.MinorUnits)) + " " + d.Currency
		}
		rs := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			rs[i] = string(r)
		}
		for _, c := range d.Codes {
			rs = append(rs, string(c))
		}
		fmt.Fprintf(tw, "%s-%s-%s\t%s\t%s\t%s\t%s\t%s\n", d.CountryCode, d.PartyID, d.CDRID, d.Period, d.State(), d.Verdict,
			strings.Join(rs, ","), amt)
	}
	fmt.Fprintf(tw, "%d disputes\n", len(ds))
	return tw.Flush()
}

func runDisputeMove(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "disputes move", "", "Moves one dispute to a new state (appended to its events).")
	db := addDBFlags(fs)
	cdr := fs.String("cdr", "", "the disputed CDR, CC-PID-ID (required)")
	to := fs.String("to", "", "the new state: sent, accepted, declined, revised or written_off (required)")
	note := fs.String("note", "", "why (kept with the event)")
	by := fs.String("by", "user", "who moves it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cdr == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cc, pid, id, err := parseCDRRef(*cdr)
	if err != nil {
		return fmt.Errorf("--cdr: %w", err)
	}
	state, err := reconcile.ParseDisputeState(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	st, _, err := db.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := st.MoveDispute(ctx, cc, pid, id, state, *by, *note, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "dispute %s-%s-%s: %s (event %d)\n", cc, pid, strings.ToUpper(id), e.State, e.Seq)
	return nil
}

// parseCDRRef reads "CC-PID-ID" (the id may itself contain "-").
func parseCDRRef(s string) (cc, pid, id string, err error) {
	parts := strings.SplitN(strings.TrimSpace(s), "-", 3)
	if len(parts) != 3 || parts[2] == "" {
		return "", "", "", fmt.Errorf("%q: want CC-PID-ID, e.g. NL-EVB-CDR0001", s)
	}
	if cc, pid, err = parseParty(parts[0] + "-" + parts[1]); err != nil {
		return "", "", "", err
	}
	return cc, pid, parts[2], nil
}

type disputeJSON struct {
	CountryCode string                   `json:"country_code"`
	PartyID     string                   `json:"party_id"`
	CDRID       string                   `json:"cdr_id"`
	Period      string                   `json:"period"`
	State       reconcile.DisputeState   `json:"state"`
	Verdict     reconcile.Verdict        `json:"verdict"`
	Reasons     []reconcile.Reason       `json:"reasons"`
	Codes       []reconcile.Code         `json:"codes"`
	Currency    string                   `json:"currency"`
	Billed      *reconcile.JSONAmount    `json:"billed"`
	Recomputed  *reconcile.JSONAmount    `json:"recomputed"`
	InDispute   *reconcile.JSONAmount    `json:"in_dispute"`
	Evidence    string                   `json:"evidence"`
	Events      []reconcile.DisputeEvent `json:"events"`
}

func disputesJSON(ds []*reconcile.Dispute) []disputeJSON {
	out := []disputeJSON{}
	for _, d := range ds {
		out = append(out, disputeJSON{CountryCode: d.CountryCode, PartyID: d.PartyID, CDRID: d.CDRID, Period: d.Period,
			State: d.State(), Verdict: d.Verdict, Reasons: d.Reasons, Codes: d.Codes, Currency: d.Currency,
			Billed: reconcile.AmountJSON(d.Billed, d.MinorUnits), Recomputed: reconcile.AmountJSON(d.Recomputed, d.MinorUnits),
			InDispute: reconcile.AmountJSON(d.InDispute, d.MinorUnits), Evidence: d.Evidence, Events: d.Events})
	}
	return out
}
